"""Output that pipes (gh's rules), global options anywhere, a stable demo account, honest help."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from test_cli_support import ENDPOINTS, ScriptedBackend, install_scripted, run_cli


@pytest.fixture
def scripted(monkeypatch) -> ScriptedBackend:
    return install_scripted(monkeypatch)


def test_usage_piped_into_grep_finds_the_heatmap_row():
    """`ht-dash --demo usage | grep heatmap`, through a real pipe and a narrow COLUMNS."""
    env = {**os.environ, "COLUMNS": "60", "NO_COLOR": "1"}
    ht_dash = subprocess.Popen(
        [sys.executable, "-m", "ht_dash", "--demo", "usage"], stdout=subprocess.PIPE, env=env
    )
    grep = subprocess.run(
        ["grep", "heatmap"], stdin=ht_dash.stdout, capture_output=True, text=True, check=False
    )
    ht_dash.stdout.close()
    assert ht_dash.wait(timeout=60) == 0
    fields = grep.stdout.rstrip("\n").split("\t")
    assert fields[0] == "GET /positions/heatmap", grep.stdout
    assert len(fields) == 7 and fields[1].replace(",", "").isdigit()


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["usage"],
        ["metrics", "--days", "3"],
        ["billing"],
        ["history", "--limit", "5"],
    ],
)
def test_piped_output_is_one_record_per_line_unwrapped_unpadded(
    scripted, capsys, monkeypatch, argv
):
    monkeypatch.setenv("COLUMNS", "40")  # narrower than any record: nothing may wrap anyway
    code, out, _ = run_cli(capsys, "--demo", *argv)
    assert code == 0
    lines = out.splitlines()
    assert lines
    for line in lines:
        assert line == line.rstrip(" "), f"padded: {line!r}"  # empty last fields stay
        assert "\x1b[" not in line
        assert not set(line) & set("│┃─━┏┗╭╰"), f"a table border: {line!r}"
    if argv[0] == "usage":  # one endpoint, one line, every column
        assert [line.split("\t")[0] for line in lines] == [
            f"{e.method} {e.path}" for e in ENDPOINTS
        ]
        assert {len(line.split("\t")) for line in lines} == {7}
    if argv[0] == "history":  # long descriptions stay on their line; the "more" note is stderr
        assert len(lines) == 5
        assert 'Entry 1, "quoted", café ✓' in lines[1]


def test_history_note_about_more_entries_goes_to_stderr_when_piped(scripted, capsys):
    code, out, err = run_cli(capsys, "--demo", "history", "--limit", "2")
    assert code == 0
    assert "Showing the newest 2" in err and "Showing" not in out


def test_status_piped_is_label_tab_value(scripted, capsys):
    code, out, _ = run_cli(capsys, "--demo", "status")
    assert code == 0
    assert "Requests/min\t42 / 60 (70 %)" in out.splitlines()


# ---- global options after the command -----------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--demo", "status", "--json"],
        ["status", "--demo", "--json"],
        ["status", "--json", "--demo"],
    ],
)
def test_global_options_work_before_and_after_the_command(scripted, capsys, argv):
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert json.loads(out)["source"] == "demo"


def test_global_options_after_an_action_and_help_lists_them(capsys):
    from ht_dash.cli import build_parser

    args = build_parser().parse_args(["token", "show", "--demo", "--source", "meter"])
    assert args.demo and args.source == "meter"
    args = build_parser().parse_args(["--debug", "usage"])  # not reset by the command's copy
    assert args.debug and not args.demo and args.demo_seed is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["usage", "--help"])
    assert "also accepted before the command" in capsys.readouterr().out


GLOBALS = [
    "--demo", "--demo-seed", "3", "--base-url", "https://ht.example/api/external",
    "--source", "api", "--request-deadline", "5", "--store", "sqlite:///m.db", "--debug",
]  # fmt: skip


def _leaf_commands():
    """Every runnable command path (`token show`, `plan set`, …) and what it needs after it."""
    import argparse

    from ht_dash.cli import build_parser

    needs = {("plan", "set"): ["surge"], ("completion",): ["bash"]}

    def walk(parser, path=()):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield path
            return
        for name, sub in subs[0].choices.items():
            yield from walk(sub, (*path, name))

    for path in walk(build_parser()):
        if path == ("run",):
            yield [*path, *GLOBALS, "--", "true"]
        else:
            yield [*path, *needs.get(path, []), *GLOBALS]


@pytest.mark.parametrize("argv", list(_leaf_commands()), ids=lambda argv: argv[0])
def test_every_global_option_is_accepted_after_every_command(argv):
    from ht_dash.cli import build_parser

    args = build_parser().parse_args(argv)
    assert args.demo and args.demo_seed == 3 and args.debug
    assert args.base_url == "https://ht.example/api/external" and args.source == "api"
    store = args.store or getattr(args, "meter_store", None)  # `meter --store`: the one it writes
    assert str(args.request_deadline) == "5" and store == "sqlite:///m.db"


@pytest.mark.parametrize("path", [["status"], ["token", "show"], ["meter"], ["plan", "set"]])
def test_version_is_accepted_after_a_command_too(capsys, path):
    from ht_dash import __version__
    from ht_dash.cli import build_parser

    with pytest.raises(SystemExit) as stop:  # was 'unrecognized arguments: --version', exit 2
        build_parser().parse_args([*path, "--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"ht-dash {__version__}"


# ---- a stable demo account ----------------------------------------------------------------------


def test_the_demo_account_is_the_same_on_every_run_unless_a_seed_says_otherwise(capsys):
    def account(*argv: str) -> tuple:
        code, out, err = run_cli(capsys, *argv, "--demo", "status", "--json")
        assert code == 0, err
        doc = json.loads(out)
        return doc["plan"]["id"], doc["tokens"]["period_start"], doc["tokens"]["used"] // 1000

    first = account()
    assert account() == first
    assert account("--demo-seed", "7") == first
    assert account("--demo-seed", "12345") != first


def test_help_lists_the_demo_seed(capsys):
    from ht_dash.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    assert "--demo-seed N" in capsys.readouterr().out


@pytest.mark.parametrize("width", [60, 80, 120])
async def test_usage_by_instance_fits_the_terminal_and_keeps_the_429s(tmp_path, width):
    """On a terminal: no wrapped or folded line at 60/80/120 columns; the least useful figures
    give way first, the names end in "…"; requests and 429s stay. Piped: every field (above)."""
    import io
    import time

    from rich.console import Console

    from ht_dash.commands.usage import to_table
    from ht_dash.meter.recorder import Record, Recorder
    from ht_dash.meter.source import MeterSource

    db = tmp_path / "meter.sqlite3"
    now = time.time()
    path = "/leaderboards/biggest-positions"
    for instance in ("trading-bot-eu-west-1", "backfill-worker-02"):
        with Recorder(db, retention_days=3650, instance=instance) as recorder:
            for i in range(20):
                status = 429 if i % 5 else 200
                recorder.add(Record(now - 60 * i, "GET", path, status, 150.0, 900, None, "fp"))
    report = await MeterSource(db).endpoint_usage("30d", by_instance=True)
    out = io.StringIO()
    to_table(report, Console(file=out, width=width, force_terminal=True, color_system=None))
    lines = out.getvalue().splitlines()
    header = next(line for line in lines if "Instance" in line)
    rows = [line for line in lines if "GET" in line]
    assert len(rows) == 2, out.getvalue()  # one line per instance: nothing folded
    assert all(len(line) <= width for line in (header, *rows))
    assert "Requests" in header and "429" in header
    assert all({"20", "16"} <= set(line.split()) for line in rows)  # requests and 429s, whole
    if width == 120:
        assert path in rows[0] and "trading-bot-eu-west-1" in out.getvalue()
        assert "Calls/h" in header
    else:
        assert "Calls/h" not in header and "…" in rows[0]


@pytest.mark.parametrize("width", [60, 80])
def test_history_on_a_terminal_is_one_line_per_entry(width):
    import io
    from datetime import UTC, datetime

    from rich.console import Console

    from ht_dash.api.models import HistoryEntry
    from ht_dash.commands.history import History, to_table

    long = "Elevated 502s and slow /fills since 13:40 UTC, many 429s on retry " * 2
    items = tuple(
        HistoryEntry(f"e{i}", datetime(2026, 11, 12, tzinfo=UTC), "support", long, "resolved",
                     39900, "usd", f"TCK-1062{i}")  # fmt: skip
        for i in range(3)
    )
    out = io.StringIO()
    to_table(History(None, items, False), Console(file=out, width=width, color_system=None,
                                                   force_terminal=True))  # fmt: skip
    rows = [line for line in out.getvalue().splitlines() if "2026-11-12" in line]
    assert len(rows) == 3 and all(len(line) <= width for line in rows), out.getvalue()
    assert all("Elevated 502s" in line and "…" in line and "$399.00" in line for line in rows)
    assert len(out.getvalue().splitlines()) == 3 + 5  # title, 3 borders, header: nothing folded
