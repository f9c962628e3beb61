"""Build the deployment artifact of every Lambda function in template.yaml.

    .venv/bin/python tools/package.py [--uv PATH] [--code-only] [--python PATH]
                                    [--no-bytecode | --require-bytecode]
                                    [--root DIR] [--template FILE]

No Docker is needed, nor a Python of the functions' runtime (one is used for the bytecode when
this machine has it). For each
``AWS::Serverless::Function`` the artifact is the directory its ``CodeUri`` names (under
``build/``); ``sam deploy`` zips and uploads that directory as it is. It holds:

- **code**: the handler module's import closure within ``taskapi`` (static, from grimp, the
  import graph behind import-linter) plus every package that contains one of those modules,
  because importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` first. Imports
  under ``if TYPE_CHECKING:`` never run, so they do not count. Nothing else of ``src/`` ships:
  no ``taskrisk``, no ``taskapi.local``, no CLI. A minimal ``taskapi-<version>.dist-info``
  lets ``importlib.metadata`` report the project's version, as an installed package would.
- **dependencies** (unless ``--code-only``): the runtime dependencies of ``uv.lock``
  (``uv export --no-dev --no-emit-project``: no dev tools, no CLI extras), installed by uv as
  wheels only for the function's ``Runtime`` and ``Architectures``: CPython 3.13 on a manylinux
  platform of the runtime's glibc, whatever interpreter and machine run this script.
- **bytecode**: every module compiled by a CPython of the runtime's version (``--python``, else
  the one ``uv python find`` or ``PATH`` has), as unchecked hash-based ``.pyc`` files that name
  the sources under ``/var/task``. Lambda's code directory is read-only, so without them every
  cold start compiles every module it imports. With no such interpreter the artifact ships
  without bytecode, and the builder says so.

Each function's directory is deleted and rebuilt, so nothing stale survives a rebuild.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import grimp
from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parents[1]
SRC = REPO_ROOT / "src"
TEMPLATE = REPO_ROOT / "template.yaml"
PACKAGE = "taskapi"
# Every artifact lives under this directory of the output root (git-ignored); the builder
# deletes and recreates artifact directories, so it refuses a CodeUri anywhere else.
BUILD_DIR = "build"

# Lambda's Python runtimes on Amazon Linux 2023 (glibc 2.34): a wheel for manylinux_2_34 or
# older runs there. Runtimes on Amazon Linux 2 (python3.11 and older) are not supported here.
AMAZON_LINUX_2023_PYTHON_RUNTIMES = frozenset({"python3.12", "python3.13", "python3.14"})
GLIBC = "2_34"
# Lambda's architecture names -> the machine names of wheel platform tags.
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Where Lambda puts the function's code: the source paths bytecode records (tracebacks).
LAMBDA_TASK_ROOT = "/var/task"


class PackagingError(Exception):
    """The template or the environment does not allow a correct artifact; the message says why."""


@dataclass(frozen=True)
class LambdaFunction:
    """What the builder needs of one function in the template (Globals applied)."""

    name: str
    handler: str
    code_uri: str
    runtime: str
    architecture: str

    @property
    def handler_module(self) -> str:
        module, _, attribute = self.handler.rpartition(".")
        if not module or not attribute:
            raise PackagingError(f"{self.name}: Handler {self.handler!r} is not module.function")
        return module

    @property
    def python_version(self) -> str:
        """The CPython version of the runtime ("3.13" for python3.13)."""
        if self.runtime not in AMAZON_LINUX_2023_PYTHON_RUNTIMES:
            supported = ", ".join(sorted(AMAZON_LINUX_2023_PYTHON_RUNTIMES))
            raise PackagingError(
                f"{self.name}: Runtime {self.runtime!r} is not supported (use one of {supported})"
            )
        return self.runtime.removeprefix("python")

    @property
    def python_platform(self) -> str:
        """uv's --python-platform for the architecture ("aarch64-manylinux_2_34" for arm64)."""
        machine = MACHINES.get(self.architecture)
        if machine is None:
            raise PackagingError(
                f"{self.name}: Architectures {self.architecture!r} is not one of "
                f"{', '.join(sorted(MACHINES))}"
            )
        return f"{machine}-manylinux_{GLIBC}"

    def artifact_dir(self, root: Path) -> Path:
        path = PurePosixPath(self.code_uri)
        if path.is_absolute() or ".." in path.parts or path.parts[:1] != (BUILD_DIR,):
            raise PackagingError(
                f"{self.name}: CodeUri {self.code_uri!r} must be a directory under {BUILD_DIR}/ "
                "(the builder deletes and recreates it)"
            )
        if len(path.parts) < 2:
            raise PackagingError(f"{self.name}: CodeUri {self.code_uri!r} is {BUILD_DIR}/ itself")
        return root.joinpath(*path.parts)


