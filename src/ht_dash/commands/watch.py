"""`ht-dash watch`: a one-line live ticker (req/min vs limit, sparkline, 429s, quota) for tmux.

On a terminal the line is redrawn in place; piped, one line per sample. Polls never overlap: the
next one is scheduled only after the previous finished. A 429 waits its `retry_after`; network and
server trouble is shown on the line and retried with back-off. Ctrl-C exits with status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, TextIO

from ht_dash.commands import _common as common
from ht_dash.insights import format as fmt
from ht_dash.sanitize import terminal_safe

if TYPE_CHECKING:
    from ht_dash.api.models import LiveUsage, Subscription
    from ht_dash.api.source import AccountSource
    from ht_dash.clock import Clock
    from ht_dash.runtime import Runtime

INTERVAL_RANGE = (1.0, 3600.0)
WINDOW_MINUTES = 15
SPARK_WIDTH = 15
SUBSCRIPTION_REFRESH_S = 60.0
MAX_BACKOFF_S = 60.0
QUOTA_RETRY_S = 300.0

# Injectable for tests: awaited between polls.
SLEEP: Callable[[float], Awaitable[object]] = asyncio.sleep

_STYLES = {"green": "32", "yellow": "33", "red": "31", "dim": "2"}


def interval_arg(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    low, high = INTERVAL_RANGE
    if not low <= seconds <= high:
        raise argparse.ArgumentTypeError(
            f"must be between {low:g} and {high:g} seconds, got {text}"
        )
    return seconds


# watch waits out network and server problems, 429s and a spent quota (the line says so): none
# of them ends it.
WATCH_EXIT_CODES = """\
exit codes:
  0 stopped with Ctrl-C         3 authentication problem (no token, 401/403)
  1 unexpected error            6 not available here (the API does not offer it, nothing recorded)
  2 usage error"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = common.add_command(
        subparsers,
        "watch",
        help="live one-line ticker: req/min, sparkline, 429s, quota",
        description="A compact live line: requests per minute against the limit, a sparkline of "
        "the last 15 minutes, 429s (requests refused) in that window and the share of the usage "
        "quota spent. Redrawn in place on a terminal, one line per sample when piped. "
        "Ctrl-C stops it (exit status 0). In a narrow pane the sparkline goes first, then the "
        "streams and the time; the 429s and the quota stay.",
        has_json=False,
        exit_codes=WATCH_EXIT_CODES,
    )
    parser.add_argument(
        "--interval",
        type=interval_arg,
        metavar="S",
        help="seconds between samples, 1-3600 (default: live_interval setting, 2)",
    )
    parser.set_defaults(handler=run)


# ---- the line ------------------------------------------------------------------------------------


