"""Pytest plugin: counts the tests marked `@pytest.mark.fault` and prints the fault-matrix figure.

    fault matrix: 58 cases, 58 handled

A case is handled when its test passed; failed or errored cases are listed by name, and cases
skipped on this machine (e.g. permission tests run as root) are counted apart.
"""

from __future__ import annotations

import pytest

_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "fault" not in report.keywords:
        return
    if report.when == "call" or report.outcome != "passed":
        previous = _outcomes.get(report.nodeid)
        if previous in (None, "passed"):  # a teardown error overrides a passed call
            _outcomes[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not _outcomes:
        return
    skipped = sum(1 for outcome in _outcomes.values() if outcome == "skipped")
    cases = len(_outcomes) - skipped
    handled = sum(1 for outcome in _outcomes.values() if outcome == "passed")
    line = f"fault matrix: {cases} cases, {handled} handled"
    if skipped:
        line += f" ({skipped} skipped on this machine)"
    terminalreporter.write_sep("=", line, bold=True, green=handled == cases, red=handled != cases)
    for nodeid, outcome in sorted(_outcomes.items()):
        if outcome not in ("passed", "skipped"):
            terminalreporter.write_line(f"  not handled ({outcome}): {nodeid}")
