"""The code part of each function's artifact: exactly the modules its handler imports.

Built without dependencies (``tools/package.py --code-only`` does the same), so these tests
take seconds and need no network. The wheels are checked in test_dependency_wheels.py.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import grimp
import pytest
from tools import package

from tests.infra.cfn import source_template
from tests.package.artifacts import (
    FUNCTIONS,
    PROJECT_VERSION,
    artifact_dir,
    build_artifacts,
    function_properties,
    taskapi_modules,
)

# Never in a Lambda artifact: the local tools and CLI, the risk map, terminal and plotting,
# JWT (the local gateway verifies tokens; in AWS API Gateway does).
FORBIDDEN_MODULES = ("taskapi.local", "taskrisk", "rich", "matplotlib", "jwt")


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _expected_closure(handler_module: str) -> set[str]:
    """What Python runs to import the handler module: the module, what it imports directly or
    indirectly (``if TYPE_CHECKING:`` blocks never run), and every package containing one of
    those, whose ``__init__`` runs first and may import more."""
    graph = grimp.build_graph("taskapi", exclude_type_checking_imports=True, cache_dir=None)
    closure = {handler_module}
    while True:
        grown = set(closure)
        for module in closure:
            grown |= graph.find_upstream_modules(module)
            grown |= {module.rsplit(".", depth)[0] for depth in range(1, module.count(".") + 1)}
        if grown == closure:
            return closure
        closure = grown


def _handler(name: str) -> tuple[str, str]:
    module, _, attribute = function_properties(name)["Handler"].rpartition(".")
    return module, attribute


def test_the_builder_and_these_tests_cover_every_function_of_the_template() -> None:
    resources = source_template()["Resources"].items()
    functions = {name for name, body in resources if body["Type"] == "AWS::Serverless::Function"}
    built = package.lambda_functions(package.read_template(package.TEMPLATE))

    assert functions == set(FUNCTIONS)
    assert {function.name for function in built} == functions


def test_every_function_has_its_own_artifact_directory_under_build() -> None:
    code_uris = [function_properties(name)["CodeUri"] for name in FUNCTIONS]

    # No shared CodeUri in Globals: that is how all of src/ (the CLI, the risk map) once shipped.
    assert "CodeUri" not in source_template()["Globals"]["Function"]
    assert len(set(code_uris)) == len(FUNCTIONS)
    assert all(uri.startswith("build/lambda/") for uri in code_uris), code_uris


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_code_is_exactly_the_import_closure_of_the_handler(
    code_artifacts: Path, function: str
) -> None:
    module, _ = _handler(function)

    shipped = taskapi_modules(artifact_dir(code_artifacts, function))

    assert shipped == _expected_closure(module)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_local_tool_cli_risk_map_or_terminal_library_is_shipped_or_imported(
    code_artifacts: Path, function: str
) -> None:
    module, _ = _handler(function)
    graph = grimp.build_graph("taskapi", "taskrisk", include_external_packages=True, cache_dir=None)
    reachable = graph.find_upstream_modules(module) | {module}
    artifact = artifact_dir(code_artifacts, function)
    top_level = {path.name.removesuffix(".py") for path in artifact.iterdir()}

    assert not [m for m in reachable for f in FORBIDDEN_MODULES if _is_within(m, f)]
    assert not [m for m in taskapi_modules(artifact) if _is_within(m, "taskapi.local")]
    assert top_level == {"taskapi", f"taskapi-{PROJECT_VERSION}.dist-info"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_handler_is_a_function_defined_in_a_file_of_the_artifact(
    code_artifacts: Path, function: str
) -> None:
    module, attribute = _handler(function)
    source = artifact_dir(code_artifacts, function).joinpath(*module.split(".")).with_suffix(".py")

    tree = ast.parse(source.read_text(encoding="utf-8"))
    defined = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }

    assert attribute in defined


# Run in a fresh interpreter without site (-S), so the only taskapi it can see is the
# artifact's: the editable install of this checkout is a .pth file, which only site reads.
# The third-party packages come from this 3.11 venv; the artifact's own cp313 wheels cannot
# be imported by Python 3.11 (test_dependency_wheels.py checks them by their tags instead).
_IMPORT_HANDLER = """
import importlib, importlib.metadata, json, sys
handler = getattr(importlib.import_module(sys.argv[1]), sys.argv[2])
ours = {n: m for n, m in sys.modules.items() if n == "taskapi" or n.startswith("taskapi.")}
print(json.dumps({
    "callable": callable(handler),
    "files": sorted(getattr(m, "__file__", None) or "" for m in ours.values()),
    "modules": sorted(sys.modules),
    "version": importlib.metadata.version("taskapi"),
    "metadata_root": str(importlib.metadata.distribution("taskapi").locate_file("")),
}))
"""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_handler_imports_from_its_artifact_alone(code_artifacts: Path, function: str) -> None:
    module, attribute = _handler(function)
    artifact = artifact_dir(code_artifacts, function).resolve()
    site_packages = sysconfig.get_paths()["purelib"]

    result = subprocess.run(
        [sys.executable, "-S", "-c", _IMPORT_HANDLER, module, attribute],
        env={"PYTHONPATH": f"{artifact}:{site_packages}", "AWS_EC2_METADATA_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["callable"] is True
    assert loaded["files"], "no taskapi module was loaded"
    assert all(Path(file).is_relative_to(artifact) for file in loaded["files"]), loaded["files"]
    assert not [m for m in loaded["modules"] for f in FORBIDDEN_MODULES if _is_within(m, f)]
    # The artifact's own metadata answers, not this checkout's editable install.
    assert loaded["version"] == PROJECT_VERSION
    assert Path(loaded["metadata_root"]) == artifact


def test_a_rebuild_leaves_nothing_stale(tmp_path: Path) -> None:
    stale = artifact_dir(tmp_path, "RelayFunction") / "taskapi" / "local" / "cli.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("print('left over')\n", encoding="utf-8")

    build_artifacts(tmp_path, with_dependencies=False)

    assert not stale.exists()
    assert not stale.parent.exists()
