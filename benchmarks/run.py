"""ht-dash's benchmark: every budget of the performance issue, against a floor from the same run.

    python benchmarks/run.py [--quick] [--cpu-seconds 10] [--only launch,cpu,...] [--json PATH]

Prints one line per figure — median, baseline, ratio, budget, PASS/OVER — and writes the same to
benchmarks/results.json. A figure whose feature is missing or broken prints "n/a (reason)" and the
run goes on. Not a test: CI runs nothing here. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BENCH_DIR, PYTHON, ProbeError, checked, child_env, run_child  # noqa: E402

BARE = str(BENCH_DIR / "bare_app.py")
PROBE = str(BENCH_DIR / "app_probe.py")
HT_DASH = str(Path(PYTHON).parent / "ht-dash")
GROUPS = ("launch", "cpu", "log", "endpoints", "history", "cli", "requests", "meter")


@dataclass
class Figure:
    name: str
    unit: str
    value: float | None = None
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    budget: str = ""
    ok: bool | None = None  # None: nothing to judge (printed only, or n/a)
    samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)
    note: str = ""
    na: str = ""  # why the figure could not be measured

    @property
    def verdict(self) -> str:
        if self.na:
            return "n/a"
        return {True: "PASS", False: "OVER", None: "info"}[self.ok]


def ratio_figure(
    name: str,
    unit: str,
    samples: list[float],
    base: list[float],
    base_name: str,
    limit: float,
    note: str = "",
) -> Figure:
    value, baseline = statistics.median(samples), statistics.median(base)
    ratio = value / baseline if baseline else float("inf")
    return Figure(
        name,
        unit,
        value,
        baseline,
        base_name,
        ratio,
        f"≤ {limit:g}× baseline",
        ratio <= limit,
        samples,
        base,
        note,
    )


def absolute_figure(
    name: str,
    unit: str,
    samples: list[float],
    limit: float,
    *,
    below: bool = True,
    strict: bool = True,
    note: str = "",
) -> Figure:
    value = statistics.median(samples)
    if below:
        ok = value < limit if strict else value <= limit
        budget = f"{'<' if strict else '≤'} {limit:g} {unit}"
    else:
        ok = value >= limit
        budget = f"≥ {limit:g} {unit}"
    return Figure(name, unit, value, budget=budget, ok=ok, samples=samples, note=note)


class Bench:
    def __init__(self, reps: int, cpu_seconds: float, home: Path) -> None:
        self.reps = reps
        self.cpu_seconds = cpu_seconds
        self.env = child_env(home)
        self.figures: list[Figure] = []

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        print(format_line(figure), flush=True)

    def unavailable(self, names: list[tuple[str, str]], reason: str) -> None:
        for name, unit in names:
            self.add(Figure(name, unit, na=reason))

    def tui(self, argv: list[str], what: str, timeout: float = 120.0) -> tuple[dict, object]:
        run = run_child(argv, self.env, pty=True, timeout=timeout)
        return checked(run, what), run

    # ---- the figures -------------------------------------------------------------------------

    def launch(self) -> None:
        names = [
            ("ht-dash --demo: launch to first data paint", "s"),
            ("peak RSS of that run", "MiB"),
        ]
        bare_paint = [BARE, "paint", "--out", "{out}"]
        launch = [PROBE, "launch", "--out", "{out}"]
        # warm-up: bytecode caches, page cache
        self.tui([PYTHON, *bare_paint], "bare app")
        try:
            self.tui([PYTHON, *launch], "ht-dash --demo")
        except ProbeError as exc:
            self.unavailable(names, str(exc))
            return
        bare_wall, bare_rss, wall, rss = [], [], [], []
        for _ in range(self.reps + 2):
            result, run = self.tui([PYTHON, *bare_paint], "bare app")
            bare_wall.append(result["painted_at"] - run.started_at)
            bare_rss.append(run.peak_rss_mib)
            result, run = self.tui([PYTHON, *launch], "ht-dash --demo")
            wall.append(result["painted_at"] - run.started_at)
            rss.append(run.peak_rss_mib)
        base = "bare Textual app (Header, Static, Footer): first paint"
        self.add(
            ratio_figure(
                names[0][0],
                "s",
                wall,
                bare_wall,
                base,
                1.5,
                note=f"first screen {result.get('screen')}, {run_size()}",
            )
        )
        self.add(ratio_figure(names[1][0], "MiB", rss, bare_rss, "bare Textual app: peak RSS", 1.5))

    def cpu(self) -> None:
        shortened = (
            ""
            if self.cpu_seconds >= 30
            else f"window shortened from 30 s to {self.cpu_seconds:g} s (same for both); "
        )
        self._screen_cpu(
            f"screen 4, live refresh 1 s: CPU over {self.cpu_seconds:g} s",
            "limits",
            "screen 4",
            f"{shortened}{{polls}} live polls per window",
        )

    def log(self) -> None:
        self._screen_cpu(
            f"screen 7, request log following at 1 s: CPU over {self.cpu_seconds:g} s",
            "log",
            "screen 7",
            "{polls} polls per window, new rows on top each second",
        )

    def _screen_cpu(self, name: str, probe: str, label: str, note: str) -> None:
        """A screen's CPU over the window against the bare timer app's, each run in turn."""
        base_runs, runs, polls, server = [], [], [], []
        for _ in range(self.reps):
            result, _ = self.tui(
                [PYTHON, BARE, "timer", "--out", "{out}", "--seconds", str(self.cpu_seconds)],
                "bare timer app",
            )
            base_runs.append(result["cpu_s"] * 1000)
            try:
                result, _ = self.tui(
                    [PYTHON, PROBE, probe, "--out", "{out}", "--seconds", str(self.cpu_seconds)],
                    label,
                )
            except ProbeError as exc:
                self.unavailable([(name, "ms")], str(exc))
                return
            runs.append(result["cpu_s"] * 1000)
            polls.append(result["polls"])
            server.append(result["server_cpu_s"] * 1000)
        note = (
            f"{note.format(polls=f'{statistics.median(polls):g}')}; "
            f"the simulated server's {statistics.median(server):.0f} ms excluded"
        )
        self.add(
            ratio_figure(
                name,
                "ms",
                runs,
                base_runs,
                "bare app, 1 s timer updating a Sparkline + label",
                2.0,
                note,
            )
        )

    def endpoints(self) -> None:
        name = "screen 3, 1,000 endpoints refreshing every 2 s: CPU per refresh"
        base_runs, runs, notes = [], [], []
        for _ in range(self.reps):
            result, _ = self.tui(
                [PYTHON, BARE, "cell", "--out", "{out}", "--seconds", str(self.cpu_seconds)],
                "bare DataTable app",
            )
            base_runs.append(result["cpu_s"] * 1000 / max(1, result["ticks"]))
            try:
                result, _ = self.tui(
                    [
                        PYTHON,
                        PROBE,
                        "endpoints",
                        "--out",
                        "{out}",
                        "--seconds",
                        str(self.cpu_seconds),
                    ],
                    "screen 3",
                )
            except ProbeError as exc:
                self.unavailable([(name, "ms")], str(exc))
                return
            if not result["polls"]:
                self.unavailable([(name, "ms")], "no refresh happened in the window")
                return
            runs.append(result["cpu_s"] * 1000 / result["polls"])
            notes.append((result["rows"], result["server_cpu_s"] * 1000 / result["polls"]))
        rows, server = notes[-1][0], statistics.median(n[1] for n in notes)
        note = (
            f"{rows} rows; each 2 s period's CPU (idle ticks included, both sides); the simulated "
            f"server's {server:.0f} ms per refresh excluded"
        )
        self.add(
            ratio_figure(
                name,
                "ms",
                runs,
                base_runs,
                "bare DataTable, 1,000 rows: one cell updated every 2 s",
                2.0,
                note,
            )
        )

    def history(self) -> None:
        names = [
            ("screen 6, 50,000 entries: open to first paint", "s"),
            ("screen 6: sort keypress to repaint (50,000 loaded)", "s"),
            ("screen 6: kind filter keypress to repaint (50,000 loaded)", "s"),
        ]
        opens, sorts, filters, loaded, bare_opens = [], [], [], 0, []
        for _ in range(self.reps):
            result, _ = self.tui([PYTHON, BARE, "switch", "--out", "{out}"], "bare screen open")
            bare_opens.extend(result["open_s"])
            try:
                result, _ = self.tui([PYTHON, PROBE, "history", "--out", "{out}"], "screen 6")
            except ProbeError as exc:
                self.unavailable(names, str(exc))
                return
            opens.append(result["open_s"])
            sorts.extend(result["sort_s"])
            filters.extend(result["filter_s"])
            loaded = result["loaded"]
        figure = absolute_figure(
            names[0][0], "s", opens, 0.3,
            note="first page shown, later pages load as the cursor nears the end; baseline "
            "(not budgeted): opening a Header/Static/Footer screen in a bare app",
        )  # fmt: skip
        figure.baseline, figure.baseline_samples = statistics.median(bare_opens), bare_opens
        figure.baseline_name = "bare Textual app: open a new screen to first paint"
        figure.ratio = figure.value / figure.baseline
        self.add(figure)
        note = f"{loaded:,} rows; median of {len(sorts)} presses, worst {max(sorts):.3f} s"
        self.add(absolute_figure(names[1][0], "s", sorts, 0.1, note=note))
        note = f"median of {len(filters)} presses, worst {max(filters):.3f} s"
        self.add(absolute_figure(names[2][0], "s", filters, 0.1, note=note))

    def cli(self) -> None:
        name = "ht-dash --demo status --json: wall time"
        status = [HT_DASH, "--demo", "status", "--json"]
        floor = [PYTHON, str(Path(__file__).with_name("baseline_cli.py"))]
        for argv in (status, floor):  # warm-up
            run_child(argv, self.env, pty=False)
        walls, base = [], []
        for _ in range(self.reps + 4):
            base.append(run_child(floor, self.env, pty=False).wall_s)
            run = run_child(status, self.env, pty=False)
            if run.returncode != 0:
                self.unavailable([(name, "s")], f"exit {run.returncode}: {run.output_tail}")
                return
            walls.append(run.wall_s)
        check = (
            "import sys; from ht_dash.cli import main; main(['--demo', 'status', '--json']); "
            "sys.stderr.write(','.join(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'textual', 'keyring', 'platformdirs'})))"
        )
        loaded = run_child([PYTHON, "-c", check], self.env, pty=False).output_tail.strip()
        figure = ratio_figure(
            name, "s", walls, base, "an async CLI: one httpx GET, JSON out (baseline_cli.py)", 1.5
        )
        if "textual" in loaded:
            figure.ok = False
        figure.note = f"loads textual: {'YES' if 'textual' in loaded else 'no'}" + (
            f"; also loads {loaded}" if loaded.replace("textual", "").strip(",") else ""
        )
        self.add(figure)

    def requests(self) -> None:
        run = run_child(
            [PYTHON, PROBE, "requests", "--out", "{out}"], self.env, pty=False, timeout=180
        )
        try:
            result = checked(run, "requests per screen")
        except ProbeError as exc:
            self.unavailable([("requests per minute per screen", "req/min")], str(exc))
            return
        for mode, figures in result["screens"].items():
            per_minute = figures["per_minute"]
            paths = ", ".join(
                f"{p.rsplit('/account', 1)[-1]} {n:g}"
                for p, n in figures["by_path_per_minute"].items()
            )
            note = f"{figures['on_open']} on opening; per minute: {paths or 'none'}"
            # a live feed (screen 4's req/min, screen 7's request log: pausable, polled every few
            # seconds) sends 60/interval; the screen's slower feeds add their own 60/interval
            feeds = figures["feeds"].values()
            live = sum(
                60 / f["interval_s"] for f in feeds if f["pausable"] and f["interval_s"] <= 10
            )
            other = round(sum(60 / f["interval_s"] for f in feeds) - live, 1)
            if live:
                ok = abs(per_minute - live - other) <= 0.1 * live
                budget = f"live ≈ {live:g}/min (60/interval)"
                if other:
                    budget += f" + {other:g}/min other feeds"
            else:
                ok = per_minute <= 1.0
                budget = "≤ 1/min"
            self.add(
                Figure(
                    f"requests per minute at defaults, screen {mode}",
                    "req/min",
                    per_minute,
                    budget=budget,
                    ok=ok,
                    note=note,
                )
            )

    def meter(self) -> None:
        names = [
            ("meter: added latency p50 on loopback", "ms"),
            ("meter: throughput through the proxy", "req/s"),
            ("meter: records lost", "records"),
        ]
        added, direct, rps, lost = [], [], [], []
        for _ in range(self.reps):
            run = run_child(
                [PYTHON, str(BENCH_DIR / "meter_bench.py"), "--out", "{out}"], self.env, pty=False
            )
            try:
                result = checked(run, "meter benchmark")
            except ProbeError as exc:
                self.unavailable(names, str(exc))
                return
            added.append(result["added_p50_ms"])
            direct.append(result["direct_p50_ms"])
            rps.append(result["throughput_rps"])
            lost.append(result["lost"])
        figure = absolute_figure(names[0][0], "ms", added, 1.0)
        figure.baseline, figure.baseline_name, figure.baseline_samples = (
            statistics.median(direct),
            "direct to the upstream, p50",
            direct,
        )
        figure.note = "through-the-meter p50 minus direct p50, same run"
        self.add(figure)
        self.add(
            absolute_figure(
                names[1][0],
                "req/s",
                rps,
                1000.0,
                below=False,
                note="32 connections, 5,000 requests; the biggest plan allows 500/min",
            )
        )
        self.add(
            absolute_figure(
                names[2][0],
                "records",
                [float(n) for n in lost],
                0.0,
                strict=False,
                note="every request through the proxy is in the database",
            )
        )


def run_size() -> str:
    from harness import TERM_SIZE

    return f"{TERM_SIZE[0]}x{TERM_SIZE[1]} pty"


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value:.3f} s"
    if unit in ("ms",):
        return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit in ("req/s", "records"):
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}"


def format_line(f: Figure) -> str:
    if f.na:
        return f"{f.name:<62}  n/a ({f.na})"
    ratio = "—" if f.ratio is None else f"{f.ratio:.2f}×"
    base = _num(f.baseline, f.unit)
    line = (
        f"{f.name:<62} {_num(f.value, f.unit):>12}  base {base:>11}  ratio {ratio:>6}"
        f"  budget {f.budget:<24} {f.verdict}"
    )
    return line + (f"\n{'':<4}{f.note}" if f.note else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="one repetition, 5 s CPU windows (a smoke run)"
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (default 3)")
    parser.add_argument(
        "--cpu-seconds",
        type=float,
        default=10.0,
        help="length of each CPU window (the issue's 30 s: --cpu-seconds 30; default 10)",
    )
    parser.add_argument(
        "--only", default=",".join(GROUPS), help=f"comma-separated subset of {','.join(GROUPS)}"
    )
    parser.add_argument(
        "--json", type=Path, default=BENCH_DIR / "results.json", help="where to write the results"
    )
    args = parser.parse_args(argv)
    reps, cpu_seconds = (1, 5.0) if args.quick else (args.reps, args.cpu_seconds)
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    print(
        f"ht-dash benchmark · {reps} repetition(s) · CPU windows {cpu_seconds:g} s · medians",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="ht-dash-bench-home-") as home:
        bench = Bench(reps, cpu_seconds, Path(home))
        for group in groups:
            method: Callable[[], None] = getattr(bench, group)
            try:
                method()
            except ProbeError as exc:
                bench.unavailable([(group, "")], str(exc))
            except Exception as exc:  # one broken figure must not cost the others
                bench.unavailable([(group, "")], f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - started
    over = [f.name for f in bench.figures if f.ok is False]
    missing = [f.name for f in bench.figures if f.na]
    print(
        f"\n{len(bench.figures)} figures in {elapsed:.0f} s: "
        f"{sum(f.ok is True for f in bench.figures)} PASS, {len(over)} OVER, {len(missing)} n/a"
    )
    args.json.write_text(
        json.dumps(
            {
                "elapsed_s": round(elapsed, 1),
                "repetitions": reps,
                "cpu_window_s": cpu_seconds,
                "figures": [asdict(f) | {"verdict": f.verdict} for f in bench.figures],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
