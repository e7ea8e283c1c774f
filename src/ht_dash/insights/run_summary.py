"""What `ht-dash run -- CMD` prints at the end, like `time` does for CPU: the command's API traffic.

Pure arithmetic over the records the run's meter made (one per request); no Textual, no I/O.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ht_dash.api.models import EndpointUsage, Plan
from ht_dash.insights import format as fmt
from ht_dash.insights.hints import Hint, compute_hints
from ht_dash.insights.pacing import pacing_advice, pacing_text
from ht_dash.meter.recorder import Record, is_error
from ht_dash.meter.source import nearest_rank

TOP_ENDPOINTS = 5


@dataclass(frozen=True, slots=True)
class EndpointLine:
    method: str
    path: str
    requests: int
    p95_ms: float


@dataclass(frozen=True, slots=True)
class RunSummary:
    seconds: float
    requests: int
    errors: int
    throttled: int
    longest_retry_after: float | None
    peak_per_minute: int
    mean_per_minute: float
    limit_per_minute: int | None
    tokens_spent: int
    plan: Plan | None
    endpoints: tuple[EndpointLine, ...]
    hints: tuple[Hint, ...]
    pacing: str | None = None  # bursts over the limit and the setting that avoids them

    @property
    def quota_share(self) -> float | None:
        return self.tokens_spent / self.plan.quota if self.plan and self.plan.quota else None

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "errors": self.errors,
            "throttled": self.throttled,
            "longest_retry_after_s": self.longest_retry_after,
            "peak_per_minute": self.peak_per_minute,
            "mean_per_minute": round(self.mean_per_minute, 2),
            "limit_per_minute": self.limit_per_minute,
            "tokens_spent": self.tokens_spent,
            "plan": None if self.plan is None else self.plan.id,
            "quota": None if self.plan is None else self.plan.quota,
            "quota_period": None if self.plan is None else self.plan.quota_period,
            "quota_share": None if self.quota_share is None else round(self.quota_share, 6),
            "endpoints": [
                {"method": e.method, "path": e.path, "requests": e.requests, "p95_ms": e.p95_ms}
                for e in self.endpoints
            ],
            "hints": [
                {"severity": h.severity, "endpoint": h.key, "title": h.title, "advice": h.advice}
                for h in self.hints
            ],
            "pacing": self.pacing,
        }

    def lines(self) -> list[str]:
        """The summary as text, one fact a line, for stderr."""
        out = [
            f"ht-dash run: {self.requests:,} requests in {fmt.duration(self.seconds)} · "
            f"{self.errors:,} errors · {self.throttled:,} {fmt.THROTTLED}"
            + (
                f" (longest retry_after {self.longest_retry_after:g} s)"
                if self.longest_retry_after
                else ""
            )
        ]
        limit = f" (limit {self.limit_per_minute})" if self.limit_per_minute else ""
        out.append(
            f"  req/min: peak {self.peak_per_minute:,}, mean {self.mean_per_minute:,.1f}{limit}"
        )
        spent = f"  usage tokens spent: {self.tokens_spent:,}"
        if self.plan is not None and self.quota_share is not None:
            period = "daily" if self.plan.quota_period == "day" else "monthly"
            spent += (
                f" = {fmt.percent(self.quota_share, 2)} of the {self.plan.name} plan's {period} "
                f"quota ({self.plan.quota:,})"
            )
        else:
            spent += " (declare your plan for its share of the quota: ht-dash plan set ID)"
        out.append(spent)
        if self.endpoints:
            out.append("  top endpoints:")
            width = max(len(f"{e.method} {e.path}") for e in self.endpoints)
            for e in self.endpoints:
                key = f"{e.method} {e.path}"
                p95 = f"{e.p95_ms:,.0f}" if e.p95_ms >= 10 else f"{e.p95_ms:.1f}"
                out.append(f"    {key:<{width}}  {e.requests:>7,}  p95 {p95} ms")
        for hint in self.hints:
            out.append(f"  hint: {hint.key}: {hint.title} — {hint.advice}")
        if self.pacing:
            out.append(f"  pacing: {self.pacing}")
        return out


def summarise(
    records: Sequence[Record], *, seconds: float, plan: Plan | None, started: float
) -> RunSummary:
    """The summary of one run's records; `started` is the run's start (unix seconds)."""
    per_minute = Counter(int((r.ts - started) // 60) for r in records)
    minutes = max(seconds / 60, 1.0)  # a run shorter than a minute: its requests in that minute
    throttled = [r for r in records if r.status == 429]
    waits = [r.retry_after for r in throttled if r.retry_after is not None]
    by_endpoint: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        by_endpoint[(r.method, r.path)].append(r)
    lines = []
    usages = []
    for (method, path), group in sorted(by_endpoint.items(), key=lambda kv: -len(kv[1])):
        latencies = sorted(r.latency_ms for r in group)
        lines.append(EndpointLine(method, path, len(group), nearest_rank(latencies, 0.95)))
        times = sorted(r.ts for r in group)
        usages.append(
            EndpointUsage(
                method=method,
                path=path,
                requests=len(group),
                errors=sum(1 for r in group if is_error(r.status)),
                throttled=sum(1 for r in group if r.status == 429),
                avg_latency_ms=sum(latencies) / len(latencies),
                calls_per_hour=len(group) / max(seconds / 3600, 1 / 3600),
                mean_interval_s=(times[-1] - times[0]) / (len(times) - 1)
                if len(times) > 1
                else None,
            )
        )
    return RunSummary(
        seconds=seconds,
        requests=len(records),
        errors=sum(1 for r in records if is_error(r.status)),
        throttled=len(throttled),
        longest_retry_after=max(waits) if waits else None,
        peak_per_minute=max(per_minute.values(), default=0),
        mean_per_minute=len(records) / minutes,
        limit_per_minute=plan.rate_limit_per_minute if plan else None,
        tokens_spent=sum(1 for r in records if 200 <= r.status < 300),
        plan=plan,
        endpoints=tuple(lines[:TOP_ENDPOINTS]),
        hints=tuple(compute_hints(usages, seconds / 3600)),
        pacing=_pacing(records, seconds, started, plan),
    )


def _pacing(
    records: Sequence[Record], seconds: float, started: float, plan: Plan | None
) -> str | None:
    """The pacing advice for this run's per-second counts, when a minute went over the limit."""
    limit = plan.rate_limit_per_minute if plan else None
    if not limit or not records:
        return None
    length = max(1, math.ceil(seconds), *(int(r.ts - started) + 1 for r in records))
    counts, refused = [0] * length, [0] * length
    for r in records:
        second = min(length - 1, max(0, int(r.ts - started)))
        counts[second] += 1
        refused[second] += r.status == 429
    advice = pacing_advice(counts, limit, refused)
    return None if advice is None else pacing_text(advice)
