"""How old a panel's data is and what went wrong, in words a user reads at a glance."""

from __future__ import annotations

from datetime import datetime

from ht_dash.api.errors import NotAvailable, QuotaExhausted, RateLimited
from ht_dash.feeds.scheduler import FeedState
from ht_dash.insights.format import ago, duration, when


def describe_problem(state: FeedState, now: datetime) -> str | None:
    error = state.error
    if error is None:
        return None
    retry = state.retry_in_s(now)
    if isinstance(error, RateLimited):
        return (
            f"rate-limited, retrying in {duration(retry)}" if retry is not None else "rate-limited"
        )
    if isinstance(error, QuotaExhausted):
        reset = f"resets at {when(error.resets_at)}" if error.resets_at else "until the reset"
        return f"usage quota spent — {reset}"
    text = error.message
    if retry is not None:
        text += f", retrying in {duration(retry)}"
    return text


NOT_OFFERED_TEXT = "not offered by this API · asked again hourly, r asks now"


def freshness(state: FeedState, now: datetime) -> tuple[str, str]:
    """(text, level) for a panel's subtitle; level is ok | stale | error | loading | paused."""
    if state.not_offered:  # a state of the service, not a failure that retries in N s
        age = state.age_s(now)
        text = NOT_OFFERED_TEXT if age is None else f"updated {ago(age)} · {NOT_OFFERED_TEXT}"
        return text, "paused"
    age = state.age_s(now)
    if isinstance(state.error, NotAvailable) and age is None:  # nothing here can answer: a state
        retry = state.retry_in_s(now)
        again = (
            f"looking again in {duration(retry)}, r now" if retry is not None else "r looks again"
        )
        return f"not available here · {again}", "paused"
    problem = describe_problem(state, now)
    held = state.held_s(now)
    if age is None:
        if problem:
            return f"⚠ {problem}", "error"
        if held is not None:
            return f"rate-limited, asking in {duration(held)}", "stale"
        return ("paused" if state.paused else "loading…"), "loading"
    parts = [f"updated {ago(age)}"]
    level = "ok"
    if state.from_cache:
        parts.insert(0, "offline copy")
        level = "stale"
    elif state.is_stale(now):
        parts.insert(0, "stale")
        level = "stale"
    if state.paused:
        parts.insert(0, "⏸ paused")
        level = "paused"
    if problem:
        parts.append(f"⚠ {problem}")
        level = "error"
    elif held is not None:
        parts.append(f"rate-limited, asking again in {duration(held)}")
        level = "stale" if level == "ok" else level
    elif state.loading:
        parts.append("refreshing…")
    return " · ".join(parts), level
