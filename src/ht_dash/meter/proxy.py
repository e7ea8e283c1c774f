"""The metering reverse proxy: HTTP/1.1 on both sides (h11), asyncio, one process.

A bot points its base URL at the proxy; each request goes to the upstream unchanged (method,
path and query, headers including Authorization, body) except for hop-by-hop headers and `Host`.
The response comes back unchanged and streamed: status, end-to-end headers, body bytes. When the
upstream cannot be reached the bot gets a 502, when it is too slow a 504, each with a JSON body.

What other clients do never stalls a request: every wait has a deadline (the request head, an
idle keep-alive connection, the bot's upload, the upstream's answer, a bot that stops reading),
client connections and request bytes held in memory are capped, and CONNECT or a protocol
upgrade is answered by the meter itself.

h11 is used directly for both sides because it is already installed (httpx depends on it through
httpcore) and because httpx as the upstream client costs ~0.5 ms per request on loopback, half the
meter's 1 ms budget; a small keep-alive pool over h11 costs ~0.1 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import ssl
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import h11

from ht_dash.api.client import MAX_RETRY_WAIT_S, parse_retry_after
from ht_dash.api.errors import ConfigError
from ht_dash.meter import (
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_LISTEN,
    DEFAULT_MAX_BUFFERED_MIB,
    DEFAULT_MAX_CLIENTS,
    DEFAULT_STREAM_UPSTREAM,
    DEFAULT_TIMEOUT_S,
    DEFAULT_UPSTREAM,
    STREAM_PATH,
)
from ht_dash.meter.answers import Refusal, answer_bytes, checked_upstream, describe, os_reason
from ht_dash.meter.recorder import Record, Recorder, is_error
from ht_dash.meter.streams import (
    StreamRelay,
    StreamUpstream,
    parse_stream_upstream,
    wants_websocket,
)
from ht_dash.meter.templates import path_template

READ_CHUNK = 65536
MAX_REQUEST_BODY = 32 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
LISTEN_BACKLOG = 1024  # a burst of new bot connections must not wait for SYN retries
RESERVED_FDS = 64  # descriptors left for the listener, the database, the event loop, logs
TURN_AWAY_AT_ONCE = 64  # connections being told 503 at a time; past that, closed at once
LINGER_S = 1.0  # reading what a refused bot still sends, so that it sees the answer
ACCEPT_RETRY_S = 0.1  # after the system refused a new connection (out of descriptors)
REPORT_EVERY_S = 1.0  # accept errors are reported at most this often
SHUTDOWN_GRACE_S = 1.0  # requests in flight when the meter stops get this long to finish

# RFC 9110 §9.2.2: only these may be sent again without the bot asking.
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})
ALLOWED_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


@dataclass(frozen=True, slots=True)
class Upstream:
    scheme: str
    host: str
    port: int
    base_path: str  # prefix put before every forwarded path ("" for an origin)

    @property
    def host_header(self) -> bytes:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (host if self.port == default else f"{host}:{self.port}").encode("ascii")

    @property
    def label(self) -> str:
        return f"{self.scheme}://{self.host_header.decode()}{self.base_path}"


def parse_upstream(url: str) -> Upstream:
    """Validate `--upstream`: http(s) only; plain http only to loopback (the token is in it)."""
    parts, port = checked_upstream(
        url, what="upstream", schemes=("http", "https"), example=DEFAULT_UPSTREAM
    )
    return Upstream(parts.scheme, parts.hostname or "", port, parts.path.rstrip("/"))


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT`, `[v6]:PORT` or `PORT`."""
    value = value.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", value
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise ConfigError(f"--listen {value!r}: an IPv6 address goes in brackets, e.g. [::1]:8787")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(
            f"--listen {value!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN} or [::1]:8787"
        ) from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--listen {value!r}: port must be between 0 and 65535")
    return host, port


