"""Mutation testing with mutmut, one profile at a time (docs/testing.md#mutation-testing).

A profile (``[tool.taskapi.mutation.<name>]`` in pyproject.toml) names the files to mutate, the
tests that run against them and the floor its score must keep. ``run`` runs mutmut for one
profile; ``report`` prints its score per module and every surviving mutant and fails under the
floor; ``all`` does both for every profile. Each profile keeps its own mutmut state: the active
one lives in mutants/, the others wait in .mutants/<name>/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from mutmut import configuration
from mutmut.__main__ import cli

MUTANTS = Path("mutants")
PARKED = Path(".mutants")
MARKER = MUTANTS / "taskapi-profile"
WORKERS = 2  # the CI runners and the shared dev machine have two cores

# mutmut's exit codes (mutmut.stats.status_by_exit_code) grouped by what they mean for the score.
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", 37: "caught by type check", -11: "segfault", -9: "segfault"}  # fmt: skip
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests", 35: "suspicious"}
SKIPPED = {34: "skipped"}


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    only_mutate: list[str]
    tests: list[str]
    floor: float


def load_profiles() -> dict[str, Profile]:
    table = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
    return {
        name: Profile(name, entry["only_mutate"], entry["tests"], float(entry["floor"]))
        for name, entry in table["tool"]["taskapi"]["mutation"].items()
    }


def activate(profile: Profile) -> None:
    """Make mutants/ hold this profile's state, parking another profile's state if it is there."""
    active = MARKER.read_text(encoding="utf-8").strip() if MARKER.exists() else None
    if active == profile.name:
        return
    if MUTANTS.exists():
        if active is None:
            shutil.rmtree(MUTANTS)  # from a run outside this script: of unknown profile
        else:
            PARKED.mkdir(exist_ok=True)
            shutil.rmtree(PARKED / active, ignore_errors=True)
            MUTANTS.rename(PARKED / active)
    if (PARKED / profile.name).exists():
        (PARKED / profile.name).rename(MUTANTS)
    else:
        MUTANTS.mkdir()
        MARKER.write_text(profile.name, encoding="utf-8")


def run(profile: Profile, mutant_names: list[str], *, fresh: bool = False) -> int:
    activate(profile)
    if fresh:
        # mutmut reruns only the mutants of changed code, with the tests it found covering them
        # last time: after a change to the tests, only a fresh run measures the new tests.
        shutil.rmtree(MUTANTS)
        MUTANTS.mkdir()
        MARKER.write_text(profile.name, encoding="utf-8")
    # mutmut reads one [tool.mutmut]; the profile supplies what to mutate and which tests run.
    configuration._config = dataclasses.replace(
        configuration.config(),
        only_mutate=profile.only_mutate,
        pytest_add_cli_args_test_selection=profile.tests,
    )
    os.environ["HYPOTHESIS_PROFILE"] = "ci"  # derandomised: a mutant's fate does not vary by run
    try:
        cli(["run", "--max-children", str(WORKERS), *mutant_names], standalone_mode=False)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


def module_of(meta: Path) -> str:
    relative = meta.relative_to(MUTANTS / "src").with_suffix("").with_suffix("")
    return ".".join(relative.parts)


def report(profile: Profile) -> int:
    activate(profile)
    metas = sorted(
        meta
        for meta in MUTANTS.glob("src/**/*.py.meta")
        if any(Path(str(meta)[len("mutants/") : -5]).match(p) for p in profile.only_mutate)
    )
    if not metas:
        print(f"{profile.name}: no mutation results; run `python tools/mutation.py run`")
        return 1
    totals: Counter[str] = Counter()
    survivors: list[tuple[str, str]] = []
    print(f"\nmutation score, profile {profile.name!r} (tests: {' '.join(profile.tests)})")
    print(f"  {'module':<44} {'killed':>7} {'left':>5} {'score':>7}")
    for meta in metas:
        codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))[
            "exit_code_by_key"
        ]
        counts = tally(codes, survivors)
        totals.update(counts)
        print(line(module_of(meta), counts))
    print(line("total", totals))
    if totals["unchecked"]:
        print(f"  {totals['unchecked']} mutants were not checked: the run did not finish")
    if survivors:
        print(f"\nsurviving mutants ({len(survivors)}); see one with `mutmut show <name>`:")
        for name, status in survivors:
            print(f"  {name}: {status}")
    score = percent(totals)
    if totals["unchecked"] or score < profile.floor:
        print(f"\nFAIL: {profile.name} scores {score:.1f} %, under its floor of {profile.floor} %")
        return 1
    print(f"\nOK: {profile.name} scores {score:.1f} % (floor {profile.floor} %)")
    return 0


def tally(codes: dict[str, int | None], survivors: list[tuple[str, str]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for name, code in sorted(codes.items()):
        if code in KILLED:
            counts["killed"] += 1
        elif code in SKIPPED:
            counts["skipped"] += 1
        elif code is None:
            counts["unchecked"] += 1
        else:
            counts["survived"] += 1
            survivors.append((name, SURVIVED.get(code, f"exit code {code}")))
    return counts


def percent(counts: Counter[str]) -> float:
    judged = counts["killed"] + counts["survived"]
    return 100.0 * counts["killed"] / judged if judged else 100.0


def line(label: str, counts: Counter[str]) -> str:
    return f"  {label:<44} {counts['killed']:>7} {counts['survived']:>5} {percent(counts):>6.1f}%"


def main(argv: list[str] | None = None) -> int:
    profiles = load_profiles()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "report", "all"])
    parser.add_argument("profile", nargs="?", choices=sorted(profiles))
    parser.add_argument("mutants", nargs="*", help="run: only these mutants (globs allowed)")
    parser.add_argument(
        "--fresh", action="store_true", help="run: forget earlier results (all: always fresh)"
    )
    args = parser.parse_args(argv)
    chosen: list[Any] = [profiles[args.profile]] if args.profile else list(profiles.values())
    if args.command == "run":
        if not args.profile:
            return 2
        return run(chosen[0], args.mutants, fresh=args.fresh)
    if args.command == "report":
        return max(report(profile) for profile in chosen)
    # all: each profile's run in its own process (mutmut keeps its state in module globals).
    failed = 0
    for profile in chosen:
        script = [sys.executable, __file__]
        code = subprocess.call([*script, "run", profile.name, "--fresh"])  # noqa: S603
        failed |= code or subprocess.call([*script, "report", profile.name])  # noqa: S603
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
