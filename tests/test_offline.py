"""Offline copies in the real app: a start without network shows the last good data, marked with
its age; the dashboard recovers by itself; a bad cache dir never breaks it; logout forgets it."""

from __future__ import annotations

import errno
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Static

from faultserver import SENTINEL_TOKEN, FaultServer, assert_token_absent
from ht_dash.api.secret import Secret
from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.feeds.cache import ResponseCache
from ht_dash.feeds.offline import clear_offline_copies
from ht_dash.feeds.registry import LIVE, METRICS, PROFILE, TOKEN
from ht_dash.paths import cache_dir
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.widgets.panel import DataPanel
from ui_harness import wait_until
from virtual_time import VirtualTime

AT = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SIZE = (100, 30)


def build(base_url: str, clock: FixedClock, *, live: bool = False, token: str = "x"):
    runtime = Runtime(settings=Settings(base_url=base_url), clock=clock)
    return make_app(runtime, token=Secret(token), live=live)


async def until(pilot, condition, timeout: float = 5.0) -> None:
    """Real time passes: requests go to a real loopback server."""
    await wait_until(pilot, condition, timeout, step=0.02)


def panel(app, panel_id: str) -> DataPanel:
    return app.screen.query_one(f"#{panel_id}", DataPanel)


def profile_text(app) -> str:
    return str(app.screen.query_one("#profile-text", Static).render())


def cache_files() -> list[Path]:
    return sorted(cache_dir().rglob("*.json"))


async def fill_cache(server: FaultServer, clock: FixedClock, token: str = "x") -> None:
    """One run with the network up: the token screen's feeds are fetched and saved."""
    app = build(server.base_url, clock, token=token)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.feeds.state(PROFILE).data and app.feeds.state(TOKEN).data)
        app.feeds.offline.wait_saved()


async def test_start_without_network_shows_the_offline_copy_with_its_age():
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        await fill_cache(server, clock)
    clock.advance(3 * 3600)  # three hours later, the server is gone: connection refused

    app = build(server.base_url, clock)
    async with app.run_test(size=SIZE) as pilot:
        assert app.feeds.state("profile").from_cache  # shown before any request
        await until(pilot, lambda: app.feeds.state("profile").error is not None)
        assert "fault@example.test" in profile_text(app)
        profile = panel(app, "profile-panel")
        subtitle = str(profile.border_subtitle)
        assert subtitle.startswith("offline copy · updated 3 h ago · ⚠ ")
        assert "retrying in" in subtitle
        assert profile.has_class("-error") and not profile.has_class("-nodata")
        await pilot.press("?")  # still answering keys
        assert app.screen.__class__.__name__ == "HelpScreen"


async def test_the_dashboard_recovers_by_itself_when_the_network_returns():
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        await fill_cache(server, clock)
        clock.advance(600)
        server.mode = "reset"  # the network drops
        app = build(server.base_url, clock, live=True)
        time = VirtualTime(clock)
        # back-off waits pass in virtual time, requests in real time
        app.feeds.scheduler.waiter = time
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.feeds.state("profile").error is not None)
            assert str(panel(app, "profile-panel").border_subtitle).startswith(
                "offline copy · updated 10 min ago · ⚠ "
            )
            server.mode = "ok"  # the network is back; nobody presses r
            await time.advance(15)  # the first retry comes within 10 s ± 20 %
            await until(pilot, lambda: not app.feeds.state("profile").from_cache)
            app.screen.tick()
            profile = panel(app, "profile-panel")
            subtitle = str(profile.border_subtitle)  # polled at the retry instant, 0-12 s ago
            assert subtitle.startswith("from the API · updated ") and subtitle.endswith(" s ago"), (
                subtitle
            )
            assert "offline" not in subtitle and "⚠" not in subtitle
            assert not profile.has_class("-error") and not profile.has_class("-stale")


async def test_a_parameter_has_its_own_offline_copy():
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        app = build(server.base_url, clock)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await until(pilot, lambda: app.feeds.state("metrics").data is not None)
            app.feeds.offline.wait_saved()
    assert app.feeds.offline.load(METRICS, {"days": 90}) is not None
    assert app.feeds.offline.load(METRICS, {"days": 30}) is None
    assert app.feeds.offline.load(LIVE) is None  # live usage is never kept


async def test_offline_copies_never_hold_the_token():
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        app = build(server.base_url, clock, token=SENTINEL_TOKEN)
        async with app.run_test(size=SIZE) as pilot:
            for key in "123456":
                await pilot.press(key)
                await until(pilot, lambda: not any(s.loading for s in _states(app)))
            app.feeds.offline.wait_saved()
    files = cache_files()
    assert len(files) == 7  # profile, token, subscription, metrics, usage, billing, history
    assert_token_absent(*(path.read_text() for path in files))
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in files)


