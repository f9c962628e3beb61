"""Everything the risk map reads from the outside world: bug exports (JSON, CSV), the TOML
settings file, churn from `git log`, and a Cobertura coverage report.

Each reader turns its failures into one `InputError` sentence. See docs/operations.md ("Input
data", "Risk score of a file").
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from pydantic import ValidationError

from taskrisk.errors import InputError, OutputError, first_problem
from taskrisk.intake import FieldNames, LoadedBugs, RawRow, validate_rows
from taskrisk.logs import LogLine, ParsedLogs, parse_lines
from taskrisk.model import (
    BugRecord,
    ChurnSnapshot,
    CoverageSnapshot,
    FileChurn,
    FileCoverage,
    normalise_path,
)
from taskrisk.settings import RiskMapSettings

STDIN = "-"
REQUIRED_COLUMNS = tuple(
    name for name, field_info in BugRecord.model_fields.items() if field_info.is_required()
)


class InputFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


def input_format_for(path: str, explicit: InputFormat | None) -> InputFormat:
    """The format the user asked for, else the file extension's, else JSON (e.g. for stdin)."""
    if explicit is not None:
        return explicit
    return InputFormat.CSV if path.lower().endswith(".csv") else InputFormat.JSON


def load_bugs(
    path: str,
    *,
    input_format: InputFormat | None = None,
    settings: RiskMapSettings | None = None,
    lenient: bool = False,
) -> LoadedBugs:
    """Read and validate a bug export; `path` may be `-` for standard input."""
    settings = settings or RiskMapSettings()
    chosen = input_format_for(path, input_format)
    name = "<stdin>" if path == STDIN else path
    text = _decode(sys.stdin.buffer.read() if path == STDIN else _read_bytes(path), name)
    if chosen is InputFormat.JSON:
        return validate_rows(_json_rows(text, name), settings, lenient=lenient)
    try:
        return validate_rows(_csv_rows(text, settings), settings, lenient=lenient)
    except csv.Error as exc:  # e.g. a cell longer than csv.field_size_limit()
        raise InputError(f"{name}: not valid CSV: {exc}") from None


