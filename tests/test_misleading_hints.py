"""Hints say what will happen: a redirect is not retried (and says to check the base URL), and a
token pasted with its `Bearer ` scheme is the token, wherever it comes from."""

from __future__ import annotations

import pytest

from faultserver import SENTINEL_TOKEN, FaultServer, Options
from ht_dash import cli
from ht_dash.api import Secret, contract
from ht_dash.commands import _common as common

pytestmark = pytest.mark.fault


@pytest.fixture
def no_sleep(monkeypatch):
    async def instantly(seconds: float) -> None:
        pass

    monkeypatch.setattr(common, "RETRY", common.RetryPolicy(sleep=instantly))


def test_a_redirect_is_not_retried_and_its_hint_points_at_the_base_url(
    monkeypatch, capsys, no_sleep
):
    monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL_TOKEN)
    options = Options(status=301, location="https://elsewhere.example/api/external")
    with FaultServer("redirect", options=options) as server:
        code = cli.main(["--base-url", server.base_url, "status"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_NETWORK
    paths = sorted(r.path for r in server.requests)  # each asked once: no retry
    assert paths == sorted([contract.SUBSCRIPTION, contract.LIVE])
    assert "retry" not in err
    assert "ht-dash: unexpected redirect (301) to https://elsewhere.example/api/external;" in err
    assert "hint: check the base URL (--base-url, HT_DASH_BASE_URL)" in err


@pytest.mark.parametrize("given", ["Bearer {t}", "bearer {t}", "  Bearer   {t}\n", "{t}"])
def test_a_token_with_its_bearer_scheme_is_used_as_the_token(given, monkeypatch, capsys):
    monkeypatch.setenv("HT_DASH_TOKEN", given.format(t=SENTINEL_TOKEN))
    with FaultServer("ok") as server:
        code = cli.main(["--base-url", server.base_url, "auth", "status"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK, err
    assert "Account:  Fault Server <fault@example.test>" in out
    assert server.requests[0].headers["authorization"] == f"Bearer {SENTINEL_TOKEN}"


def test_secret_strips_the_scheme_once_and_only_the_scheme():
    assert Secret(f"Bearer {SENTINEL_TOKEN}").reveal() == SENTINEL_TOKEN
    assert Secret("Bearerish-token-123").reveal() == "Bearerish-token-123"
    with pytest.raises(ValueError):
        Secret("Bearer   ")


def test_a_bare_bearer_scheme_is_no_token(monkeypatch, capsys):
    monkeypatch.setenv("HT_DASH_TOKEN", "Bearer ")
    with FaultServer("ok") as server:
        code = cli.main(["--base-url", server.base_url, "status"])
    assert code == cli.EXIT_AUTH
    assert "ht-dash: no API token found" in capsys.readouterr().err
    assert server.requests == []
