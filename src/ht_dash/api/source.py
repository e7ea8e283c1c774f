"""The interface every data source implements: the account API client and the local meter.

It declares every method the app calls on a source; the app reaches a source only through the
feed engine (`ht_dash.feeds.engine`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Protocol

from ht_dash.api.models import (
    EndpointDaily,
    EndpointUsageReport,
    HistoryEntry,
    HistoryPage,
    LiveUsage,
    Metrics,
    NextBilling,
    Profile,
    RegeneratedToken,
    RequestLogPage,
    SecondCounts,
    Subscription,
    TokenInfo,
)
from ht_dash.api.secret import Secret


class AccountSource(Protocol):
    """A source raises `ht_dash.api.errors.NotAvailable` for what it cannot know."""

    name: str

    def set_token(self, token: Secret | None) -> None:
        """The token to send from now on (None: none); a source that needs none ignores it."""
        ...

    async def profile(self) -> Profile: ...
    async def token_info(self) -> TokenInfo: ...
    async def regenerate_token(self) -> RegeneratedToken: ...
    async def subscription(self) -> Subscription: ...
    async def live(self, window_minutes: int = 15) -> LiveUsage: ...
    async def metrics(self, days: int = 90) -> Metrics: ...
    async def endpoint_usage(
        self, timeframe: str = "30d", date: date | None = None
    ) -> EndpointUsageReport: ...
    async def endpoint_daily(
        self, method: str, path: str, timeframe: str = "30d", date: date | None = None
    ) -> EndpointDaily: ...
    async def next_billing(self) -> NextBilling: ...
    async def second_counts(self, window_minutes: int = 15) -> SecondCounts: ...
    async def recent_requests(
        self, after_id: int | None = None, limit: int = 1000
    ) -> RequestLogPage: ...
    async def history(
        self, *, kind: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> HistoryPage: ...
    def iter_history(
        self, *, kind: str | None = None, limit: int = 200
    ) -> AsyncIterator[HistoryEntry]: ...
    async def aclose(self) -> None: ...