def lambda_functions(template: Mapping[str, Any]) -> list[LambdaFunction]:
    """Every AWS::Serverless::Function of a parsed template, with Globals.Function applied."""
    defaults = template.get("Globals", {}).get("Function", {})
    functions = []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource.get("Properties", {})}
        missing = [key for key in ("Handler", "CodeUri", "Runtime") if key not in properties]
        if missing:
            raise PackagingError(f"{name}: no {', '.join(missing)} (nor in Globals.Function)")
        architectures = properties.get("Architectures", ["x86_64"])  # Lambda's default
        if not isinstance(architectures, list) or len(architectures) != 1:
            raise PackagingError(f"{name}: Architectures must name exactly one architecture")
        values = (properties["Handler"], properties["CodeUri"], properties["Runtime"])
        if not all(isinstance(value, str) for value in values):
            raise PackagingError(f"{name}: Handler, CodeUri and Runtime must be plain strings")
        functions.append(LambdaFunction(name, *values, architecture=str(architectures[0])))
    if not functions:
        raise PackagingError("the template defines no AWS::Serverless::Function")
    return functions


def read_template(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(path))
    return loaded


def import_graph(package: str = PACKAGE) -> grimp.ImportGraph:
    """The static import graph of the package in src/ (not of a copy installed elsewhere)."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    spec = importlib.util.find_spec(package)
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    if origin is None or not origin.is_relative_to(SRC):
        raise PackagingError(f"{package} resolves to {origin}, not to {SRC}")
    return grimp.build_graph(package, exclude_type_checking_imports=True, cache_dir=None)


def import_closure(graph: grimp.ImportGraph, module: str) -> frozenset[str]:
    """The module, everything it imports directly or indirectly, and the packages containing
    any of them (with what those packages' ``__init__`` modules import in turn)."""
    if module not in graph.modules:
        raise PackagingError(f"{module} is not a module of {PACKAGE}")
    closure: set[str] = set()
    pending = [module]
    while pending:
        current = pending.pop()
        if current in closure:
            continue
        closure.add(current)
        pending.extend(graph.find_modules_directly_imported_by(current))
        parent = current.rpartition(".")[0]
        if parent:
            pending.append(parent)
    return frozenset(closure)


def module_file(module: str, source_root: Path = SRC) -> Path:
    """The source file of a module: ``a/b/__init__.py`` for a package, else ``a/b.py``."""
    base = source_root.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    raise PackagingError(f"no source file for {module} under {source_root}")


def project_version(pyproject: Path = REPO_ROOT / "pyproject.toml") -> str:
    version: str = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    return version


def write_code(modules: Iterable[str], destination: Path, version: str) -> None:
    for module in sorted(modules):
        source = module_file(module)
        target = destination / source.relative_to(SRC)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # Core metadata needs only these three fields; importlib.metadata reads nothing else.
    dist_info = destination / f"{PACKAGE}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\n", encoding="utf-8"
    )


