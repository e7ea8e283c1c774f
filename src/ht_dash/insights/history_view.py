"""Support & billing history as the screen holds it: pages loaded so far, kind filter, sort.

No Textual. `HistoryList` is one kind's entries loaded page by page (cursor pagination that stops
on the last page, on a repeated cursor, or on a page that brings nothing new). `HistoryBook`
holds the list of all kinds plus, while that one is incomplete, one list per filtered kind
(fetched with the API's `kind` filter); once every entry is loaded, a kind filter is applied
locally and costs no request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ht_dash.api.models import HISTORY_KINDS, HistoryEntry, HistoryPage

FIRST_PAGE_SIZE = 25  # the app's "history" feed: the newest entries, refreshed periodically
PAGE_SIZE = 50  # pages fetched as the cursor nears the end (the contract's default)
BULK_PAGE_SIZE = 200  # the contract's maximum, for loading everything (export all)

SORT_COLUMNS: tuple[str, ...] = ("date", "amount", "kind", "status", "description")
KIND_LABELS: dict[str | None, str] = {
    None: "All",
    "payment": "Payments",
    "invoice": "Invoices",
    "plan_change": "Plan changes",
    "refund": "Refunds",
    "support": "Support",
}
KIND_CYCLE: tuple[str | None, ...] = (None, *HISTORY_KINDS)


def _date_key(e: HistoryEntry) -> Any:
    return e.at


_SORT_KEYS: dict[str, Callable[[HistoryEntry], Any]] = {
    "date": _date_key,
    "kind": lambda e: e.kind,
    "status": lambda e: e.status,
    "description": lambda e: e.description.casefold(),
}


def sort_entries(entries: Sequence[HistoryEntry], column: str, reverse: bool) -> list[HistoryEntry]:
    """Stable sort; ties keep the server's newest-first order. Entries without an amount go last."""
    if column == "amount":
        with_amount = [e for e in entries if e.amount_cents is not None]
        without = [e for e in entries if e.amount_cents is None]
        with_amount.sort(key=lambda e: e.amount_cents, reverse=reverse)
        return with_amount + without
    return sorted(entries, key=_SORT_KEYS[column], reverse=reverse)


