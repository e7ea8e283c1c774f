"""Security: no plain http off-box, the token in no repr/str/pickle, no redirect carries it away."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime

import httpx
import pytest

from faultserver import (
    SENTINEL_TOKEN,
    FaultServer,
    Options,
    assert_token_absent,
    sample_payloads,
)
from ht_dash import cli
from ht_dash.api import (
    AccountClient,
    HtError,
    InsecureBaseURL,
    Secret,
    ServerError,
    check_base_url,
    contract,
    mask,
)
from ht_dash.api.models import RegeneratedToken
from ht_dash.config import Settings, load_settings
from ht_dash.runtime import Runtime

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
HTTP_HINT = "use https://, or http:// only to 127.0.0.1/localhost"


# ---- plain http:// only to loopback --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",
        "http://127.0.0.2:8765/api",
        "http://[::1]:8765",
        "http://localhost:8765/api/external/",
        "https://ht-api.coinmarketman.com/api/external",
    ],
)
def test_loopback_http_and_any_https_are_accepted(url):
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://ht-api.coinmarketman.com/api/external", "ht-api.coinmarketman.com"),
        ("http://192.168.1.20:8765", "192.168.1.20"),
        ("http://0.0.0.0:8765", "0.0.0.0"),
        ("http://localhost.evil.example", "localhost.evil.example"),
        ("http://127.0.0.1.nip.io", "127.0.0.1.nip.io"),
    ],
)
def test_plain_http_elsewhere_is_refused_with_a_clear_message(url, host):
    with pytest.raises(InsecureBaseURL) as caught:
        check_base_url(url)
    assert str(caught.value) == (
        f"refusing plain http:// to {host}: the token would travel unencrypted — {HTTP_HINT}"
    )
    assert caught.value.title == "Refusing insecure URL"


def test_client_refuses_plain_http_before_any_request():
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200))
    with pytest.raises(InsecureBaseURL):
        AccountClient("http://api.example.test", Secret(SENTINEL_TOKEN), transport=transport)
    assert sent == []


def test_credentials_in_the_url_are_refused_without_echoing_them():
    with pytest.raises(InsecureBaseURL) as caught:
        check_base_url("https://alice:hunter2-password@api.example.test")
    assert "hunter2" not in str(caught.value)
    assert caught.value.message == "the base URL must not contain a user name or password"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://api.example.test", "base URL 'ftp://api.example.test' is not an http(s) URL"),
        ("http://[::1", "base URL 'http://[::1' is not a valid URL (Invalid IPv6 URL)"),
        (
            "https://api.example.test:port",
            "base URL 'https://api.example.test:port' is not a valid URL",
        ),
    ],
)
def test_malformed_base_url_is_a_clear_error(url, message):
    with pytest.raises(InsecureBaseURL) as caught:
        check_base_url(url)
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize(
    "argv",
    [
        ["--base-url", "http://ht-api.coinmarketman.com/api/external"],
        ["--base-url", "http://[::1"],
    ],
)
def test_cli_exits_2_on_an_insecure_or_malformed_base_url(argv, capsys, monkeypatch):
    monkeypatch.setattr(
        "ht_dash.tui.app.run_app", lambda runtime: pytest.fail("the app must not start")
    )
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ht-dash: ")
    assert "Traceback" not in err


def test_env_base_url_over_plain_http_is_refused_too(monkeypatch, capsys):
    monkeypatch.setenv("HT_DASH_BASE_URL", "http://ht-api.coinmarketman.com/api/external")
    monkeypatch.setattr(
        "ht_dash.tui.app.run_app", lambda runtime: pytest.fail("the app must not start")
    )
    assert cli.main([]) == 2
    assert "refusing plain http:// to ht-api.coinmarketman.com" in capsys.readouterr().err


# ---- the token in no repr, str, pickle or JSON ---------------------------------------------------


def every_model():
    payloads = sample_payloads(NOW)
    models = [
        contract.parse_profile(payloads[contract.PROFILE]),
        contract.parse_token_info(payloads[contract.TOKEN]),
        contract.parse_subscription(payloads[contract.SUBSCRIPTION]),
        contract.parse_live(payloads[contract.LIVE]),
        contract.parse_metrics(payloads[contract.METRICS]),
        contract.parse_endpoint_usage(payloads[contract.ENDPOINT_USAGE]),
        contract.parse_next_billing(payloads[contract.NEXT_BILLING]),
        contract.parse_history(payloads[contract.HISTORY]),
    ]
    regenerated = contract.parse_regenerated({**payloads[contract.TOKEN], "token": SENTINEL_TOKEN})
    return [*models, regenerated]


@pytest.mark.parametrize("length", range(1, 81))
def test_the_masked_form_shows_at_most_a_quarter_of_any_token(length):
    token = "".join(chr(ord("A") + i % 26) for i in range(length))
    masked = mask(token)
    clear = masked.replace("…", "").replace("•", "")
    assert len(clear) <= length // 4, masked
    head, _, tail = masked.partition("…")
    assert token.startswith(head.replace("•", "")) and token.endswith(tail)
    if length < 16:
        assert masked == "••••••••"  # nothing of the token, not even its length


def test_a_long_token_keeps_its_recognisable_ends():
    assert mask(SENTINEL_TOKEN) == "eyJhbG…3a9c"
    assert mask("abcdefghijklmnopqrstuvwxyz0123456789ABCD") == "abcdef…ABCD"
    assert mask("abcdefghijklmnop") == "ab…op"


def test_secret_shows_only_its_masked_form():
    secret = Secret(SENTINEL_TOKEN)
    for text in (
        repr(secret),
        str(secret),
        f"{secret}",
        format(secret),
        f"{secret!r:>40}",
        f"{[secret]}",
    ):
        assert_token_absent(text)
        assert "eyJhbG…3a9c" in text
    assert secret.reveal() == SENTINEL_TOKEN


def test_secret_cannot_be_pickled_copied_or_serialised():
    secret = Secret(SENTINEL_TOKEN)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        copy.deepcopy(secret)
    with pytest.raises(TypeError):
        json.dumps({"token": secret})


def test_no_model_shows_the_token_in_repr_or_str():
    models = every_model()
    assert isinstance(models[-1], RegeneratedToken)
    for model in models:
        assert_token_absent(repr(model), str(model))


def test_regenerated_token_cannot_be_pickled():
    with pytest.raises(TypeError):
        pickle.dumps(every_model()[-1])


async def test_client_repr_and_str_hide_the_token():
    api = AccountClient("https://api.example.test", Secret(SENTINEL_TOKEN))
    async with api:
        assert repr(api) == "AccountClient(base_url='https://api.example.test', token=set)"
        assert_token_absent(repr(api), str(api), vars(api))


def test_settings_never_hold_the_token(monkeypatch):
    monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL_TOKEN)
    settings = load_settings()
    assert_token_absent(repr(settings), str(settings))
    assert repr(settings).startswith("Settings(base_url='https://ht-api.coinmarketman.com")


async def test_runtime_and_its_client_hide_the_token():
    runtime = Runtime(settings=Settings(), demo=True)
    api = runtime.make_client(Secret(SENTINEL_TOKEN))
    async with api:
        assert_token_absent(repr(runtime), str(runtime), repr(api))
        assert_token_absent(repr(runtime), token=runtime.demo_backend.token.reveal())


# ---- redirects never carry the token to another host ---------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_to_another_host_is_not_followed(status):
    with FaultServer("ok") as elsewhere:
        target = f"http://localhost:{elsewhere.port}{contract.PROFILE}"
        options = Options(status=status, location=target)
        with FaultServer("redirect", options=options) as origin:
            api = AccountClient(origin.base_url, Secret(SENTINEL_TOKEN), timeout=httpx.Timeout(2.0))
            async with api:
                with pytest.raises(ServerError) as caught:
                    await api.profile()
    assert (
        caught.value.message
        == f"unexpected redirect ({status}) to {target}; ht-dash does not follow redirects"
    )
    assert_token_absent(caught.value)
    assert [r.path for r in origin.requests] == [contract.PROFILE]
    assert elsewhere.requests == [], "the other host must never see the request"


async def test_redirect_on_the_same_host_is_not_followed_either():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/moved"):
            pytest.fail("followed a redirect")
        return httpx.Response(302, headers={"Location": "https://api.example.test/moved"})

    api = AccountClient(
        "https://api.example.test", Secret(SENTINEL_TOKEN), transport=httpx.MockTransport(handler)
    )
    async with api:
        with pytest.raises(ServerError):
            await api.subscription()


@pytest.mark.parametrize("status", [418, 503])
async def test_a_status_line_that_echoes_the_token_is_redacted(status):
    """Some proxies put request details in the reason phrase; it reaches panels and stderr."""
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZW50aW5lbCJ9.c2VudGluZWwtc2lnbmF0dXJl"

    def handler(request: httpx.Request) -> httpx.Response:
        phrase = f"Bad token {token}".encode()
        return httpx.Response(status, content=b"", extensions={"reason_phrase": phrase})

    client = AccountClient(
        "https://api.example.test", Secret(token), transport=httpx.MockTransport(handler)
    )
    with pytest.raises(HtError) as caught:
        await client.profile()
    await client.aclose()
    assert token not in str(caught.value)
    assert "Bad token" in str(caught.value)
