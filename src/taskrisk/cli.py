"""`taskrisk` (also `taskapi risk`): turn a bug export into a risk heat map.

Only argparse and the standard library are imported at the top; the rest when the command
runs. Why, and every option: docs/operations.md ("How the code is organised", "Command line
reference").
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from taskrisk.errors import RiskMapError, first_problem
from taskrisk.render import DEFAULT_TOP, DEFAULT_WIDTH, OutputFormat, RenderOptions

if TYPE_CHECKING:
    from taskrisk.scoring import SeverityWeights
    from taskrisk.settings import RiskMapSettings

EXIT_OK = 0
EXIT_INPUT_ERROR = 2
DEFAULT_SINCE_DAYS = 90
_SHOWN_RECORD_ERRORS = 5

_EXAMPLES = """\
examples (run from the repository root, on the files in examples/; gh needs a GitHub login):
  taskapi risk examples/bugs.json
  taskapi risk examples/bugs.csv --format markdown --top 5
  taskapi risk examples/bugs.json --git . --coverage examples/coverage.xml \\
    --format html --out risk.html
  taskapi risk examples/bugs.json --weights critical=8,high=4 \\
    --layers examples/layers.toml --format png -o risk.png
  taskapi risk examples/jira.csv --layers examples/jira.toml --lenient
  taskapi risk --logs examples/logs/app.log
  taskapi risk examples/bugs.json --logs examples/logs/insights.csv --format markdown
  jq -f examples/map.jq examples/github-issues.json | taskapi risk - --format markdown
  gh issue list --label bug --state all --json number,title,body,labels,state,createdAt,closedAt \\
    | jq -f examples/map.jq | taskapi risk -

See docs/operations.md for the data format, the layer rules and the scoring formulas.
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be greater than zero")
    return value


_HELP = "turn a bug export and the service's logs into a risk heat map"
_DESCRIPTION = (
    "Where do the bugs cluster, how severe, of what kind, which testing gaps let them "
    "through, and what to fix first. The service's own logs (--logs) add its failures."
)


