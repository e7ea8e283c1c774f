"""Instants a server can write but no account can have (year 1, year 9999 west of UTC) are a bad
payload naming the field, not an OverflowError deep in a formatter."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from faultserver import SENTINEL_TOKEN, FaultServer, Options, sample_payloads
from ht_dash import cli
from ht_dash.api import AccountClient, BadPayload, QuotaExhausted, Secret, contract
from ht_dash.commands import _common as common
from ht_dash.commands import watch as watch_cmd
from ht_dash.insights.format import iso

pytestmark = pytest.mark.fault

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
OUT_OF_RANGE = [
    "0001-01-01T00:00:00+00:30",  # before year 1 once in UTC: OverflowError in astimezone
    "9999-12-31T23:59:59-14:00",  # after year 9999 once in UTC
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "9001-01-01T00:00:00Z",
]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_an_out_of_range_instant_is_a_bad_payload_naming_the_field(value):
    payload = sample_payloads(NOW)[contract.SUBSCRIPTION]
    with pytest.raises(BadPayload) as caught:
        contract.parse_subscription({**payload, "period_start": value})
    assert caught.value.field == "period_start"
    assert "period_start" in caught.value.message and "out of range" in caught.value.message


def test_an_out_of_range_date_is_a_bad_payload_too():
    payload = sample_payloads(NOW)[contract.NEXT_BILLING]
    with pytest.raises(BadPayload, match="invoice_date"):
        contract.parse_next_billing({**payload, "invoice_date": "0001-01-01"})


def test_instants_at_the_edges_of_the_range_are_accepted():
    payload = sample_payloads(NOW)[contract.SUBSCRIPTION]
    sub = contract.parse_subscription(
        {
            **payload,
            "period_start": "1970-01-01T00:00:00Z",
            "resets_at": "9000-12-31T10:00:00+02:00",
        }
    )
    assert sub.period_start == datetime(1970, 1, 1, tzinfo=UTC)
    assert sub.resets_at == datetime(9000, 12, 31, 8, 0, tzinfo=UTC)


async def test_a_402_with_an_out_of_range_reset_has_no_reset_instant():
    """The quota is spent whatever the reset says; a reset in year 1 is just unknown."""
    body = {"message": "spent", "resets_at": "0001-01-01T00:00:00+00:30"}
    transport = httpx.MockTransport(lambda _: httpx.Response(402, json=body))
    async with AccountClient(
        "https://api.example.test", Secret(SENTINEL_TOKEN), transport=transport
    ) as client:
        with pytest.raises(QuotaExhausted) as caught:
            await client.subscription()
    assert caught.value.resets_at is None
    assert caught.value.hint == "wait for the reset, or upgrade the plan"


@pytest.mark.parametrize("as_json", [False, True])
def test_status_reports_the_field_and_exits_4_without_a_traceback(as_json, monkeypatch, capsys):
    monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL_TOKEN)
    monkeypatch.setattr(common, "RETRY", common.RetryPolicy(attempts=1))
    patch = {contract.SUBSCRIPTION: {"period_start": OUT_OF_RANGE[0]}}
    with FaultServer("ok", options=Options(patch=patch)) as server:
        code = cli.main(["--base-url", server.base_url, "status", *(["--json"] if as_json else [])])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_NETWORK
    assert "Traceback" not in err
    assert "field 'period_start' is out of range" in err
    if as_json:
        assert '"type": "bad_payload"' in out


def test_watch_keeps_going_through_an_out_of_range_instant(monkeypatch, capsys):
    monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL_TOKEN)
    waits: list[float] = []

    async def two_samples(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(watch_cmd, "SLEEP", two_samples)
    patch = {contract.LIVE: {"at": OUT_OF_RANGE[1]}}
    with FaultServer("ok", options=Options(patch=patch)) as server:
        code = cli.main(["--base-url", server.base_url, "watch", "--interval", "1"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK  # stopped by Ctrl-C, not by the payload
    assert "Traceback" not in err
    assert out.count("field 'at' is out of range") == 2, out  # shown, retried, shown again


def test_iso_output_has_four_digit_years():
    assert iso(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
    assert iso(datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC)) == "0999-12-31T23:59:59Z"
