"""The floor: bare Textual apps measured in the same run as ht-dash, by the same method.

    python benchmarks/bare_app.py paint --out FILE      Header, Static, Footer; exit at first paint
    python benchmarks/bare_app.py timer --out FILE --seconds S
        a 1 s timer updating a Sparkline and a label; CPU over S seconds
    python benchmarks/bare_app.py switch --out FILE
        the floor for opening a screen: a second mode (Header, Static, Footer with 10 key
        bindings) opened by a key press, to its first paint; median of 5 fresh opens
    python benchmarks/bare_app.py cell --out FILE --seconds S --rows 1000 --every 2
        a DataTable of 1,000 rows x 10 columns; one visible cell updated every 2 s; CPU per update

Run them on a terminal (the benchmark gives them a pseudo-terminal); each writes a JSON result.
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

WARMUP_S = 1.0


def write_result(path: str, **values: object) -> None:
    import json

    with open(path, "w") as f:
        json.dump(values, f)


class PaintApp(App[None]):
    def __init__(self, out: str) -> None:
        super().__init__()
        self.out = out

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("A bare Textual app: the floor ht-dash is measured against.")
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        write_result(
            self.out,
            painted_at=time.time(),
            rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            cpu_s=time.process_time(),
        )
        self.exit()


class SecondScreen(Screen):
    BINDINGS = [Binding(k, "app.bell", f"Key {k}") for k in "abcdefghij"]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("A second screen, opened by a key press.")
        yield Footer()


class SwitchApp(App[None]):
    """Opens a fresh second screen (a new mode each time), as ht-dash opens screen 6."""

    BINDINGS = [Binding("n", "next", "Next")]

    def __init__(self, out: str, opens: int = 5) -> None:
        self.MODES = {"home": PaintScreen, **{f"s{i}": SecondScreen for i in range(opens)}}
        super().__init__()
        self.out = out
        self.opens = opens
        self.times: list[float] = []

    def on_mount(self) -> None:
        self.switch_mode("home")

    async def run_opens(self) -> None:
        import asyncio

        for i in range(self.opens):
            await asyncio.sleep(0.2)
            started = time.perf_counter()
            await self.switch_mode(f"s{i}")
            painted = asyncio.get_running_loop().create_future()
            self.screen.call_after_refresh(lambda f=painted: f.set_result(time.perf_counter()))
            self.times.append(await painted - started)
        write_result(self.out, open_s=self.times)
        self.exit()


class PaintScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Home")
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(lambda: self.app.run_worker(self.app.run_opens()))


class WindowApp(App[None]):
    """Measures process CPU over a window that starts after the first paint and a warm-up."""

    def __init__(self, out: str, seconds: float) -> None:
        super().__init__()
        self.out = out
        self.seconds = seconds
        self.ticks = 0

    def on_mount(self) -> None:
        self.call_after_refresh(lambda: self.set_timer(WARMUP_S, self._begin))

    def _begin(self) -> None:
        self.ticks = 0
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        self.set_timer(self.seconds, self._end)

    def _end(self) -> None:
        cpu = time.process_time() - self._cpu0
        wall = time.perf_counter() - self._wall0
        write_result(self.out, cpu_s=cpu, wall_s=wall, ticks=self.ticks)
        self.exit()


class TimerApp(WindowApp):
    def compose(self) -> ComposeResult:
        from textual.widgets import Label, Sparkline

        yield Header()
        yield Label("req/min: –", id="rate")
        yield Sparkline([], id="spark")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.samples: list[float] = []
        self.rng = random.Random(7)
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        self.ticks += 1
        self.samples = (self.samples + [self.rng.uniform(20, 90)])[-60:]
        self.query_one("#spark").data = list(self.samples)
        self.query_one("#rate").update(f"req/min: {self.samples[-1]:.0f} / 100")


class CellApp(WindowApp):
    def __init__(self, out: str, seconds: float, rows: int, every: float) -> None:
        super().__init__(out, seconds)
        self.rows = rows
        self.every = every

    def compose(self) -> ComposeResult:
        from textual.widgets import DataTable

        yield Header()
        yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#table")
        table.add_columns(*(f"col {i}" for i in range(10)))
        for r in range(self.rows):
            table.add_row(*(f"{(r * 7919 + c) % 100000:,}" for c in range(10)), key=str(r))
        self.set_interval(self.every, self._tick)

    def _tick(self) -> None:
        self.ticks += 1
        table = self.query_one("#table")
        table.update_cell("3", table.ordered_columns[3].key, f"{self.ticks * 37:,}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("paint", "timer", "cell", "switch"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--every", type=float, default=2.0)
    args = parser.parse_args()
    if args.mode == "paint":
        app: App = PaintApp(args.out)
    elif args.mode == "switch":
        app = SwitchApp(args.out)
    elif args.mode == "timer":
        app = TimerApp(args.out, args.seconds)
    else:
        app = CellApp(args.out, args.seconds, args.rows, args.every)
    app.run()


if __name__ == "__main__":
    main()
