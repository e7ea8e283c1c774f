"""`ChainSource` (`--source auto`, the default): per kind of data, the first source that can answer.

    the account API → the local meter (this token's records) → the declared plan → why not

The real service offers no account endpoints: each answers 404 (`NotOffered`). The chain then
remembers, per method, that the API does not offer it and asks again at most hourly (or at once
after `reprobe()`, the `r` key), so a dashboard sends the service nothing but what it must.

Each answer's origin is kept in `origins[method]` ("from the API", "from the local meter · since
Nov 30", "estimated from your plan"); a method nothing can answer raises `NotAvailable` whose hint
is the exact command that would provide the data.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from ht_dash.api.errors import HtError, NotAvailable, NotOffered
from ht_dash.api.models import (
    EndpointUsageReport,
    HistoryEntry,
    HistoryPage,
    LiveUsage,
    Metrics,
    NextBilling,
    Plan,
    Profile,
    RegeneratedToken,
    RequestLogPage,
    SecondCounts,
    Subscription,
    TokenInfo,
)
from ht_dash.api.secret import Secret
from ht_dash.api.service import WEB_DASHBOARD
from ht_dash.clock import Clock, SystemClock
from ht_dash.sources.plan import (
    RESET_ASSUMED,
    estimated_next_billing,
    estimated_subscription,
    no_plan_error,
)

if TYPE_CHECKING:
    from ht_dash.api.client import AccountClient
    from ht_dash.meter.source import MeterSource

T = TypeVar("T")

REPROBE_S = 3600.0
METER_SINCE_TTL_S = 60.0
RUN_COMMAND = "ht-dash run -- <your bot's command>"
METER_HINT = f"route your bot through the local meter: `{RUN_COMMAND}`"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one answer came from, in words a panel border and `--json` can show."""

    kind: str  # "api" | "meter" | "plan" | "token"
    label: str
    note: str = ""  # what a panel adds: an assumption, or why an earlier source was skipped

    def as_json(self) -> dict[str, str]:
        doc = {"kind": self.kind, "label": self.label}
        if self.note:
            doc["note"] = self.note
        return doc


FROM_API = Origin("api", "from the API")


def _day(d: date) -> str:
    """`2026-12-01`, as ht_dash.insights.format.day spells a day (this floor is below it)."""
    return d.isoformat()


