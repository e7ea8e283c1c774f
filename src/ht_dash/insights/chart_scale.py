"""Where a daily chart's axis ends: the whole range, or clipped above the other days when a few
days tower over them (an incident day would squash every other day into a one-row band).

The rule, kept here so that every chart and its tests share it: the k highest days (k at most
`MAX_OUTLIERS`) are off the scale when each is more than `CLIP_FACTOR` times the highest of the
other days, and those reach `MIN_CEILING` (below it, e.g. 0 or 1 error a day, every day is legible
at full scale and a clip would only blow single events up to full bars); the axis then fits the
other days and the chart marks the days above it. No Textual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ht_dash.api.models import DailyMetric
from ht_dash.insights.metrics import series

CLIP_FACTOR = 3.0
MAX_OUTLIERS = 3
# Fewer days than this: every day is drawn to scale (a clipped 3-day chart explains nothing).
MIN_DAYS = 5
MIN_CEILING = 5.0


@dataclass(frozen=True, slots=True)
class Clip:
    """The axis covers up to `ceiling` (the highest other day); `outliers` are the days above."""

    ceiling: float
    outliers: tuple[int, ...]  # indices into the values, in order


def clip_for(values: Sequence[float]) -> Clip | None:
    """The clip that keeps the other days readable, or None when every day fits to scale."""
    if len(values) < MIN_DAYS:
        return None
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=True)
    for k in range(1, MAX_OUTLIERS + 1):
        rest_top = values[order[k]]
        if rest_top < MIN_CEILING:  # the other days are a handful of events: nothing is squashed
            return None
        if values[order[k - 1]] > CLIP_FACTOR * rest_top:
            return Clip(float(rest_top), tuple(sorted(order[:k])))
    return None


def clipped(values: Sequence[float], clip: Clip | None) -> list[float]:
    """The values the axis is fitted to: the outliers brought down to the ceiling."""
    if clip is None:
        return list(values)
    return [min(v, clip.ceiling) for v in values]


def chart_series(daily: Sequence[DailyMetric], name: str) -> list[float]:
    """A daily series as a chart draws it: the average latency of a day without requests is no
    data (NaN: no bar, not on the axis), not "0 ms"."""
    values = series(daily, name)
    if name != "latency":
        return values
    return [v if d.requests else math.nan for v, d in zip(values, daily, strict=True)]