def _read_bytes(path: str | Path) -> bytes:
    """The whole file, for every reader: one wording for the errors they share."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def _decode(data: bytes, name: str | Path) -> str:
    """UTF-8 whatever the locale says (standard input included), without the byte order mark
    spreadsheet tools put in front of CSV files, and with every line ending read as "\n"."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _parse_json(text: str, path: str) -> Any:
    """A whole JSON document, every reason it cannot be one an `InputError`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InputError(f"{path}: not usable JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than sys.get_int_max_str_digits()
        raise InputError(f"{path}: not usable JSON: {exc}") from None


def _json_rows(text: str, path: str) -> list[RawRow]:
    document = _parse_json(text, path)
    if isinstance(document, dict) and isinstance(document.get("bugs"), list):
        document = document["bugs"]
    if not isinstance(document, list):
        raise InputError(f'{path}: expected a JSON list of bugs or an object with a "bugs" list')
    return [RawRow(index, content) for index, content in enumerate(document)]


def _csv_rows(text: str, settings: RiskMapSettings) -> Iterator[RawRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    _check_required_columns(header, settings)
    index = 0
    # line_num is the record's last line; a quoted cell may span lines, so remember the first.
    first_line = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):  # else a blank line
            yield RawRow(index, _csv_record(header, cells), line=first_line)
            index += 1
        first_line = reader.line_num + 1


def _csv_record(header: Sequence[str], cells: Sequence[str]) -> dict[str | None, object]:
    """An empty cell means "not given". When a column name repeats (Jira writes one
    "Component/s" column per component), the first non-empty cell wins. Cells beyond the
    header go under the key None, so that validation reports the malformed row."""
    record: dict[str | None, object] = {}
    for name, cell in zip(header, cells, strict=False):
        if cell.strip() and name not in record:
            record[name] = cell
    if len(cells) > len(header):
        record[None] = cells[len(header) :]
    return record


def _check_required_columns(header: Sequence[str], settings: RiskMapSettings) -> None:
    # A whole missing column is one mistake: say so once instead of once per row.
    field_names = FieldNames(settings.columns)
    provided = {field_names.field_for(name) for name in header}
    missing = [column for column in REQUIRED_COLUMNS if column not in provided]
    if missing:
        raise InputError(
            f"CSV header lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(found: {', '.join(header) or 'nothing'})"
        )


# -- the service's logs ----------------------------------------------------------------------

INSIGHTS_MESSAGE = "@message"
INSIGHTS_TIMESTAMP = "@timestamp"


def load_logs(path: str, *, lenient: bool = False) -> ParsedLogs:
    """Read a log file (`-`: standard input): JSON lines, with or without a `sam logs`
    prefix, or a CloudWatch Logs Insights export (CSV for a `.csv` file, else a JSON list).
    Strict mode stops at the first malformed line with an `InputError`."""
    name = "<stdin>" if path == STDIN else path
    data = sys.stdin.buffer.read() if path == STDIN else _read_bytes(path)
    # Undecodable bytes stay in the text as surrogates: each makes its own line malformed.
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    lines: Iterator[LogLine]
    if path.lower().endswith(".csv"):
        lines = _insights_csv_lines(text, name)
    elif text.lstrip().startswith("["):
        lines = iter(_insights_json_lines(text, name))
    else:
        lines = _json_lines(text)
    try:
        parsed = parse_lines(lines, name)
    except csv.Error as exc:
        raise InputError(f"{name}: not valid CSV: {exc}") from None
    if parsed.errors and not lenient:
        raise InputError(str(parsed.errors[0]))
    return parsed


def _json_lines(text: str) -> Iterator[LogLine]:
    # split("\n"), not splitlines(): a form feed or U+2028 inside a line is not a line break.
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield LogLine(number, line)


def _insights_csv_lines(text: str, name: str) -> Iterator[LogLine]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [column.strip() for column in next(reader, [])]
    if INSIGHTS_MESSAGE not in header:
        found = ", ".join(header) or "nothing"
        raise InputError(
            f"{name}: a Logs Insights CSV export needs the {INSIGHTS_MESSAGE} column "
            f"(found: {found}); add it to the query's fields"
        )
    message = header.index(INSIGHTS_MESSAGE)
    timestamp = header.index(INSIGHTS_TIMESTAMP) if INSIGHTS_TIMESTAMP in header else None
    first_line = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield LogLine(
                first_line,
                cells[message] if message < len(cells) else "",
                cells[timestamp] if timestamp is not None and timestamp < len(cells) else None,
            )
        first_line = reader.line_num + 1


def _insights_json_lines(text: str, name: str) -> list[LogLine]:
    document = _parse_json(text, name)
    if not isinstance(document, list):
        raise InputError(f"{name}: expected a JSON list of Logs Insights rows")
    lines = []
    for index, row in enumerate(document):
        if isinstance(row, dict) and isinstance(row.get(INSIGHTS_MESSAGE), str):
            stamp = row.get(INSIGHTS_TIMESTAMP)
            lines.append(
                LogLine(
                    None, row[INSIGHTS_MESSAGE], stamp if isinstance(stamp, str) else None, index
                )
            )
        else:
            # Not a row of an export: let the line parser say what it is instead.
            lines.append(LogLine(None, json.dumps(row), None, index))
    return lines


def load_settings(path: Path) -> RiskMapSettings:
    """Read the `--layers` TOML file (layer rules, weights, column names, severity aliases)."""
    try:
        document = tomllib.loads(_decode(_read_bytes(path), path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    try:
        return RiskMapSettings.model_validate(document)
    except ValidationError as exc:
        raise InputError(f"{path}: {first_problem(exc)}") from None


# -- git churn -------------------------------------------------------------------------------

# A control character no file name or numstat line starts with.
_COMMIT_MARKER = "\x1ecommit "
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class _ChurnCounter:
    commits: set[str] = field(default_factory=set)
    added: int = 0
    deleted: int = 0


def read_git_churn(
    repository: Path, *, since_days: int, now: datetime | None = None
) -> ChurnSnapshot:
    """Commits and lines changed per file over the last `since_days` days (merges excluded,
    renames counted as changes to the new path, binary files as commits without lines)."""
    git = shutil.which("git")
    if git is None:
        raise InputError("--git needs the git executable on PATH")
    since = _window_start(now or datetime.now(UTC), since_days)
    command = [
        git,
        "-C",
        str(repository),
        "-c",
        "core.quotepath=off",  # print non-ASCII paths as they are
        "log",
        "--no-merges",
        "--no-renames",
        "--numstat",
        f"--format={_COMMIT_MARKER}%H",
        *([f"--since={since.isoformat()}"] if since is not None else []),
    ]
    # The command is fixed and run without a shell; only the repository path comes from the user.
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        detail = completed.stderr.strip().splitlines()
        raise InputError(
            f"{repository}: git log failed: {detail[0] if detail else completed.returncode}"
        )
    return ChurnSnapshot(since_days=since_days, files=parse_numstat(completed.stdout))


def _window_start(now: datetime, since_days: int) -> datetime | None:
    """The start of the churn window; None (the whole history) when the window reaches back
    before 1970, where git keeps no commit dates and Python's calendar may run out."""
    if since_days >= (now - _EPOCH).days:
        return None
    return now - timedelta(days=since_days)