def fitting_client_cap(upstream_slots: int, wanted: int = DEFAULT_MAX_CLIENTS) -> int:
    """`wanted`, lowered so that clients, connections being turned away and upstream
    connections fit the open-file limit."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - upstream_slots - TURN_AWAY_AT_ONCE - RESERVED_FDS))


class UpstreamError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "unreachable" | "timeout" | "bad_response"
        self.message = message


class _StaleConnection(Exception):
    """A reused keep-alive connection was closed by the upstream before it answered."""


class _ClientStalled(Exception):
    """The bot stopped reading what the meter sends it for longer than the timeout."""


class _IdleTimeout(Exception):
    """A keep-alive connection brought no new request within the idle timeout."""


class _Stream:
    """`_protocol_switch`'s answer for a WebSocket upgrade: relay it."""


_STREAM = _Stream()


@dataclass(slots=True)
class _Upload:
    body: bytearray = field(default_factory=bytearray)
    reserved: int = 0  # bytes of the shared request-body budget held for this request


class LiveStats:
    """Rolling figures for the live line: the last 60 s of requests, plus totals."""

    WINDOW_S = 60.0

    def __init__(self) -> None:
        self.recent: deque[tuple[float, float, int]] = deque()  # (monotonic, latency_ms, status)
        self.total = 0
        self.throttled = 0
        self.errors = 0
        self.refused = 0  # connections turned away with a 503: too many open
        self.accept_errors = 0  # new connections the system did not let the meter accept
        self.started = time.monotonic()

    def add(self, latency_ms: float, status: int) -> None:
        self.recent.append((time.monotonic(), latency_ms, status))
        self.total += 1
        if status == 429:
            self.throttled += 1
        elif is_error(status):
            self.errors += 1

    def snapshot(self) -> dict[str, float | int | None]:
        now = time.monotonic()
        recent = self.recent
        while recent and recent[0][0] < now - self.WINDOW_S:
            recent.popleft()
        latencies = sorted(item[1] for item in recent)
        return {
            "req_per_min": len(recent),
            "throttled_per_min": sum(1 for item in recent if item[2] == 429),
            "errors_per_min": sum(1 for item in recent if is_error(item[2]) and item[2] != 429),
            "p95_ms": percentile(latencies, 0.95),
            "total": self.total,
            "throttled": self.throttled,
            "errors": self.errors,
        }


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


