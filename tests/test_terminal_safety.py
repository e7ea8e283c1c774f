"""Server text is data, never terminal control: no ESC sequence, C0/C1 control character or Rich
markup from a server reaches the terminal — CLI text, tables, errors, CSV, screens."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from faultserver import (
    CLEAR_AND_TITLE,
    HOSTILE_PATCH,
    OSC52,
    SENTINEL_TOKEN,
    FaultServer,
    Options,
)
from ht_dash import cli
from ht_dash.api import contract
from ht_dash.sanitize import spreadsheet_safe, terminal_safe
from ui_harness import wait_until

pytestmark = pytest.mark.fault

# What a terminal would act on: every C0 control but line feed, DEL, and every C1 control.
UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")

SETTINGS = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text a hostile server would send: printable runs mixed with ESC sequences, C0/C1 controls and
# markup fragments.
hostile_text = st.lists(
    st.sampled_from(
        [OSC52, CLEAR_AND_TITLE, "\x1b", "\x9b", "\x9d", "\x07", "\r", "\n", "\t", "\x00", "\x7f"]
        + ["[bold]", "[/]", "[link=https://evil.test]", "=", "@", "a", "é", "€", " ", "\\"]
    )
    | st.text(max_size=6),
    min_size=1,
    max_size=8,
).map("".join)


def text_patch(text: str) -> dict[str, dict]:
    """`text` in every displayed string field of every path (choices and instants left valid)."""
    return {
        contract.PROFILE: {"name": text, "email": text, "organization": text},
        contract.TOKEN: {"token_id": text, "masked": text},
        contract.SUBSCRIPTION: {"plan": {"name": text, "currency": text}, "status": text},
        contract.ENDPOINT_USAGE: {"endpoints": [{"method": text, "path": text}]},
        contract.NEXT_BILLING: {
            "currency": text,
            "plan_name": text,
            "plan_id": text,
            "payment_method": text,
        },
        contract.HISTORY: {
            "items": [
                {"description": text, "status": text, "kind": text, "reference": text, "id": text}
            ]
        },
    }


def run_cli(capsys, server: FaultServer, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--base-url", server.base_url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def token_env(monkeypatch):
    monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL_TOKEN)


# ---- the two functions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        (f"x{OSC52}", "x"),
        (f"Pulse{CLEAR_AND_TITLE}", "Pulse"),
        ("bad \x1b]52;c;aGk=\x07 \x1b[2J cleared", "bad   cleared"),
        ("8-bit \x9b2Jcsi and \x9d0;title\x9c osc", "8-bit csi and  osc"),
        ("bell\x07 nul\x00 del\x7f", "bell nul del"),
        ("two\r\nlines\tand a tab", "two lines and a tab"),
        ("plain text, € and [brackets]", "plain text, € and [brackets]"),
    ],
)
def test_terminal_safe_removes_whole_sequences_and_controls(raw, safe):
    assert terminal_safe(raw) == safe


def test_multiline_keeps_line_breaks_and_tabs_only():
    assert terminal_safe("a\r\nb\rc\n\td\x1b[1Ae\x85", multiline=True) == "a\nb\nc\n\tde"


@pytest.mark.parametrize(
    ("cell", "guarded"),
    [
        ('=HYPERLINK("https://evil.test")', '\'=HYPERLINK("https://evil.test")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-12.50", "-12.50"),
        ("-$20.00", "-$20.00"),
        ("-1,234.00 CHF", "-1,234.00 CHF"),
        ("-$20.00+cmd", "'-$20.00+cmd"),
        ("Pulse — monthly", "Pulse — monthly"),
        (17900, 17900),
    ],
)
def test_spreadsheet_safe_guards_formula_cells(cell, guarded):
    assert spreadsheet_safe(cell) == guarded


# ---- the property: no server string reaches the terminal as control ------------------------------


@SETTINGS
@given(text=hostile_text)
def test_no_server_string_puts_control_on_the_terminal_through_the_cli(text, capsys, token_env):
    with FaultServer("ok", options=Options(patch=text_patch(text))) as server:
        for argv in (
            ("auth", "status"),
            ("status",),
            ("usage",),
            ("billing",),
            ("history",),
            ("history", "--csv"),
        ):
            code, out, err = run_cli(capsys, server, *argv)
            assert code in (0, 4), (argv, err)  # 4: the text made a field invalid (e.g. empty)
            # Piped, a table is tab-separated fields (gh's format): tabs only between fields,
            # the same number on every line, so a server's tab never makes a field of its own.
            assert len({line.count("\t") for line in out.splitlines()} - {0}) <= 1, (argv, out)
            assert not UNSAFE.search(out.replace("\t", " ")), (argv, out)
            assert not UNSAFE.search(err), (argv, err)


@SETTINGS
@given(message=hostile_text)
def test_no_server_error_message_puts_control_on_the_terminal(message, capsys, token_env):
    with FaultServer("status", options=Options(status=400, message=message)) as server:
        code, out, err = run_cli(capsys, server, "status")
    assert code == cli.EXIT_NETWORK
    assert not UNSAFE.search(out + err), err


async def visit_screens(server: FaultServer) -> dict[str, str]:
    """Each data screen of the app against `server`, as the text its segments put on screen."""
    from ht_dash.clock import FixedClock
    from ht_dash.config import Settings
    from ht_dash.runtime import Runtime
    from ht_dash.tui.app import make_app
    from ht_dash.tui.screens.history_detail import HistoryDetailScreen
    from ht_dash.tui.widgets.panel import DataPanel

    runtime = Runtime(
        settings=Settings(base_url=server.base_url), clock=FixedClock(datetime.now(UTC))
    )
    app = make_app(runtime, live=False)
    seen: dict[str, str] = {}
    def loaded() -> bool:
        panels = list(app.screen.query(DataPanel))
        return bool(panels) and all(not p.has_class("-nodata") for p in panels)

    async with app.run_test(size=(160, 50)) as pilot:
        for key in ("1", "3", "5", "6"):
            await pilot.press(key)
            with contextlib.suppress(AssertionError):  # a panel may stay empty: look anyway
                await wait_until(pilot, loaded, timeout=5)
            seen[key] = terminal_output(app)
        if app.screen.query("#history-table"):
            await pilot.press("enter")  # the detail of the first entry: the full description
            await wait_until(pilot, lambda: isinstance(app.screen, HistoryDetailScreen))
            seen["6-detail"] = terminal_output(app)
    return seen


def terminal_output(app) -> str:
    """What the app's driver would write for a full repaint of the current screen."""
    update = app.screen._compositor.render_update(full=True)
    return "".join(segment.text for line in update.strips for strip in line for segment in strip)