def parse_numstat(output: str) -> dict[str, FileChurn]:
    """Parse `git log --numstat --format=<marker>%H` output."""
    counters: defaultdict[str, _ChurnCounter] = defaultdict(_ChurnCounter)
    commit = ""
    # split("\n"), not splitlines(): splitlines() also breaks at the marker's \x1e.
    for line in output.split("\n"):
        if line.startswith(_COMMIT_MARKER):
            commit = line.removeprefix(_COMMIT_MARKER)
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:  # blank separator lines
            continue
        added, deleted, path = parts
        counter = counters[normalise_path(path)]
        counter.commits.add(commit)
        # Binary files show "-" instead of line counts.
        counter.added += int(added) if added.isdigit() else 0
        counter.deleted += int(deleted) if deleted.isdigit() else 0
    return {
        path: FileChurn(commits=len(c.commits), lines_added=c.added, lines_deleted=c.deleted)
        for path, c in counters.items()
    }


# -- coverage --------------------------------------------------------------------------------


def read_coverage(path: Path) -> CoverageSnapshot:
    """Line coverage per file from a Cobertura XML report (`coverage xml`, pytest-cov)."""
    data = _read_bytes(path)
    try:
        # The report is the user's own build artefact, and the stdlib parser does not fetch
        # external entities; expat >= 2.4.1 also bounds entity expansion.
        root = ElementTree.fromstring(data)  # noqa: S314
    except ElementTree.ParseError as exc:
        raise InputError(f"{path}: not valid XML: {exc}") from None
    if root.tag != "coverage":
        raise InputError(f"{path}: not a Cobertura coverage report (root element <{root.tag}>)")
    return CoverageSnapshot(files=_coverage_per_file(root, path))


def _coverage_per_file(root: ElementTree.Element, path: Path) -> dict[str, FileCoverage]:
    # One file can appear in several <class> elements; a line counts once, covered if any hit it.
    lines_hit: defaultdict[str, dict[int, bool]] = defaultdict(dict)
    for element in root.iter("class"):
        filename = element.get("filename")
        if not filename:
            raise InputError(f"{path}: a <class> element has no filename attribute")
        seen = lines_hit[normalise_path(filename)]
        for line in element.iter("line"):
            try:
                number, hits = int(line.get("number", "")), int(line.get("hits", ""))
            except ValueError:
                raise InputError(f"{path}: {filename}: a <line> lacks number or hits") from None
            seen[number] = seen.get(number, False) or hits > 0
    return {
        filename: FileCoverage(lines_valid=len(seen), lines_covered=sum(seen.values()))
        for filename, seen in lines_hit.items()
    }


def write_report(destination: Path, content: str | bytes) -> None:
    try:
        if isinstance(content, bytes):
            destination.write_bytes(content)
        else:
            destination.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{destination}: cannot be written: {exc.strerror or exc}") from None
