"""The stand-in for the real service, and the client against it: account paths are "not offered"."""

from __future__ import annotations

import httpx
import pytest

from ht_dash.api import AccountClient, NotOffered, Secret
from realserver import REAL_TOKEN, RealServer


@pytest.fixture
def real():
    with RealServer() as server:
        yield server


def test_the_stand_in_answers_like_the_public_service(real):
    ok = httpx.get(
        real.base_url + "/hypertracker/state/status",
        headers={"Authorization": f"Bearer {REAL_TOKEN}"},
    )
    assert ok.status_code == 200 and set(ok.json()) == {
        "lastUpdate",
        "nextUpdate",
        "nextUpdateThreshold",
    }
    account = httpx.get(
        real.base_url + "/account/token", headers={"Authorization": f"Bearer {REAL_TOKEN}"}
    )
    assert account.status_code == 404
    assert account.json() == {
        "statusCode": 404,
        "message": "Cannot GET /api/external/account/token",
        "error": "Not Found",
    }
    stranger = httpx.get(real.base_url + "/positions", headers={"Authorization": "Bearer nope"})
    assert stranger.status_code == 401


def test_a_burst_over_60_per_minute_gets_the_documented_429(real):
    headers = {"Authorization": f"Bearer {REAL_TOKEN}"}
    with httpx.Client(base_url=real.base_url, headers=headers) as client:
        statuses = [client.get("/segments").status_code for _ in range(61)]
        last = client.get("/segments")
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    assert last.json() == {
        "error": "rate_limit_exceeded",
        "message": "Rate limit exceeded. Please slow down.",
        "retry_after": 42,
    }


@pytest.mark.parametrize("call", ["token_info", "subscription", "live", "next_billing", "profile"])
async def test_every_account_call_is_not_offered_by_the_real_service(real, call):
    async with AccountClient(real.base_url, Secret(REAL_TOKEN)) as api:
        with pytest.raises(NotOffered) as caught:
            await getattr(api, call)()
    assert caught.value.status == 404
    assert "bug" not in str(caught.value)
