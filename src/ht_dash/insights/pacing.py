"""Pacing advice from the meter's per-second counts, free of Textual.

A *burst* is a maximal run of seconds in which the requests of the trailing 60 s exceed the plan's
per-minute limit (the service's limit is a sliding minute as far as a bot can tell). The advice
names how many bursts there were, how many 429s they caused, and two ways to stay under the limit:

- steady spacing: at least 60 / limit seconds between requests;
- a token bucket of `burst` tokens refilled at `limit - burst` per minute. Any 60 s then holds at
  most `burst + (limit - burst) = limit` requests, so a sliding minute never goes over.

`pacing_advice(...)` is what screen 4 and `ht-dash run`'s summary call; `pacing_text(...)` is the
sentence they show; `pacing_summary(counts)` does both for a source's `SecondCounts` and also says
so when nothing went over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ht_dash.api.models import SecondCounts
from ht_dash.insights import format as fmt

WINDOW_S = 60
# The bucket keeps a tenth of the limit for bursts, at least one request.
BURST_SHARE = 10


@dataclass(frozen=True, slots=True)
class Burst:
    start_s: int  # index of the first second over the limit
    end_s: int  # index of the last second over the limit (inclusive)
    peak_per_minute: int  # the highest trailing-60 s count during the burst
    throttled: int  # 429s in the burst's seconds


@dataclass(frozen=True, slots=True)
class PacingAdvice:
    limit_per_minute: int
    window_s: int
    bursts: tuple[Burst, ...]
    throttled: int  # 429s the bursts caused (counted, or estimated without 429 counts)
    estimated: bool  # True when the 429s are an estimate from the request counts alone
    spacing_s: float  # steady spacing that keeps under the limit
    bucket_rate_per_minute: int
    bucket_burst: int


def trailing_sums(counts: Sequence[int], window: int = WINDOW_S) -> list[int]:
    """For each second, the requests in the `window` seconds that end with it."""
    sums: list[int] = []
    total = 0
    for i, count in enumerate(counts):
        total += count
        if i >= window:
            total -= counts[i - window]
        sums.append(total)
    return sums


def find_bursts(
    counts: Sequence[int], limit_per_minute: int, throttled: Sequence[int] | None = None
) -> list[Burst]:
    """Maximal runs of seconds whose trailing minute holds more than `limit_per_minute`."""
    bursts: list[Burst] = []
    start = None
    peak = 0
    sums = trailing_sums(counts)
    for i, total in enumerate([*sums, 0]):  # a sentinel closes a burst running to the end
        if total > limit_per_minute and i < len(sums):
            if start is None:
                start, peak = i, total
            peak = max(peak, total)
        elif start is not None:
            hits = sum(throttled[start:i]) if throttled is not None else 0
            bursts.append(Burst(start, i - 1, peak, hits))
            start = None
    return bursts


def estimated_rejections(counts: Sequence[int], limit_per_minute: int) -> list[int]:
    """Per second, the requests a sliding-minute limiter would refuse (refused ones not counted)."""
    accepted = [0] * len(counts)
    rejected = [0] * len(counts)
    in_window = 0
    for i, count in enumerate(counts):
        if i >= WINDOW_S:
            in_window -= accepted[i - WINDOW_S]
        allowed = max(0, min(count, limit_per_minute - in_window))
        accepted[i], rejected[i] = allowed, count - allowed
        in_window += allowed
    return rejected


def bucket_setting(limit_per_minute: int) -> tuple[int, int]:
    """(refill per minute, burst) of a token bucket that never exceeds the limit in any minute."""
    burst = max(1, limit_per_minute // BURST_SHARE)
    return max(1, limit_per_minute - burst), burst


def pacing_advice(
    per_second_counts: Sequence[int],
    limit_per_min: int | None,
    throttled_per_second: Sequence[int] | None = None,
) -> PacingAdvice | None:
    """Advice when some minute of the series went over the limit; None when none did (or no limit).

    `per_second_counts[i]` is the number of requests in second i of the window, oldest first;
    `throttled_per_second`, when the meter has it, the 429s among them.
    """
    if not limit_per_min or limit_per_min <= 0 or not per_second_counts:
        return None
    if throttled_per_second is not None and len(throttled_per_second) != len(per_second_counts):
        raise ValueError("throttled_per_second must have one count per second")
    estimated = throttled_per_second is None
    throttled = (
        estimated_rejections(per_second_counts, limit_per_min)
        if throttled_per_second is None
        else throttled_per_second
    )
    bursts = find_bursts(per_second_counts, limit_per_min, throttled)
    if not bursts:
        return None
    rate, burst = bucket_setting(limit_per_min)
    return PacingAdvice(
        limit_per_minute=limit_per_min,
        window_s=len(per_second_counts),
        bursts=tuple(bursts),
        throttled=sum(b.throttled for b in bursts),
        estimated=estimated,
        spacing_s=WINDOW_S / limit_per_min,
        bucket_rate_per_minute=rate,
        bucket_burst=burst,
    )


def _spacing_words(seconds: float) -> str:
    text = f"{seconds:.2f}".rstrip("0").rstrip(".")
    return f"{text} s"


def pacing_text(advice: PacingAdvice) -> str:
    """One sentence: what went over, what it cost, and the setting that would have avoided it."""
    count = len(advice.bursts)
    bursts = f"{count} burst{'s' if count != 1 else ''}"
    about = "about " if advice.estimated else ""
    hits = f"{about}{advice.throttled} 429{'s' if advice.throttled != 1 else ''}"
    verb = "would have caused" if advice.estimated else "caused"
    return (
        f"{bursts} over {advice.limit_per_minute}/min in {fmt.duration(advice.window_s)} "
        f"{verb} {hits}; a token bucket of {advice.bucket_rate_per_minute}/min with burst "
        f"{advice.bucket_burst}, or ≥ {_spacing_words(advice.spacing_s)} between requests, "
        f"would have avoided them"
    )


def pacing_summary(counts: SecondCounts, *, with_peak: bool = True) -> str:
    """What screen 4 and `ht-dash run` print: the advice, or how close the bot came.
    `with_peak=False` where the peak req/min is already shown (screen 4's sparkline says
    `live_peak`'s figure; per-second counting finds a busier minute than per-bucket counting)."""
    window = fmt.duration(len(counts.requests))
    if not counts.requests:
        return "No per-second counts yet."
    limit = counts.limit_per_minute
    peak = max(trailing_sums(counts.requests))
    if not limit:
        if not with_peak:
            return f"No per-minute limit on this plan: nothing to pace in {window}."
        return (
            f"No per-minute limit on this plan; the busiest minute in {window} had {peak} requests."
        )
    advice = pacing_advice(counts.requests, limit, counts.throttled)
    if advice is None:
        busiest = f" (busiest: {peak}/min)" if with_peak else ""
        return (
            f"No minute over {limit}/min in {window}{busiest}: "
            "the bot's pacing keeps under the limit."
        )
    return pacing_text(advice)
