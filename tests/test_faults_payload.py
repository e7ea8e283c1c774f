"""Fault matrix, payload layer: 2xx answers whose JSON is broken, odd or enormous."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from faultserver import SENTINEL_TOKEN, FaultServer, Options, assert_token_absent, sample_payloads
from ht_dash.api import AccountClient, BadPayload, Secret, contract
from ht_dash.api.client import MAX_BODY_BYTES

pytestmark = pytest.mark.fault

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
HINT = "the API may have changed; try again or report it"


def valid(path: str) -> dict[str, Any]:
    return copy.deepcopy(sample_payloads(NOW)[path])


def with_value(payload: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    target = payload
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    return payload


def without(payload: dict[str, Any], dotted: str) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    target = payload
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    del target[last]
    return payload


def serving(content: bytes | object) -> AccountClient:
    def handler(request: httpx.Request) -> httpx.Response:
        body = content if isinstance(content, bytes) else json.dumps(content).encode()  # NaN too
        return httpx.Response(200, content=body)

    return AccountClient(
        "https://api.example.test", Secret(SENTINEL_TOKEN), transport=httpx.MockTransport(handler)
    )


async def bad_payload(content: bytes | object, call: str = "subscription") -> BadPayload:
    async with serving(content) as api:
        with pytest.raises(BadPayload) as caught:
            await getattr(api, call)()
    assert caught.value.hint == HINT
    assert_token_absent(caught.value)
    return caught.value


NOT_JSON = "the server answered 200 with something that is not JSON"


async def test_malformed_json():
    exc = await bad_payload(json.dumps(valid(contract.SUBSCRIPTION)).encode()[:-5])
    assert exc.message == NOT_JSON


async def test_non_utf8_bytes():
    exc = await bad_payload(b'{"plan": "\xff\xfe\xfa"}')
    assert exc.message == NOT_JSON


async def test_json_nested_deeper_than_the_parser_allows():
    exc = await bad_payload(b"[" * 200_000 + b"]" * 200_000)
    assert exc.message == NOT_JSON


async def test_a_list_where_an_object_belongs():
    exc = await bad_payload([valid(contract.SUBSCRIPTION)])
    assert exc.message == "response: expected an object, got list"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("plan.quota", "missing field 'plan.quota'"),
        ("tokens_used", "missing field 'tokens_used'"),
        ("plan", "missing field 'plan'"),
        ("resets_at", "missing field 'resets_at'"),
    ],
)
async def test_missing_field_is_named(field, message):
    exc = await bad_payload(without(valid(contract.SUBSCRIPTION), field))
    assert exc.message == message
    assert exc.field == field


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tokens_used", "12345", "field 'tokens_used' should be an integer, got string"),
        ("tokens_used", 12.5, "field 'tokens_used' should be an integer, got float"),
        ("tokens_used", True, "field 'tokens_used' should be an integer, got bool"),
        (
            "plan.streams_included",
            "yes",
            "field 'plan.streams_included' should be true or false, got string",
        ),
        ("plan", [], "plan: expected an object, got list"),
        ("status", 3, "field 'status' should be a string, got int"),
        ("resets_at", "next tuesday", "field 'resets_at' is not an ISO 8601 instant"),
    ],
)
async def test_wrong_type_is_named(field, value, message):
    exc = await bad_payload(with_value(valid(contract.SUBSCRIPTION), field, value))
    assert exc.message == message


@pytest.mark.parametrize(
    ("field", "message"),
    [("tokens_used", "field 'tokens_used' is null"), ("plan.name", "field 'plan.name' is null")],
)
async def test_null_in_a_required_field(field, message):
    exc = await bad_payload(with_value(valid(contract.SUBSCRIPTION), field, None))
    assert exc.message == message


async def test_null_in_an_optional_field_is_accepted():
    payload = with_value(valid(contract.SUBSCRIPTION), "plan.rate_limit_per_minute", None)
    async with serving(payload) as api:
        subscription = await api.subscription()
    assert subscription.plan.rate_limit_per_minute is None


async def test_negative_count():
    exc = await bad_payload(with_value(valid(contract.SUBSCRIPTION), "tokens_used", -1))
    assert exc.message == "field 'tokens_used' is negative"


async def test_huge_integer():
    exc = await bad_payload(with_value(valid(contract.SUBSCRIPTION), "tokens_used", 10**30))
    assert exc.message == "field 'tokens_used' is implausibly large"


@pytest.mark.parametrize("value", [1e300, -3.5, float("nan"), float("inf")])
async def test_number_out_of_range(value):
    payload = with_value(valid(contract.METRICS), "summary.avg_latency_ms", value)
    exc = await bad_payload(payload, "metrics")
    assert exc.message == "field 'summary.avg_latency_ms' is out of range"


async def test_ratio_over_one():
    payload = with_value(valid(contract.METRICS), "summary.error_rate", 1.5)
    exc = await bad_payload(payload, "metrics")
    assert exc.message == "field 'summary.error_rate' should be between 0 and 1"


async def test_zero_bucket_width_is_refused_rather_than_dividing_by_it():
    exc = await bad_payload(with_value(valid(contract.LIVE), "interval_seconds", 0), "live")
    assert exc.message == "field 'interval_seconds' is zero"


async def test_unknown_quota_period_is_refused():
    # the gauge's meaning depends on it: guessing "month" for "week" would mislead
    exc = await bad_payload(with_value(valid(contract.SUBSCRIPTION), "plan.quota_period", "week"))
    assert exc.message == "field 'plan.quota_period' has unknown value 'week'"


async def test_unknown_plan_id_and_status_are_shown_as_sent():
    payload = valid(contract.SUBSCRIPTION)
    payload["plan"]["id"] = "hyperdrive"
    payload["status"] = "paused"
    async with serving(payload) as api:
        subscription = await api.subscription()
    assert (subscription.plan.id, subscription.status) == ("hyperdrive", "paused")


async def test_unknown_history_kind_and_status_are_shown_as_sent():
    payload = valid(contract.HISTORY)
    payload["items"][0].update(kind="chargeback", status="disputed")
    async with serving(payload) as api:
        page = await api.history()
    assert (page.items[0].kind, page.items[0].status) == ("chargeback", "disputed")


async def test_extra_fields_are_ignored():
    payload = valid(contract.SUBSCRIPTION)
    payload["new_field"] = {"nested": [1, 2, 3]}
    payload["plan"]["addons"] = ["support"]
    async with serving(payload) as api:
        subscription = await api.subscription()
    assert subscription.tokens_used == 12_345


async def test_empty_lists_are_valid_and_empty():
    history = with_value(valid(contract.HISTORY), "items", [])
    metrics = with_value(valid(contract.METRICS), "daily", [])
    live = with_value(valid(contract.LIVE), "series", [])
    usage = with_value(valid(contract.ENDPOINT_USAGE), "endpoints", [])
    async with serving(history) as api:
        assert (await api.history()).items == ()
    async with serving(metrics) as api:
        assert (await api.metrics()).daily == ()
    async with serving(live) as api:
        assert (await api.live()).per_minute_series() == []
    async with serving(usage) as api:
        assert (await api.endpoint_usage()).endpoints == ()


async def test_ten_megabyte_body_is_parsed():
    """Decision: bodies up to 16 MiB are read and parsed (a long history can be big)."""
    with FaultServer("huge", options=Options(size=10 * 1024 * 1024)) as server:
        api = AccountClient(server.base_url, Secret(SENTINEL_TOKEN), timeout=httpx.Timeout(10.0))
        async with api:
            subscription = await api.subscription()
    assert subscription.plan.name == "Pulse"


async def test_body_over_the_cap_is_refused_cleanly():
    with FaultServer("huge", options=Options(size=MAX_BODY_BYTES + 1024)) as server:
        api = AccountClient(server.base_url, Secret(SENTINEL_TOKEN), timeout=httpx.Timeout(10.0))
        async with api:
            with pytest.raises(BadPayload) as caught:
                await api.subscription()
    assert str(caught.value) == f"response larger than 16 MiB — {HINT}"


async def test_regenerated_token_that_is_empty_is_refused():
    payload = {**valid(contract.TOKEN), "token": "   "}
    exc = await bad_payload(payload, "regenerate_token")
    assert exc.message == "field 'token' is empty"


def history_server(
    pages: dict[str | None, dict[str, Any]],
) -> tuple[AccountClient, list[str | None]]:
    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        asked.append(cursor)
        return httpx.Response(200, json=pages[cursor])

    api = AccountClient(
        "https://api.example.test", Secret(SENTINEL_TOKEN), transport=httpx.MockTransport(handler)
    )
    return api, asked


def page(entry_id: str, next_cursor: str | None) -> dict[str, Any]:
    payload = valid(contract.HISTORY)
    payload["items"][0]["id"] = entry_id
    payload["next_cursor"] = next_cursor
    return payload


async def test_pagination_cursor_that_repeats_stops_instead_of_looping():
    api, asked = history_server({None: page("a", "c1"), "c1": page("b", "c1")})
    async with api:
        ids = [entry.id async for entry in api.iter_history()]
    assert ids == ["a", "b"]
    assert asked == [None, "c1"]


async def test_pagination_cursor_cycle_stops():
    api, asked = history_server(
        {None: page("a", "c1"), "c1": page("b", "c2"), "c2": page("c", "c1")}
    )
    async with api:
        ids = [entry.id async for entry in api.iter_history()]
    assert ids == ["a", "b", "c"]
    assert asked == [None, "c1", "c2"]


async def test_bad_page_in_the_middle_of_pagination_surfaces_as_bad_payload():
    api, _ = history_server({None: page("a", "c1"), "c1": {"items": "nope"}})
    async with api:
        seen: list[str] = []
        with pytest.raises(BadPayload) as caught:
            async for entry in api.iter_history():
                seen.append(entry.id)
    assert seen == ["a"]
    assert caught.value.message == "field 'items' should be a list, got string"
