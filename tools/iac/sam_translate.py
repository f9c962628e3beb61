"""Expand a SAM template into plain CloudFormation, offline, and print it as JSON.

Runs in the locked IaC tool environment (tools/iac/.venv), which holds aws-sam-translator;
tests/infra reads its output to check what SAM generates (roles, policies, the API
deployment) exactly as CloudFormation's own transform would, without AWS credentials.

    tools/iac/.venv/bin/python tools/iac/sam_translate.py template.yaml [Name=Value ...]

Only the managed-policy map needs AWS (iam:ListPolicies); the translator consults it solely
for policies named in a function's ``Policies``. The offline map answers with the ARN of the
AWS managed policy of that name, which is what the real map contains.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from boto3.session import Session
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

# The region the translator builds ARNs and pseudo parameters for; any region does.
_REGION = "us-east-1"


class _AwsManagedPolicyArns(dict[str, str]):
    """Every name maps to the AWS managed policy of that name, as in the real account map."""

    def __missing__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and not name.startswith("arn:")


def as_packaged(template: dict[str, Any]) -> dict[str, Any]:
    """Point local CodeUri paths at S3, as ``sam package`` (inside ``sam deploy``) does after
    uploading them: CloudFormation's transform only ever sees the packaged template."""
    sections = [template.get("Globals", {}).get("Function", {})]
    sections += [
        resource.get("Properties", {})
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::Serverless::Function"
    ]
    for properties in sections:
        code_uri = properties.get("CodeUri")
        if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
            properties["CodeUri"] = f"s3://packaged-artifacts/{code_uri.strip('/') or 'root'}.zip"
    return template


def translate(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    # A session with a region but no credentials: the translator reads only its region.
    translator = Translator(None, Parser(), boto_session=Session(region_name=_REGION))
    translated: dict[str, Any] = translator.translate(
        template, parameter_values=parameters, get_managed_policy_map=_AwsManagedPolicyArns
    )
    return translated


def main(argv: list[str]) -> int:
    template_path, *overrides = argv
    template = yaml_parse(Path(template_path).read_text(encoding="utf-8"))
    parameters: dict[str, Any] = {}
    for override in overrides:
        name, _, value = override.partition("=")
        parameters[name] = value
    translated = translate(as_packaged(template), parameters)
    json.dump(translated, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
