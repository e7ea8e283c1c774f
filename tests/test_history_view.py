"""History paging, kind filter and sort, without a screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ht_dash.api.models import HistoryEntry, HistoryPage
from ht_dash.insights.history_view import HistoryBook, HistoryList, PageRequest, sort_entries

T0 = datetime(2026, 11, 25, tzinfo=UTC)
KINDS = ("payment", "invoice", "support", "refund")


def make(i, kind=None, cents=None):
    kind = kind or KINDS[i % len(KINDS)]
    if cents is None and kind != "support":
        cents = (i * 37) % 500 * 100 - (5000 if kind == "refund" else 0)
    return HistoryEntry(
        f"e{i}", T0 - timedelta(hours=i), kind, f"entry {i}", "paid", cents, "USD", None
    )


ENTRIES = [make(i) for i in range(25)]  # newest first


class Server:
    """Offset cursors over ENTRIES (or a kind of them), like the real API; counts requests."""

    def __init__(self, entries=ENTRIES, *, repeat_at=None):
        self.entries = entries
        self.requests = 0
        self.repeat_at = repeat_at

    def page(self, kind, cursor, limit=10) -> HistoryPage:
        self.requests += 1
        items = [e for e in self.entries if kind is None or e.kind == kind]
        offset = int(cursor) if cursor else 0
        chunk = items[offset : offset + limit]
        end = offset + len(chunk)
        nxt = str(end) if end < len(items) else None
        if self.repeat_at is not None and end >= self.repeat_at:
            nxt = str(self.repeat_at)  # a broken server hands out the same cursor again
        return HistoryPage(tuple(chunk), nxt)


def load_all(book: HistoryBook, server: Server, max_requests=100) -> None:
    for _ in range(max_requests):
        request = book.next_request()
        if request is None:
            return
        book.add_page(request, server.page(request.kind, request.cursor))
    raise AssertionError("pagination never stopped")


def test_pagination_reaches_the_last_page_and_stops():
    book, server = HistoryBook(), Server()
    load_all(book, server)
    assert server.requests == 3  # 10 + 10 + 5
    assert book.view() == ENTRIES
    assert book.complete and not book.everything.repeated_cursor
    assert book.next_request() is None


def test_pagination_stops_on_a_repeated_cursor():
    book, server = HistoryBook(), Server(repeat_at=20)
    load_all(book, server)
    # pages at 0, 10 -> cursor "20"; page at 20 -> cursor "20" again: stop, nothing duplicated
    assert server.requests == 3
    assert book.complete and book.everything.repeated_cursor
    assert [e.id for e in book.view()] == [e.id for e in ENTRIES]


def test_a_page_of_known_entries_stops_a_server_going_in_circles():
    lst = HistoryList(None)
    lst.add_page(HistoryPage(tuple(ENTRIES[:10]), "a"), None)
    lst.add_page(HistoryPage(tuple(ENTRIES[:10]), "b"), "a")  # new cursor, same entries
    assert lst.done and lst.repeated_cursor and len(lst) == 10


def test_a_late_page_for_an_old_cursor_is_ignored():
    lst = HistoryList(None)
    lst.add_page(HistoryPage(tuple(ENTRIES[:10]), "10"), None)
    lst.add_page(HistoryPage(tuple(ENTRIES[10:20]), "20"), "10")
    assert lst.add_page(HistoryPage(tuple(ENTRIES[10:20]), "20"), "10") == 0
    assert len(lst) == 20 and lst.next_cursor == "20"


def test_kind_filter_asks_the_server_until_everything_is_loaded_then_filters_locally():
    book, server = HistoryBook(), Server()
    book.add_page(PageRequest(None, None), server.page(None, None))
    book.set_kind("refund")
    assert book.view() == []  # refunds not loaded yet: they are fetched with the kind filter
    assert book.next_request() == PageRequest("refund", None)
    load_all(book, server)
    assert [e.kind for e in book.view()] == ["refund"] * 6
    assert not book.filtered_locally

    book.set_kind(None)
    load_all(book, server)
    book.set_kind("support")
    requests = server.requests
    assert [e.id for e in book.view()] == [e.id for e in ENTRIES if e.kind == "support"]
    assert book.filtered_locally and book.next_request() is None
    assert server.requests == requests


def test_sort_by_amount_puts_entries_without_amount_last_both_ways():
    up = sort_entries(ENTRIES, "amount", reverse=False)
    down = sort_entries(ENTRIES, "amount", reverse=True)
    amounts = [e.amount_cents for e in up if e.amount_cents is not None]
    assert amounts == sorted(amounts)
    assert [e.amount_cents for e in down if e.amount_cents is not None] == sorted(amounts)[::-1]
    assert all(e.kind == "support" for e in up[len(amounts) :])
    assert all(e.kind == "support" for e in down[len(amounts) :])


def test_sort_by_kind_keeps_newest_first_within_a_kind():
    book = HistoryBook()
    book.add_page(PageRequest(None, None), HistoryPage(tuple(ENTRIES), None))
    book.set_sort("kind", False)
    view = book.view()
    assert [e.kind for e in view] == sorted(e.kind for e in ENTRIES)
    invoices = [e.at for e in view if e.kind == "invoice"]
    assert invoices == sorted(invoices, reverse=True)
    book.set_sort("date", False)
    assert book.view() == ENTRIES[::-1]


def test_refresh_merges_new_and_changed_entries_on_top():
    book = HistoryBook()
    book.add_page(PageRequest(None, None), HistoryPage(tuple(ENTRIES[:10]), "10"))
    newer = HistoryEntry("new", T0 + timedelta(hours=1), "support", "new ticket", "open", None,
                         None, "T-1")  # fmt: skip
    first = ENTRIES[0]
    changed = HistoryEntry(first.id, first.at, first.kind, first.description, "refunded",
                           first.amount_cents, first.currency, first.reference)  # fmt: skip
    added = book.merge_newest(HistoryPage((newer, changed, *ENTRIES[1:9]), "9"))
    assert added == 1
    view = book.view()
    assert view[0] == newer and view[1].status == "refunded" and len(view) == 11
    # Paging goes on from where it was; the refresh's own cursor does not replace it.
    assert book.next_request() == PageRequest(None, "10")
