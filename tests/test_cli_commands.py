"""The scriptable commands' output: JSON against the schemas of docs/cli.md, CSV, tables."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ht_dash.api.models import StreamUsage
from test_cli_support import (
    DATE,
    ENDPOINTS,
    INSTANT,
    ScriptedBackend,
    install_scripted,
    nullable,
    obj,
    run_cli,
    validate,
)


@pytest.fixture
def scripted(monkeypatch) -> ScriptedBackend:
    return install_scripted(monkeypatch)


# ---- the documented schemas (docs/cli.md) -------------------------------------------------------

STRING, INTEGER, NUMBER, BOOLEAN = ({"type": t} for t in ("string", "integer", "number", "boolean"))
COUNT = {"type": "integer", "minimum": 0}
FRACTION = {"type": "number", "minimum": 0}
SOURCE = {"type": "string", "enum": ["auto", "api", "demo", "meter"]}
# With --source auto: where each section came from, and why a null section is null.
ORIGIN = obj(kind=STRING, label=STRING, optional={"note": STRING})
ORIGINS = {"type": "object", "additionalProperties": ORIGIN}
WHY = {"type": "object", "additionalProperties": STRING}
PERIOD = {"type": "string", "enum": ["day", "month"]}

STATUS_SCHEMA = obj(
    source=SOURCE,
    at=INSTANT,
    plan=nullable(
        obj(
            id=STRING,
            name=STRING,
            price_cents=nullable(INTEGER),
            currency=STRING,
            price=nullable(STRING),
            quota=COUNT,
            quota_period=PERIOD,
            rate_limit_per_minute=nullable(COUNT),
            streams_included=BOOLEAN,
        )
    ),
    subscription_status=nullable(STRING),
    tokens=nullable(
        obj(
            used=COUNT,
            quota=COUNT,
            remaining=COUNT,
            used_fraction=FRACTION,
            period=PERIOD,
            period_start=INSTANT,
            resets_at=INSTANT,
        )
    ),
    rate=nullable(
        obj(
            requests_per_minute=COUNT,
            limit_per_minute=nullable(COUNT),
            used_fraction=nullable(FRACTION),
            throttled_last_15m=COUNT,
            window_minutes=COUNT,
        )
    ),
    streams=nullable(
        obj(
            connections_open=COUNT,
            connection_limit=COUNT,
            messages_per_minute=COUNT,
            subscriptions=nullable(COUNT),
            not_seen_at=nullable(STRING),
        )
    ),
    instances={
        "type": "array",
        "items": obj(
            instance=STRING,
            requests_per_minute=COUNT,
            requests_last_15m=COUNT,
            throttled_last_15m=COUNT,
        ),
    },
    optional={"why": WHY, "origins": ORIGINS},
)

USAGE_SCHEMA = obj(
    source=SOURCE,
    timeframe={"type": "string", "enum": ["today", "week", "month", "30d", "90d"]},
    **{"from": INSTANT, "to": INSTANT},
    totals=obj(requests=COUNT, errors=COUNT, throttled=COUNT),
    endpoints={
        "type": "array",
        "items": obj(
            method=STRING,
            path=STRING,
            requests=COUNT,
            errors=COUNT,
            throttled=COUNT,
            avg_latency_ms=FRACTION,
            calls_per_hour=FRACTION,
            mean_interval_s=nullable(FRACTION),
        ),
    },
)

SUMMARY = obj(
    avg_daily_requests=FRACTION,
    avg_latency_ms=FRACTION,
    error_rate={"type": "number", "minimum": 0, "maximum": 1},
    rate_limit_hits=COUNT,
)
METRICS_SCHEMA = obj(
    source=SOURCE,
    days={"type": "integer", "minimum": 1, "maximum": 365},
    **{"from": DATE, "to": DATE},
    summary=SUMMARY,
    previous_summary=nullable(SUMMARY),
    daily={
        "type": "array",
        "items": obj(
            date=DATE, requests=COUNT, avg_latency_ms=FRACTION, errors=COUNT, rate_limited=COUNT
        ),
    },
)

BILLING_SCHEMA = obj(
    source=SOURCE,
    invoice_date=nullable(DATE),
    amount_cents=COUNT,
    currency=STRING,
    amount=STRING,
    plan_id=STRING,
    plan_name=STRING,
    payment_method=nullable(STRING),
)

HISTORY_ITEM = obj(
    id=STRING,
    at=INSTANT,
    kind=STRING,
    description=STRING,
    status=STRING,
    amount_cents=nullable(INTEGER),
    currency=nullable(STRING),
    amount=nullable(STRING),
    reference=nullable(STRING),
)
HISTORY_SCHEMA = obj(
    source=SOURCE,
    kind=nullable(STRING),
    count=COUNT,
    more=BOOLEAN,
    items={"type": "array", "items": HISTORY_ITEM},
)

ERROR_SCHEMA = obj(
    error=obj(
        type={
            "type": "string",
            "enum": [
                "auth",
                "quota_exhausted",
                "rate_limited",
                "network",
                "server",
                "bad_payload",
                "bad_request",
                "not_available",
                "config",
                "unexpected",
            ],
        },
        message=STRING,
        hint=STRING,
        exit_code={"type": "integer", "minimum": 1, "maximum": 6},
    )
)

COMMAND_SCHEMAS = [
    (["status"], STATUS_SCHEMA),
    (["usage"], USAGE_SCHEMA),
    (["usage", "--timeframe", "today"], USAGE_SCHEMA),
    (["metrics", "--days", "3"], METRICS_SCHEMA),
    (["billing"], BILLING_SCHEMA),
    (["history"], HISTORY_SCHEMA),
    (["history", "--all", "--kind", "refund"], HISTORY_SCHEMA),
]


def test_the_schema_checker_rejects_what_it_should():
    """The validator itself must be able to fail, or every schema test below is empty."""
    good = {"a": 1, "b": "2026-11-25T14:03:00Z"}
    schema = obj(a=COUNT, b=INSTANT)
    validate(good, schema)
    for bad in (
        {"a": 1},
        {"a": "1", "b": good["b"]},
        {**good, "c": 0},
        {"a": 1, "b": "2026-11-25"},
    ):
        with pytest.raises(AssertionError):
            validate(bad, schema)


# ---- JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "schema"), COMMAND_SCHEMAS, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_json_matches_the_documented_schema(scripted, capsys, argv, schema):
    code, out, err = run_cli(capsys, "--demo", *argv, "--json")
    assert code == 0, err
    assert err == ""
    validate(json.loads(out), schema)


@pytest.mark.parametrize(
    ("argv", "schema"), COMMAND_SCHEMAS, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_json_from_the_embedded_demo_matches_the_documented_schema(capsys, argv, schema):
    code, out, err = run_cli(capsys, "--demo", "--demo-seed", "7", *argv, "--json")
    assert code == 0, err
    data = json.loads(out)
    validate(data, schema)
    assert data["source"] == "demo"


def test_status_json_reports_the_numbers_the_api_gave(scripted, capsys):
    code, out, _ = run_cli(capsys, "--demo", "status", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["source"] == "demo"
    assert data["plan"]["name"] == "Pulse" and data["plan"]["price"] == "$179.00"
    assert data["tokens"] == {
        "used": 12345,
        "quota": 50000,
        "remaining": 37655,
        "used_fraction": 0.2469,
        "period": "month",
        "period_start": "2026-11-01T00:00:00Z",
        "resets_at": "2026-12-01T00:00:00Z",
    }
    assert data["rate"]["requests_per_minute"] == 42
    assert data["rate"]["limit_per_minute"] == 60
    assert data["rate"]["used_fraction"] == 0.7
    assert data["rate"]["throttled_last_15m"] == 3
    assert data["streams"] is None


def test_status_json_includes_streams_when_the_plan_has_them(scripted: ScriptedBackend, capsys):
    from test_cli_support import live

    scripted.live_samples = [live(streams=StreamUsage(3, 10, 1234), limit=None)]
    code, out, _ = run_cli(capsys, "--demo", "status", "--json")
    data = json.loads(out)
    validate(data, STATUS_SCHEMA)
    assert data["streams"] == {
        "connections_open": 3,
        "connection_limit": 10,
        "messages_per_minute": 1234,
        "subscriptions": None,
        "not_seen_at": None,
    }
    assert data["rate"]["limit_per_minute"] is None and data["rate"]["used_fraction"] is None


def test_usage_asks_for_the_timeframe_and_totals_the_endpoints(scripted: ScriptedBackend, capsys):
    code, out, _ = run_cli(capsys, "--demo", "usage", "--timeframe", "week", "--json")
    data = json.loads(out)
    assert code == 0
    assert scripted.requests[-1].url.params["timeframe"] == "week"
    assert data["timeframe"] == "week"
    assert data["totals"] == {"requests": 9015, "errors": 13, "throttled": 3}
    assert [e["path"] for e in data["endpoints"]] == [e.path for e in ENDPOINTS]
    assert data["endpoints"][1]["mean_interval_s"] is None


def test_metrics_passes_days_and_keeps_the_daily_series_in_order(scripted, capsys):
    code, out, _ = run_cli(capsys, "--demo", "metrics", "--days", "3", "--json")
    data = json.loads(out)
    assert scripted.requests[-1].url.params["days"] == "3"
    assert [d["date"] for d in data["daily"]] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert data["summary"]["error_rate"] == 0.001
    assert data["previous_summary"] is None


def test_billing_money_is_cents_currency_and_a_formatted_amount(scripted, capsys):
    _, out, _ = run_cli(capsys, "--demo", "billing", "--json")
    data = json.loads(out)
    assert (data["amount_cents"], data["currency"], data["amount"]) == (17900, "USD", "$179.00")
    assert data["payment_method"] == "Visa •••• 4242"


def test_history_limit_reports_more_and_all_pages_through_everything(scripted, capsys):
    _, out, _ = run_cli(capsys, "--demo", "history", "--limit", "2", "--json")
    page = json.loads(out)
    assert page["count"] == 2 and page["more"] is True
    assert [i["id"] for i in page["items"]] == ["h0", "h1"]

    _, out, _ = run_cli(capsys, "--demo", "history", "--all", "--json")
    everything = json.loads(out)
    assert everything["count"] == 7 and everything["more"] is False
    refunds = [i for i in everything["items"] if i["kind"] == "refund"]
    assert refunds[0]["amount_cents"] == -500 and refunds[0]["amount"] == "-$5.00"


def test_history_all_stops_on_a_repeated_cursor(scripted: ScriptedBackend, capsys, monkeypatch):
    """A server that keeps answering the same cursor must not make `--all` loop forever."""
    import httpx

    page = {
        "items": [
            {
                "id": "loop",
                "at": "2026-11-25T00:00:00Z",
                "kind": "support",
                "description": "same page again",
                "status": "open",
                "amount_cents": None,
                "currency": None,
                "reference": None,
            }
        ],
        "next_cursor": "again",
    }
    scripted.faults["/account/history"] = [httpx.Response(200, json=page)] * 50
    code, out, _ = run_cli(capsys, "--demo", "history", "--all", "--json")
    assert code == 0
    assert json.loads(out)["count"] == 2  # first page, then the repeated cursor's page, then stop
    assert len([r for r in scripted.requests if r.url.path.endswith("/history")]) == 2


# ---- CSV -----------------------------------------------------------------------------------------


def test_usage_csv_parses_and_round_trips_commas_quotes_and_unicode(scripted, capsys):
    code, out, _ = run_cli(capsys, "--demo", "usage", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "method",
        "path",
        "requests",
        "errors",
        "throttled",
        "avg_latency_ms",
        "calls_per_hour",
        "mean_interval_s",
    ]
    assert [r["path"] for r in rows] == [e.path for e in ENDPOINTS]
    assert rows[2]["path"] == '/wallets?tag="whale",€-ünïcode'
    assert rows[0]["requests"] == "9000" and float(rows[0]["avg_latency_ms"]) == 88.25
    assert rows[1]["mean_interval_s"] == ""


def test_history_csv_parses_with_the_documented_columns(scripted, capsys):
    code, out, _ = run_cli(capsys, "--demo", "history", "--all", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 7
    assert list(rows[0]) == [
        "id",
        "at",
        "kind",
        "description",
        "status",
        "amount_cents",
        "currency",
        "amount",
        "reference",
    ]
    assert rows[1]["description"] == 'Entry 1, "quoted", café ✓'
    assert rows[1]["amount_cents"] == "" and rows[2]["amount_cents"] == "-500"
    assert rows[0]["at"] == "2026-11-25T14:03:00Z"


def test_json_and_csv_together_is_a_usage_error(scripted, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(capsys, "--demo", "usage", "--json", "--csv")
    assert exit_info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["metrics", "--days", "0"],
        ["metrics", "--days", "366"],
        ["history", "--limit", "500"],
        ["history", "--limit", "3", "--all"],
        ["usage", "--timeframe", "year"],
        ["watch", "--interval", "0"],
    ],
)
def test_bad_option_values_exit_2_with_a_message(scripted, capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(capsys, "--demo", *argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


# ---- tables --------------------------------------------------------------------------------------


def test_status_table_shows_plan_quota_rate_and_throttling(scripted, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run_cli(capsys, "--demo", "status")
    assert code == 0
    assert "Pulse ($179.00/month) · active" in out
    assert "12,345 / 50,000 this month (24.7 %)" in out
    assert "2026-12-01 00:00 UTC (in 5 d 9 h)" in out
    assert "42 / 60 (70 %)" in out
    assert "3 in the last 15 min" in out
    assert "\x1b[" not in out  # not a terminal: no colour codes


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["usage"], ["/segments/{id}/bias-history", "9,000", "4 min"]),
        (
            ["metrics", "--days", "3"],
            ["Avg req/day", "1,100", "0.10 %", "429s (total)", "Daily requests"],
        ),
        (["billing"], ["2026-12-01", "$179.00", "Visa •••• 4242"]),
        (["history"], ["-$5.00", "INV-0", "Entry 6"]),
    ],
)
def test_tables_show_the_data(scripted, capsys, monkeypatch, argv, expected):
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = run_cli(capsys, "--demo", *argv)
    assert code == 0
    for text in expected:
        assert text in out


def test_markup_like_text_from_the_api_is_printed_verbatim(
    scripted: ScriptedBackend, capsys, monkeypatch
):
    from dataclasses import replace

    monkeypatch.setenv("COLUMNS", "160")
    scripted.history = [replace(scripted.history[0], description="[bold]not markup[/bold] [red]")]
    code, out, err = run_cli(capsys, "--demo", "history")
    assert code == 0, err
    assert "[bold]not markup[/bold] [red]" in out


def test_help_documents_exit_codes_and_json_errors(capsys):
    from ht_dash.cli import build_parser

    for name in ("status", "usage", "metrics", "billing", "history", "watch"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([name, "--help"])
        text = capsys.readouterr().out
        assert "exit codes:" in text, name
        if name == "watch":  # watch has no --json: its help does not promise JSON errors
            assert "--json" not in text and '{"error"' not in text
            # … and it waits out network problems, 429s and a spent quota: never exit 4 or 5
            assert "0 stopped with Ctrl-C" in text
            assert "4 network" not in text and "5 usage quota" not in text
        else:
            assert "5 usage quota spent" in text and '{"error"' in text, name


def test_plan_help_lists_only_what_a_local_command_can_exit_with(capsys, isolated_home):
    from ht_dash import cli

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["plan", "--help"])
    text = capsys.readouterr().out
    assert "4 network" not in text and "3 authentication" not in text and '{"error"' not in text
    assert "2 usage error (an unknown plan id" in text
    assert cli.main(["plan", "set", "nope"]) == 2
    assert cli.main(["plan", "set", "surge", "--billing-day", "40"]) == 2
    assert cli.main(["plan", "set", "surge"]) == 0
