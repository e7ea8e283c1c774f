"""`ht-dash watch`: samples a scripted series, redraws in place on a terminal, survives trouble."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import timedelta

import httpx
import pytest

from ht_dash.api import contract
from ht_dash.api.models import StreamUsage
from ht_dash.clock import FixedClock
from ht_dash.commands import watch as watch_cmd
from test_cli_support import (
    NOW,
    ScriptedBackend,
    install_scripted,
    live,
    run_cli,
    subscription,
)


@pytest.fixture
def scripted(monkeypatch) -> ScriptedBackend:
    return install_scripted(monkeypatch)


# Per-minute rates 0, 4, 8 … 56 req/min (four 15-second buckets of k requests in minute k),
# scaled to the 60 req/min limit.
RAMP = [k for k in range(15) for _ in range(4)]
RAMP_SPARK = "▁▁▂▂▃▃▄▄▅▅▆▆▇▇█"


class Stop:
    """A fake sleep: records each wait, raises KeyboardInterrupt (Ctrl-C) on call number `after`."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) >= self.after:
            raise KeyboardInterrupt


@pytest.fixture
def stop_after(monkeypatch):
    def install(after: int) -> Stop:
        stop = Stop(after)
        monkeypatch.setattr(watch_cmd, "SLEEP", stop)
        return stop

    return install


def test_sparkline_per_minute_scaled_to_the_limit():
    assert watch_cmd.per_minute(live(series=RAMP)) == [4.0 * k for k in range(15)]
    segments = watch_cmd.sample_segments(live(series=RAMP), None)
    assert segments[1].text == RAMP_SPARK


def test_piped_watch_prints_one_line_per_sample_and_ctrl_c_exits_0(
    scripted: ScriptedBackend, capsys, stop_after
):
    scripted.live_samples = [
        live(rpm=12, series=RAMP, throttled=0, at=NOW),
        live(rpm=75, series=RAMP[4:] + [20] * 4, throttled=9, at=NOW + timedelta(seconds=5)),
        live(rpm=30, series=[0] * 60, throttled=9, at=NOW + timedelta(seconds=10)),
    ]
    stop = stop_after(3)
    code, out, err = run_cli(capsys, "--demo", "watch", "--interval", "5")
    assert code == 0, err
    assert err == ""
    assert stop.waits == [5.0, 5.0, 5.0]
    lines = out.splitlines()
    assert lines == [
        f"2026-11-25T14:03:00Z  req/min 12/60 (20 %)  {RAMP_SPARK}  429s 0/15 min  quota 24.7 %",
        "2026-11-25T14:03:05Z  req/min 75/60 (125 %)  ▁▂▂▂▃▃▃▄▄▅▅▅▆▆█  429s 9/15 min  quota 24.7 %",
        "2026-11-25T14:03:10Z  req/min 30/60 (50 %)  ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁  429s 9/15 min  quota 24.7 %",
    ]
    assert "\r" not in out and "\x1b" not in out  # no redraw tricks or colours into a pipe


def test_transient_errors_are_shown_and_retried_with_backoff(
    scripted: ScriptedBackend, capsys, stop_after
):
    scripted.faults["/account/usage/live"] = [
        httpx.Response(503, text="<html>down</html>"),
        httpx.Response(503, text="<html>down</html>"),
        httpx.Response(200, text="not json"),
    ]
    stop = stop_after(5)
    code, out, _ = run_cli(capsys, "--demo", "watch", "--interval", "2")
    assert code == 0
    assert stop.waits == [2.0, 4.0, 8.0, 2.0, 2.0]  # back-off doubles, then back to the interval
    lines = out.splitlines()
    assert "⚠ the server answered 503" in lines[0] and "retrying in 2 s" in lines[0]
    assert "retrying in 4 s" in lines[1]
    assert "not JSON" in lines[2] and "retrying in 8 s" in lines[2]
    assert "req/min 42/60" in lines[3] and "req/min 42/60" in lines[4]


def test_a_429_waits_retry_after_and_shows_the_last_good_value(
    scripted: ScriptedBackend, capsys, stop_after
):
    scripted.faults["/account/usage/live"] = [
        httpx.Response(200, json=contract.dump_live(live())),
        httpx.Response(
            429, json={"error": "rate_limit_exceeded", "message": "Too many", "retry_after": 17}
        ),
    ]
    stop = stop_after(3)
    code, out, _ = run_cli(capsys, "--demo", "watch", "--interval", "3")
    assert code == 0
    assert stop.waits == [3.0, 17.0, 3.0]
    lines = out.splitlines()
    assert "rate-limited (429)" in lines[1] and "retrying in 17 s" in lines[1]
    assert "last req/min 42/60 at 14:03:00" in lines[1]


