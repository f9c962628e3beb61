"""How the builder reads a function's definition: Globals, the target platform of its wheels,
and the CodeUri it is allowed to delete and recreate; and how it compiles the bytecode."""

from __future__ import annotations

import importlib.util
import marshal
import os
import subprocess
import sys
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


# Bytecode. The runtime's CPython may not be on this machine, so the compiler is tested with
# the interpreter running these tests; the artifacts' own bytecode is checked in
# test_dependency_wheels.py.
THIS_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def _pyc(source: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(source)))


def test_bytecode_is_unchecked_hash_based_and_names_the_sources_under_var_task(
    tmp_path: Path,
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    module = tmp_path / "pkg" / "mod.py"
    module.write_text("def where():\n    return __file__\n\nVALUE = 1\n")

    package.compile_bytecode(sys.executable, tmp_path)

    for source in (module, tmp_path / "pkg" / "__init__.py"):
        header = _pyc(source).read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source not checked
    code = marshal.loads(_pyc(module).read_bytes()[16:])
    assert code.co_filename == "/var/task/pkg/mod.py"
    # The import takes the bytecode without looking at the source, so a zip's rounded
    # modification times cannot make the interpreter recompile (here: nor can new contents).
    module.write_text("VALUE = 2\n")
    os.utime(module, (0, 0))
    loaded = subprocess.run(
        [sys.executable, "-c", "import pkg.mod; print(pkg.mod.VALUE)"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "1"


def test_a_module_that_does_not_compile_fails_the_build(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text("VALUE = 1\n")
    (tmp_path / "broken.py").write_text("def (:\n")

    with pytest.raises(package.PackagingError, match="compileall") as failed:
        package.compile_bytecode(sys.executable, tmp_path)

    assert "broken.py" in str(failed.value)  # the message names the file that failed


def test_an_interpreter_is_known_by_running_it(tmp_path: Path) -> None:
    not_python = tmp_path / "python3.13"
    not_python.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    not_python.chmod(0o755)

    assert package.interpreter_version(sys.executable) == THIS_VERSION
    assert package.interpreter_version(str(not_python)) is None
    assert package.interpreter_version(str(tmp_path / "missing")) is None


def test_an_interpreter_of_the_version_is_found_and_a_missing_one_is_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    link = tmp_path / f"python{THIS_VERSION}"
    link.symlink_to(sys.executable)
    monkeypatch.setenv("PATH", str(tmp_path))

    found = package.find_interpreter(THIS_VERSION, uv=None)
    assert found is not None
    assert package.interpreter_version(found) == THIS_VERSION
    assert package.find_interpreter("3.99", uv=None) is None


def test_without_the_runtimes_python_the_build_warns_and_ships_no_bytecode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pythonX.Y, and no uv to ask
    function = _function(Runtime="python3.14", CodeUri="build/lambda/Fn")
    lines: list[str] = []

    package.build([function], tmp_path, uv=None, log=lines.append)

    assert lines[0].startswith("warning: no CPython 3.14 on this machine")
    assert "uv python install 3.14" in lines[0]
    artifact = function.artifact_dir(tmp_path)
    assert list(artifact.rglob("*.py"))
    assert not list(artifact.rglob("*.pyc"))


def test_when_the_bytecode_is_required_a_missing_python_fails_before_anything_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    function = _function(Runtime="python3.14", CodeUri="build/lambda/Fn")

    with pytest.raises(package.PackagingError, match=r"no CPython 3\.14 .*uv python install 3\.14"):
        package.build([function], tmp_path, uv=None, require_bytecode=True)
    assert not function.artifact_dir(tmp_path).exists()


def test_an_explicit_python_of_another_version_is_refused(tmp_path: Path) -> None:
    other = "3.12" if THIS_VERSION != "3.12" else "3.13"
    with pytest.raises(package.PackagingError, match=rf"is CPython {THIS_VERSION}, .* {other}"):
        package.build(
            [_function(Runtime=f"python{other}", CodeUri="build/x")],
            tmp_path,
            uv=None,
            python=sys.executable,
        )
