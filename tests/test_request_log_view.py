"""The request log buffer behind screen 7: what is shown, filtered, frozen and replaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ht_dash.api.models import RequestLogPage, RequestRecord
from ht_dash.insights.request_log import LogFilter, RequestLog

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
PATHS = ("/fills", "/info", "/positions/heatmap")


def record(rid: int, status: int = 200, path: str | None = None) -> RequestRecord:
    return RequestRecord(
        id=rid,
        at=T0 + timedelta(milliseconds=rid * 100),
        method="GET",
        path=path or PATHS[rid % 3],
        status=status,
        latency_ms=50.0,
        bytes=100,
        retry_after=5.0 if status == 429 else None,
        instance=None,
    )


def page(ids, log_id="a", status=lambda rid: 429 if rid % 10 == 0 else 200) -> RequestLogPage:
    records = tuple(record(i, status(i)) for i in sorted(ids, reverse=True))
    return RequestLogPage(log_id, records, records[0].id if records else None, False)


def test_newest_first_and_only_new_ids_are_added():
    log = RequestLog()
    assert log.ingest(page(range(1, 6))).added == 5
    assert log.after_id == 5
    assert log.ingest(page(range(4, 9))).added == 3  # 4 and 5 were already held
    assert [r.id for r in log.view()] == [8, 7, 6, 5, 4, 3, 2, 1]


def test_filter_to_429s_and_new_matching_rows_keep_arriving():
    log = RequestLog()
    log.ingest(page(range(1, 31)))
    log.set_filter(LogFilter(status_class="429"))
    assert [r.id for r in log.view()] == [30, 20, 10]
    result = log.ingest(page(range(31, 41)))
    assert result.added == 10 and result.shown == 1
    assert [r.id for r in log.view()][:1] == [40]
    log.set_filter(LogFilter())
    assert len(log.view()) == 40


def test_4xx_includes_429_and_text_and_endpoint_filters_combine():
    log = RequestLog()
    statuses = {7: 404, 10: 429}
    log.ingest(page(range(1, 31), status=lambda rid: statuses.get(rid, 200)))
    log.set_filter(LogFilter(status_class="4xx"))
    assert {r.id for r in log.view()} == {7, 10}
    log.set_filter(LogFilter(endpoint="GET /info", text="heat"))
    assert len(log.view()) == 0
    log.set_filter(LogFilter(text="HEATMAP"))
    assert all(r.path == "/positions/heatmap" for r in log.view()) and len(log.view()) == 10


def test_not_following_keeps_the_rows_in_place_and_counts_what_waits():
    log = RequestLog()
    log.ingest(page(range(1, 11)))
    log.set_following(False)
    log.ingest(page(range(11, 16)))
    assert [r.id for r in log.view()][:2] == [10, 9] and len(log.view()) == 10
    assert log.waiting() == 5
    log.set_following(True)
    assert log.view()[0].id == 15 and log.waiting() == 0


def test_capacity_drops_the_oldest_and_the_view_still_indexes_right():
    log = RequestLog(capacity=100)
    log.ingest(page(range(1, 101)))
    log.ingest(page(range(101, 121)))  # 20 % over: trimmed back to 100
    view = log.view()
    assert len(view) == 100 and view[0].id == 120 and view[-1].id == 21


def test_a_new_log_id_empties_the_buffer_and_resumes_following():
    log = RequestLog()
    log.ingest(page(range(1, 50)))
    log.set_following(False)
    result = log.ingest(page(range(1, 4), log_id="b"))
    assert result.replaced and log.following
    assert len(log.view()) == 0 and log.after_id is None  # ask the new log from its start
    log.ingest(page(range(1, 4), log_id="b"))
    assert [r.id for r in log.view()] == [3, 2, 1] and log.after_id == 3


def test_control_characters_in_a_filter_never_reach_the_terminal():
    assert LogFilter(endpoint="GET /fills\x1b[2J\x07").describe() == "GET /fills"