def _run(command: Sequence[str]) -> None:
    # Fixed argument lists (the uv binary and paths), never a shell.
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        # uv reports on stderr; compileall names the files it could not compile on stdout.
        output = "\n".join(text.strip() for text in (result.stdout, result.stderr) if text.strip())
        raise PackagingError(f"{' '.join(command[:3])} failed:\n{output}")


def export_requirements(uv: str, destination: Path) -> None:
    """The locked runtime dependencies, with hashes (uv verifies every downloaded wheel)."""
    _run(
        [
            uv,
            "export",
            "--project",
            str(REPO_ROOT),
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "--format",
            "requirements.txt",
            "--quiet",
            "--output-file",
            str(destination),
        ]
    )


def install_dependencies(
    uv: str, requirements: Path, destination: Path, python_version: str, python_platform: str
) -> None:
    _run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            # An interpreter only to run uv's resolver against; the target is set below.
            "--python",
            sys.executable,
            "--target",
            str(destination),
            "--python-version",
            python_version,
            "--python-platform",
            python_platform,
            "--only-binary",
            ":all:",
            # The export is the complete, locked set: resolve nothing beyond it.
            "--no-deps",
            "--require-hashes",
            "--requirements",
            str(requirements),
        ]
    )
    # Console scripts carry this machine's interpreter path; a Lambda function runs none.
    shutil.rmtree(destination / "bin", ignore_errors=True)


