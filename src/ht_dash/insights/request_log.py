"""The live request log behind screen 7, free of Textual: a bounded buffer fed page by page.

- Pages come from `AccountSource.recent_requests(after_id, limit)`: `RequestLog.after_id` is the
  newest id held, so a poll reads only what is new. A page from another log (`log_id` changed:
  the meter database was rotated or replaced) empties the buffer; the next page starts it again.
- Records are kept oldest first (appending is cheap) and shown newest first through `view()`, a
  read-only sequence the virtual table indexes without copying 100,000 rows.
- Filters (status class, endpoint, text) keep a second list, extended as pages arrive.
- Not following: the view stays on the rows it had, new rows are still collected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import overload

from ht_dash.api.models import RequestLogPage, RequestRecord
from ht_dash.sanitize import terminal_safe

CAPACITY = 100_000
TRIM_SLACK = 0.1  # trim once 10 % over capacity, so trimming is rare
STATUS_CYCLE: tuple[str | None, ...] = (None, "2xx", "4xx", "429", "5xx")


def status_matches(record: RequestRecord, status_class: str) -> bool:
    """'4xx' includes 429 (every client error); '429' is only the rate limit."""
    if status_class == "4xx":
        return 400 <= record.status < 500
    return record.status_class == status_class


def endpoint_key(record: RequestRecord) -> str:
    return f"{record.method} {record.path}"


@dataclass(frozen=True, slots=True)
class LogFilter:
    status_class: str | None = None  # one of STATUS_CYCLE
    endpoint: str | None = None  # "GET /fills"
    text: str = ""  # case-insensitive, anywhere in method, path, status, instance

    @property
    def active(self) -> bool:
        return bool(self.status_class or self.endpoint or self.text)

    def matches(self, record: RequestRecord) -> bool:
        if self.status_class is not None and not status_matches(record, self.status_class):
            return False
        if self.endpoint is not None and endpoint_key(record) != self.endpoint:
            return False
        if self.text:
            haystack = f"{record.method} {record.path} {record.status} {record.instance or ''}"
            return self.text.lower() in haystack.lower()
        return True

    def describe(self) -> str:
        parts = []
        if self.status_class:
            parts.append(f"status {self.status_class}")
        if self.endpoint:
            parts.append(terminal_safe(self.endpoint))
        if self.text:
            parts.append(f"“{terminal_safe(self.text)}”")
        return " · ".join(parts) if parts else "everything"


@dataclass
class _Rows:
    """Oldest-first records; `dropped` counts those trimmed from the front since the start."""

    items: list[RequestRecord] = field(default_factory=list)
    dropped: int = 0

    @property
    def end(self) -> int:
        return self.dropped + len(self.items)

    def trim(self, capacity: int) -> None:
        excess = len(self.items) - capacity
        if excess > capacity * TRIM_SLACK:
            del self.items[:excess]
            self.dropped += excess


class NewestFirst(Sequence[RequestRecord]):
    """Rows up to an absolute end (None: all), newest first, indexed without copying."""

    def __init__(self, rows: _Rows, end: int | None = None) -> None:
        self._rows = rows
        self._end = end

    def _top(self) -> int:  # index into items of the newest row shown, plus one
        end = self._rows.end if self._end is None else min(self._end, self._rows.end)
        return end - self._rows.dropped

    def __len__(self) -> int:
        return max(0, self._top())

    @overload
    def __getitem__(self, index: int) -> RequestRecord: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[RequestRecord]: ...
    def __getitem__(self, index: int | slice) -> RequestRecord | Sequence[RequestRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        top = self._top()
        if index < 0:
            index += top
        if not 0 <= index < top:
            raise IndexError(index)
        return self._rows.items[top - 1 - index]


@dataclass(frozen=True, slots=True)
class Ingested:
    added: int  # records added to the log
    shown: int  # of those, how many match the filter
    replaced: bool  # the log changed (rotated or replaced database): what was held is gone


class RequestLog:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.log_id: str | None = None
        self.newest_id: int | None = None
        self.filter = LogFilter()
        self.following = True
        self._all = _Rows()
        self._matching: _Rows | None = None  # None while no filter is set
        self._frozen_end: int | None = None  # absolute end of the shown rows while not following

    @property
    def after_id(self) -> int | None:
        """What to ask the source for next: requests newer than this."""
        return self.newest_id

    @property
    def total(self) -> int:
        return len(self._all.items)

    def _shown_rows(self) -> _Rows:
        return self._all if self._matching is None else self._matching

    def ingest(self, page: RequestLogPage) -> Ingested:
        if self.log_id and page.log_id != self.log_id:  # "" was no log at all (no database)
            # Asked with the old log's id, the page holds only part of the new log: start again
            # (`after_id` is None now, so the next page brings the new log's newest).
            self.clear()
            return Ingested(0, 0, True)
        self.log_id = page.log_id
        newest = self.newest_id
        fresh = [r for r in reversed(page.requests) if newest is None or r.id > newest]
        self._all.items.extend(fresh)
        shown = len(fresh)
        if self._matching is not None:
            matching = [r for r in fresh if self.filter.matches(r)]
            self._matching.items.extend(matching)
            shown = len(matching)
            self._matching.trim(self.capacity)
        self._all.trim(self.capacity)
        if fresh:
            self.newest_id = fresh[-1].id
        return Ingested(len(fresh), shown, False)

    def clear(self) -> None:
        """Forget every record (a new log starts); following resumes."""
        self.log_id, self.newest_id = None, None
        self._all = _Rows()
        self._matching = None if self._matching is None else _Rows()
        self.following, self._frozen_end = True, None

    def set_filter(self, log_filter: LogFilter) -> None:
        self.filter = log_filter
        if log_filter.active:
            self._matching = _Rows([r for r in self._all.items if log_filter.matches(r)])
        else:
            self._matching = None
        if not self.following:
            self._frozen_end = self._shown_rows().end

    def set_following(self, following: bool) -> None:
        self.following = following
        self._frozen_end = None if following else self._shown_rows().end

    def view(self) -> NewestFirst:
        return NewestFirst(self._shown_rows(), self._frozen_end)

    def waiting(self) -> int:
        """Matching records collected since following stopped (not shown yet)."""
        if self._frozen_end is None:
            return 0
        return max(0, self._shown_rows().end - self._frozen_end)

    def endpoints(self) -> list[str]:
        """Endpoints seen, most frequent first (for the endpoint filter)."""
        from collections import Counter

        counts = Counter(endpoint_key(r) for r in self._all.items)
        return [key for key, _ in counts.most_common()]
