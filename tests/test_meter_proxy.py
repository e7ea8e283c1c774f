"""The metering proxy against a real upstream HTTP server on loopback (bounded waits)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import sqlite3
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from ht_dash.meter.proxy import MeterProxy, Upstream, parse_listen, parse_upstream
from ht_dash.meter.recorder import Recorder

SENTINEL = "SENTINEL-eyJhbGciOiJIUzI1NiJ9.c2VudGluZWw.TOKEN-7f3a9c"
BINARY = hashlib.sha256(b"seed").digest() * 8192  # 256 KiB, not valid UTF-8
RELEASE_TIMEOUT_S = 5.0


class UpstreamHandler(BaseHTTPRequestHandler):
    """What the real API might answer, plus a few awkward cases."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stalls
    server: FakeApi

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/api/external/echo") or path.startswith("/prefix/"):
            self._echo(b"")
        elif path.startswith("/api/external/limited"):
            body = json.dumps(
                {"error": "rate_limit_exceeded", "message": "Too many requests", "retry_after": 42}
            ).encode()
            self._send(429, body, {"Content-Type": "application/json", "Retry-After": "7"})
        elif path.startswith("/api/external/boom"):
            self._send(500, b"<html>upstream exploded</html>", {"Content-Type": "text/html"})
        elif path.startswith("/api/external/binary"):
            self._send(200, BINARY, {"Content-Type": "application/octet-stream", "ETag": '"b1"'})
        elif path.startswith("/api/external/stream"):
            self._stream()
        elif path.startswith("/api/external/slow"):
            self.server.release.wait(RELEASE_TIMEOUT_S)
            self._send(200, b"{}", {"Content-Type": "application/json"})
        else:
            body = json.dumps({"path": path, "items": list(range(len(path)))}).encode()
            self._send(
                200,
                body,
                {
                    "Content-Type": "application/json",
                    "X-Request-Id": f"req-{len(path)}",
                    "Set-Cookie": "a=1; Path=/",
                    "Cache-Control": "max-age=30",
                },
            )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self._echo(self.rfile.read(length))

    def _echo(self, body: bytes) -> None:
        payload = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("latin-1"),
        }
        self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def _stream(self) -> None:
        """Chunked: the second chunk is sent only once the test saw the first one arrive."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, chunk in enumerate((b"data: first\n\n", b"data: second\n\n")):
            if index == 1:
                self.server.first_chunk_seen.wait(RELEASE_TIMEOUT_S)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class FakeApi(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), UpstreamHandler)
        self.release = threading.Event()
        self.first_chunk_seen = threading.Event()


@pytest.fixture
def fake_api():
    server = FakeApi()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.release.set()
    server.first_chunk_seen.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "meter.sqlite3"


def _upstream_of(server: FakeApi, base_path: str = "") -> Upstream:
    return Upstream("http", "127.0.0.1", server.server_address[1], base_path)


async def _proxy(upstream: Upstream, recorder: Recorder, **kwargs) -> MeterProxy:
    proxy = MeterProxy(upstream, recorder, host="127.0.0.1", port=0, **kwargs)
    await proxy.start()
    return proxy


def _rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


async def test_responses_come_back_byte_exact_and_each_request_is_recorded(fake_api, db_path):
    recorder = Recorder(db_path)
    recorder.start()
    proxy = await _proxy(_upstream_of(fake_api), recorder)
    direct = httpx.AsyncClient(base_url=f"http://127.0.0.1:{fake_api.server_address[1]}")
    via = httpx.AsyncClient(base_url=proxy.url, headers={"Authorization": f"Bearer {SENTINEL}"})
    paths = [f"/api/external/segments/{n}/summary" for n in (9, 4, 123)] + [
        "/api/external/position-metrics/coin/BTC",
        "/api/external/position-metrics/coin/kPEPE",
        "/api/external/wallets/0x" + "a1" * 20 + "/positions?limit=5",
        "/api/external/binary",
        "/api/external/boom",
    ]
    try:
        for path in paths:
            expected = await direct.get(path)
            got = await via.get(path)
            assert got.status_code == expected.status_code, path
            assert got.content == expected.content, path
            for name in ("content-type", "x-request-id", "set-cookie", "cache-control", "etag"):
                assert got.headers.get(name) == expected.headers.get(name), (path, name)
            assert got.headers.get("content-length") == str(len(expected.content))
        head = await via.head("/api/external/binary")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(BINARY))
    finally:
        await direct.aclose()
        await via.aclose()
        await proxy.close()
        recorder.close()

    counts = dict(_rows(db_path, "SELECT path, COUNT(*) FROM requests GROUP BY path"))
    assert counts == {
        "/segments/{id}/summary": 3,
        "/position-metrics/coin/{coin}": 2,
        "/wallets/{address}/positions": 1,
        "/binary": 2,  # GET and HEAD
        "/boom": 1,
    }
    statuses = dict(_rows(db_path, "SELECT path, status FROM requests WHERE method = 'GET'"))
    assert statuses["/boom"] == 500 and statuses["/binary"] == 200
    sizes = _rows(db_path, "SELECT method, bytes FROM requests WHERE path = '/binary' ORDER BY id")
    assert sizes == [("GET", len(BINARY)), ("HEAD", 0)]
    fingerprints = {fp for (fp,) in _rows(db_path, "SELECT DISTINCT token_fp FROM requests")}
    assert len(fingerprints) == 1 and len(next(iter(fingerprints))) == 8


async def test_request_headers_body_and_path_reach_the_upstream_unchanged(fake_api, db_path):
    recorder = Recorder(db_path)
    recorder.start()
    proxy = await _proxy(_upstream_of(fake_api), recorder)
    try:
        async with httpx.AsyncClient(base_url=proxy.url) as client:
            response = await client.post(
                "/api/external/info?user=0xabc&x=%20y",
                content=b'{"type":"clearinghouseState"}',
                headers={
                    "Authorization": f"Bearer {SENTINEL}",
                    "X-Custom": "kept",
                    "Connection": "keep-alive, X-Hop",
                    "X-Hop": "dropped because Connection names it",
                    "Keep-Alive": "timeout=5",
                },
            )
    finally:
        await proxy.close()
        recorder.close()
    echoed = response.json()
    headers = {k.lower(): v for k, v in echoed["headers"]}
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/api/external/info?user=0xabc&x=%20y"
    assert echoed["body"] == '{"type":"clearinghouseState"}'
    assert headers["authorization"] == f"Bearer {SENTINEL}"
    assert headers["x-custom"] == "kept"
    assert headers["host"] == f"127.0.0.1:{fake_api.server_address[1]}"
    assert headers["content-length"] == str(len('{"type":"clearinghouseState"}'))
    assert "x-hop" not in headers and "keep-alive" not in headers
    assert "Authorization" in [k for k, _ in echoed["headers"]]  # header case is preserved


async def test_upstream_base_path_is_prefixed(fake_api, db_path):
    with Recorder(db_path) as recorder:
        proxy = await _proxy(_upstream_of(fake_api, "/prefix"), recorder)
        try:
            async with httpx.AsyncClient(base_url=proxy.url) as client:
                echoed = (await client.get("/api/external/segments?x=1")).json()
        finally:
            await proxy.close()
    assert echoed["path"] == "/prefix/api/external/segments?x=1"


async def test_streaming_response_passes_through_as_it_arrives(fake_api, db_path):
    with Recorder(db_path) as recorder:
        proxy = await _proxy(_upstream_of(fake_api), recorder)
        received: list[bytes] = []
        try:
            async with (
                httpx.AsyncClient(base_url=proxy.url) as client,
                client.stream("GET", "/api/external/stream") as response,
            ):
                assert response.headers["content-type"] == "text/event-stream"
                async for chunk in response.aiter_raw():
                    received.append(chunk)
                    # The upstream holds chunk two back until we have seen chunk one: had the
                    # proxy buffered the body, this would only end by the upstream's timeout.
                    fake_api.first_chunk_seen.set()
        finally:
            await proxy.close()
    assert b"".join(received) == b"data: first\n\ndata: second\n\n"
    assert received[0] == b"data: first\n\n"
    assert _rows(db_path, "SELECT status, bytes FROM requests") == [(200, len(b"".join(received)))]


async def test_429_records_retry_after_the_larger_of_header_and_body(fake_api, db_path):
    with Recorder(db_path) as recorder:
        proxy = await _proxy(_upstream_of(fake_api), recorder)
        try:
            async with httpx.AsyncClient(base_url=proxy.url) as client:
                response = await client.get("/api/external/limited")
        finally:
            await proxy.close()
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["retry_after"] == 42
    assert _rows(db_path, "SELECT path, status, retry_after FROM requests") == [
        ("/limited", 429, 42.0)
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_upstream_down_gives_502_json_and_is_recorded(db_path):
    with Recorder(db_path) as recorder:
        proxy = await _proxy(Upstream("http", "127.0.0.1", _closed_port(), ""), recorder)
        try:
            async with httpx.AsyncClient(base_url=proxy.url) as client:
                response = await client.get("/api/external/segments/1/summary")
                again = await client.get("/api/external/segments/2/summary")
        finally:
            await proxy.close()
    assert response.status_code == 502 and again.status_code == 502
    body = response.json()
    assert body["error"] == "upstream_unreachable"
    assert "connection refused" in body["message"]
    assert (
        _rows(db_path, "SELECT path, status, failure FROM requests")
        == [("/segments/{id}/summary", 502, "unreachable")] * 2
    )


async def test_upstream_timeout_gives_504_json_and_is_recorded(fake_api, db_path):
    with Recorder(db_path) as recorder:
        proxy = await _proxy(_upstream_of(fake_api), recorder, timeout=0.3)
        try:
            async with httpx.AsyncClient(base_url=proxy.url) as client:
                started = time.monotonic()
                response = await client.get("/api/external/slow")
                elapsed = time.monotonic() - started
                fake_api.release.set()
                after = await client.get("/api/external/segments")  # the proxy still works
        finally:
            await proxy.close()
    assert response.status_code == 504
    assert response.json()["error"] == "upstream_timeout"
    assert elapsed < 3
    assert after.status_code == 200
    assert _rows(db_path, "SELECT path, status, failure FROM requests ORDER BY id") == [
        ("/slow", 504, "timeout"),
        ("/segments", 200, None),
    ]


async def test_the_token_is_stored_nowhere_in_the_database(fake_api, db_path):
    recorder = Recorder(db_path)
    recorder.start()
    proxy = await _proxy(_upstream_of(fake_api), recorder)
    try:
        async with httpx.AsyncClient(base_url=proxy.url) as client:
            for path in (
                "/api/external/segments/1/summary",
                f"/api/external/segments?apiKey={SENTINEL}",  # a token in the query string
                f"/api/external/echo/{SENTINEL}",  # or even in the path
                "/api/external/limited",
            ):
                await client.get(path, headers={"Authorization": f"Bearer {SENTINEL}"})
            await client.get("/api/external/segments", headers={"Authorization": "Bearer other"})
        assert recorder.flush(5)
        # Read while the writer still has the database open, so the -wal file is there too.
        files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
        assert db_path.with_name(db_path.name + "-wal") in files
        needles = [SENTINEL.encode(), b"SENTINEL", b"7f3a9c", SENTINEL.encode("utf-16-le")]
        for file in files:
            raw = file.read_bytes()
            for needle in needles:
                assert needle not in raw, f"{needle!r} found in {file.name}"
    finally:
        await proxy.close()
        recorder.close()
    fps = _rows(db_path, "SELECT token_fp, COUNT(*) FROM requests GROUP BY token_fp ORDER BY 2")
    assert [count for _, count in fps] == [1, 4]  # two keys told apart
    paths = {p for (p,) in _rows(db_path, "SELECT path FROM requests")}
    assert paths == {"/segments/{id}/summary", "/segments", "/echo/{token}", "/limited"}
    for file in db_path.parent.iterdir():
        assert SENTINEL.encode() not in file.read_bytes()


async def _raw_get(port: int, path: str) -> tuple[int, bytes]:
    """One request on its own connection (httpx's pool is too slow with 1,000 connections)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        return status, await reader.readexactly(length)
    finally:
        writer.close()


async def test_a_burst_of_1000_concurrent_requests_loses_no_record(fake_api, db_path):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 3000  # bot side + proxy side of 1,000 connections, plus upstream connections
    if soft < wanted and (hard == resource.RLIM_INFINITY or hard >= wanted):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    at_once = asyncio.Semaphore(max(50, min(1000, (soft - 300) // 2)))

    recorder = Recorder(db_path)
    recorder.start()
    proxy = await _proxy(_upstream_of(fake_api), recorder)
    paths = [f"/api/external/segments/{n % 17}/summary" for n in range(600)] + [
        f"/api/external/position-metrics/coin/{('BTC', 'ETH', 'SOL', 'HYPE')[n % 4]}"
        for n in range(400)
    ]

    async def one(path: str) -> tuple[int, bytes]:
        async with at_once:
            return await _raw_get(proxy.port, path)

    try:
        results = await asyncio.wait_for(asyncio.gather(*(one(p) for p in paths)), 30)
        assert Counter(status for status, _ in results) == {200: 1000}
        assert all(
            json.loads(body)["path"] == p for (_, body), p in zip(results, paths, strict=True)
        )
    finally:
        await proxy.close()
        recorder.close()
    assert recorder.dropped == 0 and recorder.written == 1000
    assert proxy.stats.total == 1000
    counts = dict(_rows(db_path, "SELECT path, COUNT(*) FROM requests GROUP BY path"))
    assert counts == {"/segments/{id}/summary": 600, "/position-metrics/coin/{coin}": 400}
    assert _rows(db_path, "SELECT SUM(requests), SUM(ok) FROM daily") == [(1000, 1000)]


async def test_an_unwritable_database_does_not_stop_forwarding(fake_api, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    recorder = Recorder(blocker / "meter.sqlite3")
    recorder.start()
    assert recorder.last_error and "cannot open" in recorder.last_error
    proxy = await _proxy(_upstream_of(fake_api), recorder)
    try:
        async with httpx.AsyncClient(base_url=proxy.url) as client:
            statuses = [
                (await client.get(f"/api/external/segments/{n}")).status_code for n in range(5)
            ]
        assert recorder.flush(5)
    finally:
        await proxy.close()
        recorder.close()
    assert statuses == [200] * 5
    assert recorder.dropped == 5 and recorder.written == 0
    assert proxy.stats.total == 5


async def test_a_locked_database_counts_dropped_records_and_recovers(fake_api, db_path):
    recorder = Recorder(db_path, busy_timeout_ms=50)  # keep the test fast
    recorder.start()
    proxy = await _proxy(_upstream_of(fake_api), recorder)
    try:
        async with httpx.AsyncClient(base_url=proxy.url) as client:
            await client.get("/api/external/segments/1")
            assert recorder.flush(5) and recorder.written == 1
            # Another process takes the write lock and keeps it longer than the busy timeout.
            blocker = sqlite3.connect(db_path, timeout=0)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                response = await client.get("/api/external/segments/2")
                assert recorder.flush(5)
            finally:
                blocker.rollback()
                blocker.close()
            await client.get("/api/external/segments/3")
            assert recorder.flush(5)
    finally:
        await proxy.close()
        recorder.close()
    assert response.status_code == 200
    assert recorder.dropped == 1 and recorder.written == 2
    assert "locked" in (recorder.last_error or "")


def test_listen_and_upstream_parsing():
    assert parse_listen("127.0.0.1:8787") == ("127.0.0.1", 8787)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen("9000") == ("127.0.0.1", 9000)
    up = parse_upstream("https://ht-api.coinmarketman.com")
    assert (up.scheme, up.host, up.port, up.base_path) == (
        "https",
        "ht-api.coinmarketman.com",
        443,
        "",
    )
    assert up.host_header == b"ht-api.coinmarketman.com"
    assert parse_upstream("http://127.0.0.1:9/x/").host_header == b"127.0.0.1:9"
    from ht_dash.api.errors import ConfigError

    with pytest.raises(ConfigError, match="unencrypted"):
        parse_upstream("http://example.com")
    with pytest.raises(ConfigError):
        parse_upstream("ftp://example.com")
    with pytest.raises(ConfigError):
        parse_listen("localhost:http")


@pytest.mark.parametrize("value", ["::1:8787", "::1", "fe80::1:9000"])
def test_listen_ipv6_without_brackets_is_refused_with_the_right_form(value):
    from ht_dash.api.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[::1\]:8787"):
        parse_listen(value)


def test_listen_ipv6_in_brackets_is_accepted():
    assert parse_listen("[::1]:8787") == ("::1", 8787)
    assert parse_listen("[::]:0") == ("::", 0)


async def test_the_meter_listens_on_ipv6_loopback(fake_api, db_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with Recorder(db_path) as recorder:
        proxy = MeterProxy(_upstream_of(fake_api), recorder, host="::1", port=0)
        try:
            await proxy.start()
        except OSError:
            pytest.skip("::1 cannot be bound here")
        try:
            assert proxy.url.startswith("http://[::1]:")
            async with httpx.AsyncClient(base_url=proxy.url) as client:
                response = await client.get("/api/external/segments")
        finally:
            await proxy.close()
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("target", "template"),
    [
        # letters only, under 80 characters: a key, not a route
        ("/api/external/k/SECRETsecretSECRETsecretXY", "/k/{value}"),
        ("/api/external/segments/secretsecretsecretsecret", "/segments/{value}"),
        ("/api/external/wallets/Abcdefgh", "/wallets/{value}"),
        # a long opaque id with digits (not a JWT, not hex) is an id
        ("/api/external/wallets/ab12cd34ef56gh78ij90kl", "/wallets/{id}"),
        # literals of the data API's routes and short lowercase words stay
        ("/api/external/leaderboards/biggest-positions", "/leaderboards/biggest-positions"),
        ("/api/external/builders/all-time-revenue", "/builders/all-time-revenue"),
        ("/api/external/orders/5m-snapshots/latest", "/orders/5m-snapshots/latest"),
        ("/api/external/hypertracker/state/status", "/hypertracker/state/status"),
        # absolute form: the path only, never the user info or the host
        ("http://user:pAsSwOrD@h/x", "/x"),
        ("http://user:pAsSwOrD@h/api/external/segments?k=v", "/segments"),
        # authority form (CONNECT) and asterisk form (OPTIONS *)
        ("127.0.0.1:22", "{authority}"),
        ("*", "*"),
    ],
)
def test_path_template_keeps_only_route_literals(target, template):
    from ht_dash.meter.templates import path_template

    assert path_template(target) == template


def test_ht_dash_meter_end_to_end_then_usage_reads_it(fake_api, isolated_home, capsys):
    """The acceptance path: `ht-dash meter` in front of an upstream, Ctrl-C, then `usage --json`."""
    import os
    import queue
    import signal
    import subprocess
    import sys

    from ht_dash import cli

    command = [
        sys.executable, "-m", "ht_dash", "meter", "--listen", "127.0.0.1:0",
        "--upstream", f"http://127.0.0.1:{fake_api.server_address[1]}", "--interval", "0.2",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()

    def next_line(contains: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if contains in line:
                return line
        raise AssertionError(f"no line with {contains!r} from ht-dash meter")

    try:
        banner = next_line("ht-dash meter: http://127.0.0.1:")
        port = int(banner.split("http://127.0.0.1:", 1)[1].split()[0])
        paths = [f"/api/external/segments/{n}/summary" for n in range(120)] + [
            f"/api/external/position-metrics/coin/{c}" for c in ("BTC", "ETH") * 40
        ]

        async def send_all() -> list[int]:
            return [status for status, _ in [await _raw_get(port, p) for p in paths]]

        assert asyncio.run(send_all()) == [200] * 200
        live = next_line("200 total")
        assert "req/min" in live and "p95" in live
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert "200 recorded" in next_line("stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()

    assert cli.main(["--source", "meter", "usage", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source"] == "meter"
    assert report["totals"]["requests"] == 200
    counts = {e["path"]: e["requests"] for e in report["endpoints"]}
    assert counts == {"/segments/{id}/summary": 120, "/position-metrics/coin/{coin}": 80}


def _self_signed(tmp_path: Path) -> tuple[Path, Path, bytes]:
    crypto = pytest.importorskip("cryptography")
    del crypto
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, pem


async def test_https_upstream_is_verified_and_forwarded(fake_api, tmp_path, db_path):
    import ssl

    cert_file, key_file, pem = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    fake_api.socket = server_ctx.wrap_socket(fake_api.socket, server_side=True)
    upstream = Upstream("https", "localhost", fake_api.server_address[1], "")
    trusting = ssl.create_default_context(cadata=pem.decode())
    with Recorder(db_path) as recorder:
        proxy = await _proxy(upstream, recorder, ssl_context=trusting)
        strict = await _proxy(upstream, recorder)  # default CA bundle: must refuse the cert
        try:
            async with httpx.AsyncClient(base_url=proxy.url) as client:
                ok = await client.get("/api/external/segments/3/summary")
            async with httpx.AsyncClient(base_url=strict.url) as client:
                refused = await client.get("/api/external/segments/3/summary")
        finally:
            await proxy.close()
            await strict.close()
    assert ok.status_code == 200
    assert ok.json()["path"] == "/api/external/segments/3/summary"
    assert refused.status_code == 502
    assert "TLS" in refused.json()["message"]
