"""Real processes on the real demo: JSON/CSV commands load no Textual and no rich, and parse."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from ht_dash.cli import main
code = main(sys.argv[1:])
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"textual", "rich"})
print(json.dumps({"exit": code, "loaded": loaded}), file=sys.stderr)
"""


def run(*argv: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for name in ("HT_DASH_TOKEN", "HYPERTRACKER_API_TOKEN", "HT_DASH_BASE_URL", "HT_DASH_SOURCE"):
        env.pop(name, None)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )


def probe(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(result.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [
        ["--demo", "status", "--json"],
        ["--demo", "usage", "--csv"],
        ["--demo", "history", "--all", "--json"],
    ],
)
def test_json_and_csv_commands_load_neither_textual_nor_rich(argv):
    result = run(*argv)
    report = probe(result)
    assert report == {"exit": 0, "loaded": []}, result.stderr


def test_a_table_loads_rich_but_not_textual():
    result = run("--demo", "billing")
    assert probe(result) == {"exit": 0, "loaded": ["rich"]}
    assert "Amount\t$399.00" in result.stdout  # piped: one tab-separated record per line


def test_status_json_from_the_demo_is_one_parseable_object():
    """Acceptance: `ht-dash --demo status --json | python -m json.tool` works."""
    result = run("--demo", "status", "--json")
    data = json.loads(result.stdout)
    assert data["source"] == "demo"
    assert data["tokens"]["used"] <= data["tokens"]["quota"] or data["tokens"]["remaining"] == 0


def test_usage_csv_from_the_demo_is_a_rectangular_csv():
    """Acceptance: `ht-dash --demo usage --csv` opens in a spreadsheet."""
    result = run("--demo", "usage", "--csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:2] == ["method", "path"]
    assert len(rows) > 5
    assert {len(row) for row in rows} == {8}
