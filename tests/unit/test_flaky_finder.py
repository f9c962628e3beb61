"""``make flaky`` (tools/flaky.py): what it reads from each run's JUnit report, and how it
tells a flaky test from a failing one."""

from __future__ import annotations

from pathlib import Path

from tools.flaky import Run, Summary, failed_tests, report

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
  <testcase classname="tests.unit.test_a" name="test_passes" time="0.01"/>
  <testcase classname="tests.unit.test_a" name="test_fails[1]" time="0.01">
    <failure message="assert 1 == 2">...</failure></testcase>
  <testcase classname="tests.unit.test_b.TestThing" name="test_setup_breaks" time="0">
    <error message="fixture failed">...</error></testcase>
  <testcase classname="tests.unit.test_b" name="test_skipped" time="0">
    <skipped message="no bus"/></testcase>
</testsuite></testsuites>
"""


def test_failures_and_errors_count_skips_and_passes_do_not(tmp_path: Path) -> None:
    path = tmp_path / "seed-1.xml"
    path.write_text(JUNIT, encoding="utf-8")

    tests, failed = failed_tests(path)

    assert tests == 4
    assert failed == {
        "tests.unit.test_a::test_fails[1]",
        "tests.unit.test_b.TestThing::test_setup_breaks",
    }


def test_a_test_failing_in_some_runs_is_flaky_in_all_of_them_failing() -> None:
    summary = Summary(
        [
            Run(1, 1, 10.0, 3, frozenset({"t::flaky", "t::broken"})),
            Run(2, 1, 10.0, 3, frozenset({"t::broken"})),
        ]
    )

    assert summary.failures() == {"t::broken": [1, 2], "t::flaky": [1]}
    assert not summary.ok()
    text = report(summary)
    assert "FLAKY: t::flaky (seeds 1)" in text
    assert "failing: t::broken (seeds 1, 2)" in text


def test_a_run_that_fails_without_a_failing_test_is_reported() -> None:
    crashed = Run(7, 2, 1.0, 0, frozenset(), report_missing=True)
    summary = Summary([Run(6, 0, 10.0, 3, frozenset()), crashed])

    assert summary.broken_runs() == [crashed]
    assert not summary.ok()
    assert "seed 7 failed with no failing test" in report(summary)


def test_runs_that_all_pass_are_ok() -> None:
    summary = Summary([Run(seed, 0, 10.0, 3, frozenset()) for seed in (1, 2, 3)])

    assert summary.ok()
    assert report(summary).endswith("no test failed in any of 3 run(s)")
    assert not Summary().ok()  # no run at all proves nothing