def interpreter_version(python: str) -> str | None:
    """ "3.13" for a CPython 3.13 executable; None for anything else or nothing that runs."""
    try:
        result = subprocess.run(  # noqa: S603 (a path given to us, no shell)
            [python, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    name, *version = result.stdout.split() or [""]
    if result.returncode != 0 or name != "cpython" or len(version) != 2:
        return None
    return ".".join(version)


def find_interpreter(version: str, uv: str | None) -> str | None:
    """A CPython of ``version`` on this machine: uv's pick (its managed and system Pythons),
    else ``pythonX.Y`` on PATH. Each candidate is run to check what it is (a pyenv shim of a
    version that is not selected exists, but does not run)."""
    candidates = []
    if uv is not None:
        found = subprocess.run(  # noqa: S603 (the uv binary, fixed arguments)
            [uv, "python", "find", "--no-project", version],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode == 0:
            candidates.append(found.stdout.strip())
    candidates.append(shutil.which(f"python{version}") or "")
    for candidate in candidates:
        if candidate and interpreter_version(candidate) == version:
            return candidate
    return None


def compile_bytecode(python: str, directory: Path, recorded_root: str = LAMBDA_TASK_ROOT) -> None:
    """Compile every module under ``directory`` into ``__pycache__`` with ``python``.

    Unchecked hash-based ``.pyc`` files: the interpreter loads them without comparing the
    source's modification time, which zip archives do not keep exactly (2-second steps), and
    the artifact is never edited, only rebuilt whole. Code objects name their files under
    ``recorded_root``, where Lambda unpacks the code, not under the build directory."""
    root = directory.resolve()
    # compileall exits non-zero (and _run raises) if any file fails to compile.
    _run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(root),
            "-p",
            recorded_root,
            str(root),
        ]
    )


def bytecode_interpreters(
    functions: Sequence[LambdaFunction],
    uv: str | None,
    python: str | None,
    log: Any,
    *,
    required: bool = False,
) -> dict[str, str | None]:
    """The interpreter that compiles each runtime's bytecode (None: ship without bytecode).

    An explicit ``python`` must be a CPython of every function's runtime version; otherwise
    each version is looked for on this machine, and a missing one is reported, and fatal
    only when the bytecode is ``required``."""
    interpreters: dict[str, str | None] = {}
    for version in sorted({function.python_version for function in functions}):
        if python is not None:
            actual = interpreter_version(python)
            if actual != version:
                raise PackagingError(
                    f"--python {python} is {'CPython ' + actual if actual else 'not a CPython'}"
                    f", the functions run CPython {version}"
                )
            interpreters[version] = python
            continue
        interpreters[version] = find_interpreter(version, uv)
        if interpreters[version] is None and required:
            raise PackagingError(
                f"no CPython {version} on this machine to compile the bytecode with "
                f"(`uv python install {version}`, or --python PATH)"
            )
        if interpreters[version] is None:
            log(
                f"warning: no CPython {version} on this machine, so the artifacts carry no "
                "bytecode and every cold start compiles each module it imports (about twice "
                f"as slow, docs/deployment.md). `uv python install {version}`, or --python "
                "PATH (make: BYTECODE_PYTHON=PATH), fixes it."
            )
    return interpreters


def build(
    functions: Sequence[LambdaFunction],
    root: Path,
    uv: str | None,
    log: Any = print,
    *,
    bytecode: bool = True,
    python: str | None = None,
    require_bytecode: bool = False,
) -> dict[str, Path]:
    """Build every function's artifact under ``root``; without ``uv``, only the code part.

    With ``bytecode``, every module is compiled by ``python`` or, without it, by a CPython of
    the runtime's version found on this machine (none found: no bytecode and a warning, or
    with ``require_bytecode`` an error before anything is built)."""
    graph = import_graph()
    version = project_version()
    artifacts = {function.name: function.artifact_dir(root) for function in functions}
    interpreters = (
        bytecode_interpreters(functions, uv, python, log, required=require_bytecode)
        if bytecode
        else {}
    )
    with tempfile.TemporaryDirectory(prefix="taskapi-package-") as scratch:
        requirements = Path(scratch) / "requirements.txt"
        if uv is not None:
            export_requirements(uv, requirements)
        for function in functions:
            started = time.perf_counter()
            destination = artifacts[function.name]
            shutil.rmtree(destination, ignore_errors=True)
            destination.mkdir(parents=True)
            if uv is not None:
                # Straight into the artifact: uv hard-links the files from its cache (nothing
                # edits an artifact), so four copies cost no copying.
                install_dependencies(
                    uv, requirements, destination, function.python_version, function.python_platform
                )
            modules = import_closure(graph, function.handler_module)
            write_code(modules, destination, version)
            interpreter = interpreters.get(function.python_version)
            if interpreter is not None:
                compile_bytecode(interpreter, destination)
            wheels = "" if uv is None else f" + wheels for {function.python_platform}"
            compiled = "" if interpreter is None else f" + bytecode ({interpreter})"
            log(
                f"{function.name}: {len(modules)} {PACKAGE} modules{wheels}{compiled} -> "
                f"{destination} ({time.perf_counter() - started:.1f} s)"
            )
    return artifacts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument(
        "--root",
        type=Path,
        help="directory the CodeUri paths are relative to (default: the template's)",
    )
    parser.add_argument("--uv", default=shutil.which("uv"), help="the uv binary (default: PATH)")
    parser.add_argument(
        "--code-only", action="store_true", help="only the taskapi modules, no dependencies"
    )
    parser.add_argument(
        "--python",
        help="a CPython of the functions' runtime version, to compile the bytecode with "
        "(default: uv python find, then pythonX.Y on PATH)",
    )
    bytecode = parser.add_mutually_exclusive_group()
    bytecode.add_argument(
        "--no-bytecode", action="store_true", help="ship the sources only (no .pyc files)"
    )
    bytecode.add_argument(
        "--require-bytecode",
        action="store_true",
        help="fail, rather than warn, when no CPython of the runtime's version is found",
    )
    arguments = parser.parse_args(argv)
    try:
        if not arguments.code_only and not arguments.uv:
            raise PackagingError("uv is not on PATH: pass --uv (make package does)")
        functions = lambda_functions(read_template(arguments.template))
        root = arguments.root or arguments.template.resolve().parent
        build(
            functions,
            root,
            None if arguments.code_only else arguments.uv,
            bytecode=not arguments.no_bytecode,
            python=arguments.python,
            require_bytecode=arguments.require_bytecode,
        )
    except PackagingError as error:
        print(f"package: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
