"""CSV export of the history: what a user opens in a spreadsheet must be exactly what was shown."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ht_dash.api.models import HistoryEntry
from ht_dash.insights.export import (
    ExportError,
    amount_text,
    default_export_path,
    read_history_csv,
    resolve_export_path,
    write_history_csv,
)

AT = datetime(2026, 11, 25, 14, 3, tzinfo=UTC)


def entry(i, description, *, kind="payment", cents=39900, currency="USD", reference="INV-1"):
    return HistoryEntry(
        id=f"h{i}",
        at=AT,
        kind=kind,
        description=description,
        status="paid",
        amount_cents=cents,
        currency=currency,
        reference=reference,
    )


# fmt: off
TRICKY = [
    entry(1, "Surge plan, November"),
    entry(2, 'Refund for "double charge", part 1', kind="refund", cents=-1250),
    entry(3, "Ticket: 429s on /fills — «résolu» ✓ 日本語 🚀", kind="support", cents=None,
          currency=None, reference=None),
    entry(4, "line one\nline two, with comma", cents=0),
    entry(5, "Yen invoice", cents=12345, currency="JPY"),
    entry(6, "Dinar invoice", cents=12345, currency="KWD"),
    entry(7, "=SUM(A1:A9) stays text", cents=1),
]
# fmt: on


def test_csv_round_trips_commas_quotes_newlines_and_unicode(tmp_path):
    path = tmp_path / "out.csv"
    assert write_history_csv(TRICKY, path) == len(TRICKY)
    assert read_history_csv(path) == TRICKY


def test_csv_reads_as_a_plain_spreadsheet_would(tmp_path):
    path = tmp_path / "out.csv"
    write_history_csv(TRICKY, path)
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    # One layout for the app's export and `ht-dash history --csv` (docs/cli.md).
    assert rows[0] == [
        "id", "at", "kind", "description", "status", "amount_cents", "currency", "amount",
        "reference",
    ]  # fmt: skip
    assert rows[1] == [
        "h1", "2026-11-25T14:03:00Z", "payment", "Surge plan, November", "paid",
        "39900", "USD", "399.00", "INV-1",
    ]  # fmt: skip
    assert rows[2][5:8] == ["-1250", "USD", "-12.50"]
    assert rows[3][5:9] == ["", "", "", ""]
    assert rows[5][5:8] == ["12345", "JPY", "12345"]  # JPY has no minor unit
    assert rows[6][7] == "12.345"


def test_the_cli_writes_the_same_csv_as_the_app(tmp_path, capsys, monkeypatch):
    from test_cli_support import history_entries, install_scripted, run_cli

    scripted = install_scripted(monkeypatch)
    code, out, _ = run_cli(capsys, "--demo", "history", "--csv")
    assert code == 0
    path = tmp_path / "app.csv"
    write_history_csv(scripted.history, path)
    assert out == path.read_text(encoding="utf-8")
    assert scripted.history == history_entries()


def test_amount_text():
    assert amount_text(-5, "usd") == "-0.05"
    assert amount_text(None, "USD") == ""


def test_unwritable_target_raises_a_clear_error_and_leaves_no_temp_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="cannot write"):
        write_history_csv(TRICKY, blocker / "sub" / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("previous")

    def broken():
        yield TRICKY[0]
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        write_history_csv(broken(), path)
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_export_paths(tmp_path):
    default = default_export_path(tmp_path, AT, "refund")
    assert default == tmp_path / "ht-dash-history-refund-20261125-140300.csv"
    assert resolve_export_path("  ", default) == default
    assert resolve_export_path(str(tmp_path), default) == default
    assert resolve_export_path("~/x/report", default) == Path.home() / "x" / "report.csv"
    assert resolve_export_path("/tmp/a.csv", default) == Path("/tmp/a.csv")


def test_exports_go_where_ht_dash_was_started(tmp_path, monkeypatch):
    from ht_dash.paths import export_dir

    monkeypatch.delenv("HT_DASH_HOME")
    monkeypatch.chdir(tmp_path)
    assert export_dir() == tmp_path  # not a Downloads folder the user never chose
