"""AccountClient end to end: against the demo backend, and error mapping of scripted answers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from ht_dash.api import (
    DEFAULT_BASE_URL,
    AccountClient,
    AuthError,
    BadPayload,
    InsecureBaseURL,
    QuotaExhausted,
    RateLimited,
    Secret,
    ServerError,
)
from ht_dash.api.models import (
    EndpointUsageReport,
    HistoryPage,
    LiveUsage,
    Metrics,
    NextBilling,
    Profile,
    RegeneratedToken,
    Subscription,
    TokenInfo,
)
from ht_dash.clock import FixedClock
from ht_dash.demo import DemoBackend

NOW = datetime(2026, 11, 25, 14, 3, 7, tzinfo=UTC)  # a Wednesday afternoon
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2VjcmV0LXNpZ25hdHVyZQ"


def demo(seed: int = 7, **options) -> tuple[DemoBackend, AccountClient, FixedClock]:
    clock = FixedClock(NOW)
    backend = DemoBackend(seed=seed, clock=clock, **options)
    client = AccountClient(
        DEFAULT_BASE_URL, backend.token, transport=backend.transport(), clock=clock
    )
    return backend, client, clock


async def fetch_everything(client: AccountClient) -> dict[str, object]:
    return {
        "profile": await client.profile(),
        "token": await client.token_info(),
        "subscription": await client.subscription(),
        "live": await client.live(),
        "metrics": await client.metrics(),
        "endpoints": await client.endpoint_usage("30d"),
        "billing": await client.next_billing(),
        "history": await client.history(limit=10),
    }


# ---- against the demo backend ------------------------------------------------------------------


async def test_every_endpoint_parses_into_its_model():
    backend, client, _ = demo()
    async with client:
        data = await fetch_everything(client)
    assert isinstance(data["profile"], Profile) and "@" in data["profile"].email
    assert isinstance(data["token"], TokenInfo) and data["token"].masked == backend.token.masked
    sub = data["subscription"]
    assert isinstance(sub, Subscription) and sub.plan.name == "Surge" and sub.tokens_used > 0
    live = data["live"]
    assert isinstance(live, LiveUsage) and len(live.series) == 15 * 4
    metrics = data["metrics"]
    assert isinstance(metrics, Metrics) and len(metrics.daily) == 90
    endpoints = data["endpoints"]
    assert isinstance(endpoints, EndpointUsageReport) and len(endpoints.endpoints) >= 15
    assert isinstance(data["billing"], NextBilling) and data["billing"].amount_cents == 39_900
    history = data["history"]
    assert isinstance(history, HistoryPage) and len(history.items) == 10 and history.next_cursor
    assert backend.requests_served == 8


async def test_every_timeframe_and_window_parses():
    _, client, _ = demo()
    async with client:
        for timeframe in ("today", "week", "month", "30d", "90d"):
            report = await client.endpoint_usage(timeframe)
            assert report.timeframe == timeframe and report.endpoints
        for days in (1, 7, 30, 365):
            assert len((await client.metrics(days)).daily) == days
        for window in (1, 60):
            assert len((await client.live(window)).series) == window * 4


async def test_regenerate_revokes_the_old_token_and_the_new_one_works():
    backend, client, _ = demo()
    old = backend.token
    async with client:
        regenerated = await client.regenerate_token()
        assert isinstance(regenerated, RegeneratedToken)
        assert regenerated.token != old and regenerated.token == backend.token
        assert regenerated.info.masked == regenerated.token.masked
        assert regenerated.info.issued_at == NOW.replace(microsecond=0)

        with pytest.raises(AuthError) as caught:
            await client.profile()  # still holding the old token
        assert caught.value.status == 401
        with pytest.raises(AuthError):
            await client.regenerate_token()  # the old token cannot regenerate either

        client.set_token(regenerated.token)
        assert (await client.profile()).id
        info = await client.token_info()
        assert info.token_id == regenerated.info.token_id and info.last_used_at is None


async def test_iter_history_pages_through_everything_without_duplicates():
    backend, client, _ = demo()
    async with client:
        first_page = await client.history(limit=200)
        everything = [e async for e in client.iter_history(limit=7)]
    ids = [e.id for e in everything]
    assert len(ids) == len(set(ids)) == len(first_page.items) > 40
    assert ids == [e.id for e in first_page.items]
    assert [e.at for e in everything] == sorted((e.at for e in everything), reverse=True)
    assert backend.requests_by_path["/account/history"] == 1 + -(-len(ids) // 7)


async def test_iter_history_with_a_kind_filter_and_a_huge_history():
    _, client, _ = demo(history_entries=5_000)
    async with client:
        support = [e async for e in client.iter_history(kind="support")]
        everything = [e.id async for e in client.iter_history()]
    assert support and {e.kind for e in support} == {"support"}
    assert len(everything) == len(set(everything)) == 5_000


async def test_same_seed_and_clock_give_the_same_models():
    _, one, _ = demo(seed=11)
    _, two, _ = demo(seed=11)
    _, other, _ = demo(seed=12)
    async with one, two, other:
        a, b, c = (
            await fetch_everything(one),
            await fetch_everything(two),
            await fetch_everything(other),
        )
    assert a == b
    assert a["metrics"] != c["metrics"] and a["live"] != c["live"]


async def test_live_values_move_with_the_clock_and_hold_still_without_it():
    _, client, clock = demo()
    async with client:
        before = await client.live()
        assert await client.live() == before  # same instant, same numbers
        clock.advance(60)
        after = await client.live()
    assert after.at - before.at == timedelta(seconds=60)
    # The window slid by one minute (4 buckets): the overlap is identical, the new tail is new.
    assert [b.requests for b in after.series[:-4]] == [b.requests for b in before.series[4:]]
    assert after.series[-1].at - before.series[-1].at == timedelta(seconds=60)
    last_four = [b.requests for b in after.series[-4:]]
    assert abs(after.requests_per_minute - sum(last_four)) <= max(last_four) + 1  # sliding 60 s


# ---- error mapping with scripted answers --------------------------------------------------------


def scripted(status: int, *, body=None, content: bytes | None = None, headers=None, seen=None):
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return AccountClient(
        "https://api.example.test/api/external",
        Secret(TOKEN),
        transport=httpx.MockTransport(handler),
        clock=FixedClock(NOW),
    )


async def raised(client: AccountClient, expected: type[Exception], call: str = "subscription"):
    async with client:
        with pytest.raises(expected) as caught:
            await getattr(client, call)()
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    return caught.value


@pytest.mark.parametrize(
    ("status", "text"),
    [(401, "the token was rejected (401)"), (403, "the token is not allowed here (403)")],
)
async def test_401_and_403_are_auth_errors_telling_to_log_in(status, text):
    error = await raised(
        scripted(status, body={"statusCode": status, "message": "Unauthorized"}), AuthError
    )
    assert error.status == status and error.message == text
    assert "ht-dash login" in error.hint


async def test_402_is_quota_exhausted_with_the_reset_time():
    body = {
        "error": "quota_exhausted",
        "message": "Monthly usage quota spent",
        "resets_at": "2026-12-01T00:00:00Z",
    }
    error = await raised(scripted(402, body=body), QuotaExhausted)
    assert error.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert (
        str(error)
        == "Monthly usage quota spent — it resets at 2026-12-01 00:00 UTC, or upgrade the plan"
    )


RATE_BODY = {"error": "rate_limit_exceeded", "message": "Too many requests", "retry_after": 42}


async def test_429_with_only_the_body_retry_after():
    error = await raised(scripted(429, body=RATE_BODY), RateLimited)
    assert error.retry_after == 42 and str(error) == "Too many requests — retry in 42 s"


async def test_429_retry_after_header_in_seconds_wins_when_longer():
    error = await raised(scripted(429, body=RATE_BODY, headers={"Retry-After": "120"}), RateLimited)
    assert error.retry_after == 120


async def test_429_retry_after_as_an_http_date():
    when = format_datetime(NOW.replace(microsecond=0) + timedelta(seconds=90), usegmt=True)
    error = await raised(
        scripted(429, body={"message": "slow down"}, headers={"Retry-After": when}), RateLimited
    )
    assert error.retry_after == pytest.approx(90, abs=1)


async def test_429_without_any_wait_says_retry_shortly():
    error = await raised(scripted(429, content=b""), RateLimited)
    assert error.retry_after is None and error.hint == "retry shortly"


async def test_429_asking_to_wait_hours_is_a_spent_quota():
    error = await raised(scripted(429, body={**RATE_BODY, "retry_after": 3 * 3600}), QuotaExhausted)
    assert error.resets_at == NOW + timedelta(hours=3)
    assert "it resets at 2026-11-25 17:03 UTC" in str(error)


async def test_an_absurd_wait_is_capped_instead_of_crashing():
    error = await raised(scripted(429, body={**RATE_BODY, "retry_after": 1e300}), QuotaExhausted)
    assert error.resets_at == NOW + timedelta(days=366)


@pytest.mark.parametrize("header", ["inf", "nan", "-inf"])
async def test_a_non_finite_retry_after_header_is_ignored(header):
    error = await raised(scripted(429, content=b"", headers={"Retry-After": header}), RateLimited)
    assert error.retry_after is None


async def test_a_402_reset_time_without_zone_is_utc():
    body = {"error": "quota_exhausted", "message": "spent", "resets_at": "2026-12-01T00:00:00"}
    error = await raised(scripted(402, body=body), QuotaExhausted)
    assert error.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert error.resets_at > NOW  # comparable with the clock: no naive/aware TypeError


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_a_server_error_that_will_be_retried(status):
    error = await raised(
        scripted(status, content=b"<html><body>Bad Gateway</body></html>"), ServerError
    )
    assert error.status == status and error.message.startswith(f"the server answered {status}")
    assert "retry" in error.hint and "<html>" not in str(error)


@pytest.mark.parametrize(
    "content",
    [b"<!doctype html><html><body>Login</body></html>", b'{"plan": {"id": "surge",', b"", b"   "],
    ids=["html", "malformed-json", "empty", "blank"],
)
async def test_a_200_that_is_not_json_is_a_bad_payload(content):
    error = await raised(
        scripted(200, content=content, headers={"Content-Type": "text/html"}), BadPayload
    )
    assert error.message == "the server answered 200 with something that is not JSON"


async def test_a_missing_field_is_named():
    body = {
        "id": "acc_1",
        "name": "Mara",
        "organization": None,
        "created_at": "2025-01-02T03:04:05Z",
    }
    error = await raised(scripted(200, body=body), BadPayload, call="profile")
    assert error.field == "email" and error.message == "missing field 'email'"


async def test_a_wrong_type_is_named_with_its_path():
    backend = DemoBackend(seed=1, clock=FixedClock(NOW))
    body = json.loads(
        backend.handle("GET", "/account/subscription", {}, f"Bearer {backend.token.reveal()}").body
    )
    body["plan"]["quota"] = "150000"
    error = await raised(scripted(200, body=body), BadPayload)
    assert error.field == "plan.quota"
    assert error.message == "field 'plan.quota' should be an integer, got string"


def test_plain_http_to_a_remote_host_is_refused_but_loopback_is_allowed():
    with pytest.raises(InsecureBaseURL) as caught:
        AccountClient("http://ht-api.coinmarketman.com/api/external", Secret(TOKEN))
    assert "unencrypted" in caught.value.message
    assert (
        AccountClient("http://127.0.0.1:8080/api", Secret(TOKEN)).base_url
        == "http://127.0.0.1:8080/api"
    )


async def test_a_redirect_is_reported_not_followed():
    seen: list[httpx.Request] = []
    client = scripted(302, headers={"Location": "https://evil.example/steal"}, seen=seen)
    error = await raised(client, ServerError)
    assert error.status == 302 and "does not follow redirects" in error.message
    assert [r.url.host for r in seen] == ["api.example.test"]


# ---- the core never loads Textual -------------------------------------------------------------


def test_importing_api_and_demo_loads_no_textual():
    code = (
        "import sys, ht_dash.api, ht_dash.demo, ht_dash.api.plans\n"
        "ht_dash.demo.DemoBackend(seed=1).transport()\n"
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
