"""The feed registry: every kind of data the dashboard polls, declared once.

A `FeedSpec` says what a feed is: its `name` (the scheduler's key, the offline copy's key, what a
screen lists in `FEEDS`), how it is fetched from an `AccountSource` given its parameters, the
parameters with their defaults, how often it is polled, whether it pauses with live polling,
whether its last good answer is kept on disk (and how it is written and read back: `codec`),
and which parameter value names that copy (`variant`, e.g. "usage:7d").

The scheduler (`feeds.scheduler`), the offline copies (`feeds.offline`), the feed engine
(`feeds.engine`), the app and the screens read these objects; nobody else spells a feed's name.
Screens change a parameter through the engine: `feeds.set_param(USAGE, timeframe="7d")`.

Adding a feed: a model and its contract (`api/`), a source method, one `FeedSpec` here (and in
`FEEDS` when it is polled; a feed asked once when a view opens goes through `engine.fetch`), and
the screen that lists it.

No Textual here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ht_dash.api import contract
from ht_dash.insights.history_view import FIRST_PAGE_SIZE as HISTORY_FIRST_PAGE

if TYPE_CHECKING:
    from ht_dash.api.source import AccountSource

SLOW_INTERVAL_S = 300.0
SUBSCRIPTION_INTERVAL_S = 30.0  # beside live figures; elsewhere the subscription is slow data

Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Codec:
    """How a feed's model is written to its offline copy and read back."""

    dump: Callable[[Any], Any]
    parse: Callable[[Any], Any]


@dataclass(frozen=True, slots=True, eq=False)
class FeedSpec:
    name: str
    fetch: Callable[[AccountSource, Params], Awaitable[Any]]
    interval: float = SLOW_INTERVAL_S
    params: Params = field(default_factory=dict)  # parameter -> default
    pausable: bool = False  # stops with live polling (`p`)
    codec: Codec | None = None  # None: no offline copy is kept
    variant: Callable[[Params], object] | None = None  # the offline copy's key suffix

    def __repr__(self) -> str:
        return f"FeedSpec({self.name!r})"


PROFILE = FeedSpec(
    "profile",
    lambda source, _: source.profile(),
    codec=Codec(contract.dump_profile, contract.parse_profile),
)
TOKEN = FeedSpec(
    "token",
    lambda source, _: source.token_info(),
    codec=Codec(contract.dump_token_info, contract.parse_token_info),
)
SUBSCRIPTION = FeedSpec(
    "subscription",
    lambda source, _: source.subscription(),
    SUBSCRIPTION_INTERVAL_S,
    codec=Codec(contract.dump_subscription, contract.parse_subscription),
)
# A two-second figure is worthless an hour later: no offline copy. Its interval is the user's.
LIVE = FeedSpec("live", lambda source, _: source.live(), 2.0, pausable=True)
METRICS = FeedSpec(
    "metrics",
    lambda source, p: source.metrics(p["days"]),
    params={"days": 90},
    codec=Codec(contract.dump_metrics, contract.parse_metrics),
    variant=lambda p: f"{p['days']}d",
)
USAGE = FeedSpec(  # `date` (one UTC day, from the metrics screen's drill-down) wins over timeframe
    "usage",
    lambda source, p: (
        source.endpoint_usage(p["timeframe"], p["date"])
        if p["date"] is not None
        else source.endpoint_usage(p["timeframe"])
    ),
    params={"timeframe": "30d", "date": None},
    codec=Codec(contract.dump_endpoint_usage, contract.parse_endpoint_usage),
    variant=lambda p: p["date"].isoformat() if p["date"] is not None else p["timeframe"],
)
BILLING = FeedSpec(
    "billing",
    lambda source, _: source.next_billing(),
    codec=Codec(contract.dump_next_billing, contract.parse_next_billing),
)
HISTORY = FeedSpec(  # the newest page; the history screen asks for the next ones itself
    "history",
    lambda source, p: source.history(kind=p["kind"], limit=HISTORY_FIRST_PAGE),
    params={"kind": None},
    codec=Codec(contract.dump_history, contract.parse_history),
    variant=lambda p: p["kind"] or "all",
)
# Screen 7's log: only requests newer than `after_id` (the newest the screen holds), each second.
# The screen moves `after_id` on as pages arrive (without an extra fetch); no offline copy.
REQUEST_LOG_FIRST_PAGE, REQUEST_LOG_PAGE = 10_000, 1_000
REQUESTS = FeedSpec(
    "requests",
    lambda source, p: source.recent_requests(
        p["after_id"], REQUEST_LOG_FIRST_PAGE if p["after_id"] is None else REQUEST_LOG_PAGE
    ),
    1.0,
    params={"after_id": None},
    pausable=True,
)

# Screen 4's pacing advice: the meter's per-second counts of the last 15 minutes.
PACING_WINDOW_MINUTES = 15
PACING = FeedSpec(
    "pacing",
    lambda source, p: source.second_counts(p["window_minutes"]),
    60.0,  # advice over 15 minutes moves slowly: one request a minute
    params={"window_minutes": PACING_WINDOW_MINUTES},
    pausable=True,
)

# One endpoint's daily series, for its detail (Enter on screen 3): asked once when the detail
# opens, through the gate (`engine.fetch`), with the row's method + path and the screen's window.
# Not polled, no offline copy: so not in FEEDS.
ENDPOINT_DAILY = FeedSpec(
    "endpoint_daily",
    lambda source, p: source.endpoint_daily(
        p["method"], p["path"], timeframe=p["timeframe"], date=p["date"]
    ),
    params={"method": None, "path": None, "timeframe": "30d", "date": None},
)

FEEDS: tuple[FeedSpec, ...] = (
    PROFILE,
    TOKEN,
    SUBSCRIPTION,
    LIVE,
    METRICS,
    USAGE,
    BILLING,
    HISTORY,
    REQUESTS,
    PACING,
)
BY_NAME: dict[str, FeedSpec] = {spec.name: spec for spec in FEEDS}