def test_a_rejected_token_stops_watch_with_exit_3(scripted: ScriptedBackend, capsys, stop_after):
    scripted.set_fault("/account", 401, {"statusCode": 401, "message": "Unauthorized"})
    stop = stop_after(100)
    code, _, err = run_cli(capsys, "--demo", "watch")
    assert code == 3
    assert stop.waits == []
    assert err.startswith("ht-dash: the token was rejected (401)")


def test_polls_never_overlap_and_the_subscription_is_refreshed_every_minute():
    class CountingSource:
        name = "api"

        def __init__(self) -> None:
            self.in_flight = 0
            self.most_in_flight = 0
            self.subscription_calls = 0
            self.live_calls = 0

        async def _enter(self) -> None:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            await asyncio.sleep(0)
            self.in_flight -= 1

        async def subscription(self):
            await self._enter()
            self.subscription_calls += 1
            return subscription()

        async def live(self, window_minutes: int = 15):
            await self._enter()
            self.live_calls += 1
            return live()

    source = CountingSource()
    out = io.StringIO()
    writer = watch_cmd.LineWriter(out, tty=False, color=False)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    asyncio.run(
        watch_cmd.watch(
            source, writer, interval=5, clock=FixedClock(NOW), sleep=record, max_polls=13
        )
    )
    assert source.most_in_flight == 1
    assert source.live_calls == 13
    assert source.subscription_calls == 2  # poll 1, and poll 13 (60 s later)
    assert len(out.getvalue().splitlines()) == 13


def test_on_a_terminal_the_line_is_redrawn_in_place_and_cut_to_the_width():
    out = io.StringIO()
    writer = watch_cmd.LineWriter(out, tty=True, color=False, width=lambda: 40)
    writer.show(NOW, watch_cmd.sample_segments(live(rpm=42), subscription()))
    first = out.getvalue()
    # Sparkline and time give way first; what is left is cut only as a last resort.
    assert first.startswith("\rreq/min 42/60 (70 %)  429s 3/15 min  qu")
    assert len(first) == 1 + 39 and "\n" not in first
    writer.show(NOW, [("short", "")])
    second = out.getvalue()[len(first) :]
    assert second == "\r14:03:00  short" + " " * (39 - len("14:03:00  short"))  # old text wiped
    writer.finish()
    assert out.getvalue().endswith("\n")


@pytest.mark.parametrize(
    ("width", "shown", "gone"),
    [
        (200, ["14:03:00", "req/min 42/60", "429s 3/15 min", "quota 24.7 %", "streams 2/5"], []),
        (77, ["14:03:00", "req/min 42/60", "429s 3/15 min", "quota 24.7 %", "streams 2/5"], ["▁"]),
        (61, ["14:03:00", "req/min 42/60", "429s 3/15 min", "quota 24.7 %"], ["▁", "streams"]),
        (53, ["req/min 42/60", "429s 3/15 min", "quota 24.7 %"], ["▁", "streams", "14:03"]),
    ],
)
def test_a_narrow_pane_drops_the_sparkline_first_and_keeps_429s_and_quota(width, shown, gone):
    out = io.StringIO()
    streams = StreamUsage(connections_open=2, connection_limit=5, messages_per_minute=900)
    segments = watch_cmd.sample_segments(live(rpm=42, streams=streams), subscription())
    watch_cmd.LineWriter(out, tty=True, color=False, width=lambda: width).show(NOW, segments)
    line = out.getvalue()
    assert len(line) <= width
    for text in shown:
        assert text in line, (width, line)
    for text in gone:
        assert text not in line, (width, line)


def test_colours_only_when_asked_and_levels_follow_the_limit():
    coloured = io.StringIO()
    watch_cmd.LineWriter(coloured, tty=True, color=True, width=lambda: 200).show(
        NOW, watch_cmd.sample_segments(live(rpm=58), subscription(tokens_used=10_000))
    )
    text = coloured.getvalue()
    assert "\x1b[31mreq/min 58/60 (97 %)" in text  # red from 95 %
    assert "\x1b[32mquota 20.0 %" in text  # green
    plain = io.StringIO()
    watch_cmd.LineWriter(plain, tty=True, color=False, width=lambda: 200).show(
        NOW, watch_cmd.sample_segments(live(rpm=58), None)
    )
    assert "\x1b" not in plain.getvalue()
    assert re.search(r"req/min 58/60 \(97 %\)", plain.getvalue())
