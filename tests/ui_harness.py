"""Building the app for UI tests and waiting on it: one builder (the `demo_app` fixture in
conftest.py hands it out) and `wait_until` instead of loops of `pilot.pause()`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.demo import DemoBackend
from ht_dash.runtime import Runtime
from ht_dash.tui.app import HtDashApp, make_app

AT = datetime(2026, 11, 25, 14, 3, 20, tzinfo=UTC)


def build_demo_app(
    plan: str = "surge",
    *,
    at: datetime = AT,
    seed: int = 7,
    settings: Settings | None = None,
    live: bool = False,
    **backend_options: object,
) -> HtDashApp:
    """The app on the demo backend with a fixed clock and seed; no live timers unless asked.
    `backend_options` go to DemoBackend (history_entries=, endpoint_count=, latency_s=)."""
    backend = DemoBackend(seed=seed, clock=FixedClock(at), plan_id=plan, **backend_options)  # type: ignore[arg-type]
    return make_app(Runtime.on_backend(backend, settings=settings), live=live)


async def wait_until(
    pilot,
    predicate: Callable[[], object],
    timeout: float = 5.0,
    *,
    step: float | None = None,
    what: str = "",
) -> None:
    """Let the app run until `predicate()` is true, then one more pause so the screen catches up;
    fail after `timeout` seconds. `step`: sleep between checks (a real loopback server answering)
    instead of only letting pending messages through."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what or predicate}")
        await pilot.pause(step)
    await pilot.pause()


def quiet(app) -> bool:
    """No worker running, and every active feed answered (data or error) with no poll in flight
    or asked for; after a 401 stop none is asked for."""
    if any(not worker.is_finished for worker in app.workers):
        return False
    scheduler = app.feeds.scheduler
    if scheduler.auth_failed is not None:
        return True
    return all(
        not feed.in_flight
        and not feed.forced
        and (feed.state.updated_at is not None or feed.state.error is not None)
        for feed in scheduler.feeds.values()
        if feed.active
    )


async def settled(pilot) -> None:
    """After a key press or a fault: until the app is `quiet`."""
    await wait_until(pilot, lambda: quiet(pilot.app), what="polls and workers to finish")
