"""Screen 4 with several hosts' meters on one store: each host's req/min, share of the limit and
429s under the live gauge — the top few and "+K more" on a small terminal. (The same on a real
PostgreSQL store with two meters: test_meter_postgres.py.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from auth_harness import screen_lines, screen_text
from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.meter.recorder import Record, Recorder
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.screens.limits import HOSTS_SHORT, SPARK_MAX, SPARK_MIN, LimitsScreen
from ht_dash.tui.widgets.instances import InstanceList
from ht_dash.tui.widgets.sparkline_panel import SparklinePanel
from ui_harness import wait_until

NOW = datetime(2026, 11, 25, 14, 3, 20, tzinfo=UTC)
T = NOW.timestamp()


def _team_store(path, hosts: dict[str, tuple[int, int]]) -> None:
    """For each host (requests in the last minute, of which 429s): its meter's records."""
    for instance, (count, throttled) in hosts.items():
        with Recorder(path, instance=instance) as recorder:
            for n in range(count):
                status = 429 if n < throttled else 200
                recorder.add(
                    Record(
                        T - 50 + n * 40 / count, "GET", "/positions", status, 5.0, 10, None, None
                    )
                )


def _app(path, plan: str = "flow"):
    settings = Settings(source="meter", meter_store=str(path), plan=plan)
    return make_app(Runtime(settings=settings, clock=FixedClock(NOW)), live=False)


def _hosts_shown(app) -> bool:
    return app.screen.query(InstanceList).first().display


async def test_screen_4_shows_each_host_of_the_team(tmp_path):
    path = tmp_path / "team.sqlite3"
    _team_store(path, {"host-a": (120, 0), "host-b": (40, 3)})
    app = _app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: _hosts_shown(app), what="the per-host list")
        lines = screen_lines(app)
        gauge = next(i for i, line in enumerate(lines) if "Requests/min" in line)
        assert "160 / 200" in lines[gauge]  # the team's total against the Flow plan's limit
        assert "2 hosts on this token" in lines[gauge + 1]
        a = next(line for line in lines if "host-a" in line)
        b = next(line for line in lines if "host-b" in line)
        assert lines.index(a) < lines.index(b)  # busiest first
        assert "120/min" in a and "60 %" in a and "429s in 15 min: 0" in a
        assert "40/min" in b and "20 %" in b and "429s in 15 min: 3" in b

        # The next poll redraws the same widget in place: a third host joins, one keeps going.
        widget = app.screen.query_one(InstanceList)
        _team_store(path, {"host-c": (10, 0)})
        app.feeds.refresh()
        await wait_until(pilot, lambda: "host-c" in screen_text(app), what="host-c")
        assert app.screen.query_one(InstanceList) is widget
        assert "3 hosts on this token" in screen_text(app)


async def test_many_hosts_fit_80x24_with_a_count_of_the_rest(tmp_path):
    path = tmp_path / "team.sqlite3"
    _team_store(path, {f"bot-{n}": (50 - n, 0) for n in range(6)})
    app = _app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: _hosts_shown(app), what="the per-host list")
        text = screen_text(app)
        assert "bot-0" in text and "bot-1" in text and "bot-2" not in text
        assert "+4 more · 186/min" in text  # 48 + 47 + 46 + 45
        assert all(len(line.rstrip()) <= 80 for line in screen_lines(app))
        assert "429s in the last" in text  # the live panel's own lines stay on screen


async def test_one_host_shows_no_list(tmp_path):
    path = tmp_path / "solo.sqlite3"
    _team_store(path, {"host-a": (30, 0)})
    app = _app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: "30 / 200" in screen_text(app), what="the live gauge")
        assert not _hosts_shown(app)
        assert "hosts on this token" not in screen_text(app)
        assert "local meter" in screen_text(app)  # the header: a local file, not a team store


async def test_a_host_name_from_the_store_is_data_not_terminal_control(tmp_path):
    path = tmp_path / "team.sqlite3"
    _team_store(path, {"evil\x1b[2Jhost": (20, 0), "host-b": (10, 0)})
    app = _app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await wait_until(pilot, lambda: _hosts_shown(app), what="the per-host list")
        text = screen_text(app)
        assert "\x1b" not in text and "host-b" in text and "evil" in text


def test_team_snapshot_80x24(snap_compare, tmp_path):
    path = tmp_path / "team.sqlite3"
    _team_store(path, {"host-a": (90, 0), "host-b": (60, 4), "host-c": (30, 0), "host-d": (5, 0)})
    app = _app(path)

    async def run_before(pilot) -> None:
        await pilot.press("4")
        await wait_until(pilot, lambda: _hosts_shown(app), what="the per-host list")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_the_clock_ticking_while_screen_4_mounts_does_not_crash(demo_app):
    """Seen by hand on a loaded machine: the 1 s tick (and a resize) reached screen 4 before its
    panels' children were mounted and the app crashed on a missing widget."""
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.switch_mode("limits")
        for _ in range(200):  # every step of the mount, as a tick might land on any of them
            if isinstance(app.screen, LimitsScreen):
                app._tick()
            await asyncio.sleep(0)
        await wait_until(pilot, lambda: "Requests/min" in screen_text(app), what="screen 4")
        assert app.is_running and app.return_code is None
        # the resize that came before the panels was applied once they were there
        assert app.screen.query_one(InstanceList).max_rows == HOSTS_SHORT
        spark = app.screen.query_one(SparklinePanel).spark
        await wait_until(pilot, lambda: spark.styles.height is not None, what="the fitted chart")
        assert SPARK_MIN <= spark.styles.height.value <= SPARK_MAX  # fitted to the free rows
