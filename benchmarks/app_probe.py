"""ht-dash under measurement: the real app, on a terminal, driven from inside by an auto-pilot.

    python benchmarks/app_probe.py launch --out FILE
        `ht-dash --demo` exactly as the CLI runs it; exits when the first screen is painted with
        its data and reports the instant
    python benchmarks/app_probe.py limits --out FILE --seconds S
        screen 4 with live refresh every 1 s: process CPU over S seconds
    python benchmarks/app_probe.py endpoints --out FILE --seconds S
        screen 3 with 1,000 endpoints refreshing every 2 s: process CPU per refresh
    python benchmarks/app_probe.py log --out FILE --seconds S
        screen 7, the request log following at 1 s: process CPU over S seconds
    python benchmarks/app_probe.py history --out FILE
        screen 6 with 50,000 history entries: open to first paint, then (everything loaded)
        sort and kind-filter keypress to repaint
    python benchmarks/app_probe.py requests --out FILE
        requests sent per screen at default settings, counted at the demo transport, with a
        virtual clock (minutes of polling in seconds; headless, as nothing is timed)

The simulated server runs in this process; its CPU is measured on its own (`server_cpu_s`) and
left out of the CPU figures: against the real API that work happens on the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace

SETTLE_S = 2.0  # after data first shows, before a CPU window opens


def write_result(path: str, **values: object) -> None:
    with open(path, "w") as f:
        json.dump(values, f)


# ---- in-process helpers ----------------------------------------------------------------------


class ServerMeter:
    """Counts the CPU the demo backend spends answering (it stands in for the remote server)."""

    cpu_s = 0.0

    @classmethod
    def install(cls) -> None:
        from ht_dash.demo.backend import DemoBackend

        original = DemoBackend.handle_request

        def timed(self, request):  # type: ignore[no-untyped-def]
            started = time.thread_time()
            try:
                return original(self, request)
            finally:
                cls.cpu_s += time.thread_time() - started

        DemoBackend.handle_request = timed  # type: ignore[method-assign]


async def until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def next_paint(app) -> float:  # type: ignore[no-untyped-def]
    """perf_counter() right after the current screen's next refresh has been written out."""
    future: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def done() -> None:
        if not future.done():
            future.set_result(time.perf_counter())

    app.screen.call_after_refresh(done)
    app.screen.refresh()
    return await future


def press(app, key: str) -> None:  # type: ignore[no-untyped-def]
    """A key press through the driver, as a terminal sends it; no waiting (Pilot.press waits
    until the process looks idle, which would add its own ~0.15 s to every timing)."""
    from textual import events

    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app._driver.send_message(event)


def make_runtime(**demo_options: object):  # type: ignore[no-untyped-def]
    """The runtime `ht-dash --demo` builds, with a demo backend of the size asked for."""
    from ht_dash import cli
    from ht_dash.demo import DemoBackend

    runtime = cli.make_runtime(cli.build_parser().parse_args(["--demo"]))
    if demo_options:
        runtime._backend = DemoBackend(seed=runtime.demo_seed, clock=runtime.clock, **demo_options)
    return runtime


def run_app(app, script) -> None:  # type: ignore[no-untyped-def]
    """Run `app` on the terminal; `script(app, pilot)` drives it, then the app exits."""
    failure: list[BaseException] = []

    async def pilot_script(pilot) -> None:  # type: ignore[no-untyped-def]
        try:
            await script(app, pilot)
        except BaseException as exc:  # reported by the caller, after the terminal is restored
            failure.append(exc)
        finally:
            app.exit()

    app.run(auto_pilot=pilot_script)
    if failure:
        raise failure[0]


def screen_has_data(app) -> bool:  # type: ignore[no-untyped-def]
    feeds = getattr(app.screen, "FEEDS", ())
    return bool(feeds) and all(app.feeds.state(kind).data is not None for kind in feeds)


# ---- figures ---------------------------------------------------------------------------------


