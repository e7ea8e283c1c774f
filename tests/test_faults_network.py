"""Fault matrix, network layer: real loopback sockets; what the user reads for each failure."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from faultserver import SENTINEL_TOKEN, FaultServer, Options, assert_token_absent, closed_port
from ht_dash.api import AccountClient, NetworkError, Secret, ServerError, contract

pytestmark = pytest.mark.fault

SHORT = httpx.Timeout(0.3)
HINT = "check your connection; ht-dash will retry"


def client(base_url: str, **kwargs) -> AccountClient:
    kwargs.setdefault("timeout", SHORT)
    return AccountClient(base_url, Secret(SENTINEL_TOKEN), **kwargs)


async def network_failure(base_url: str, **kwargs) -> NetworkError:
    async with client(base_url, **kwargs) as api:
        started = time.monotonic()
        with pytest.raises(NetworkError) as caught:
            await api.profile()
        assert time.monotonic() - started < 5, "a fault must not hang the caller"
    exc = caught.value
    assert exc.title == "Network problem"
    assert exc.hint == HINT
    assert_token_absent(exc)
    return exc


@pytest.fixture
def no_dns(monkeypatch):
    """Name resolution fails locally for every non-loopback name: no query leaves the machine."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in ("127.0.0.1", "::1", "localhost"):
            return real(host, *args, **kwargs)
        asked.append(name)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


async def test_connection_refused_names_the_host():
    exc = await network_failure(f"http://127.0.0.1:{closed_port()}")
    assert exc.message == "connection to 127.0.0.1 refused"


async def test_connection_refused_on_every_address_of_localhost():
    # localhost resolves to ::1 and 127.0.0.1: both refusals arrive wrapped in an exception group
    exc = await network_failure(f"http://localhost:{closed_port()}")
    assert exc.message == "connection to localhost refused"


async def test_dns_failure_says_the_name_cannot_be_resolved(no_dns):
    exc = await network_failure("https://ht-api.nothing.invalid/api/external")
    assert exc.message == "cannot resolve ht-api.nothing.invalid (DNS)"
    assert no_dns == ["ht-api.nothing.invalid"]


async def test_offline_resolver_is_reported_as_dns(monkeypatch):
    # what a laptop without network sees: EAI_AGAIN, "Temporary failure in name resolution"
    def offline(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    exc = await network_failure("https://ht-api.coinmarketman.com/api/external")
    assert exc.message == "cannot resolve ht-api.coinmarketman.com (DNS)"


async def test_connect_timeout():
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    exc = await network_failure("https://api.example.test", transport=httpx.MockTransport(hang))
    assert exc.message == "timed out connecting to api.example.test"


async def test_server_that_never_answers_gives_a_read_timeout():
    with FaultServer("stall") as server:
        exc = await network_failure(server.base_url)
    assert exc.message == "127.0.0.1 did not answer in time"
    assert len(server.requests) == 1


async def test_server_that_stalls_mid_body_gives_a_read_timeout():
    with FaultServer("stall-body") as server:
        exc = await network_failure(server.base_url)
    assert exc.message == "127.0.0.1 did not answer in time"


async def test_server_that_hangs_up_mid_body():
    with FaultServer("cut") as server:
        exc = await network_failure(server.base_url)
    assert exc.message == "connection to 127.0.0.1 broke off in the middle of the answer"


async def test_connection_reset():
    with FaultServer("reset") as server:
        exc = await network_failure(server.base_url)
    assert exc.message == "connection to 127.0.0.1 broke off (closed or reset)"


async def test_connection_closed_without_an_answer():
    with FaultServer("close") as server:
        exc = await network_failure(server.base_url)
    assert exc.message == "connection to 127.0.0.1 broke off (closed or reset)"


async def test_server_speaking_garbage_instead_of_http():
    with FaultServer("garbage") as server:
        exc = await network_failure(server.base_url)
    assert exc.message == "127.0.0.1 answered with something that is not HTTP"


async def test_tls_failure_against_a_plain_tcp_server():
    with FaultServer("ok") as server:
        exc = await network_failure(f"https://127.0.0.1:{server.port}")
    assert exc.message == "TLS handshake with 127.0.0.1 failed (certificate or proxy problem)"


async def test_client_recovers_by_itself_when_the_server_comes_back():
    """A failed request leaves the client usable: the next poll simply succeeds."""
    with FaultServer("flaky") as server:
        async with client(server.base_url) as api:
            first = await api.profile()
            with pytest.raises(ServerError) as caught:
                await api.profile()
            again = await api.profile()
    assert first == again and first.email == "fault@example.test"
    assert caught.value.message == "the server answered 503 Service Unavailable"
    assert caught.value.hint == "the service is having trouble; ht-dash will retry"


async def test_every_endpoint_parses_from_the_fault_server_ok_mode():
    """`ok` serves the whole contract, so `--mode X --only PATH` breaks one panel only."""
    with FaultServer("ok") as server:
        async with client(server.base_url) as api:
            await api.profile()
            await api.token_info()
            await api.subscription()
            await api.live()
            await api.metrics()
            await api.endpoint_usage()
            await api.next_billing()
            assert [e.id async for e in api.iter_history()] == ["pay_1"]
    assert all(r.headers["authorization"] == f"Bearer {SENTINEL_TOKEN}" for r in server.requests)


async def test_one_failing_endpoint_leaves_the_others_working():
    options = Options(status=500, only=contract.SUBSCRIPTION)
    with FaultServer("status", options=options) as server:
        async with client(server.base_url) as api:
            profile = await api.profile()
            with pytest.raises(ServerError) as caught:
                await api.subscription()
            billing = await api.next_billing()
    assert profile.name == "Fault Server" and billing.plan_name == "Pulse"
    assert caught.value.message == "the server answered 500 Internal Server Error"
