"""How the builder reads a function's definition: Globals, the target platform of its wheels,
and the CodeUri it is allowed to delete and recreate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tools import package


def _template(globals_: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {
        "Globals": {"Function": globals_},
        "Resources": {
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": properties},
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        },
    }


GLOBALS = {"Runtime": "python3.13", "Architectures": ["arm64"]}


def _function(**overrides: Any) -> package.LambdaFunction:
    properties = {"Handler": "taskapi.entrypoints.api.lambda_handler", "CodeUri": "build/x"}
    (function,) = package.lambda_functions(_template(GLOBALS, **{**properties, **overrides}))
    return function


def test_globals_apply_and_a_function_overrides_them() -> None:
    function = _function(Architectures=["x86_64"])

    assert (function.runtime, function.architecture) == ("python3.13", "x86_64")
    assert function.handler_module == "taskapi.entrypoints.api"


@pytest.mark.parametrize(
    ("architecture", "platform"),
    [("arm64", "aarch64-manylinux_2_34"), ("x86_64", "x86_64-manylinux_2_34")],
)
def test_wheels_target_the_architecture_on_amazon_linux_2023(
    architecture: str, platform: str
) -> None:
    function = _function(Architectures=[architecture])

    assert function.python_platform == platform
    assert function.python_version == "3.13"


def test_lambda_default_architecture_is_x86_64() -> None:
    (function,) = package.lambda_functions(
        _template({"Runtime": "python3.12"}, Handler="a.b", CodeUri="build/a")
    )

    assert function.python_platform == "x86_64-manylinux_2_34"
    assert function.python_version == "3.12"


@pytest.mark.parametrize("runtime", ["python3.11", "nodejs22.x"])
def test_a_runtime_off_amazon_linux_2023_is_refused(runtime: str) -> None:
    with pytest.raises(package.PackagingError, match=runtime):
        _ = _function(Runtime=runtime).python_version


def test_an_unknown_or_second_architecture_is_refused() -> None:
    with pytest.raises(package.PackagingError, match="riscv"):
        _ = _function(Architectures=["riscv"]).python_platform
    with pytest.raises(package.PackagingError, match="exactly one"):
        _function(Architectures=["arm64", "x86_64"])


@pytest.mark.parametrize("code_uri", ["src/", "build", "build/../src", "/tmp/build/x", "x/build"])
def test_the_builder_deletes_nothing_outside_build(code_uri: str, tmp_path: Path) -> None:
    with pytest.raises(package.PackagingError, match="CodeUri"):
        _function(CodeUri=code_uri).artifact_dir(tmp_path)


def test_the_artifact_directory_is_the_code_uri_under_the_root(tmp_path: Path) -> None:
    assert _function(CodeUri="build/lambda/Fn").artifact_dir(tmp_path) == (
        tmp_path / "build" / "lambda" / "Fn"
    )


def test_a_function_without_a_handler_or_code_uri_is_refused() -> None:
    with pytest.raises(package.PackagingError, match="Handler"):
        package.lambda_functions(_template(GLOBALS, CodeUri="build/x"))
    with pytest.raises(package.PackagingError, match="CodeUri"):
        package.lambda_functions(_template(GLOBALS, Handler="a.b"))


def test_a_handler_outside_the_package_is_refused() -> None:
    graph = package.import_graph()

    with pytest.raises(package.PackagingError, match="not a module"):
        package.import_closure(graph, "taskapi.entrypoints.missing")
