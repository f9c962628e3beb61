"""The committed logs in examples/logs/ are what the service logs: the fault run
(``fault_run.py``, ``make risk-logs``) runs again, over real HTTP on 127.0.0.1, and its lines
group into the same failures, with the same counts, as the committed ones. A change to what the
service logs on a failure fails here: run ``make risk-logs`` and review the golden report."""

from __future__ import annotations

from pathlib import Path

from taskrisk.logs import Failure, group_failures
from taskrisk.model import Severity
from taskrisk.sources import load_logs
from tests.local import fault_run

COMMITTED = Path(__file__).resolve().parents[2] / "examples" / "logs" / fault_run.APP_LOG


def groups(failures: list[Failure]) -> list[tuple[tuple[str, ...], Severity, int]]:
    return [(g.first.key, g.severity, len(g.failures)) for g in group_failures(failures)]


def test_the_fault_run_logs_what_the_committed_logs_hold(tmp_path: Path) -> None:
    lines, statuses = fault_run.run(tmp_path / "data")
    fresh = tmp_path / "fresh.log"
    fresh.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")

    committed = load_logs(str(COMMITTED))
    assert groups(load_logs(str(fresh)).failures) == groups(committed.failures)
    # The faults fired: four writes locked out, four refused by the store.
    assert (statuses.count(503), statuses.count(500)) == (4, 4)
    assert {f.correlation_id for f in committed.failures} >= {"fault-run-07", "fault-run-15"}
