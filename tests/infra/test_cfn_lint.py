"""cfn-lint: the template is valid CloudFormation/SAM with no errors and no warnings.

cfn-lint validates a SAM template against SAM's own schemas, which leave some properties of
``AWS::Serverless::*`` resources loosely typed (a function's ``Runtime``, for one). So the
CloudFormation that SAM generates is linted as well, with the full resource schemas.
"""

from __future__ import annotations

import json

from cfnlint.api import lint, lint_file

from tests.infra.cfn import TEMPLATE, transformed


def test_template_has_no_cfn_lint_errors_or_warnings() -> None:
    # cfn-lint's defaults: every error (E) and warning (W) rule, informational ones off.
    matches = lint_file(TEMPLATE)

    assert [str(match) for match in matches] == []


def test_the_generated_cloudformation_has_no_errors_or_warnings() -> None:
    # Conditions survive the transform, so one expansion holds every optional resource.
    matches = lint(json.dumps(transformed()))

    assert [str(match) for match in matches] == []
