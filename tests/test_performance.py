"""What the performance work must not break: pictures still change, age texts still move on, the
help still lists every command. (The timings themselves: python benchmarks/run.py.)"""

from __future__ import annotations

import argparse
import importlib
from datetime import UTC, datetime, timedelta

import pytest
from tests.ui_harness import wait_until
from tests.virtual_time import VirtualTime

from ht_dash import cli
from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from ht_dash.tui.widgets.freshness import freshness
from ht_dash.tui.widgets.nav import context_line
from ht_dash.tui.widgets.panel import DataPanel
from ht_dash.tui.widgets.sparkline_panel import LIMIT_LINE, SparklinePanel

AT = datetime(2026, 11, 25, 14, 3, 20, tzinfo=UTC)


def drawn(spark) -> list[str]:
    return [spark.render_line(y).text for y in range(spark.size.height)]


async def test_the_sparkline_redraws_when_the_rates_change_and_not_otherwise():
    runtime = Runtime(settings=Settings(), demo=True, clock=FixedClock(AT), demo_seed=7)
    app = make_app(runtime, live=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        spark = app.screen.query_one(SparklinePanel).spark
        spark.show([10.0] * 30, 100)
        await pilot.pause()
        flat = drawn(spark)
        # low traffic: bars in the bottom row only; the top row holds the limit line (100/min)
        assert flat[-1].strip() and set(flat[0].strip()) == {LIMIT_LINE}
        spark.show([10.0] * 15 + [150.0] * 15, 100)
        await pilot.pause()
        burst = drawn(spark)
        assert burst != flat
        assert burst[0].rstrip().endswith("█")  # over the limit: the right half hits the top
        spark.refresh = lambda *a, **k: (_ for _ in ()).throw(AssertionError("repainted"))
        spark.show([10.0] * 15 + [150.0] * 15, 100)  # the same rates: nothing to repaint


async def test_live_updates_move_every_age_text_on_without_the_one_second_tick():
    """Screen 4 draws one frame per live poll: the subscription panel's "updated N s ago" moves
    with the live data, not on a separate timer frame."""
    vt = VirtualTime(FixedClock(AT))
    runtime = Runtime(settings=Settings(), demo=True, clock=vt.clock, demo_seed=7)
    app = make_app(runtime)  # live mode, scheduler on virtual time
    app.feeds.scheduler.waiter = vt
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await vt.advance(3)
        app._freshness_timer.pause()  # only the live updates may move the texts now
        await vt.advance(12)
        await pilot.pause()
        live = app.feeds.state("live")
        subscription = app.feeds.state("subscription")
        assert (live.updated_at - subscription.updated_at).total_seconds() >= 10
        plan_panel = app.screen.query_one("#plan-panel", DataPanel)
        expected, _ = freshness(subscription, live.updated_at)
        assert plan_panel.border_subtitle == expected
        assert expected.startswith("updated 1") and expected.endswith(" s ago")


def test_a_nav_bar_not_yet_composed_lets_the_account_line_wait():
    """The first answers can come before the nav bar is composed (they are asked for at once); the
    scheduler's callback then refreshes it — raising there stopped all polling for the session."""
    from ht_dash.tui.widgets.nav import NavBar

    NavBar("token").refresh_context()  # nothing to update yet; on_mount shows the line


async def test_the_first_screen_shows_its_data_and_polling_goes_on():
    from textual.worker import WorkerState

    vt = VirtualTime(FixedClock(AT))
    runtime = Runtime(settings=Settings(), demo=True, clock=vt.clock, demo_seed=7)
    app = make_app(runtime)
    app.feeds.scheduler.waiter = vt
    async with app.run_test(size=(100, 30)) as pilot:
        await vt.advance(1)
        await pilot.pause()
        scheduler = next(w for w in app.workers if w.name == "scheduler")
        assert scheduler.state == WorkerState.RUNNING, scheduler.error
        assert app.feeds.state("profile").data is not None
        panel = app.screen.query_one("#profile-panel", DataPanel)
        assert not panel.has_class("-nodata")
        assert app.feeds.state("profile").data.email in context_line(app)


def test_each_command_line_builds_the_subcommands_it_needs_and_help_lists_them_all(capsys):
    registered = {}
    for module in cli.COMMAND_MODULES:  # the alias table says truly which module has which name
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"ht_dash.commands.{module}").register(subparsers)
        for name in subparsers.choices:
            registered[name] = module
            assert cli.command_modules_for(["--demo", name]) == (module,)
    assert {n: m for n, m in registered.items() if n != m} == cli.COMMAND_ALIASES

    assert cli.command_modules_for(["--demo"]) == ()  # the dashboard: no command module
    assert cli.command_modules_for(["--source", "meter", "status", "--json"]) == ("status",)
    assert cli.command_modules_for(["--base-url=https://x.example", "token", "show"]) == ("auth",)
    for unclear in (["--help"], ["--sou", "meter", "status"], ["statsu"]):
        assert cli.command_modules_for(unclear) == cli.COMMAND_MODULES

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in registered)
    with pytest.raises(SystemExit):
        cli.main(["statsu"])
    assert "invalid choice: 'statsu'" in capsys.readouterr().err