class ChainSource:
    """Implements `ht_dash.api.source.AccountSource` over the API client, the meter and the plan."""

    name = "auto"

    def __init__(
        self,
        api: AccountClient,
        token: Secret | None,
        *,
        plan: Plan | None,
        billing_day: int = 0,
        meter: Callable[[], MeterSource] | None = None,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self._token = token
        self.plan = plan
        self.billing_day = billing_day
        self._meter_factory = meter
        self._meter: MeterSource | None = None
        self._clock = clock or SystemClock()
        self._monotonic = monotonic
        self._not_offered: dict[str, float] = {}  # method -> when the API said so (monotonic)
        self._meter_since: tuple[float, date | None] | None = None
        self.origins: dict[str, Origin] = {}
        self._answers: dict[str, tuple[object, Origin]] = {}  # method -> its last answer

    def __repr__(self) -> str:
        return f"ChainSource(api={self.api!r}, plan={self.plan.id if self.plan else None!r})"

    # ---- what the app's client had -----------------------------------------------------------

    @property
    def host(self) -> str:
        return self.api.host

    @property
    def has_token(self) -> bool:
        return self.api.has_token

    @property
    def requests_sent(self) -> int:
        return self.api.requests_sent

    def set_token(self, token: Secret | None) -> None:
        self.api.set_token(token)
        self._token = token
        self._not_offered.clear()  # another token may be offered more
        self._meter = None  # its records are another token's

    def use_plan(self, plan: Plan | None) -> None:
        """The plan the user just declared (the plan picker on screen 4)."""
        self.plan = plan

    def reprobe(self) -> None:
        """Ask the API again on the next call of every method (the `r` key)."""
        self._not_offered.clear()

    def not_offered(self, method: str) -> bool:
        """True while the API is known not to offer `method`."""
        when = self._not_offered.get(method)
        return when is not None and self._monotonic() - when < REPROBE_S

    async def aclose(self) -> None:
        await self.api.aclose()
        if self._meter is not None:
            await self._meter.aclose()

    async def __aenter__(self) -> ChainSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- plumbing ----------------------------------------------------------------------------

    async def _api(self, method: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """The API's answer, or None when it does not offer `method` (remembered)."""
        if self.not_offered(method):
            return None
        try:
            result = await call()
        except NotOffered:
            self._not_offered[method] = self._monotonic()
            return None
        self._not_offered.pop(method, None)
        return self._answered(method, result, FROM_API)

    async def _meter_source(self) -> MeterSource:
        """The meter, reading only this token's records (two tokens never mix). Raises what
        opening it raises (no database yet, locked, newer): the caller falls to the next source."""
        if self._meter is None:
            assert self._meter_factory is not None
            meter = self._meter_factory()
            if self._token is not None:
                meter.token_fp = await meter.fingerprint_of(self._token.reveal())
            self._meter = meter  # kept once its filter is set
        return self._meter

    async def _from_meter(
        self, call: Callable[[MeterSource], Awaitable[T]]
    ) -> tuple[T | None, str]:
        """The meter's answer, or None and why not (missing, locked, newer, unreadable)."""
        if self._meter_factory is None:
            return None, "no local meter"
        try:
            return await call(await self._meter_source()), ""
        except HtError as exc:  # NotAvailable (no database yet), MeterUnreadable, a newer store
            return None, exc.message
        except Exception as exc:  # noqa: BLE001 - a broken database must not break the chain
            return None, f"the local meter's database cannot be read ({type(exc).__name__})"

    async def _since(self) -> date | None:
        """The first day the meter recorded (cached for a minute)."""
        now = self._monotonic()
        if self._meter_since is not None and now - self._meter_since[0] < METER_SINCE_TTL_S:
            return self._meter_since[1]
        metrics, _ = await self._from_meter(lambda m: m.metrics(days=365))
        first = metrics.daily[0].date if metrics is not None and metrics.daily else None
        self._meter_since = (now, first)
        return first

    async def _meter_origin(self, note: str = "") -> Origin:
        since = await self._since()
        label = "from the local meter" + (f" · since {_day(since)}" if since else "")
        return Origin("meter", label, note)

    def _unavailable(self, method: str, exc: NotAvailable) -> NotAvailable:
        self.origins.pop(method, None)
        self._answers.pop(method, None)
        return exc

    def _answered(self, method: str, data: T, origin: Origin) -> T:
        self.origins[method] = origin
        self._answers[method] = (data, origin)
        return data

    def origin_of(self, data: object) -> Origin | None:
        """Where this answer (a model this source returned last for its method) came from."""
        for answer, origin in self._answers.values():
            if answer is data:
                return origin
        return None

    # ---- the chain, per kind of data ---------------------------------------------------------

    async def subscription(self) -> Subscription:
        if (answer := await self._api("subscription", self.api.subscription)) is not None:
            return answer
        plan = self.plan
        if plan is None:
            raise self._unavailable("subscription", no_plan_error("your plan and quota"))
        now = self._clock.now()
        estimate = estimated_subscription(plan, self.billing_day, now)
        start = estimate.period_start
        days = (now.date() - start.date()).days + 1
        metrics, why = await self._from_meter(lambda m: m.metrics(days=max(1, min(days, 365))))
        if metrics is not None:
            used = sum(
                d.requests - d.errors - d.rate_limited
                for d in metrics.daily
                if d.date >= start.date()
            )
            since = await self._since()
            counted_from = max(start.date(), since) if since else start.date()
            origin = Origin(
                "meter",
                f"counted by the local meter since {_day(counted_from)}",
                f"requests made elsewhere are not seen · {RESET_ASSUMED}",
            )
            return self._answered("subscription", replace(estimate, tokens_used=used), origin)
        origin = Origin(
            "plan", "estimated from your plan", f"tokens used not seen: {why}; {METER_HINT}"
        )
        return self._answered("subscription", estimate, origin)

    async def live(self, window_minutes: int = 15) -> LiveUsage:
        answer = await self._api("live", lambda: self.api.live(window_minutes=window_minutes))
        if answer is not None:
            return answer
        live, why = await self._from_meter(lambda m: m.live(window_minutes=window_minutes))
        if live is None:
            raise self._unavailable(
                "live", NotAvailable(f"live usage is not seen here: {why}", hint=METER_HINT)
            )
        limit = self.plan.rate_limit_per_minute if self.plan is not None else None
        origin = await self._meter_origin(
            "" if self.plan is not None else "no plan declared, so no limit to compare with"
        )
        return self._answered("live", replace(live, limit_per_minute=limit), origin)

    async def metrics(self, days: int = 90) -> Metrics:
        if (answer := await self._api("metrics", lambda: self.api.metrics(days=days))) is not None:
            return answer
        metrics, why = await self._from_meter(lambda m: m.metrics(days=days))
        if metrics is None:
            raise self._unavailable(
                "metrics", NotAvailable(f"metrics are not seen here: {why}", hint=METER_HINT)
            )
        recorded = len(metrics.daily)
        origin = await self._meter_origin(f"recorded {recorded} of the {days} days asked")
        return self._answered("metrics", metrics, origin)

    async def endpoint_usage(
        self, timeframe: str = "30d", date: date | None = None
    ) -> EndpointUsageReport:
        answer = await self._api(
            "endpoint_usage", lambda: self.api.endpoint_usage(timeframe=timeframe, date=date)
        )
        if answer is not None:
            return answer
        report, why = await self._from_meter(
            lambda m: m.endpoint_usage(timeframe=timeframe, date=date)
        )
        if report is None:
            raise self._unavailable(
                "endpoint_usage",
                NotAvailable(f"endpoint usage is not seen here: {why}", hint=METER_HINT),
            )
        return self._answered("endpoint_usage", report, await self._meter_origin())

    async def second_counts(self, window_minutes: int = 15) -> SecondCounts:
        """Per-second counts for pacing advice: the API's if it offers them, else the meter's
        (with the declared plan's limit)."""
        answer = await self._api("second_counts", lambda: self.api.second_counts(window_minutes))
        if answer is not None:
            return answer
        counts, why = await self._from_meter(lambda m: m.second_counts(window_minutes))
        if counts is None:
            raise self._unavailable(
                "second_counts",
                NotAvailable(f"per-second counts are not seen here: {why}", hint=METER_HINT),
            )
        limit = self.plan.rate_limit_per_minute if self.plan is not None else None
        counts = replace(counts, limit_per_minute=limit)
        return self._answered("second_counts", counts, await self._meter_origin())

    async def recent_requests(
        self, after_id: int | None = None, limit: int = 1000
    ) -> RequestLogPage:
        """The request log: the API's if it offers one, else the meter's (this token's)."""
        answer = await self._api(
            "recent_requests", lambda: self.api.recent_requests(after_id, limit)
        )
        if answer is not None:
            return answer
        page, why = await self._from_meter(lambda m: m.recent_requests(after_id, limit))
        if page is None:
            raise self._unavailable(
                "recent_requests",
                NotAvailable(f"the request log is not seen here: {why}", hint=METER_HINT),
            )
        return self._answered("recent_requests", page, await self._meter_origin())

    async def next_billing(self) -> NextBilling:
        if (answer := await self._api("next_billing", self.api.next_billing)) is not None:
            return answer
        plan = self.plan
        if plan is None:
            raise self._unavailable("next_billing", no_plan_error("the next invoice"))
        if plan.price_cents is None:
            raise self._unavailable(
                "next_billing",
                NotAvailable(
                    f"the {plan.name} plan has a negotiated price",
                    hint=f"see invoices in the web dashboard: {WEB_DASHBOARD}",
                ),
            )
        origin = Origin(
            "plan", "estimated from your plan", "list price on the declared billing day"
        )
        estimate = estimated_next_billing(plan, self.billing_day, self._clock.now())
        return self._answered("next_billing", estimate, origin)

    async def history(
        self, *, kind: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> HistoryPage:
        answer = await self._api(
            "history", lambda: self.api.history(kind=kind, cursor=cursor, limit=limit)
        )
        if answer is not None:
            return answer
        raise self._unavailable("history", _web_only("billing and support history"))

    async def iter_history(
        self, *, kind: str | None = None, limit: int = 200
    ) -> AsyncIterator[HistoryEntry]:
        first = await self.history(kind=kind, limit=limit)  # raises when not offered
        for entry in first.items:
            yield entry
        if first.next_cursor is None:
            return
        seen = {first.next_cursor}
        cursor: str | None = first.next_cursor
        while cursor is not None:
            page = await self.history(kind=kind, cursor=cursor, limit=limit)
            for entry in page.items:
                yield entry
            cursor = page.next_cursor
            if cursor in seen:
                return
            if cursor is not None:
                seen.add(cursor)

    async def profile(self) -> Profile:
        if (answer := await self._api("profile", self.api.profile)) is not None:
            return answer
        raise self._unavailable("profile", _web_only("the account's profile"))

    async def token_info(self) -> TokenInfo:
        if (answer := await self._api("token_info", self.api.token_info)) is not None:
            return answer
        info = await self._token_from_claims()
        if info is None:
            raise self._unavailable(
                "token_info",
                NotAvailable(
                    "the API does not offer token details and the token carries no issue date",
                    hint=f"see it in the web dashboard: {WEB_DASHBOARD}",
                ),
            )
        return info

    async def check_token(self) -> None:
        """One request to a cheap data endpoint (the only one a dashboard sends by itself)."""
        await self.api.check_token()

    async def regenerate_token(self) -> RegeneratedToken:
        if self.not_offered("regenerate_token"):
            raise _regenerate_not_offered()
        try:
            answer = await self.api.regenerate_token()
        except NotOffered:
            self._not_offered["regenerate_token"] = self._monotonic()
            raise _regenerate_not_offered() from None
        return self._answered("regenerate_token", answer, FROM_API)

    async def _token_from_claims(self) -> TokenInfo | None:
        """What the token itself says (issued at, member id), and when the meter last saw it."""
        from ht_dash.api.jwt import decode_claims, token_times

        token = self._token
        if token is None:
            return None
        issued = token_times(token).issued_at
        if issued is None:
            return None
        claims = decode_claims(token) or {}
        member = claims.get("mid")
        subject = claims.get("sub")
        token_id = (
            f"member {member}"
            if isinstance(member, int | str) and not isinstance(member, bool)
            else str(subject)[:40]
            if isinstance(subject, str)
            else "—"
        )
        last_used, why = await self._last_seen()
        origin = Origin(
            "token",
            "from the token itself",
            "last used: seen by the local meter" if last_used else f"last used: {why}",
        )
        info = TokenInfo(
            token_id=token_id, masked=token.masked, issued_at=issued, last_used_at=last_used
        )
        return self._answered("token_info", info, origin)

    async def _last_seen(self) -> tuple[datetime | None, str]:
        live, why = await self._from_meter(lambda m: m.live(window_minutes=60))
        if live is None:
            return None, f"not seen ({why})"
        for bucket in reversed(live.series):
            if bucket.requests:
                return bucket.at + timedelta(seconds=live.interval_seconds), ""
        return None, "not seen by the local meter in the last hour"


def _web_only(what: str) -> NotAvailable:
    return NotOffered(
        f"the API does not offer {what} to tokens",
        hint=f"see it in the web dashboard: {WEB_DASHBOARD}",
    )


def _regenerate_not_offered() -> NotOffered:
    return NotOffered(
        "the API does not offer token regeneration to tokens",
        hint=f"regenerate it in the web dashboard ({WEB_DASHBOARD}), then `ht-dash login`",
    )
