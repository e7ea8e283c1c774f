"""Injectable clocks: the app, the demo backend and tests all read time through one of these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, snapshots)."""

    def __init__(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, seconds: float) -> None:
        self._at += timedelta(seconds=seconds)


def iso(at: datetime) -> str:
    """THE writer of instants (wire, JSON, CSV): ISO 8601 in UTC to the second, `Z` suffix, always
    a four-digit year: `2026-12-01T00:00:00Z`. A naive datetime is taken as UTC. It lives on the
    ground floor so that the API contract can use it; people read it as `insights.format.iso`."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    day = f"{at.year:04d}-{at.month:02d}-{at.day:02d}"
    return f"{day}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}Z"
