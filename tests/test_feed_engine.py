"""The feed engine under virtual time: the registry's feeds, parameters, "not offered", the gate."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from tests.virtual_time import VirtualTime

from ht_dash.api.errors import AuthError, NotOffered, RateLimited
from ht_dash.api.models import HistoryPage
from ht_dash.config import Settings
from ht_dash.feeds.engine import FeedEngine
from ht_dash.feeds.registry import FEEDS, HISTORY, USAGE
from ht_dash.runtime import Runtime
from ht_dash.tui.widgets.freshness import freshness


class CountingSource:
    """Answers only what a test scripts; counts every call by method and arguments."""

    name = "test"

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.usage_error: Exception | None = None
        self.history_error: Exception | None = None

    def set_token(self, token) -> None:
        self.calls.append(("set_token", token))

    async def endpoint_usage(self, timeframe: str = "30d"):
        self.calls.append(("endpoint_usage", timeframe))
        if self.usage_error is not None:
            raise self.usage_error
        return timeframe

    async def history(self, *, kind=None, cursor=None, limit=50):
        self.calls.append(("history", cursor))
        if self.history_error is not None:
            raise self.history_error
        return HistoryPage(items=(), next_cursor=None)

    async def aclose(self) -> None:
        pass

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)


class Engine:
    def __init__(self) -> None:
        self.vt = VirtualTime()
        self.source = CountingSource()
        self.auth_failures: list[AuthError] = []
        runtime = Runtime(settings=Settings(), demo=True, clock=self.vt.clock)
        self.engine = FeedEngine(
            runtime,
            self.source,  # type: ignore[arg-type]
            live=True,
            on_update=lambda state: None,
            on_auth_failed=self.auth_failures.append,
            on_save_failed=lambda reason: None,
            spawn=lambda work: None,
        )
        self.engine.scheduler.waiter = self.vt
        self.engine.scheduler.rng = random.Random(1)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Engine:
        self.task = asyncio.create_task(self.engine.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.engine.stop()
        assert self.task is not None
        with pytest.raises(asyncio.CancelledError):
            await self.task


async def test_every_feed_is_declared_once_and_polled_by_the_engine():
    names = [spec.name for spec in FEEDS]
    assert len(names) == len(set(names))
    engine = Engine().engine
    assert set(engine.scheduler.feeds) == set(names)


async def test_a_parameter_change_fetches_again_at_once_with_the_new_value():
    async with Engine() as e:
        e.engine.show([USAGE])
        await e.vt.advance(0)
        assert e.engine.state(USAGE).data == "30d"
        e.engine.set_param(USAGE, timeframe="7d")
        await e.vt.advance(0)
        assert e.engine.state(USAGE).data == "7d"
        e.engine.set_param(USAGE, timeframe="7d")  # no change: no request
        await e.vt.advance(0)
        assert e.source.calls == [("endpoint_usage", "30d"), ("endpoint_usage", "7d")]
        with pytest.raises(KeyError):
            e.engine.set_param(USAGE, days=7)


async def test_a_feed_the_api_does_not_offer_is_asked_hourly_and_on_r_and_shown_as_a_state():
    async with Engine() as e:
        e.source.usage_error = NotOffered("the API has no endpoint usage for tokens", status=404)
        e.engine.show([USAGE])
        await e.vt.advance(0)
        assert e.source.count("endpoint_usage") == 1
        state = e.engine.state(USAGE)
        assert state.not_offered
        await e.vt.advance(3599)  # its 5-minute polling would have asked 11 more times
        assert e.source.count("endpoint_usage") == 1
        await e.vt.advance(1)
        assert e.source.count("endpoint_usage") == 2
        text, level = freshness(state, e.vt.now())
        assert "not offered by this API" in text and "retrying" not in text
        assert level != "error"
        e.engine.refresh()  # r asks now
        await e.vt.advance(0)
        assert e.source.count("endpoint_usage") == 3
        e.source.usage_error = None
        e.engine.refresh()
        await e.vt.advance(0)
        assert not e.engine.state(USAGE).not_offered and e.engine.state(USAGE).data == "30d"


async def test_a_429_met_outside_the_polls_holds_the_feeds_and_the_next_request_is_not_sent():
    async with Engine() as e:
        e.source.history_error = RateLimited("Too many requests", retry_after=30)
        with pytest.raises(RateLimited):
            await e.engine.request(lambda source: source.history(cursor="page-2"))
        assert e.engine.scheduler.hold_until == e.vt.now() + timedelta(seconds=30)
        assert e.engine.state(USAGE).held_s(e.vt.now()) == 30
        e.source.history_error = None
        with pytest.raises(RateLimited):  # refused by the gate: nothing reaches the source
            await e.engine.request(lambda source: source.history(cursor="page-2"))
        assert e.source.count("history") == 1
        e.engine.show([USAGE])
        await e.vt.advance(29)
        assert e.source.count("endpoint_usage") == 0, "the hold covers the polls too"
        await e.vt.advance(1)
        assert e.source.count("endpoint_usage") == 1
        page = await e.engine.request(lambda source: source.history(cursor="page-2"))
        assert page.items == () and e.source.count("history") == 2


async def test_a_401_met_outside_the_polls_stops_polling_and_is_reported_once():
    async with Engine() as e:
        e.engine.show([USAGE, HISTORY])
        await e.vt.advance(0)
        polls = e.source.count("endpoint_usage")
        e.source.history_error = AuthError("Unauthorized", status=401)
        with pytest.raises(AuthError):
            await e.engine.request(lambda source: source.history(cursor="page-2"))
        with pytest.raises(AuthError):  # refused: a rejected token is not sent again
            await e.engine.request(lambda source: source.history(cursor="page-2"))
        e.engine.refresh()
        await e.vt.advance(900)
        assert len(e.auth_failures) == 1
        assert e.source.count("endpoint_usage") == polls
        assert e.source.count("history") == 2  # the feed's first page, the refused page once
