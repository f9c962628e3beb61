"""The third-party part of each artifact: the locked runtime dependencies, as wheels for the
function's Runtime and Architectures.

The wheels are CPython 3.13 builds for Linux on the template's architecture, so this Python
3.11 machine cannot import them; they are checked by what they declare (the ``Tag`` lines of
each ``*.dist-info/WHEEL``, the tags an installer matches) and by what their native code is
(the ELF header's machine field).
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from functools import cache
from pathlib import Path

import grimp
import pytest
from packaging import tags
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from tools import package

from tests.package.artifacts import (
    ELF_MACHINES,
    FUNCTIONS,
    artifact_dir,
    function_properties,
    taskapi_modules,
    uv_binary,
)

# Lambda's unzipped limit for a function and its layers together.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
# The Python runtimes on Amazon Linux 2023 have glibc 2.34.
RUNTIME_GLIBC_MINOR = 34


def _target(function: str) -> tuple[tuple[int, int], str, int]:
    properties = function_properties(function)
    runtime = properties["Runtime"]
    major, minor = (int(part) for part in runtime.removeprefix("python").split("."))
    machine, elf_machine = ELF_MACHINES[properties["Architectures"][0]]
    return (major, minor), machine, elf_machine


@cache
def _supported_tags(python: tuple[int, int], machine: str) -> frozenset[tags.Tag]:
    """Every tag CPython ``python`` on glibc 2.34 Linux ``machine`` accepts, newest first."""
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(RUNTIME_GLIBC_MINOR, 4, -1)]
    platforms += [f"manylinux{legacy}_{machine}" for legacy in ("2014", "2010", "1")]
    interpreter = f"cp{python[0]}{python[1]}"
    return frozenset(
        [
            *tags.cpython_tags(python, abis=[interpreter], platforms=platforms),
            *tags.compatible_tags(python, interpreter, platforms),
        ]
    )


def _wheel_tags(dist_info: Path) -> set[tags.Tag]:
    lines = (dist_info / "WHEEL").read_text(encoding="utf-8").splitlines()
    return {
        tag
        for line in lines
        if line.startswith("Tag:")
        for tag in tags.parse_tag(line.removeprefix("Tag:").strip())
    }


def _installed(artifact: Path) -> dict[str, str]:
    """name -> version of every distribution in the artifact except taskapi itself."""
    distributions = importlib.metadata.distributions(path=[str(artifact)])
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in distributions
        if canonicalize_name(dist.metadata["Name"]) != "taskapi"
    }


def _runtime_requirements(python: tuple[int, int], machine: str) -> dict[str, str]:
    """taskapi's requirements (no extras), and theirs, on the target, at the versions
    installed in this venv: the versions the test suite runs against."""
    environment = {
        "python_version": f"{python[0]}.{python[1]}",
        "python_full_version": f"{python[0]}.{python[1]}.0",
        "platform_machine": machine,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    found: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [("taskapi", frozenset[str]())]
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        distribution = importlib.metadata.distribution(name)
        if name != "taskapi":
            found[name] = distribution.version
        for line in distribution.requires or []:
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({**environment, "extra": extra})
                for extra in (extras or {""})
            )
            if wanted:
                pending.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return found


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_wheel_is_for_the_runtime_python_and_architecture(
    full_artifacts: Path, function: str
) -> None:
    python, machine, _ = _target(function)
    dist_infos = [
        path
        for path in artifact_dir(full_artifacts, function).glob("*.dist-info")
        if (path / "WHEEL").exists()
    ]

    unsupported = {
        path.name: sorted(map(str, _wheel_tags(path)))
        for path in dist_infos
        if not _wheel_tags(path) & _supported_tags(python, machine)
    }
    platform_specific = [
        path.name for path in dist_infos if all(tag.platform != "any" for tag in _wheel_tags(path))
    ]

    assert unsupported == {}
    # pydantic-core at least is native code: a check of pure-Python wheels alone proves little.
    assert any(name.startswith("pydantic_core-") for name in platform_specific)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_native_code_is_built_for_the_architecture(full_artifacts: Path, function: str) -> None:
    python, machine, elf_machine = _target(function)
    extensions = list(artifact_dir(full_artifacts, function).rglob("*.so"))

    wrong = []
    for extension in extensions:
        header = extension.read_bytes()[:20]
        suffix_ok = extension.name.endswith(
            (f".cpython-{python[0]}{python[1]}-{machine}-linux-gnu.so", ".abi3.so")
        )
        if header[:4] != b"\x7fELF" or int.from_bytes(header[18:20], "little") != elf_machine:
            wrong.append(f"{extension.name}: not an ELF {machine} object")
        elif not suffix_ok:
            wrong.append(f"{extension.name}: not named for CPython {python} on {machine}")

    assert extensions
    assert wrong == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_dependencies_are_the_locked_runtime_set_and_nothing_else(
    full_artifacts: Path, function: str
) -> None:
    python, machine, _ = _target(function)

    installed = _installed(artifact_dir(full_artifacts, function))

    assert installed == _runtime_requirements(python, machine)
    assert {"rich", "matplotlib", "pyjwt", "pytest", "moto", "cfn-lint"}.isdisjoint(installed)


# Modules Lambda's Python runtime provides itself: the SnapStart restore hooks (imported only
# under SnapStart, entrypoints/snapstart.py).
PROVIDED_BY_THE_RUNTIME = {"snapshot_restore_py"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_library_the_code_imports_is_in_the_artifact(
    full_artifacts: Path, function: str
) -> None:
    artifact = artifact_dir(full_artifacts, function)
    graph = grimp.build_graph(
        "taskapi",
        include_external_packages=True,
        exclude_type_checking_imports=True,
        cache_dir=None,
    )
    # With external packages included, grimp names each by its top-level module.
    third_party = {
        name
        for module in taskapi_modules(artifact)
        for name in graph.find_modules_directly_imported_by(module)
        if name.partition(".")[0] != "taskapi" and name not in sys.stdlib_module_names
    }
    present = {path.name.removesuffix(".py") for path in artifact.iterdir()}

    assert {"pydantic", "aws_lambda_powertools", "boto3"} <= third_party
    assert third_party - present - PROVIDED_BY_THE_RUNTIME == set()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_artifact_is_the_code_closure_plus_wheels_within_lambda_limits(
    full_artifacts: Path, code_artifacts: Path, function: str
) -> None:
    artifact = artifact_dir(full_artifacts, function)
    files = [path for path in artifact.rglob("*") if path.is_file()]

    # Installing the wheels added no taskapi module and changed none.
    assert taskapi_modules(artifact) == taskapi_modules(artifact_dir(code_artifacts, function))
    # No console scripts (they name this machine's interpreter), and bytecode only for the
    # runtime (test_every_module_has_the_runtimes_bytecode_or_none_has_any).
    assert not (artifact / "bin").exists()
    (major, minor), _, _ = _target(function)
    assert {path.name.split(".")[-2] for path in files if path.suffix == ".pyc"} <= {
        f"cpython-{major}{minor}"
    }
    assert sum(path.stat().st_size for path in files) < LAMBDA_UNZIPPED_LIMIT_BYTES


@cache
def _runtime_python(version: str) -> str | None:
    return package.find_interpreter(version, uv_binary())


def _ask(python: str, expression: str) -> str:
    return subprocess.run(
        [python, "-c", f"import importlib.util, marshal, sys; print({expression})"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_module_has_the_runtimes_bytecode_or_none_has_any(
    full_artifacts: Path, function: str
) -> None:
    """Lambda cannot write ``__pycache__`` into its code directory: bytecode the artifact does
    not carry is compiled again at every cold start. Where this machine has the runtime's
    CPython, the builder compiles every module with it; where it has none, the artifact
    carries no bytecode at all (and the build warned, see test_package_builder.py)."""
    artifact = artifact_dir(full_artifacts, function)
    sources = sorted(artifact.rglob("*.py"))
    compiled = sorted(artifact.rglob("*.pyc"))
    (major, minor), _, _ = _target(function)
    python = _runtime_python(f"{major}.{minor}")
    if python is None:
        assert compiled == []
        return

    magic = bytes.fromhex(_ask(python, "importlib.util.MAGIC_NUMBER.hex()"))
    tag = _ask(python, "sys.implementation.cache_tag")
    expected = [source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc" for source in sources]
    assert compiled == sorted(expected)
    for pyc in compiled:
        header = pyc.read_bytes()[:16]
        assert header[:4] == magic, pyc
        assert int.from_bytes(header[4:8], "little") == 0b01, pyc  # hash-based, unchecked
    # Tracebacks name the files where Lambda unpacks them, not where they were built.
    handler = Path(*function_properties(function)["Handler"].split(".")[:-1]).with_suffix(".py")
    pyc = (artifact / handler).parent / "__pycache__" / f"{handler.stem}.{tag}.pyc"
    filename = _ask(python, f"marshal.loads(open({str(pyc)!r}, 'rb').read()[16:]).co_filename")
    assert filename == f"/var/task/{handler}"