@settings(SETTINGS, max_examples=6, phases=[Phase.explicit, Phase.generate])  # no shrinking
@given(text=hostile_text)
def test_no_server_string_puts_control_on_the_terminal_through_the_screens(text, token_env):
    with FaultServer("ok", options=Options(patch=text_patch(text))) as server:
        seen = asyncio.run(visit_screens(server))
    for key, output in seen.items():
        assert not UNSAFE.search(output), (key, output)


# ---- the concrete cases, against a real loopback server ----------------------------------------


def test_hostile_text_fields_reach_the_cli_as_plain_text(capsys, token_env):
    with FaultServer("ok", options=Options(patch=HOSTILE_PATCH)) as server:
        _, auth_out, _ = run_cli(capsys, server, "auth", "status")
        _, billing_out, _ = run_cli(capsys, server, "billing")
        _, history_out, _ = run_cli(capsys, server, "history")
        _, history_csv, _ = run_cli(capsys, server, "history", "--csv")
        _, history_json, _ = run_cli(capsys, server, "history", "--json")
    assert "Account:  Mallory <fault@example.test>, [link=https://evil.test]Org" in auth_out
    assert "Pulse" in billing_out and "TITLE" not in billing_out
    assert "$179.00" in billing_out  # "US\x1b[5mD" lost its blink: USD again
    assert "\x1b" not in billing_out + history_out + history_csv
    row = next(r for r in csv.DictReader(io.StringIO(history_csv)) if r["id"] == "pay_1")
    assert row["description"] == "x"
    assert row["status"] == "succeeded"
    assert row["reference"] == '\'=HYPERLINK("https://evil.test")'
    entry = json.loads(history_json)["items"][0]
    assert entry["description"] == "x" and entry["reference"] == '=HYPERLINK("https://evil.test")'


def test_a_400_message_with_escapes_is_one_plain_line(capsys, token_env):
    message = f"bad {OSC52} \x1b[2J cleared"
    with FaultServer("status", options=Options(status=400, message=message)) as server:
        code, out, err = run_cli(capsys, server, "auth", "status")
    assert code == cli.EXIT_NETWORK
    assert "ht-dash: bad   cleared (400)" in err
    assert "\x1b" not in out + err


def test_hostile_text_fields_show_as_plain_text_in_the_screens(token_env):
    with FaultServer("ok", options=Options(patch=HOSTILE_PATCH)) as server:
        seen = asyncio.run(visit_screens(server))
    everything = "".join(seen.values())
    assert not UNSAFE.search(everything)
    assert "TITLE" not in everything and "52;c;" not in everything
    assert "/positions[bold]" in seen["3"]  # markup shown as written, not interpreted
    assert "[b]Visa[/b]" in seen["5"]
    assert "[link=https://evil.test]Org" in seen["1"]


def test_an_offline_copy_with_escapes_loads_as_plain_text(tmp_path):
    from faultserver import sample_payloads
    from ht_dash.feeds.cache import ResponseCache

    cache = ResponseCache(tmp_path, "ht-api.example.test")
    payload = sample_payloads(datetime(2026, 11, 25, 14, 0, tzinfo=UTC))[contract.HISTORY]
    payload["items"][0]["description"] = f"Ticket\nline two{OSC52}"
    document = {"format": 1, "key": "history", "saved_at": "2026-11-25T14:00:00+00:00"}
    cache.path_for("history").parent.mkdir(parents=True)
    cache.path_for("history").write_text(json.dumps({**document, "data": payload}))
    loaded = cache.load("history", contract.parse_history)
    assert loaded is not None
    assert loaded.model.items[0].description == "Ticket\nline two"  # a ticket keeps its lines


def test_the_history_export_guards_formulas_and_reads_back_what_the_server_said(tmp_path):
    from ht_dash.api.models import HistoryEntry
    from ht_dash.insights.export import read_history_csv, write_history_csv

    entry = HistoryEntry(
        id="pay_1",
        at=datetime(2026, 11, 1, tzinfo=UTC),
        kind="payment",
        description="-2+3 adjusted\nsecond line",
        status="succeeded",
        amount_cents=-1250,
        currency="USD",
        reference='=HYPERLINK("https://evil.test")',
    )
    path = tmp_path / "history.csv"
    write_history_csv([entry], path)
    row = next(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert row["reference"] == '\'=HYPERLINK("https://evil.test")'
    assert row["description"] == "'-2+3 adjusted\nsecond line"
    assert row["amount"] == "-12.50"  # a number stays a number
    assert read_history_csv(path) == [entry]