def main(argv: Sequence[str] | None = None) -> int:
    """The `taskrisk` command: the same as `taskapi risk`."""
    parser = argparse.ArgumentParser(
        prog="taskrisk",
        description=_DESCRIPTION,
        epilog=_EXAMPLES.replace("taskapi risk", "taskrisk"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args, prog="taskrisk")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `risk` to the `taskapi` command."""
    parser = subparsers.add_parser(
        "risk",
        help=_HELP,
        description=_DESCRIPTION,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bugs",
        metavar="BUGS",
        nargs="?",
        help="bug export: JSON (a list, or an object with a 'bugs' list) or CSV; '-' reads stdin",
    )
    parser.add_argument(
        "--logs",
        action="append",
        metavar="FILE",
        help="the service's Powertools JSON logs: JSON lines (taskapi serve --log-format json, "
        "sam logs) or a CloudWatch Logs Insights export (.csv or JSON); repeatable",
    )
    parser.add_argument(
        "--input-format",
        choices=("json", "csv"),
        help="format of BUGS (default: from the file extension, JSON for stdin)",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="skip invalid records and malformed log lines instead of stopping",
    )
    parser.add_argument(
        "--layers",
        type=Path,
        metavar="TOML",
        help="settings file: layer rules, and optionally weights, columns, severity aliases",
    )
    parser.add_argument(
        "--weights",
        metavar="SPEC",
        help="severity weights, e.g. critical=8,high=4 (default critical=10,high=5,medium=2,low=1)",
    )
    parser.add_argument(
        "--git", type=Path, metavar="REPO", help="add churn per file from this git repository"
    )
    parser.add_argument(
        "--since-days",
        type=_positive_int,
        metavar="N",
        help=f"churn window in days (with --git; default {DEFAULT_SINCE_DAYS})",
    )
    parser.add_argument(
        "--coverage", type=Path, metavar="XML", help="add line coverage from a Cobertura report"
    )
    parser.add_argument(
        "--format",
        choices=[output_format.value for output_format in OutputFormat],
        default=OutputFormat.TEXT.value,
        help="output format (default: text)",
    )
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        metavar="PATH",
        help="write here instead of stdout (needed for png)",
    )
    parser.add_argument(
        "--top",
        type=_positive_int,
        default=DEFAULT_TOP,
        metavar="N",
        help="rows per table and heat map (default: %(default)s; json is always complete)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, prog: str = "taskapi risk") -> int:
    try:
        _run(args, prog)
    except RiskMapError as exc:
        # A problem the user can fix: one line, no traceback.
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    return EXIT_OK


def _run(args: argparse.Namespace, prog: str) -> None:
    # Imported here, not at the top: see the module docstring.
    from taskrisk.analysis import analyse  # noqa: PLC0415
    from taskrisk.intake import LoadedBugs  # noqa: PLC0415
    from taskrisk.logs import ParsedLogs  # noqa: PLC0415
    from taskrisk.render import render  # noqa: PLC0415
    from taskrisk.sources import (  # noqa: PLC0415
        InputFormat,
        load_bugs,
        load_logs,
        read_coverage,
        read_git_churn,
        write_report,
    )

    output_format = OutputFormat(args.format)
    _check_option_combinations(args, output_format)
    settings = _settings(args.layers)
    weights = _weights(settings, args.weights)
    input_format = InputFormat(args.input_format) if args.input_format else None
    loaded = LoadedBugs()
    if args.bugs is not None:
        loaded = load_bugs(
            args.bugs, input_format=input_format, settings=settings, lenient=args.lenient
        )
    if loaded.errors and not loaded.bugs:
        # Usually a mapping that fits none of the rows: an empty report would hide it.
        invalid = (
            "the only record is" if loaded.skipped == 1 else f"all {loaded.skipped} records are"
        )
        raise RiskMapError(f"{invalid} invalid, nothing to analyse; the first: {loaded.errors[0]}")
    if loaded.errors:
        _warn_skipped(prog, [str(error) for error in loaded.errors])
    logs = None
    if args.logs:
        logs = ParsedLogs()
        for path in args.logs:
            logs.extend(load_logs(path, lenient=args.lenient))
        if logs.errors and not logs.lines - logs.skipped:
            invalid = "the only line is" if logs.lines == 1 else f"all {logs.lines} lines are"
            raise RiskMapError(
                f"{invalid} malformed, nothing to analyse in the logs; the first: {logs.errors[0]}"
            )
        if logs.errors:
            _warn_skipped(prog, [str(error) for error in logs.errors], noun="malformed log line")
    churn = (
        read_git_churn(args.git, since_days=args.since_days or DEFAULT_SINCE_DAYS)
        if args.git
        else None
    )
    coverage = read_coverage(args.coverage) if args.coverage else None
    report = analyse(
        loaded.bugs,
        layer_map=settings.layer_map(),
        weights=weights,
        churn=churn,
        coverage=coverage,
        skipped_records=loaded.skipped,
        logs=logs,
    )
    content = render(report, output_format, _render_options(args))
    if args.out is not None:
        write_report(args.out, content)
        print(f"{prog}: wrote {args.out}", file=sys.stderr)
    else:
        assert isinstance(content, str)  # binary formats require --out, checked above
        sys.stdout.write(content)


def _check_option_combinations(args: argparse.Namespace, output_format: OutputFormat) -> None:
    if args.bugs is None and not args.logs:
        raise RiskMapError("nothing to analyse: give a bug export (BUGS), --logs FILE, or both")
    if args.input_format is not None and args.bugs is None:
        raise RiskMapError("--input-format is the format of BUGS: add the bug export")
    if [args.bugs, *(args.logs or [])].count("-") > 1:
        raise RiskMapError("standard input ('-') can be read only once")
    if output_format.is_binary and args.out is None:
        raise RiskMapError(f"--format {output_format} writes an image: add --out PATH")
    if args.since_days is not None and args.git is None:
        raise RiskMapError("--since-days sets the churn window of --git: add --git REPO")


def _settings(path: Path | None) -> RiskMapSettings:
    from taskrisk.settings import RiskMapSettings  # noqa: PLC0415
    from taskrisk.sources import load_settings  # noqa: PLC0415

    return load_settings(path) if path is not None else RiskMapSettings()


def _weights(settings: RiskMapSettings, spec: str | None) -> SeverityWeights:
    from pydantic import ValidationError  # noqa: PLC0415

    from taskrisk.scoring import parse_weights  # noqa: PLC0415

    try:
        overrides = parse_weights(spec) if spec else None
    except ValueError as exc:
        raise RiskMapError(f"--weights: {exc}") from None
    try:
        return settings.severity_weights(overrides)
    except ValidationError as exc:
        raise RiskMapError(f"weights: {first_problem(exc)}") from None


def _warn_skipped(prog: str, problems: list[str], noun: str = "invalid record") -> None:
    counted = noun if len(problems) == 1 else f"{noun}s"
    print(f"{prog}: skipped {len(problems)} {counted}:", file=sys.stderr)
    for problem in problems[:_SHOWN_RECORD_ERRORS]:
        print(f"  {problem}", file=sys.stderr)
    if len(problems) > _SHOWN_RECORD_ERRORS:
        print(f"  ... and {len(problems) - _SHOWN_RECORD_ERRORS} more", file=sys.stderr)


def _render_options(args: argparse.Namespace) -> RenderOptions:
    # Colour and terminal width only when a person is looking at the output.
    interactive = args.out is None and sys.stdout.isatty()
    return RenderOptions(
        top=args.top,
        color=interactive and not os.environ.get("NO_COLOR"),  # no-color.org: set and not empty
        width=shutil.get_terminal_size().columns if interactive else DEFAULT_WIDTH,
    )
