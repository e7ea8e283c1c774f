"""The request log's data: contract round trip, the demo's stream, reading only what is new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ht_dash.api import contract
from ht_dash.api.client import AccountClient
from ht_dash.api.errors import BadPayload, BadRequest
from ht_dash.clock import FixedClock
from ht_dash.demo import DemoBackend

AT = datetime(2026, 11, 25, 14, 3, 7, tzinfo=UTC)


def client_for(backend: DemoBackend) -> AccountClient:
    return AccountClient(contract.DEFAULT_BASE_URL, backend.token, transport=backend.transport())


async def test_demo_log_is_newest_first_and_agrees_with_live_throttling():
    backend = DemoBackend(seed=7, clock=FixedClock(AT), plan_id="surge")
    async with client_for(backend) as client:
        page = await client.recent_requests(None, 5000)
        live = await client.live(15)
    ids = [r.id for r in page.requests]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5000 and page.truncated
    assert page.newest_id == ids[0]
    assert all(r.at < AT for r in page.requests)
    window = [
        r
        for r in page.requests
        if live.series[0].at <= r.at < live.series[-1].at + timedelta(seconds=live.interval_seconds)
    ]
    assert sum(r.status == 429 for r in window) == live.throttled_in_window
    throttled = [r for r in page.requests if r.status == 429]
    assert throttled and all(r.retry_after and r.retry_after >= 1 for r in throttled)
    assert all(r.retry_after is None for r in page.requests if r.status != 429)


async def test_polling_after_an_id_returns_only_newer_requests():
    clock = FixedClock(AT)
    backend = DemoBackend(seed=7, clock=clock, plan_id="surge")
    async with client_for(backend) as client:
        first = await client.recent_requests(None, 1000)
        again = await client.recent_requests(first.newest_id, 1000)
        assert again.requests == () and again.newest_id == first.newest_id
        clock.advance(30)
        newer = await client.recent_requests(first.newest_id, 1000)
    assert newer.requests and all(r.id > first.newest_id for r in newer.requests)
    assert newer.newest_id == newer.requests[0].id
    assert not newer.truncated
    assert {r.at.timestamp() // 1 for r in newer.requests} <= set(
        range(int(AT.timestamp()) - 1, int(AT.timestamp()) + 30)
    )


async def test_a_small_limit_keeps_the_newest_and_says_it_truncated():
    backend = DemoBackend(seed=7, clock=FixedClock(AT), plan_id="surge")
    async with client_for(backend) as client:
        full = await client.recent_requests(None, 100)
        part = await client.recent_requests(full.requests[50].id, 10)
    assert part.truncated and [r.id for r in part.requests] == [r.id for r in full.requests[:10]]


async def test_bad_parameters_are_refused():
    backend = DemoBackend(seed=7, clock=FixedClock(AT), plan_id="surge")
    async with client_for(backend) as client:
        with pytest.raises(BadRequest):
            await client.recent_requests(None, 0)
        with pytest.raises(BadRequest):
            await client.recent_requests(-5, 10)


def test_wire_round_trip_keeps_milliseconds_and_optional_fields():
    backend = DemoBackend(seed=3, clock=FixedClock(AT), plan_id="surge")
    page = backend.request_log.page(None, 50, AT)
    wire = contract.dump_request_log(page)
    assert wire["requests"][0]["at"].endswith("Z") and "." in wire["requests"][0]["at"]
    assert contract.parse_request_log(wire) == page


def test_a_malformed_record_names_its_field():
    backend = DemoBackend(seed=3, clock=FixedClock(AT), plan_id="surge")
    wire = contract.dump_request_log(backend.request_log.page(None, 3, AT))
    wire["requests"][1]["status"] = "ok"
    with pytest.raises(BadPayload, match=r"requests\[1\]\.status"):
        contract.parse_request_log(wire)
