"""The demo backend: the contract on the wire (auth, validation, faults) and realistic data."""

from __future__ import annotations

import base64
import json
import statistics
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from ht_dash.api import contract
from ht_dash.api.models import HISTORY_KINDS, TIMEFRAMES, HistoryEntry
from ht_dash.api.plans import PLANS, plan_by_id
from ht_dash.api.secret import mask
from ht_dash.clock import FixedClock
from ht_dash.demo import DemoBackend

NOW = datetime(2026, 11, 25, 14, 3, 7, tzinfo=UTC)  # a Wednesday afternoon
BASE = "https://ht-api.coinmarketman.com/api/external"
ALL_GETS = (
    "/account/profile",
    "/account/token",
    "/account/subscription",
    "/account/usage/live",
    "/account/metrics",
    "/account/usage/endpoints",
    "/account/billing/next",
    "/account/history",
)


def make(seed: int = 7, at: datetime = NOW, **options) -> DemoBackend:
    return DemoBackend(seed=seed, clock=FixedClock(at), **options)


def call(
    backend: DemoBackend, path: str, method: str = "GET", token: str | None = "current", **params
):
    """One request through the real httpx transport; returns (status, decoded body, response)."""
    headers = {}
    if token == "current":
        headers["Authorization"] = f"Bearer {backend.token.reveal()}"
    elif token is not None:
        headers["Authorization"] = token
    with httpx.Client(transport=backend.transport(), base_url=BASE) as http:
        response = http.request(method, path, params=params, headers=headers)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body, response


def get(backend: DemoBackend, path: str, **params):
    status, body, _ = call(backend, path, **params)
    assert status == 200, body
    return body


def history(backend: DemoBackend, **params) -> list[HistoryEntry]:
    return list(contract.parse_history(get(backend, "/account/history", limit=200, **params)).items)


# ---- auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong.token.value", "Basic dXNlcjpwYXNz", "Bearer"],
    ids=["missing", "wrong", "basic", "empty-bearer"],
)
@pytest.mark.parametrize("path", ALL_GETS)
def test_every_endpoint_wants_the_current_token(path, authorization):
    status, body, _ = call(make(), path, token=authorization)
    assert (status, body) == (401, {"statusCode": 401, "message": "Unauthorized"})


def test_regeneration_revokes_the_old_token_at_once():
    backend = make()
    old = backend.token.reveal()
    status, body, _ = call(backend, "/account/token/regenerate", method="POST")
    assert status == 201
    new = body["token"]
    assert new != old and backend.token.reveal() == new
    assert body["masked"] == mask(new) and body["issued_at"] == "2026-11-25T14:03:07Z"
    assert call(backend, "/account/profile", token=f"Bearer {old}")[0] == 401
    assert (
        call(backend, "/account/token/regenerate", method="POST", token=f"Bearer {old}")[0] == 401
    )
    assert call(backend, "/account/profile", token=f"Bearer {new}")[0] == 200


def test_two_regenerations_in_the_same_second_still_differ():
    backend = make()
    first = call(backend, "/account/token/regenerate", method="POST")[1]["token"]
    second = call(backend, "/account/token/regenerate", method="POST")[1]["token"]
    assert first != second
    assert call(backend, "/account/profile", token=f"Bearer {first}")[0] == 401


