"""Pytest plugin: counts the fault-matrix cases and prints one figure per matrix.

    fault matrix: 58 cases, 58 handled
    meter fault matrix: 20 cases, 20 handled

`@pytest.mark.fault` marks the client's cases, `@pytest.mark.meter_fault` the meter's.

A case is handled when its test passed; failed or errored cases are listed by name, and cases
skipped on this machine (e.g. permission tests run as root) are counted apart.
"""

from __future__ import annotations

import pytest

MATRICES = {"fault": "fault matrix", "meter_fault": "meter fault matrix"}  # marker -> figure
_outcomes: dict[str, dict[str, str]] = {marker: {} for marker in MATRICES}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for marker, outcomes in _outcomes.items():
        if marker not in report.keywords:
            continue
        if report.when == "call" or report.outcome != "passed":
            previous = outcomes.get(report.nodeid)
            if previous in (None, "passed"):  # a teardown error overrides a passed call
                outcomes[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    for marker, title in MATRICES.items():
        _write_figure(terminalreporter, title, _outcomes[marker])


def _write_figure(terminalreporter, title: str, outcomes: dict[str, str]) -> None:
    if not outcomes:
        return
    skipped = sum(1 for outcome in outcomes.values() if outcome == "skipped")
    cases = len(outcomes) - skipped
    handled = sum(1 for outcome in outcomes.values() if outcome == "passed")
    line = f"{title}: {cases} cases, {handled} handled"
    if skipped:
        line += f" ({skipped} skipped on this machine)"
    terminalreporter.write_sep("=", line, bold=True, green=handled == cases, red=handled != cases)
    for nodeid, outcome in sorted(outcomes.items()):
        if outcome not in ("passed", "skipped"):
            terminalreporter.write_line(f"  not handled ({outcome}): {nodeid}")