class _UpstreamConnection:
    __slots__ = ("reader", "writer", "h11", "uses")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.uses = 0

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class UpstreamPool:
    """Keep-alive connections to one upstream, at most `max_connections` at a time."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        connect_timeout: float,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.upstream = upstream
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self._idle: list[_UpstreamConnection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._ssl: ssl.SSLContext | None = None
        if upstream.scheme == "https":
            if ssl_context is None:
                import httpx  # its context has certifi's CA bundle, like all ht-dash requests

                ssl_context = httpx.create_ssl_context()
            self._ssl = ssl_context

    async def acquire(self) -> _UpstreamConnection:
        """A connection; waits for a free slot (the caller's deadline bounds the wait)."""
        await self._slots.acquire()
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():  # an upstream that closed an idle connection: nothing sent yet
                return conn
            conn.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.upstream.host,
                    self.upstream.port,
                    ssl=self._ssl,
                    server_hostname=self.upstream.host if self._ssl else None,
                    limit=READ_CHUNK,
                ),
                self.connect_timeout,
            )
        except BaseException:
            self._slots.release()
            raise
        return _UpstreamConnection(reader, writer)

    def release(self, conn: _UpstreamConnection, *, reusable: bool) -> None:
        self._slots.release()
        if reusable and conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            conn.uses += 1
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class MeterProxy:
    """Listens, forwards, records. `start()` then `serve_forever()`; `close()` stops listening."""

    def __init__(
        self,
        upstream: Upstream,
        recorder: Recorder,
        *,
        host: str = "127.0.0.1",
        port: int = 8787,
        timeout: float = DEFAULT_TIMEOUT_S,
        connect_timeout: float = 5.0,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT_S,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S,
        max_connections: int = 128,
        max_clients: int | None = None,
        max_buffered: int = DEFAULT_MAX_BUFFERED_MIB * 1024 * 1024,
        max_request_body: int = MAX_REQUEST_BODY,
        ssl_context: ssl.SSLContext | None = None,
        report: Callable[[str], None] | None = None,
        stream_upstream: StreamUpstream | None = None,
        max_stream_message: int | None = None,
    ) -> None:
        self.upstream = upstream
        self.recorder = recorder
        self.host = host
        self.port = port
        self.timeout = timeout
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.max_clients = max_clients or fitting_client_cap(max_connections)
        self.max_buffered = max_buffered
        self.max_request_body = max_request_body
        self.report = report or _report_on_stderr
        self.stats = LiveStats()
        self.pool = UpstreamPool(
            upstream,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            ssl_context=ssl_context,
        )
        self.buffered = 0  # request body bytes held (or reserved) across all connections
        self.streams = StreamRelay(
            self,
            stream_upstream or parse_stream_upstream(DEFAULT_STREAM_UPSTREAM),
            ssl_context=ssl_context,
            **({"max_message": max_stream_message} if max_stream_message else {}),
        )
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task | None = None
        self._clients: dict[asyncio.Task, bool] = {}  # handler task -> busy with a request
        self._turning_away: set[asyncio.Task] = set()
        self._last_report = -math.inf
        self._unreported = 0

    async def start(self) -> tuple[str, int]:
        """Listen and start accepting connections."""
        loop = asyncio.get_running_loop()
        family, *_, address = (
            await loop.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
        )[0]
        listener = socket.create_server(address, family=family, backlog=LISTEN_BACKLOG)
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accepting = loop.create_task(self._accept_forever(listener))
        return listener.getsockname()[0], self.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def stream_url(self) -> str:
        """Where a bot's WebSocket stream goes through the meter."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}{STREAM_PATH}"

    async def serve_forever(self) -> None:
        assert self._accepting is not None, "start() first"
        await asyncio.shield(self._accepting)

    async def close(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        """Stop listening; requests in flight get `grace` seconds to finish, idle ones none."""
        if self._accepting is not None:
            self._accepting.cancel()
            await asyncio.wait([self._accepting], timeout=1.0)
        if self._listener is not None:
            self._listener.close()
        for task in self._turning_away:
            task.cancel()
        for task in [task for task, busy in self._clients.items() if not busy]:
            task.cancel()
        if self._clients:
            await asyncio.wait(list(self._clients), timeout=grace)
        for task in list(self._clients):
            task.cancel()
        pending = list(self._clients) + list(self._turning_away)
        if pending:
            await asyncio.wait(pending, timeout=0.5)
        self.pool.close()
        await self.streams.close()

    def settle(self) -> None:
        """The current connection holds no request in flight (a relayed stream): `close()` ends
        it at once instead of granting it the grace period."""
        task = asyncio.current_task()
        if task in self._clients:
            self._clients[task] = False

    async def __aenter__(self) -> MeterProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- accepting connections ---------------------------------------------------------------

    async def _accept_forever(self, listener: socket.socket) -> None:
        """asyncio's own accept loop floods the log when out of descriptors: this one reports."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, _ = await loop.sock_accept(listener)
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                self._accept_failed(exc)
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            if len(self._clients) >= self.max_clients:
                self._turn_away(sock)
            else:
                self._clients[loop.create_task(self._serve_socket(sock))] = False

    def _accept_failed(self, exc: OSError) -> None:
        self.stats.accept_errors += 1
        now = time.monotonic()
        if now - self._last_report < REPORT_EVERY_S:
            self._unreported += 1
            return
        more = f" ({self._unreported} more since the last report)" if self._unreported else ""
        self._last_report, self._unreported = now, 0
        self.report(
            f"cannot accept new connections: {os_reason(exc)}{more}; "
            "lower --max-clients or raise the open-file limit (ulimit -n)"
        )

    def _turn_away(self, sock: socket.socket) -> None:
        self.stats.refused += 1
        if len(self._turning_away) >= TURN_AWAY_AT_ONCE:
            sock.close()
            return
        task = asyncio.get_running_loop().create_task(self._say_too_many(sock))
        self._turning_away.add(task)
        task.add_done_callback(self._turning_away.discard)

    async def _say_too_many(self, sock: socket.socket) -> None:
        """503, then read what the bot sends until it hangs up: closing first would reset it."""
        loop = asyncio.get_running_loop()
        refusal = Refusal(
            503,
            "too_many_connections",
            f"{self.max_clients} connections are open already; try again shortly",
            "",
            ((b"retry-after", b"1"),),
        )
        data, _ = answer_bytes(h11.Connection(h11.SERVER), refusal, head=False, close=True)
        try:
            async with asyncio.timeout(LINGER_S):
                await loop.sock_sendall(sock, data)
                sock.shutdown(socket.SHUT_WR)
                while await loop.sock_recv(sock, READ_CHUNK):
                    pass
        except (OSError, TimeoutError):
            pass
        finally:
            sock.close()

    # ---- the bot's side ----------------------------------------------------------------------

    async def _serve_socket(self, sock: socket.socket) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            reader, writer = await asyncio.open_connection(sock=sock, limit=READ_CHUNK)
        except (OSError, asyncio.CancelledError):
            sock.close()
            self._clients.pop(task, None)
            return
        try:
            await self._serve_client(task, reader, writer)
        finally:
            self._clients.pop(task, None)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve_client(
        self, task: asyncio.Task, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        clients = self._clients
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        fresh = True
        try:
            while True:
                try:
                    event = await self._next_request(conn, reader, fresh)
                except TimeoutError:
                    refusal = Refusal(
                        408,
                        "request_timeout",
                        f"no complete request head within {self.header_timeout:g} s",
                        "",
                    )
                    with contextlib.suppress(Exception):
                        await self._send(writer, answer_bytes(conn, refusal, close=True)[0])
                    return
                except h11.RemoteProtocolError as exc:
                    await self._reject(conn, writer, exc)
                    return
                if not isinstance(event, h11.Request):  # ConnectionClosed: the bot hung up
                    return
                clients[task] = True
                keep_open = await self._handle(conn, reader, writer, event)
                clients[task] = False
                if not keep_open and conn.their_state is h11.SEND_BODY:
                    await _discard_input(reader, writer)
                if (
                    not keep_open
                    or conn.our_state is not h11.DONE
                    or conn.their_state is not h11.DONE
                ):
                    return
                conn.start_next_cycle()
                fresh = False
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            h11.ProtocolError,
            _IdleTimeout,
            _ClientStalled,
        ):
            return
        except asyncio.CancelledError:
            return  # shutting down; ending quietly keeps asyncio from logging the cancellation

    async def _next_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, fresh: bool
    ) -> object:
        """The next request head: on a kept-alive connection its first byte must come within the
        idle timeout; the whole head within the header timeout (from accept on a new one)."""
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        if not fresh and not conn.trailing_data[0]:
            try:
                async with asyncio.timeout(self.idle_timeout):
                    data = await reader.read(READ_CHUNK)
            except TimeoutError:
                raise _IdleTimeout from None
            conn.receive_data(data)
        async with asyncio.timeout(self.header_timeout):
            return await _next_event(conn, reader)

    async def _reject(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, exc: h11.RemoteProtocolError
    ) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        status = exc.error_status_hint or 400
        refusal = Refusal(status, "bad_request", describe(exc), "")
        with contextlib.suppress(Exception):
            await self._send(writer, answer_bytes(conn, refusal, close=True)[0])

    async def _handle(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
    ) -> bool:
        """Forward one request and stream the answer back. False when the connection must close."""
        switch = self._protocol_switch(request)
        if switch is _STREAM:
            await self.streams.serve(conn, reader, writer, request)
            return False
        started = time.perf_counter()
        ts = time.time()
        method = request.method.decode("ascii", "replace")
        target = request.target.decode("ascii", "replace")
        head = request.method == b"HEAD"
        token_fp = None
        for name, value in request.headers:
            if name == b"authorization":
                credential = value.split(b" ", 1)[-1] if value[:7].lower() == b"bearer " else value
                token_fp = self.recorder.fingerprint(credential.strip().decode("latin-1"))
                break

        status = 502
        sent = 0
        retry_after = None
        failure: str | None = "cancelled"  # until we know better
        latency_ms = 0.0
        upload = _Upload()
        try:
            refusal = switch or await self._read_body(conn, reader, writer, request, upload)
            if refusal is not None:
                latency_ms = (time.perf_counter() - started) * 1000
                status, failure = refusal.status, refusal.failure
                sent = await self._answer_self(conn, writer, refusal, head=head, close=True)
                return False
            try:
                upstream_conn, response = await self._send_upstream(request, upload.body)
            except UpstreamError as exc:
                latency_ms = (time.perf_counter() - started) * 1000
                status = 504 if exc.kind == "timeout" else 502
                failure = exc.kind
                refusal = Refusal(status, f"upstream_{exc.kind}", exc.message, exc.kind)
                sent = await self._answer_self(conn, writer, refusal, head=head)
                return True
            latency_ms = (time.perf_counter() - started) * 1000
            status = response.status_code
            if status == 429:
                retry_after = _retry_after(response.headers)
            progress = [0]
            try:
                retry_body = await self._relay(conn, writer, upstream_conn, response, progress)
                failure = None
                if retry_body is not None:
                    retry_after = max(retry_after or 0.0, retry_body)
                return True
            except UpstreamError as exc:  # broke off mid-body: nothing to do but hang up on the bot
                failure = "aborted_" + exc.kind
                return False
            finally:
                sent = progress[0]
                self.pool.release(upstream_conn, reusable=failure is None)
        except _ClientStalled:
            failure = "client_timeout"
            return False
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError):
            failure = "client_gone"
            return False
        finally:
            self.buffered -= upload.reserved
            if retry_after is not None:
                retry_after = min(retry_after, float(MAX_RETRY_WAIT_S))
            self.recorder.add(
                Record(
                    ts,
                    method,
                    path_template(target),
                    status,
                    latency_ms,
                    sent,
                    retry_after,
                    token_fp,
                    failure,
                )
            )
            self.stats.add(latency_ms, status)

    def _protocol_switch(self, request: h11.Request) -> Refusal | _Stream | None:
        """The one place that decides about CONNECT and `Upgrade`: a WebSocket upgrade is a bot's
        stream (relayed by `streams`), CONNECT and other protocols are refused cleanly."""
        if request.method == b"CONNECT":
            return Refusal(
                405,
                "connect_not_supported",
                "this is a reverse proxy, not a forward proxy: do not set HTTPS_PROXY or "
                f"HTTP_PROXY to it; point the bot's base URL at {self.url}/api/external",
                "not_supported",
                ((b"allow", ALLOWED_METHODS),),
            )
        offers = {
            token.strip().lower()
            for name, value in request.headers
            if name == b"upgrade"
            for token in value.split(b",")
        }
        if wants_websocket(request):
            return _STREAM
        if offers - {b"h2c"}:  # h2c is an optional offer: ignored, the answer is plain HTTP/1.1
            return Refusal(
                501,
                "upgrade_not_supported",
                "the meter relays only WebSocket upgrades (GET with Upgrade: websocket); "
                "send plain HTTP requests through it",
                "not_supported",
            )
        return None

    async def _read_body(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        upload: _Upload,
    ) -> Refusal | None:
        """Read the request body into `upload`, within the size limit and the shared budget."""
        declared = _content_length(request.headers)
        if declared is not None and (refusal := self._reserve(upload, declared)):
            return refusal
        if conn.they_are_waiting_for_100_continue:
            await self._send(writer, conn.send(h11.InformationalResponse(status_code=100)))
        while True:
            try:
                async with asyncio.timeout(self.timeout):
                    event = await _next_event(conn, reader)
            except TimeoutError:
                return Refusal(
                    408,
                    "request_timeout",
                    f"the request body stalled for {self.timeout:g} s",
                    "client_timeout",
                )
            if isinstance(event, h11.Data):
                size = len(upload.body) + len(event.data)
                if size > upload.reserved and (refusal := self._reserve(upload, size)):
                    return refusal
                upload.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return None
            else:
                raise ConnectionError("the bot hung up mid-request")

    def _reserve(self, upload: _Upload, size: int) -> Refusal | None:
        """Hold `size` bytes of the body budget for `upload`, or say why not."""
        if size > self.max_request_body:
            return Refusal(
                413,
                "request_too_large",
                f"request body over {_mib(self.max_request_body)}",
                "too_large",
            )
        extra = size - upload.reserved
        if self.buffered + extra > self.max_buffered:
            return Refusal(
                503,
                "meter_busy",
                f"request bodies in progress already hold {_mib(self.max_buffered)}; "
                "try again shortly",
                "busy",
                ((b"retry-after", b"1"),),
            )
        self.buffered += extra
        upload.reserved = size
        return None

    async def _answer_self(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        refusal: Refusal,
        *,
        head: bool,
        close: bool = False,
    ) -> int:
        data, body_bytes = answer_bytes(conn, refusal, head=head, close=close)
        await self._send(writer, data)
        return body_bytes

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        """Write to the bot; a bot that reads nothing for `timeout` seconds is given up on."""
        if writer.is_closing():  # writing on would only make asyncio log a warning per write
            raise ConnectionResetError("the bot went away")
        writer.write(data)
        if writer.transport.get_write_buffer_size():
            try:
                async with asyncio.timeout(self.timeout):
                    await writer.drain()
            except TimeoutError:
                raise _ClientStalled from None

    # ---- the upstream's side -----------------------------------------------------------------

    def _upstream_request(self, request: h11.Request, body: bytes | bytearray) -> h11.Request:
        """The request as the upstream gets it: original header case and order, minus hop-by-hop."""
        drop = _connection_scoped(request.headers) | {b"host", b"content-length", b"expect"}
        headers: list[tuple[bytes, bytes]] = [(b"Host", self.upstream.host_header)]
        had_body_framing = False
        for raw_name, value in request.headers.raw_items():
            name = raw_name.lower()
            if name in drop:
                had_body_framing = had_body_framing or name in (
                    b"content-length",
                    b"transfer-encoding",
                )
                continue
            headers.append((raw_name, value))
        if body or had_body_framing:
            headers.append((b"Content-Length", str(len(body)).encode("ascii")))
        target = _origin_form(request.target)
        if self.upstream.base_path and target != b"*":
            target = self.upstream.base_path.encode("ascii") + target
        return h11.Request(method=request.method, target=target, headers=headers)

    async def _send_upstream(
        self, request: h11.Request, body: bytes | bytearray
    ) -> tuple[_UpstreamConnection, h11.Response]:
        """Send and wait for the response head, all within `timeout` (free slot included).

        A reused connection that closes before any byte of the answer is replaced once, and the
        request sent again, only for idempotent methods: a POST may already have reached the API.
        """
        outgoing = self._upstream_request(request, body)
        label = self.upstream.label
        try:
            async with asyncio.timeout(self.timeout):
                for attempt in (1, 2):
                    conn = await self._upstream_connection()
                    try:
                        response = await self._exchange(conn, outgoing, body, conn.uses > 0)
                        return conn, response
                    except _StaleConnection:
                        self.pool.release(conn, reusable=False)
                        if attempt == 2 or request.method not in IDEMPOTENT:
                            raise UpstreamError(
                                "bad_response", f"{label} closed the connection before answering"
                            ) from None
                    except (OSError, ssl.SSLError) as exc:
                        self.pool.release(conn, reusable=False)
                        raise UpstreamError(
                            "unreachable", f"connection to {label} failed: {os_reason(exc)}"
                        ) from None
                    except h11.ProtocolError as exc:
                        self.pool.release(conn, reusable=False)
                        raise UpstreamError(
                            "bad_response", f"{label} sent an invalid response: {describe(exc)}"
                        ) from None
                    except BaseException:
                        self.pool.release(conn, reusable=False)
                        raise
        except TimeoutError:
            raise UpstreamError(
                "timeout", f"{label} did not answer within {self.timeout:g} s"
            ) from None
        raise AssertionError("unreachable")

    async def _upstream_connection(self) -> _UpstreamConnection:
        try:
            return await self.pool.acquire()
        except TimeoutError:
            raise UpstreamError(
                "timeout", f"connecting to {self.upstream.label} timed out"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamError(
                "unreachable", f"cannot reach {self.upstream.label}: {os_reason(exc)}"
            ) from None

    async def _exchange(
        self,
        conn: _UpstreamConnection,
        request: h11.Request,
        body: bytes | bytearray,
        reused: bool,
    ) -> h11.Response:
        data = conn.h11.send(request)
        if body:
            data += conn.h11.send(h11.Data(data=body))
        data += conn.h11.send(h11.EndOfMessage())
        got_any = False
        try:
            conn.writer.write(data)
            while True:
                event = conn.h11.next_event()
                if event is h11.NEED_DATA:
                    chunk = await conn.reader.read(READ_CHUNK)
                    if not chunk and reused and not got_any:
                        raise _StaleConnection
                    got_any = got_any or bool(chunk)
                    conn.h11.receive_data(chunk)
                elif isinstance(event, h11.Response):
                    return event
                elif not isinstance(event, h11.InformationalResponse):
                    raise h11.RemoteProtocolError("connection closed before a response")
        except (ConnectionResetError, BrokenPipeError):
            if reused and not got_any:
                raise _StaleConnection from None
            raise

    async def _relay(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        upstream: _UpstreamConnection,
        response: h11.Response,
        progress: list[int],
    ) -> float | None:
        """Send the upstream's response to the bot as it arrives; count body bytes in `progress[0]`.

        Returns the `retry_after` of a 429's JSON body, if any.
        """
        drop = _connection_scoped(response.headers)
        headers = [(n, v) for n, v in response.headers.raw_items() if n.lower() not in drop]
        out = [
            conn.send(
                h11.Response(
                    status_code=response.status_code, headers=headers, reason=response.reason
                )
            )
        ]
        keep_for_429: bytearray | None = bytearray() if response.status_code == 429 else None
        up = upstream.h11
        while True:
            try:
                event = up.next_event()
            except h11.RemoteProtocolError as exc:  # e.g. closed before the declared length
                raise UpstreamError("bad_response", describe(exc)) from None
            if event is h11.NEED_DATA:
                if out:
                    await self._send(writer, b"".join(out))
                    out.clear()
                try:
                    chunk = await asyncio.wait_for(upstream.reader.read(READ_CHUNK), self.timeout)
                except TimeoutError:
                    raise UpstreamError("timeout", "body stalled") from None
                except OSError as exc:
                    raise UpstreamError("unreachable", os_reason(exc)) from None
                try:
                    up.receive_data(chunk)
                except h11.RemoteProtocolError as exc:
                    raise UpstreamError("bad_response", describe(exc)) from None
            elif isinstance(event, h11.Data):
                progress[0] += len(event.data)
                if keep_for_429 is not None and len(keep_for_429) < 65536:
                    keep_for_429 += event.data
                out.append(conn.send(h11.Data(data=event.data)))
            elif isinstance(event, h11.EndOfMessage):
                out.append(conn.send(h11.EndOfMessage()))
                await self._send(writer, b"".join(out))
                break
            else:  # ConnectionClosed, or PAUSED: a protocol switch nobody asked for
                raise UpstreamError("bad_response", "the upstream broke off the response")
        return _retry_after_in_body(bytes(keep_for_429)) if keep_for_429 is not None else None


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader):
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(READ_CHUNK))