def test_the_token_looks_like_a_hypertracker_jwt():
    backend = make()
    header, payload, signature = backend.token.reveal().split(".")

    def decode(part: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    claims = decode(payload)
    assert decode(header) == {"alg": "HS256", "typ": "JWT"}
    assert set(claims) == {"sub", "mid", "iat"} and signature
    assert claims["sub"] == get(backend, "/account/profile")["id"]
    info = contract.parse_token_info(get(backend, "/account/token"))
    assert info.issued_at == datetime.fromtimestamp(claims["iat"], UTC)
    assert info.masked == mask(backend.token.reveal())
    assert timedelta(0) < NOW - info.last_used_at < timedelta(minutes=5)
    assert repr(backend.token).startswith("Secret(") and backend.token.reveal() not in repr(backend)


# ---- routing and validation ---------------------------------------------------------------------


def test_unknown_path_and_wrong_method_are_404_json():
    backend = make()
    status, body, response = call(backend, "/account/nope")
    assert (
        status == 404
        and body["statusCode"] == 404
        and body["message"] == "Cannot GET /account/nope"
    )
    assert response.headers["content-type"].startswith("application/json")
    assert call(backend, "/account/token/regenerate")[0] == 404
    assert call(backend, "/account/profile", method="POST")[0] == 404


@pytest.mark.parametrize(
    ("path", "params", "names"),
    [
        ("/account/metrics", {"days": "0"}, "days"),
        ("/account/metrics", {"days": "366"}, "days"),
        ("/account/metrics", {"days": "ninety"}, "days"),
        ("/account/metrics", {"days": "7.5"}, "days"),
        ("/account/usage/live", {"window_minutes": "0"}, "window_minutes"),
        ("/account/usage/live", {"window_minutes": "61"}, "window_minutes"),
        ("/account/usage/endpoints", {"timeframe": "year"}, "timeframe"),
        ("/account/history", {"limit": "0"}, "limit"),
        ("/account/history", {"limit": "201"}, "limit"),
        ("/account/history", {"kind": "bill"}, "kind"),
        ("/account/history", {"cursor": "not-a-cursor"}, "cursor"),
        ("/account/history", {"cursor": base64.urlsafe_b64encode(b'{"o":-1}').decode()}, "cursor"),
    ],
)
def test_bad_parameters_are_nestjs_400s_naming_the_parameter(path, params, names):
    status, body, _ = call(make(), path, **params)
    assert status == 400
    assert body["statusCode"] == 400 and body["error"] == "Bad Request"
    assert body["message"].startswith(names)


def test_parameter_bounds_are_accepted():
    backend = make()
    assert get(backend, "/account/metrics", days=1)["days"] == 1
    assert len(get(backend, "/account/metrics", days=365)["daily"]) == 365
    assert len(get(backend, "/account/usage/live", window_minutes=60)["series"]) == 240
    assert len(get(backend, "/account/history", limit=1)["items"]) == 1


def test_a_cursor_from_another_kind_filter_is_rejected():
    backend = make()
    cursor = get(backend, "/account/history", limit=2)["next_cursor"]
    status, body, _ = call(backend, "/account/history", kind="support", cursor=cursor)
    assert status == 400 and "cursor" in body["message"]


# ---- counters, faults, determinism -------------------------------------------------------------


def test_requests_are_counted_and_account_calls_spend_no_tokens():
    backend = make()
    before = get(backend, "/account/subscription")["tokens_used"]
    for _ in range(20):
        get(backend, "/account/usage/live")
    call(backend, "/account/profile", token=None)
    assert get(backend, "/account/subscription")["tokens_used"] == before
    assert backend.requests_served == 23
    assert backend.requests_by_path["/account/usage/live"] == 20
    assert backend.requests_by_path["/account/subscription"] == 2


def test_scripted_faults_hit_their_prefix_before_auth_and_can_be_cleared():
    backend = make()
    backend.set_fault("/account/usage", 503)
    status, body, response = call(backend, "/account/usage/live", token=None)
    assert status == 503 and "<h1>503 Service Unavailable</h1>" in body
    assert response.headers["content-type"].startswith("text/html")
    assert call(backend, "/account/usage/endpoints")[0] == 503
    assert call(backend, "/account/profile")[0] == 200
    backend.set_fault(None)
    assert call(backend, "/account/usage/live")[0] == 200


def test_fault_defaults_follow_the_contract_and_times_limits_them():
    backend = make()
    backend.set_fault("/account/subscription", 429, times=1)
    status, body, response = call(backend, "/account/subscription")
    assert status == 429 and body["error"] == "rate_limit_exceeded" and body["retry_after"] == 30
    assert response.headers["Retry-After"] == "30"
    assert call(backend, "/account/subscription")[0] == 200  # only once
    backend.set_fault("/account/", 402)
    status, body, _ = call(backend, "/account/metrics")
    assert status == 402 and body["resets_at"] == get(make(), "/account/subscription")["resets_at"]
    backend.set_fault("/account/", 200, body=b"{not json", headers={"X-Test": "1"})
    status, body, response = call(backend, "/account/metrics")
    assert (status, body, response.headers["X-Test"]) == (200, "{not json", "1")


def test_same_seed_and_clock_serve_byte_identical_responses():
    one, two, other = make(seed=5), make(seed=5), make(seed=6)
    for path in ALL_GETS:
        a, b, c = (call(x, path)[2].content for x in (one, two, other))
        assert a == b, path
        if path not in ("/account/billing/next",):
            assert a != c, path


def test_responses_are_built_from_the_contract_dumps():
    backend = make()
    for path, parse, dump in [
        ("/account/subscription", contract.parse_subscription, contract.dump_subscription),
        ("/account/usage/live", contract.parse_live, contract.dump_live),
        ("/account/metrics", contract.parse_metrics, contract.dump_metrics),
        ("/account/usage/endpoints", contract.parse_endpoint_usage, contract.dump_endpoint_usage),
        ("/account/history", contract.parse_history, contract.dump_history),
    ]:
        body = get(backend, path)
        assert dump(parse(body)) == body, path


# ---- realism: plan, subscription, billing ------------------------------------------------------


def test_price_table_matches_the_public_pricing():
    table = {p.id: (p.price_cents, p.quota, p.quota_period, p.rate_limit_per_minute) for p in PLANS}
    assert table == {
        "free": (0, 100, "day", None),
        "pulse": (17_900, 50_000, "month", 60),
        "surge": (39_900, 150_000, "month", 100),
        "flow": (79_900, 400_000, "month", 200),
        "stream": (199_900, 2_000_000, "month", 500),
        "enterprise": (None, 10_000_000, "month", 1_000),
    }
    assert [p.id for p in PLANS if p.streams_included and p.price_cents] == ["stream"]
    assert plan_by_id("Surge") is plan_by_id("surge") and plan_by_id("gold") is None


def test_default_account_is_on_surge_with_a_monthly_period_on_its_signup_day():
    backend = make()
    sub = contract.parse_subscription(get(backend, "/account/subscription"))
    profile = contract.parse_profile(get(backend, "/account/profile"))
    assert sub.plan == plan_by_id("surge") and sub.status == "active"
    assert sub.period_start <= NOW < sub.resets_at
    assert sub.period_start.day == sub.resets_at.day == profile.created_at.day
    assert 27 <= (sub.resets_at - sub.period_start).days <= 31
    assert sub.period_start.time() == sub.resets_at.time() == datetime.min.time()
    bill = contract.parse_next_billing(get(backend, "/account/billing/next"))
    assert bill.invoice_date == sub.resets_at.date()
    assert (bill.amount_cents, bill.currency, bill.plan_name) == (39_900, "USD", "Surge")
    assert bill.payment_method == "Visa •••• 4242"


def test_tokens_used_is_the_period_s_daily_requests_minus_429s():
    backend = make()
    sub = contract.parse_subscription(get(backend, "/account/subscription"))
    metrics = contract.parse_metrics(get(backend, "/account/metrics", days=40))
    in_period = [d for d in metrics.daily if d.date >= sub.period_start.date()]
    expected = sum(d.requests - d.rate_limited for d in in_period)
    assert abs(sub.tokens_used - expected) <= 2
    elapsed = (NOW - sub.period_start) / (sub.resets_at - sub.period_start)
    assert 0.55 < sub.tokens_used / sub.plan.quota / elapsed < 0.95  # on track for 55-95 % of quota


def test_stream_plan_has_stream_usage_and_others_do_not():
    stream = contract.parse_live(get(make(plan_id="stream"), "/account/usage/live"))
    assert stream.streams is not None and stream.limit_per_minute == 500
    assert stream.streams.connection_limit == 10
    assert 1 <= stream.streams.connections_open <= 10 and stream.streams.messages_per_minute > 100
    assert contract.parse_live(get(make(), "/account/usage/live")).streams is None


def test_free_plan_resets_daily_has_no_limit_and_no_bill():
    backend = make(plan_id="free")
    sub = contract.parse_subscription(get(backend, "/account/subscription"))
    assert sub.plan.quota_period == "day" and sub.resets_at - sub.period_start == timedelta(days=1)
    assert 0 < sub.tokens_used <= 100
    live = contract.parse_live(get(backend, "/account/usage/live"))
    assert live.limit_per_minute is None and live.throttled_in_window == 0
    bill = contract.parse_next_billing(get(backend, "/account/billing/next"))
    assert (bill.invoice_date, bill.amount_cents, bill.payment_method) == (None, 0, None)
    kinds = {e.kind for e in history(backend)}
    assert kinds == {"support"}
    metrics = contract.parse_metrics(get(backend, "/account/metrics"))
    assert max(d.requests for d in metrics.daily) <= 100


@pytest.mark.parametrize("plan", [p.id for p in PLANS])
def test_every_plan_serves_every_endpoint(plan):
    backend = make(plan_id=plan)
    for path in ALL_GETS:
        get(backend, path)
    with pytest.raises(ValueError):
        make(plan_id="gold")


# ---- realism: metrics ----------------------------------------------------------------------------


def test_metrics_cover_the_days_asked_ending_today():
    metrics = contract.parse_metrics(get(make(), "/account/metrics"))
    dates = [d.date for d in metrics.daily]
    assert len(dates) == 90 and dates[-1] == metrics.end == date(2026, 11, 25)
    assert dates == [metrics.start + timedelta(days=i) for i in range(90)]
    total = sum(d.requests for d in metrics.daily)
    assert metrics.summary.avg_daily_requests == pytest.approx(total / 90, abs=0.01)
    today = metrics.daily[-1].requests
    assert 0.3 < today / metrics.daily[-8].requests < 0.8  # 14:03 of a day, vs last Wednesday


def test_weekends_are_quieter_and_traffic_grows():
    daily = contract.parse_metrics(get(make(), "/account/metrics", days=180)).daily[:-1]
    weekday = statistics.mean(d.requests for d in daily if d.date.weekday() < 5)
    weekend = statistics.mean(d.requests for d in daily if d.date.weekday() >= 5)
    assert weekday > 1.5 * weekend
    assert statistics.mean(d.requests for d in daily[-28:]) > statistics.mean(
        d.requests for d in daily[:28]
    )


def test_there_is_exactly_one_incident_day():
    daily = contract.parse_metrics(get(make(), "/account/metrics")).daily
    median_rate = statistics.median(d.errors / d.requests for d in daily)
    incidents = [d for d in daily if d.errors / d.requests > 4 * median_rate]
    assert len(incidents) == 1
    (incident,) = incidents
    assert incident.avg_latency_ms == max(d.avg_latency_ms for d in daily)
    assert incident.avg_latency_ms > 3 * statistics.median(d.avg_latency_ms for d in daily)
    assert incident.rate_limited / incident.requests > 0.1
    assert incident.rate_limited == max(d.rate_limited for d in daily)


def test_previous_summary_exists_unless_the_account_is_too_young():
    backend = make()
    assert get(backend, "/account/metrics", days=90)["previous_summary"] is not None
    assert get(backend, "/account/metrics", days=180)["previous_summary"] is not None
    assert get(backend, "/account/metrics", days=365)["previous_summary"] is None
    upgrade = contract.parse_metrics(get(backend, "/account/metrics", days=90))
    # The previous 90 days were mostly on Pulse: much less traffic than now.
    assert upgrade.previous_summary.avg_daily_requests < 0.8 * upgrade.summary.avg_daily_requests


# ---- realism: endpoint usage ---------------------------------------------------------------------


def usage(backend: DemoBackend, timeframe: str):
    return contract.parse_endpoint_usage(
        get(backend, "/account/usage/endpoints", timeframe=timeframe)
    )


def test_timeframes_are_coherent_with_each_other_and_with_daily_metrics():
    backend = make()
    totals = {tf: sum(e.requests for e in usage(backend, tf).endpoints) for tf in TIMEFRAMES}
    assert totals["today"] < totals["week"] < totals["month"] < totals["30d"] < totals["90d"]
    daily = contract.parse_metrics(get(backend, "/account/metrics", days=30)).daily
    assert abs(totals["today"] - daily[-1].requests) <= 1
    this_week = [d for d in daily if d.date >= date(2026, 11, 23)]
    assert abs(totals["week"] - sum(d.requests for d in this_week)) <= 2
    report = usage(backend, "month")
    assert report.start == datetime(2026, 11, 1, tzinfo=UTC) and report.end == NOW


def test_endpoint_rows_are_documented_paths_most_requested_first():
    report = usage(make(), "30d")
    paths = [e.path for e in report.endpoints]
    assert {"/positions/heatmap", "/position-metrics/general", "/fills", "/info"} <= set(paths)
    assert len(paths) == len(set(paths))
    assert [e.requests for e in report.endpoints] == sorted(
        (e.requests for e in report.endpoints), reverse=True
    )
    info = next(e for e in report.endpoints if e.path == "/info")
    assert info.method == "POST"
    for e in report.endpoints:
        assert e.errors + e.throttled <= e.requests
        if e.mean_interval_s is not None:
            spacing = 3600 / e.calls_per_hour  # both are rounded on the wire
            assert 0.999 * spacing <= e.mean_interval_s <= 1.1 * spacing


def test_some_endpoints_are_over_polled_and_one_collects_429s():
    for timeframe in ("today", "30d", "90d"):
        rows = {e.path: e for e in usage(make(), timeframe).endpoints}
        assert 12 <= rows["/positions/heatmap"].mean_interval_s <= 30  # data: every 15-30 min
        assert 20 <= rows["/position-metrics/general"].mean_interval_s <= 60  # data: every 10 min
        assert rows["/orders/5m-snapshots/{coin}"].mean_interval_s >= 200  # polled about right
    rows = usage(make(), "30d").endpoints
    shares = {e.path: e.throttled / e.requests for e in rows if e.requests > 100}
    worst = max(shares, key=shares.get)
    assert worst == "/fills/liquidation" and shares[worst] > 0.08
    assert sorted(shares.values())[-2] < 0.03


def test_benchmark_scaling_options():
    backend = make(endpoint_count=1_000, history_entries=50_000)
    rows = usage(backend, "90d").endpoints  # the rarest real endpoint may go uncalled
    assert 990 <= len(rows) <= 1_000 and len({e.key for e in rows}) == len(rows)
    page = contract.parse_history(get(backend, "/account/history", limit=200))
    assert len(page.items) == 200 and page.next_cursor
    assert len(backend.history.visible(None, int(NOW.timestamp()))) == 50_000
    assert len(usage(make(endpoint_count=5), "30d").endpoints) == 5


# ---- realism: live ---------------------------------------------------------------------------


def test_live_series_shape_and_rpm():
    live = contract.parse_live(get(make(), "/account/usage/live", window_minutes=15))
    assert live.interval_seconds == 15 and len(live.series) == 60 and live.limit_per_minute == 100
    starts = [b.at for b in live.series]
    assert all(b - a == timedelta(seconds=15) for a, b in zip(starts, starts[1:], strict=False))
    assert starts[-1] + timedelta(seconds=15) <= NOW < starts[-1] + timedelta(seconds=30)
    # A sliding 60 s window: between 3 full buckets and 5, never far from the last 4.
    last_four = [b.requests for b in live.series[-4:]]
    assert abs(live.requests_per_minute - sum(last_four)) <= max(last_four) + 1
    assert live.throttled_in_window == sum(b.throttled for b in live.series)


def test_live_rate_moves_within_a_bucket():
    clock = FixedClock(NOW)
    backend = DemoBackend(seed=3, clock=clock)
    rates = []
    for _ in range(6):  # one sample every 5 s for 30 s, as a user watching would see it
        rates.append(contract.parse_live(get(backend, "/account/usage/live")).requests_per_minute)
        clock.advance(5)
    assert len(set(rates)) >= 4


def test_live_rate_usually_sits_below_the_limit_and_sometimes_crosses_it():
    clock = FixedClock(NOW)
    backend = DemoBackend(seed=3, clock=clock)
    fractions, throttled_when_over = [], []
    for _ in range(600):  # 2.5 hours, one sample a quarter of a minute
        live = contract.parse_live(get(backend, "/account/usage/live", window_minutes=1))
        fraction = live.requests_per_minute / live.limit_per_minute
        fractions.append(fraction)
        if fraction > 1:
            throttled_when_over.append(live.throttled_in_window)
        clock.advance(15)
    inside = sum(0.4 <= f <= 0.85 for f in fractions) / len(fractions)
    assert inside > 0.75
    assert throttled_when_over and all(t > 0 for t in throttled_when_over)
    assert len(throttled_when_over) < 0.15 * len(fractions)
    assert len({round(f, 2) for f in fractions}) > 30  # it moves


# ---- realism: history --------------------------------------------------------------------------


def test_history_tells_the_account_s_story_newest_first():
    backend = make()
    entries = history(backend)
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    assert {e.kind for e in entries} == set(HISTORY_KINDS)
    assert all(e.at <= NOW for e in entries)

    change = [e for e in entries if e.kind == "plan_change"]
    assert len(change) == 1 and "Pulse → Surge" in change[0].description
    proration = [
        e for e in entries if e.kind == "invoice" and e.description.startswith("Proration")
    ]
    assert len(proration) == 1 and 0 < proration[0].amount_cents < 39_900 - 17_900

    failed = [e for e in entries if e.status == "failed"]
    assert len(failed) == 1 and failed[0].kind == "payment"
    retry = [
        e
        for e in entries
        if e.reference == failed[0].reference and e.status == "paid" and e.kind == "payment"
    ]
    assert len(retry) == 1 and retry[0].at > failed[0].at

    refunds = [e for e in entries if e.kind == "refund"]
    assert refunds and all(e.amount_cents < 0 and e.status == "refunded" for e in refunds)
    support = [e for e in entries if e.kind == "support"]
    assert len(support) >= 4 and {e.status for e in support} >= {"resolved", "open"}
    assert all(e.amount_cents is None and e.currency is None and e.reference for e in support)
    assert any("429" in e.description for e in support)

    descriptions = " ".join(e.description for e in entries)
    assert "," in descriptions and '"' in descriptions and not descriptions.isascii()


def test_one_monthly_invoice_and_payment_per_period_since_signup():
    backend = make()
    entries = history(backend)
    profile = contract.parse_profile(get(backend, "/account/profile"))
    monthly = [
        e for e in entries if e.kind == "invoice" and "monthly subscription" in e.description
    ]
    months = (NOW.year - profile.created_at.year) * 12 + NOW.month - profile.created_at.month
    months += NOW.day >= profile.created_at.day
    assert len(monthly) == months
    assert monthly[-1].description.startswith("Pulse") and monthly[0].description.startswith(
        "Surge"
    )
    refs = [e.reference for e in monthly]
    assert len(set(refs)) == len(refs)
    paid = {e.reference for e in entries if e.kind == "payment" and e.status == "paid"}
    assert set(refs) <= paid


def test_kind_filter_and_pagination_agree_with_the_full_list():
    backend = make()
    everything = history(backend)
    for kind in HISTORY_KINDS:
        assert history(backend, kind=kind) == [e for e in everything if e.kind == kind]
    seen, cursor = [], None
    while True:
        params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        page = contract.parse_history(get(backend, "/account/history", **params))
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == everything


def test_paging_stays_stable_while_time_passes():
    clock = FixedClock(NOW)
    backend = DemoBackend(seed=7, clock=clock)
    first = get(backend, "/account/history", limit=5)
    clock.advance(40 * 86_400)  # a new billing period opens meanwhile
    rest = contract.parse_history(
        get(backend, "/account/history", limit=200, cursor=first["next_cursor"])
    )
    ids = [e["id"] for e in first["items"]] + [e.id for e in rest.items]
    assert len(ids) == len(set(ids)) == len(history(make()))
    fresh = history(backend)
    assert fresh[0].at > NOW and len(fresh) > len(ids)  # a new page view sees the new invoice