async def test_an_age_text_repaints_only_the_panels_bottom_border_and_an_unchanged_gauge_nothing():
    """Screen 4's panels' "updated N s ago" change every second: repainting the whole panel each
    time (all the gauges, lines and sparkline in it) tripled screen 4's CPU."""
    from ht_dash.tui.widgets.gauge import Gauge

    runtime = Runtime(settings=Settings(), demo=True, clock=FixedClock(AT), demo_seed=7)
    app = make_app(runtime, live=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        panel = app.screen.query_one("#plan-panel", DataPanel)
        repaints: list[tuple] = []
        panel.refresh = lambda *regions, **_: repaints.append(regions)  # type: ignore
        state = app.feeds.state("subscription")
        panel.show_state(state, state.updated_at + timedelta(minutes=1))
        assert panel.border_subtitle and "1 min" in panel.border_subtitle
        (bottom,) = repaints[0]  # in content coordinates: the border lies outside them
        bottom = bottom.translate(panel.content_offset)
        assert (bottom.x, bottom.y, bottom.height) == (0, panel.outer_size.height - 1, 1)
        assert bottom.width == panel.outer_size.width
        gauge = app.screen.query_one("#quota-gauge", Gauge)
        gauge.refresh = lambda *a, **k: (_ for _ in ()).throw(AssertionError("repainted"))
        gauge.show(gauge.fraction, gauge.figures, gauge.level, label=gauge.label)


async def test_a_401_while_the_first_screen_is_built_still_opens_the_login_screen():
    """The feeds start before Textual builds the first screen (its data comes with its first
    paint), so a rejected token can be known before the app has started: the login screen
    still comes, over the token screen, and the app goes on."""
    from ht_dash.tui.screens.login import LoginScreen
    from ht_dash.tui.screens.token import TokenScreen

    runtime = Runtime(settings=Settings(), demo=True, clock=FixedClock(AT), demo_seed=7)
    runtime.demo_backend.set_fault("/account", 401)
    app = make_app(runtime)  # live
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        assert [type(s) for s in app.screen_stack] == [TokenScreen, LoginScreen]
        await pilot.press("escape")  # back to the dashboard without a new token
        await pilot.pause()
        assert isinstance(app.screen, TokenScreen) and app.is_running


async def test_the_footer_is_rebuilt_only_when_its_keys_change():
    """Textual's footer recomposes on every bindings update (a focus change, a refresh): ~15 ms
    each, at start-up too. Ours only when the keys it shows differ."""
    from textual.widgets._footer import FooterKey

    from ht_dash.tui.widgets.footer import DashFooter

    runtime = Runtime(settings=Settings(), demo=True, clock=FixedClock(AT), demo_seed=7)
    app = make_app(runtime, live=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(DashFooter)
        rebuilt: list[int] = []
        recompose = footer.recompose

        async def counted() -> None:
            rebuilt.append(1)
            await recompose()

        footer.recompose = counted  # type: ignore[method-assign]
        app.refresh_bindings()  # nothing changed
        await pilot.pause()
        assert rebuilt == []
        await pilot.press("p")  # the key now says what it will do: resume
        await pilot.pause()
        assert rebuilt
        labels = [key.description for key in app.screen.query_one(DashFooter).query(FooterKey)]
        assert "Resume live" in labels and "Pause live" not in labels