async def _discard_input(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """After answering mid-upload: read what the bot still sends, for a moment, so that closing
    does not reset the connection before it has read the answer."""
    with contextlib.suppress(Exception):
        writer.write_eof()
        async with asyncio.timeout(LINGER_S):
            while await reader.read(READ_CHUNK):
                pass


def _connection_scoped(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Hop-by-hop header names, plus any the `Connection` header lists (lower case)."""
    named = [
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
    ]
    return HOP_BY_HOP.union(named) if named else HOP_BY_HOP


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value)  # h11 has validated it
    return None


def _origin_form(target: bytes) -> bytes:
    """`/path?query` of an absolute-form target (`http://user:pw@host/path`); others unchanged."""
    if target.startswith(b"/") or target == b"*":
        return target
    parts = urlsplit(target)
    return (parts.path or b"/") + (b"?" + parts.query if parts.query else b"")


def _retry_after(headers: list[tuple[bytes, bytes]]) -> float | None:
    for name, value in headers:
        if name == b"retry-after":
            return parse_retry_after(value.decode("latin-1"), datetime.now(UTC))
    return None


def _retry_after_in_body(body: bytes) -> float | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    wait = data.get("retry_after") if isinstance(data, dict) else None
    if (
        isinstance(wait, int | float)
        and not isinstance(wait, bool)
        and math.isfinite(wait)
        and wait >= 0
    ):
        return float(wait)
    return None


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MiB"


def _report_on_stderr(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"ht-dash meter: warning: {message}", file=sys.stderr, flush=True)