def patch_on_import(name: str, patch: Callable[[object], None]) -> None:
    """Run `patch(module)` when `name` is first imported, as the program would import it (importing
    it here first would change what the program's start-up does, and when)."""
    import importlib.abc
    import importlib.util

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            exec_module = spec.loader.exec_module

            def exec_and_patch(module) -> None:  # type: ignore[no-untyped-def]
                exec_module(module)
                patch(module)

            spec.loader.exec_module = exec_and_patch
            return spec

    sys.meta_path.insert(0, Finder())


def launch(out: str) -> None:
    """`ht-dash --demo` via the CLI's own main(); the only addition is the exit at first data."""
    from ht_dash import cli

    def patch(app_module) -> None:  # type: ignore[no-untyped-def]
        original = app_module.HtDashApp._on_feed_update
        marked = False

        def on_feed_update(self, state) -> None:  # type: ignore[no-untyped-def]
            nonlocal marked
            original(self, state)
            if not marked and screen_has_data(self):
                marked = True
                screen = self.screen

                def painted() -> None:
                    write_result(
                        out,
                        painted_at=time.time(),
                        screen=type(screen).__name__,
                        rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                        cpu_s=time.process_time(),  # CPU to the paint: steadier on a busy machine
                    )
                    # once started: the first screen can paint while Textual still builds the app
                    self.call_later(self.exit)

                # after the FeedUpdated just posted has been rendered and the frame written
                screen.call_after_refresh(painted)

        app_module.HtDashApp._on_feed_update = on_feed_update

    patch_on_import("ht_dash.tui.app", patch)
    sys.argv = ["ht-dash", "--demo"]
    sys.exit(cli.main(["--demo"]))


PROFILE: str | None = None  # --profile FILE: cProfile stats of the measured window


