"""Fault matrix, HTTP layer: status codes, throttling headers, error pages; what the user reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from faultserver import SENTINEL_TOKEN, FaultServer, Options, assert_token_absent
from ht_dash.api import (
    AccountClient,
    AuthError,
    BadPayload,
    BadRequest,
    HtError,
    NotOffered,
    QuotaExhausted,
    RateLimited,
    Secret,
    ServerError,
)
from ht_dash.clock import FixedClock

pytestmark = pytest.mark.fault

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def answering(
    status: int,
    body: object = None,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> AccountClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return AccountClient(
        "https://api.example.test",
        Secret(SENTINEL_TOKEN),
        transport=httpx.MockTransport(handler),
        clock=FixedClock(NOW),
    )


async def failure(api: AccountClient, expected: type[HtError]) -> HtError:
    async with api:
        with pytest.raises(expected) as caught:
            await api.subscription()
    assert_token_absent(caught.value)
    return caught.value


LOGIN_HINT = "log in again with `ht-dash login` (or set HT_DASH_TOKEN)"


async def test_401_says_the_token_was_rejected():
    exc = await failure(answering(401, {"statusCode": 401, "message": "Unauthorized"}), AuthError)
    assert exc.status == 401
    assert str(exc) == f"the token was rejected (401) — {LOGIN_HINT}"


async def test_403_says_the_token_is_not_allowed():
    exc = await failure(answering(403, {"statusCode": 403, "message": "Forbidden"}), AuthError)
    assert exc.status == 403
    assert str(exc) == f"the token is not allowed here (403) — {LOGIN_HINT}"


async def test_402_quota_spent_with_its_reset_instant():
    body = {
        "error": "quota_exhausted",
        "message": "Monthly usage quota spent",
        "resets_at": "2026-12-01T00:00:00Z",
    }
    exc = await failure(answering(402, body), QuotaExhausted)
    assert exc.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert (
        str(exc)
        == "Monthly usage quota spent — it resets at 2026-12-01 00:00 UTC, or upgrade the plan"
    )


async def test_402_without_a_body_still_says_what_to_do():
    exc = await failure(answering(402), QuotaExhausted)
    assert exc.resets_at is None
    assert str(exc) == "Payment Required — wait for the reset, or upgrade the plan"


THROTTLED = {"error": "rate_limit_exceeded", "message": "Too many requests"}


async def test_429_with_retry_after_in_the_body():
    exc = await failure(answering(429, {**THROTTLED, "retry_after": 42}), RateLimited)
    assert exc.retry_after == 42
    assert str(exc) == "Too many requests — retry in 42 s"


async def test_429_with_retry_after_header_in_seconds():
    exc = await failure(answering(429, THROTTLED, {"Retry-After": "7"}), RateLimited)
    assert exc.retry_after == 7
    assert exc.hint == "retry in 7 s"


async def test_429_with_retry_after_as_an_http_date():
    when = format_datetime(NOW + timedelta(seconds=120), usegmt=True)
    exc = await failure(answering(429, THROTTLED, {"Retry-After": when}), RateLimited)
    assert exc.retry_after == 120
    assert exc.hint == "retry in 120 s"


async def test_429_with_an_http_date_in_the_past_means_retry_now():
    when = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    exc = await failure(answering(429, THROTTLED, {"Retry-After": when}), RateLimited)
    assert exc.retry_after == 0


async def test_429_without_any_wait():
    exc = await failure(answering(429, THROTTLED), RateLimited)
    assert exc.retry_after is None
    assert str(exc) == "Too many requests — retry shortly"


async def test_429_with_an_unreadable_retry_after_header_falls_back_to_the_body():
    exc = await failure(
        answering(429, {**THROTTLED, "retry_after": 5}, {"Retry-After": "soon"}), RateLimited
    )
    assert exc.retry_after == 5


async def test_429_header_and_body_disagree_the_longer_wait_wins():
    exc = await failure(
        answering(429, {**THROTTLED, "retry_after": 3}, {"Retry-After": "20"}), RateLimited
    )
    assert exc.retry_after == 20


async def test_429_with_an_hours_long_wait_is_a_spent_quota():
    exc = await failure(answering(429, {**THROTTLED, "retry_after": 3 * 3600}), QuotaExhausted)
    assert exc.resets_at == NOW + timedelta(hours=3)
    assert str(exc) == "Too many requests — it resets at 2026-11-25 17:00 UTC, or upgrade the plan"


async def test_429_from_a_real_socket_with_both_waits():
    options = Options(retry_after=9, retry_after_header="seconds")
    with FaultServer("throttle", options=options) as server:
        api = AccountClient(server.base_url, Secret(SENTINEL_TOKEN), timeout=httpx.Timeout(2.0))
        exc = await failure(api, RateLimited)
    assert exc.retry_after == 9


@pytest.mark.parametrize(
    ("status", "reason"),
    [(500, "Internal Server Error"), (502, "Bad Gateway"), (503, "Service Unavailable")],
)
async def test_5xx_is_a_server_error_that_will_be_retried(status, reason):
    exc = await failure(answering(status, {"statusCode": status, "message": "boom"}), ServerError)
    assert exc.status == status
    assert exc.message == f"the server answered {status} {reason}"
    assert exc.hint == "the service is having trouble; ht-dash will retry"


async def test_html_error_page_from_a_proxy_is_not_shown_raw():
    with FaultServer("html") as server:
        api = AccountClient(server.base_url, Secret(SENTINEL_TOKEN), timeout=httpx.Timeout(2.0))
        exc = await failure(api, ServerError)
    assert exc.message == "the server answered 502 Bad Gateway"
    assert "<" not in str(exc)


async def test_html_page_with_200_is_a_bad_payload():
    exc = await failure(
        answering(
            200,
            content=b"<!doctype html><p>Sign in to the Wi-Fi</p>",
            headers={"Content-Type": "text/html"},
        ),
        BadPayload,
    )
    assert str(exc) == (
        "the server answered 200 with something that is not JSON — "
        "the API may have changed; try again or report it"
    )


async def test_empty_body_with_200_is_a_bad_payload():
    exc = await failure(answering(200, content=b""), BadPayload)
    assert exc.message == "the server answered 200 with something that is not JSON"


async def test_empty_body_with_503_is_a_server_error():
    exc = await failure(answering(503, content=b""), ServerError)
    assert exc.message == "the server answered 503 Service Unavailable"


async def test_400_shows_the_servers_validation_message():
    body = {
        "statusCode": 400,
        "message": ["days must be between 1 and 365"],
        "error": "Bad Request",
    }
    exc = await failure(answering(400, body), BadRequest)
    assert exc.message == "days must be between 1 and 365 (400)"
    assert exc.hint == "this is a bug in ht-dash or a changed API; please report it"


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_an_account_path_the_server_does_not_know_is_not_offered_not_a_bug(status):
    # What the real service answers on every /account/* path today (NestJS-style 404).
    body = {"statusCode": status, "message": "Cannot GET /api/external/account/subscription"}
    exc = await failure(answering(status, body), NotOffered)
    assert exc.status == status
    assert "does not offer /account/subscription" in exc.message
    assert "bug" not in str(exc)


async def test_404_off_the_account_paths_is_still_a_rejected_request():
    api = answering(404, {"statusCode": 404, "message": "Cannot GET /nope"})
    async with api:
        with pytest.raises(BadRequest) as caught:
            await api._request("GET", "/nope")
    assert caught.value.message == "Cannot GET /nope (404)"


async def test_server_echoing_the_token_in_its_message_does_not_leak_it():
    for status, expected in ((400, BadRequest), (429, RateLimited), (402, QuotaExhausted)):
        body = {
            "message": f"token {SENTINEL_TOKEN} is malformed; header was Bearer {SENTINEL_TOKEN}"
        }
        exc = await failure(answering(status, body), expected)
        assert "[redacted]" in exc.message


async def test_an_enormous_server_message_is_shortened():
    exc = await failure(answering(400, {"message": "x" * 50_000}), BadRequest)
    assert len(str(exc)) < 300


async def test_no_token_configured_is_an_auth_error_before_any_request():
    sent: list[httpx.Request] = []
    api = AccountClient(
        "https://api.example.test",
        None,
        transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)),
    )
    async with api:
        with pytest.raises(AuthError) as caught:
            await api.profile()
    assert str(caught.value) == f"no API token is configured — {LOGIN_HINT}"
    assert sent == []


async def test_a_pasted_masked_token_is_an_auth_error_not_a_crash():
    # "eyJhbG…Qk3x" is what the dashboard shows; pasting it used to crash with UnicodeEncodeError
    api = answering(200, {})
    api.set_token(Secret("eyJhbG…Qk3x"))
    exc = await failure(api, AuthError)
    assert (
        exc.message
        == "the token contains characters a token cannot have (spaces, line breaks or '…')"
    )
    assert exc.hint == "paste the full token, not its masked form (`ht-dash login`)"


async def test_error_bodies_are_plain_json_not_only_nestjs():
    # some gateways answer {"error": "..."} only; the reason phrase stands in for a missing message
    exc = await failure(answering(429, {"error": "rate_limit_exceeded"}), RateLimited)
    assert str(exc) == "Too Many Requests — retry shortly"