def per_minute(live: LiveUsage, width: int = SPARK_WIDTH) -> list[float]:
    """The live series as req/min per minute (newest last), at most `width` values."""
    seconds = live.interval_seconds
    step = max(1, 60 // seconds)
    buckets = [b.requests for b in live.series]
    minutes: list[float] = []
    end = len(buckets)
    while end > 0 and len(minutes) < width:
        chunk = buckets[max(0, end - step) : end]
        minutes.append(sum(chunk) * 60 / (len(chunk) * seconds))
        end -= step
    return minutes[::-1]


def _level(fraction: float) -> str:
    return "red" if fraction >= 0.95 else "yellow" if fraction >= 0.8 else "green"


class Segment(NamedTuple):
    text: str
    style: str = ""  # a style name of _STYLES, or ""
    shed: int = 0  # in a narrow pane the highest goes first; 0 stays (cut only as a last resort)


SHED_SPARKLINE, SHED_STREAMS, SHED_TIME = 3, 2, 1


def sample_segments(live: LiveUsage, subscription: Subscription | None) -> list[Segment]:
    segments: list[Segment] = []
    limit = live.limit_per_minute
    if limit:
        fraction = live.requests_per_minute / limit
        rate = f"req/min {live.requests_per_minute}/{limit} ({fmt.percent(fraction, 0)})"
        segments.append(Segment(rate, _level(fraction)))
    else:
        segments.append(Segment(f"req/min {live.requests_per_minute} (no limit)"))
    segments.append(Segment(common.sparkline(per_minute(live), top=limit), "", SHED_SPARKLINE))
    throttled = live.throttled_in_window
    window = fmt.duration(WINDOW_MINUTES * 60)
    segments.append(Segment(f"{fmt.THROTTLED} {throttled}/{window}", "red" if throttled else ""))
    if subscription is not None:
        fraction = subscription.quota_fraction
        segments.append(Segment(f"quota {fmt.percent(fraction)}", _level(fraction)))
    if live.streams is not None:
        s = live.streams
        segments.append(
            Segment(f"streams {s.connections_open}/{s.connection_limit}", "", SHED_STREAMS)
        )
    return segments


def fit_segments(parts: list[Segment], room: int) -> list[Segment]:
    """The parts that fit in `room` columns (two apart), the most sheddable left out first."""

    def width(kept: list[Segment]) -> int:
        return sum(len(part.text) for part in kept) + 2 * max(0, len(kept) - 1)

    kept = list(parts)
    for shed in sorted({part.shed for part in parts if part.shed}, reverse=True):
        if width(kept) <= room:
            break
        kept = [part for part in kept if part.shed != shed]
    return kept


class LineWriter:
    """Redraws one line in place on a terminal; writes one line per sample otherwise."""

    def __init__(
        self, out: TextIO, *, tty: bool, color: bool, width: Callable[[], int] | None = None
    ):
        self.out = out
        self.tty = tty
        self.color = color
        self._width = width or (lambda: shutil.get_terminal_size((80, 24)).columns)
        self._shown = 0

    def show(self, at: datetime, segments: list[Segment]) -> None:
        stamp = f"{at:%H:%M:%S}" if self.tty else fmt.iso(at)
        parts = [Segment(stamp, "dim", SHED_TIME)]
        for text, *rest in segments:  # server text is data: no terminal control gets through
            parts.append(Segment(terminal_safe(text), *rest))
        if not self.tty:
            self.out.write("  ".join(part.text for part in parts) + "\n")
            self.out.flush()
            return
        room = max(10, self._width() - 1)
        parts = fit_segments(parts, room)
        rendered, visible = [], 0
        for index, (text, style, _) in enumerate(parts):
            for piece, piece_style in (("  " if index else "", ""), (text, style)):
                piece = piece[: max(0, room - visible)]
                visible += len(piece)
                code = _STYLES.get(piece_style) if self.color and piece else None
                rendered.append(f"\x1b[{code}m{piece}\x1b[0m" if code else piece)
        padding = " " * max(0, self._shown - visible)
        self.out.write("\r" + "".join(rendered) + padding)
        self.out.flush()
        self._shown = visible

    def finish(self) -> None:
        if self.tty and self._shown:
            self.out.write("\n")
            self.out.flush()
            self._shown = 0


# ---- the loop ------------------------------------------------------------------------------------


async def watch(
    source: AccountSource,
    writer: LineWriter,
    *,
    interval: float,
    clock: Clock,
    sleep: Callable[[float], Awaitable[object]],
    max_polls: int | None = None,
) -> None:
    """Poll until cancelled (or `max_polls`); auth, bad-request and not-available errors raise."""
    from ht_dash.api.errors import (
        BadPayload,
        NetworkError,
        NotAvailable,
        QuotaExhausted,
        RateLimited,
        ServerError,
    )

    subscription: Subscription | None = None
    subscription_available = True
    subscription_age = SUBSCRIPTION_REFRESH_S  # due on the first poll
    last: LiveUsage | None = None
    failures = 0
    polls = 0
    while max_polls is None or polls < max_polls:
        polls += 1
        try:
            if subscription_available and subscription_age >= SUBSCRIPTION_REFRESH_S:
                try:
                    subscription = await source.subscription()
                    subscription_age = 0.0
                except NotAvailable:
                    subscription_available = False
            last = await source.live(window_minutes=WINDOW_MINUTES)
        except RateLimited as exc:
            failures += 1
            delay = exc.retry_after if exc.retry_after is not None else _backoff(interval, failures)
            _show_problem(writer, clock, "rate-limited (429)", delay, last)
        except QuotaExhausted as exc:
            failures += 1
            delay = QUOTA_RETRY_S
            if exc.resets_at is not None:
                delay = max(
                    interval, min(QUOTA_RETRY_S, (exc.resets_at - clock.now()).total_seconds())
                )
            _show_problem(writer, clock, f"quota spent: {exc.hint}", delay, last)
        except (NetworkError, ServerError, BadPayload) as exc:
            failures += 1
            delay = _backoff(interval, failures)
            _show_problem(writer, clock, exc.message, delay, last)
        else:
            failures = 0
            delay = interval
            writer.show(last.at, sample_segments(last, subscription))
        if max_polls is not None and polls >= max_polls:
            break
        await sleep(delay)
        subscription_age += delay


def _backoff(interval: float, failures: int) -> float:
    return min(MAX_BACKOFF_S, max(interval, 1.0) * 2 ** (failures - 1))


def _show_problem(
    writer: LineWriter, clock: Clock, what: str, delay: float, last: LiveUsage | None
) -> None:
    segments = [Segment(f"⚠ {what} — retrying in {fmt.duration(delay)}", "yellow")]
    if last is not None:
        limit = f"/{last.limit_per_minute}" if last.limit_per_minute else ""
        last_rate = f"last req/min {last.requests_per_minute}{limit} at {last.at:%H:%M:%S}"
        segments.append(Segment(last_rate, "dim", SHED_SPARKLINE))
    writer.show(clock.now(), segments)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    interval = args.interval if args.interval is not None else runtime.settings.live_interval
    tty = sys.stdout.isatty()
    color = tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    writer = LineWriter(sys.stdout, tty=tty, color=color)

    async def main() -> None:
        source = common.open_source(runtime)
        try:
            await watch(source, writer, interval=interval, clock=runtime.clock, sleep=SLEEP)
        finally:
            await source.aclose()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        writer.finish()
        return 0
    except BrokenPipeError:
        common.silence_stdout()
        return 0
    except Exception as exc:
        writer.finish()
        return common.report_error(exc, as_json=False, debug=runtime.debug)
    return 0