def cpu_window(out: str, seconds: float, key: str, feed: str, interval: float, **demo) -> None:
    from ht_dash.tui.app import make_app

    runtime = make_runtime(**demo)
    if feed == "live":
        runtime.settings = replace(runtime.settings, live_interval=interval)
    app = make_app(runtime)
    app.feeds.scheduler.set_interval(feed, interval)
    ServerMeter.install()

    async def script(app, pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press(key)
        await until(lambda: app.screen.MODE != "token" and screen_has_data(app), "data")
        await next_paint(app)
        await asyncio.sleep(SETTLE_S)
        cpu0, server0, wall0 = time.process_time(), ServerMeter.cpu_s, time.perf_counter()
        polls0 = app.feeds.scheduler.requests_started[feed]
        profiler = None
        if PROFILE:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        await asyncio.sleep(seconds)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(PROFILE)
        cpu = time.process_time() - cpu0
        server = ServerMeter.cpu_s - server0
        polls = app.feeds.scheduler.requests_started[feed] - polls0
        rows = None
        if app.screen.MODE == "endpoints":
            rows = app.screen.table.row_count
        write_result(
            out,
            cpu_s=cpu - server,
            server_cpu_s=server,
            wall_s=time.perf_counter() - wall0,
            polls=polls,
            rows=rows,
            screen=type(app.screen).__name__,
        )

    run_app(app, script)


def history_rows(app) -> int:  # type: ignore[no-untyped-def]
    """Rows in screen 6's table; 0 until screen 6 is current and its table is mounted (the screen
    becomes current before it has composed, and `screen.table` would raise then)."""
    if app.screen.MODE != "history":
        return 0
    tables = app.screen.query("#history-table")
    return tables.first().row_count if tables else 0


def history(out: str, entries: int) -> None:
    from ht_dash.tui.app import make_app

    runtime = make_runtime(history_entries=entries)
    # The simulated server builds its 50,000 entries on the first request; a real server has
    # them already, so build them before anything is timed.
    runtime.demo_backend.history  # noqa: B018
    app = make_app(runtime)
    ServerMeter.install()

    async def script(app, pilot) -> None:  # type: ignore[no-untyped-def]
        await until(lambda: screen_has_data(app), "the first screen")
        await next_paint(app)
        profiler = None
        if PROFILE:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        server0 = ServerMeter.cpu_s
        started = time.perf_counter()
        press(app, "6")
        await until(lambda: history_rows(app) > 0, "history rows")
        open_s = await next_paint(app) - started
        open_server_s = ServerMeter.cpu_s - server0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(PROFILE)
        screen = app.screen
        first_rows = screen.table.row_count
        # everything loaded, as after paging to the end or "export all"
        loaded_at = time.perf_counter()
        await screen._fetch(None, everything=True)
        load_s = time.perf_counter() - loaded_at
        await next_paint(app)
        loaded = screen.table.row_count

        async def press_times(key: str, count: int) -> list[float]:
            times = []
            for _ in range(count):
                await asyncio.sleep(0.05)
                table = screen.table
                before = table.rows
                t0 = time.perf_counter()
                press(app, key)
                await until(lambda: table.rows is not before, f"rows after {key!r}")  # noqa: B023
                times.append(await next_paint(app) - t0)
            return times

        sort_s = await press_times("s", 5)  # date → amount → kind → status → description
        filter_s = await press_times("f", 6)  # all → each kind → all
        write_result(
            out,
            open_s=open_s,
            open_server_s=open_server_s,
            first_rows=first_rows,
            load_all_s=load_s,
            loaded=loaded,
            sort_s=sort_s,
            filter_s=filter_s,
        )

    run_app(app, script)


def requests_per_screen(out: str, minutes: float) -> None:
    """Per screen: requests on opening it, then per minute at default settings (virtual time)."""
    from datetime import UTC, datetime
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from ht_dash.clock import FixedClock
    from ht_dash.config import Settings
    from ht_dash.runtime import Runtime
    from ht_dash.tui.app import make_app
    from ht_dash.tui.screens import SCREENS
    from virtual_time import VirtualTime  # the scheduler tests' virtual clock

    async def one(mode: str, key: str) -> dict:
        clock = FixedClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
        vt = VirtualTime(clock)
        runtime = Runtime(settings=Settings(), demo=True, clock=clock, demo_seed=7)
        backend = runtime.demo_backend
        app = make_app(runtime)
        app.feeds.scheduler.waiter = vt
        async with app.run_test(size=(120, 40)) as pilot:
            await vt.advance(1)
            await pilot.pause()
            before = backend.requests_served
            if mode != app.current_mode:
                await pilot.press(key)
            for _ in range(5):  # opening: composing, first fetches, pages to fill the view
                await pilot.pause()
                await vt.advance(1)
            opened = backend.requests_served
            paths_before = dict(backend.requests_by_path)
            await vt.advance(minutes * 60)
            await pilot.pause()
            steady = backend.requests_served - opened
            by_path = {
                p: n - paths_before.get(p, 0)
                for p, n in backend.requests_by_path.items()
                if n > paths_before.get(p, 0)
            }
            scheduler = app.feeds.scheduler
            return {
                # what the screen polls, as set at defaults: the runner's budget follows it
                "feeds": {
                    spec.name: {
                        "interval_s": scheduler.feeds[spec.name].interval,
                        "pausable": spec.pausable,
                    }
                    for spec in type(app.screen).FEEDS
                },
                "on_open": opened - before,
                "per_minute": steady / minutes,
                "by_path_per_minute": {p: n / minutes for p, n in sorted(by_path.items())},
            }

    async def main() -> dict:
        return {mode: await one(mode, key) for mode, key, _, _, _ in SCREENS}

    write_result(out, screens=asyncio.run(main()), minutes=minutes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "figure", choices=("launch", "limits", "endpoints", "log", "history", "requests")
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the CPU window into FILE")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    try:
        if args.figure == "launch":
            launch(args.out)
        elif args.figure == "limits":
            cpu_window(args.out, args.seconds, "4", "live", 1.0)
        elif args.figure == "log":
            cpu_window(args.out, args.seconds, "7", "requests", 1.0)
        elif args.figure == "endpoints":
            cpu_window(args.out, args.seconds, "3", "usage", 2.0, endpoint_count=args.endpoints)
        elif args.figure == "history":
            history(args.out, args.entries)
        else:
            requests_per_screen(args.out, args.minutes)
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(exc)).strip()
        write_result(args.out, error=detail)
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    main()