def _states(app):
    return [app.feeds.state(kind) for kind in app.screen.FEEDS]


async def test_the_demo_keeps_no_offline_copy():
    runtime = Runtime(settings=Settings(), demo=True, clock=FixedClock(AT), demo_seed=7)
    app = make_app(runtime, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.feeds.state("profile").data is not None)
        app.feeds.offline.wait_saved()
    assert not app.feeds.offline.enabled
    assert cache_files() == []


async def test_another_api_host_does_not_see_this_hosts_copy():
    clock = FixedClock(AT)
    with FaultServer("ok") as first:
        await fill_cache(first, clock)
    with FaultServer("reset") as second:
        app = build(second.base_url, clock)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.feeds.state("profile").error is not None)
            assert app.feeds.state("profile").data is None
            assert panel(app, "profile-panel").has_class("-nodata")


async def test_logout_forgets_the_offline_copies():
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        app = build(server.base_url, clock)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.feeds.state("profile").data is not None)
            app.feeds.offline.wait_saved()
            assert cache_files()
            app.use_token(None, None)  # what the logout action does
            assert cache_files() == []


async def test_clear_offline_copies_is_one_call_for_the_cli():
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        await fill_cache(server, clock)
        assert clear_offline_copies(server.base_url) == 2
    assert cache_files() == []


# ---- a cache dir that cannot be written never breaks the app -----------------------------------


@pytest.mark.fault
async def test_unwritable_cache_dir_warns_once_and_the_dashboard_works():
    cache_dir().parent.mkdir(parents=True, exist_ok=True)
    cache_dir().write_text("a file where the cache directory belongs")  # fails even for root
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        app = build(server.base_url, clock)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.feeds.state("profile").data is not None)
            app.feeds.offline.wait_saved()
            await until(pilot, lambda: len(app._notifications) > 0)
            assert "fault@example.test" in profile_text(app)
            assert (
                str(panel(app, "profile-panel").border_subtitle) == "from the API · updated 0 s ago"
            )
            notes = [n for n in app._notifications if n.title == "Offline copy not saved"]
            assert len(notes) == 1
            assert notes[0].message.startswith("cannot write the cache in ")
            assert "cannot show data when started offline" in notes[0].message
            await pilot.press("2")
            await until(pilot, lambda: app.feeds.state("metrics").data is not None)
            app.feeds.offline.wait_saved()
            await pilot.pause()
            assert len([n for n in app._notifications if n.title == notes[0].title]) == 1


@pytest.mark.fault
async def test_full_disk_is_reported_and_nothing_half_written_is_left(monkeypatch):
    def full(self, path, data):
        path.parent.mkdir(parents=True, exist_ok=True)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ResponseCache, "_write_atomically", full)
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        app = build(server.base_url, clock)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.feeds.state("profile").data is not None)
            app.feeds.offline.wait_saved()
            await until(pilot, lambda: len(app._notifications) > 0)
            (note,) = list(app._notifications)
            assert "No space left on device" in note.message
            assert "fault@example.test" in profile_text(app)
    assert cache_files() == []


@pytest.mark.fault
async def test_corrupt_offline_copy_is_ignored_and_fresh_data_replaces_it():
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        await fill_cache(server, clock)
        for path in cache_files():
            path.write_text('{"format": 1, "key": "profile", "saved_at": "nonsense"')
        server.mode = "held"  # no fresh answer before the check below, however fast the server
        app = build(server.base_url, clock)
        async with app.run_test(size=SIZE) as pilot:
            assert app.feeds.state("profile").data is None  # nothing shown from a broken file
            server.release.set()
            await until(pilot, lambda: app.feeds.state("profile").data is not None)
            assert "fault@example.test" in profile_text(app)


async def test_a_slow_disk_never_holds_a_poll_up(monkeypatch):
    release = threading.Event()
    started = []

    def slow(self, path, data):
        started.append(path)
        while not release.is_set():  # the writer thread waits; the app must not
            time.sleep(0.01)

    monkeypatch.setattr(ResponseCache, "_write_atomically", slow)
    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        app = build(server.base_url, clock)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.feeds.state("profile").data is not None)
            await until(pilot, lambda: app.feeds.state("token").data is not None)
            assert started  # the writes are under way, the panels are already filled
            assert "fault@example.test" in profile_text(app)
            release.set()
            app.feeds.offline.wait_saved()


async def test_cli_logout_removes_the_offline_copies(capsys):
    from ht_dash import cli

    clock = FixedClock(AT)
    with FaultServer("ok") as server:
        await fill_cache(server, clock)
        assert len(cache_files()) == 2
        assert cli.main(["--base-url", server.base_url, "logout"]) == 0
    out = capsys.readouterr().out
    assert "Removed the offline copies of the account data from 127.0.0.1" in out
    assert cache_files() == []
