"""The refresh engine under virtual time: cadence, no overlap, pause, back-off, 429/402/401."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from tests.virtual_time import VirtualTime

from ht_dash.api.client import AccountClient
from ht_dash.api.errors import AuthError, QuotaExhausted, ServerError
from ht_dash.api.secret import Secret
from ht_dash.feeds.scheduler import (
    BACKOFF_MAX_S,
    QUOTA_PROBE_S,
    FeedState,
    InternalError,
    Scheduler,
    backoff_delay,
)
from ht_dash.insights.format import duration
from ht_dash.tui.widgets.freshness import describe_problem, freshness

BASE_URL = "https://ht-api.example.test/api/external"


def iso(at) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def live_body(vt: VirtualTime, rpm: int = 42) -> dict[str, Any]:
    now = vt.now()
    return {
        "at": iso(now),
        "requests_per_minute": rpm,
        "limit_per_minute": 100,
        "interval_seconds": 15,
        "series": [{"at": iso(now - timedelta(seconds=15)), "requests": 10, "throttled": 0}],
        "throttled_in_window": 0,
        "streams": None,
    }


class ScriptedServer:
    """An httpx transport that counts requests per path and answers from a script."""

    def __init__(self, vt: VirtualTime, latency: float = 0.0) -> None:
        self.vt = vt
        self.latency = latency
        self.paths: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.script: list[Callable[[], httpx.Response]] = []

    def count(self, path: str = "/api/external/account/usage/live") -> int:
        return self.paths.count(path)

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await self.vt.sleep(self.latency)
            if self.script:
                return self.script.pop(0)()
            return httpx.Response(200, json=live_body(self.vt))
        finally:
            self.in_flight -= 1


class Harness:
    def __init__(self, latency: float = 0.0, live_interval: float = 2.0) -> None:
        self.vt = VirtualTime()
        self.server = ScriptedServer(self.vt, latency)
        self.client = AccountClient(
            BASE_URL,
            Secret("test-token-abc"),
            transport=httpx.MockTransport(self.server.handler),
            clock=self.vt.clock,
        )
        self.updates: list[FeedState] = []
        self.auth_failures: list[AuthError] = []
        self.scheduler = Scheduler(
            self.vt.clock,
            self.updates.append,
            on_auth_failed=self.auth_failures.append,
            rng=random.Random(1),
            waiter=self.vt,
        )
        self.scheduler.add("live", self.client.live, live_interval, pausable=True)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Harness:
        self.task = asyncio.create_task(self.scheduler.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.scheduler.stop()
        assert self.task is not None
        with pytest.raises(asyncio.CancelledError):
            await self.task
        await self.client.aclose()

    def live(self) -> FeedState:
        return self.scheduler.state("live")


def rate_limited(retry_after: int | None = None, header: str | None = None):
    def respond() -> httpx.Response:
        body: dict[str, Any] = {"error": "rate_limit_exceeded", "message": "Too many requests"}
        if retry_after is not None:
            body["retry_after"] = retry_after
        headers = {"Retry-After": header} if header is not None else {}
        return httpx.Response(429, json=body, headers=headers)

    return respond


def status(code: int, body: dict[str, Any] | None = None):
    return lambda: httpx.Response(code, json=body or {"statusCode": code, "message": "nope"})


# ---- back-off arithmetic -------------------------------------------------------------------


def test_backoff_doubles_from_the_interval_and_is_capped_with_jitter():
    rng = random.Random(3)
    live = [backoff_delay(n, 2.0, rng) for n in range(10)]
    for n, delay in enumerate(live):
        base = min(2.0 * 2**n, BACKOFF_MAX_S)
        assert 0.8 * base <= delay <= 1.2 * base
    assert live[-1] <= 1.2 * BACKOFF_MAX_S
    # a slow feed's first retry comes soon, not after its 5-minute interval
    assert backoff_delay(0, 300.0, rng) <= 12.0
    assert 0.8 * 300 <= backoff_delay(12, 300.0, rng) <= 1.2 * 300


def test_backoff_jitter_spreads_clients_apart():
    delays = {round(backoff_delay(3, 2.0, random.Random(seed)), 3) for seed in range(20)}
    assert len(delays) > 10


# ---- cadence and overlap ---------------------------------------------------------------------


async def test_live_polls_at_its_interval_and_only_while_active():
    async with Harness(live_interval=2.0) as h:
        await h.vt.advance(30)
        assert h.server.count() == 0, "an inactive feed must not poll"
        h.scheduler.set_active({"live"})
        await h.vt.advance(0)
        assert h.server.count() == 1, "a feed becoming active fetches at once"
        await h.vt.advance(20)
        assert h.server.count() == 11
        h.scheduler.set_active(set())
        await h.vt.advance(60)
        assert h.server.count() == 11
        assert h.live().data.requests_per_minute == 42
        assert h.scheduler.requests_started["live"] == 11


async def test_a_server_slower_than_the_interval_never_gets_overlapping_polls():
    async with Harness(latency=5.0, live_interval=1.0) as h:
        h.scheduler.set_active({"live"})
        for _ in range(10):
            await h.vt.advance(3)
            h.scheduler.refresh()  # pressing r while a poll is in flight adds nothing
            h.scheduler.set_interval("live", 1.0)
        assert h.server.max_in_flight == 1
        # each poll takes 5 s then waits 1 s: polls start at 0, 6, …, 30 — not 30 piled up
        assert h.server.count() == 6
        assert h.live().error is None


async def test_set_interval_changes_the_cadence_at_once():
    async with Harness(live_interval=2.0) as h:
        h.scheduler.set_active({"live"})
        await h.vt.advance(10)
        before = h.server.count()
        h.scheduler.set_interval("live", 10.0)
        await h.vt.advance(60)
        assert h.server.count() - before == 6
        h.scheduler.set_interval("live", 1.0)
        before = h.server.count()
        await h.vt.advance(10)
        assert h.server.count() - before == 10


# ---- pause ---------------------------------------------------------------------------------


async def test_pause_stops_requests_at_the_transport_and_resume_restarts_them():
    async with Harness(live_interval=2.0) as h:
        h.scheduler.set_active({"live"})
        await h.vt.advance(10)
        h.scheduler.set_paused(True)
        paused_at = h.server.count()
        await h.vt.advance(120)
        assert h.server.count() == paused_at, "paused: not a single request"
        assert h.live().paused
        text, level = freshness(h.live(), h.vt.now())
        assert level == "paused" and "paused" in text
        h.scheduler.refresh()  # r while paused does not sneak a live request out either
        await h.vt.advance(5)
        assert h.server.count() == paused_at
        h.scheduler.set_paused(False)
        await h.vt.advance(0)
        assert h.server.count() == paused_at + 1, "resume polls at once: the data is old"
        await h.vt.advance(10)
        assert h.server.count() == paused_at + 6
        assert not h.live().paused


# ---- failures ------------------------------------------------------------------------------


async def test_server_errors_back_off_then_recover_and_mark_data_stale():
    async with Harness(live_interval=2.0) as h:
        h.scheduler.set_active({"live"})
        await h.vt.advance(0)
        h.server.script = [status(503)] * 4
        await h.vt.advance(2)  # the poll at t=2 fails
        state = h.live()
        assert isinstance(state.error, ServerError)
        assert state.data is not None and state.is_stale(h.vt.now())
        gaps = []
        last = h.server.count()
        for _ in range(200):
            await h.vt.advance(1)
            if h.server.count() != last:
                gaps.append(h.vt.now())
                last = h.server.count()
            if len(gaps) == 4:
                break
        spacing = [(b - a).total_seconds() for a, b in zip(gaps, gaps[1:], strict=False)]
        assert spacing[1] > spacing[0] * 1.3, f"back-off must grow: {spacing}"
        assert h.live().error is None and h.live().failures == 0
        assert not h.live().is_stale(h.vt.now())


async def test_data_older_than_three_intervals_is_stale():
    state = FeedState("live", data=object(), interval=2.0)
    vt = VirtualTime()
    state.updated_at = vt.now()
    assert not state.is_stale(vt.now() + timedelta(seconds=6))
    assert state.is_stale(vt.now() + timedelta(seconds=7))


@pytest.mark.parametrize(
    ("respond", "wait"),
    [
        (rate_limited(retry_after=30), 30),
        (rate_limited(header="45"), 45),
        (rate_limited(retry_after=10, header="20"), 20),  # the larger wait wins
        ("http-date", 90),
    ],
)
async def test_429_waits_for_retry_after_and_says_so(respond, wait):
    async with Harness(live_interval=2.0) as h:
        if respond == "http-date":
            when = h.vt.now() + timedelta(seconds=90)
            respond = rate_limited(header=format_datetime(when, usegmt=True))
        h.scheduler.add("subscription", h.client.subscription, 30.0)
        h.scheduler.set_active({"live", "subscription"})
        h.server.script = [respond]
        await h.vt.advance(0)  # live polls first and is rate-limited
        problem = describe_problem(h.live(), h.vt.now())
        assert problem == f"rate-limited, retrying in {duration(wait)}"
        sent = len(h.server.paths)
        await h.vt.advance(wait - 1)
        assert len(h.server.paths) == sent, "nothing may be sent during a 429 wait, by any feed"
        h.scheduler.refresh()
        await h.vt.advance(0.5)
        assert len(h.server.paths) == sent, "not even on r"
        await h.vt.advance(1)
        assert h.server.count() >= 1 and h.live().error is None


async def test_402_stops_fast_polling_until_the_reset():
    async with Harness(live_interval=2.0) as h:
        resets = h.vt.now() + timedelta(hours=2)
        h.server.script = [
            status(
                402,
                {
                    "error": "quota_exhausted",
                    "message": "Monthly usage quota spent",
                    "resets_at": iso(resets),
                },
            )
        ] * 50
        h.scheduler.set_active({"live"})
        await h.vt.advance(0)
        assert isinstance(h.live().error, QuotaExhausted)
        assert describe_problem(h.live(), h.vt.now()).startswith("usage quota spent — resets at")
        await h.vt.advance(QUOTA_PROBE_S - 1)
        assert h.server.count() == 1, "no fast polling while the quota is spent"
        await h.vt.advance(2 * 3600 - QUOTA_PROBE_S)  # to just before the reset
        assert h.server.count() == 2 * 3600 / QUOTA_PROBE_S, "a probe every 5 min, no more"
        # past the reset yet still 402 (a skewed server clock): back off, do not hammer
        await h.vt.advance(301)
        assert 2 <= h.server.count() - 2 * 3600 / QUOTA_PROBE_S <= 5


async def test_402_with_a_near_reset_polls_right_after_it():
    async with Harness(live_interval=2.0) as h:
        resets = h.vt.now() + timedelta(seconds=40)
        h.server.script = [
            status(402, {"error": "quota_exhausted", "message": "spent", "resets_at": iso(resets)})
        ]
        h.scheduler.set_active({"live"})
        await h.vt.advance(39)
        assert h.server.count() == 1
        await h.vt.advance(1)
        assert h.server.count() == 2 and h.live().error is None


async def test_401_stops_all_polling_reports_once_and_resumes_after_login():
    async with Harness(live_interval=2.0) as h:
        h.scheduler.add("subscription", h.client.subscription, 30.0)
        h.scheduler.set_active({"live", "subscription"})
        h.server.script = [status(401)]
        await h.vt.advance(0)
        sent = len(h.server.paths)
        assert len(h.auth_failures) == 1
        assert sent <= 2
        await h.vt.advance(600)
        h.scheduler.refresh()
        h.scheduler.set_paused(True)
        h.scheduler.set_paused(False)
        await h.vt.advance(60)
        assert len(h.server.paths) == sent, "a rejected token must not be sent again"
        assert len(h.auth_failures) == 1
        assert isinstance(h.live().error, AuthError)
        h.scheduler.reauthorized()
        await h.vt.advance(0)
        assert h.server.count() == 2 and h.live().error is None


async def test_an_unexpected_exception_is_reported_and_polling_goes_on():
    vt = VirtualTime()
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("boom")
        return calls

    scheduler = Scheduler(vt.clock, lambda s: None, rng=random.Random(1), waiter=vt)
    scheduler.add("live", fetch, 2.0)
    scheduler.set_active({"live"})
    task = asyncio.create_task(scheduler.run())
    await vt.advance(0)
    assert isinstance(scheduler.state("live").error, InternalError)
    await vt.advance(15)
    assert scheduler.state("live").data is not None and scheduler.state("live").error is None
    scheduler.stop()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_planned_requests_per_minute_follows_intervals_and_pause():
    vt = VirtualTime()
    scheduler = Scheduler(vt.clock, lambda s: None, waiter=vt)

    async def fetch() -> None:
        return None

    scheduler.add("live", fetch, 2.0, pausable=True)
    scheduler.add("subscription", fetch, 30.0)
    assert scheduler.planned_requests_per_minute(["live", "subscription"]) == {
        "live": 30.0,
        "subscription": 2.0,
    }
    scheduler.set_paused(True)
    assert scheduler.planned_requests_per_minute(["live"]) == {"live": 0.0}


async def test_a_refresh_asked_during_a_poll_is_not_lost():
    """Changing the timeframe while the old one is loading must still fetch the new one."""
    from ht_dash.clock import FixedClock
    from ht_dash.feeds.scheduler import Scheduler

    gate = asyncio.Event()
    asked: list[str] = []
    params = {"timeframe": "30d"}

    async def fetch():
        asked.append(params["timeframe"])
        if len(asked) == 1:
            await gate.wait()
        return params["timeframe"]

    clock = FixedClock(datetime(2026, 11, 25, 12, tzinfo=UTC))
    scheduler = Scheduler(clock, lambda state: None)
    scheduler.add("usage", fetch, 300.0)
    scheduler.set_active({"usage"})
    task = asyncio.create_task(scheduler.run())
    try:
        for _ in range(50):
            await asyncio.sleep(0)
        assert asked == ["30d"]
        params["timeframe"] = "today"
        scheduler.refresh({"usage"})
        gate.set()
        for _ in range(50):
            await asyncio.sleep(0)
        assert asked == ["30d", "today"]
        assert scheduler.state("usage").data == "today"
    finally:
        scheduler.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_failing_panel_does_not_stop_its_feed():
    """An exception while showing data is logged; the next poll still happens."""
    from ht_dash.clock import FixedClock
    from ht_dash.feeds.scheduler import Scheduler

    polls = []

    async def fetch():
        polls.append(1)
        return len(polls)

    def broken_panel(state):
        if state.data == 1:
            raise ValueError("render bug")

    clock = FixedClock(datetime(2026, 11, 25, 12, tzinfo=UTC))
    scheduler = Scheduler(clock, broken_panel)
    scheduler.add("live", fetch, 2.0)
    state = await scheduler.poll("live")
    assert state.data == 1
    state = await scheduler.poll("live")
    assert state.data == 2 and state.error is None