class HistoryList:
    """One kind's entries (None: every kind), newest first, as loaded so far."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self.entries: list[HistoryEntry] = []
        self._index: dict[str, int] = {}
        self.next_cursor: str | None = None
        self.started = False  # the first page has arrived
        self.done = False  # nothing more to load
        self.repeated_cursor = False  # stopped because the server sent a cursor seen before
        self.pages = 0
        self._seen_cursors: set[str] = set()

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def request_cursor(self) -> str | None:
        """The cursor for the next page (None: the first page)."""
        return self.next_cursor if self.started else None

    def add_page(self, page: HistoryPage, requested_cursor: str | None) -> int:
        """Append a page fetched with `requested_cursor`; returns how many entries were new."""
        if requested_cursor is not None:
            if requested_cursor != self.next_cursor:
                return 0  # a late answer to a request that no longer applies
            self._seen_cursors.add(requested_cursor)
        elif self.started:
            return self.merge_newest(page)
        self.started = True
        self.pages += 1
        added = 0
        for entry in page.items:
            if entry.id in self._index:
                self.entries[self._index[entry.id]] = entry
            else:
                self._index[entry.id] = len(self.entries)
                self.entries.append(entry)
                added += 1
        cursor = page.next_cursor
        if cursor is not None and (cursor in self._seen_cursors or cursor == requested_cursor):
            self.repeated_cursor = True
            cursor = None
        if requested_cursor is not None and page.items and added == 0 and cursor is not None:
            self.repeated_cursor = True  # only entries we already have: the server goes in circles
            cursor = None
        self.next_cursor = cursor
        self.done = cursor is None
        return added

    def merge_newest(self, page: HistoryPage) -> int:
        """A fresh first page: update known entries, put new ones on top; returns the new count."""
        if not self.started:
            return self.add_page(page, None)
        newest = self.entries[0].at if self.entries else None
        fresh = []
        for entry in page.items:
            if entry.id in self._index:
                self.entries[self._index[entry.id]] = entry
            elif newest is None or entry.at >= newest:
                fresh.append(entry)
        if fresh:
            self.entries[:0] = fresh
            self._index = {e.id: i for i, e in enumerate(self.entries)}
        return len(fresh)


@dataclass(frozen=True, slots=True)
class PageRequest:
    kind: str | None
    cursor: str | None


class HistoryBook:
    """What the history screen shows: the loaded entries of one kind, sorted."""

    def __init__(self) -> None:
        self.lists: dict[str | None, HistoryList] = {None: HistoryList(None)}
        self.kind: str | None = None
        self.sort_column = "date"
        self.sort_reverse = True  # newest first, as the server sends them
        self._view: list[HistoryEntry] | None = None

    # ---- what is loaded ----------------------------------------------------------------------

    @property
    def everything(self) -> HistoryList:
        return self.lists[None]

    def source_for(self, kind: str | None) -> HistoryList:
        """The list pagination extends for `kind`: all kinds once complete, else the kind's own."""
        if kind is None or self.everything.done:
            return self.everything
        return self.lists.setdefault(kind, HistoryList(kind))

    @property
    def source(self) -> HistoryList:
        return self.source_for(self.kind)

    @property
    def filtered_locally(self) -> bool:
        return self.kind is not None and self.everything.done

    @property
    def complete(self) -> bool:
        return self.source.done

    def next_request(self) -> PageRequest | None:
        """The next page to fetch for the kind shown; None when complete."""
        return self.next_request_for(self.kind)

    def next_request_for(self, kind: str | None) -> PageRequest | None:
        source = self.source_for(kind)
        if source.done:
            return None
        return PageRequest(source.kind, source.request_cursor)

    def add_page(self, request: PageRequest, page: HistoryPage) -> int:
        target = self.lists.setdefault(request.kind, HistoryList(request.kind))
        added = target.add_page(page, request.cursor)
        self._after_change(request.kind)
        return added

    def merge_newest(self, page: HistoryPage) -> int:
        """A fresh first page of all kinds (the periodic refresh)."""
        added = self.everything.merge_newest(page)
        for kind, lst in self.lists.items():
            if kind is not None and lst.started:
                lst.merge_newest(HistoryPage(tuple(e for e in page.items if e.kind == kind), None))
        self._view = None
        return added

    def _after_change(self, kind: str | None) -> None:
        if kind is None or kind == self.kind:
            self._view = None

    # ---- what is shown -----------------------------------------------------------------------

    def set_kind(self, kind: str | None) -> None:
        if kind != self.kind:
            self.kind = kind
            self._view = None

    def set_sort(self, column: str, reverse: bool) -> None:
        if column not in SORT_COLUMNS:
            raise ValueError(f"unknown sort column {column!r}")
        if (column, reverse) != (self.sort_column, self.sort_reverse):
            self.sort_column, self.sort_reverse = column, reverse
            self._view = None

    def entries_of(self, kind: str | None) -> list[HistoryEntry]:
        """The loaded entries of `kind`, newest first."""
        if kind is None:
            return self.everything.entries
        if self.everything.done:
            return [e for e in self.everything.entries if e.kind == kind]
        return self.source_for(kind).entries

    def sorted_entries(self, kind: str | None) -> list[HistoryEntry]:
        entries = self.entries_of(kind)
        if self.sort_column == "date" and self.sort_reverse:
            return list(entries)  # the server's order already
        return sort_entries(entries, self.sort_column, self.sort_reverse)

    def view(self) -> list[HistoryEntry]:
        """The rows in display order; recomputed only after a change."""
        if self._view is None:
            self._view = self.sorted_entries(self.kind)
        return self._view
