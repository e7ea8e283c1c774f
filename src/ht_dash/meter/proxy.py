"""The metering reverse proxy: HTTP/1.1 on both sides (h11), asyncio, one process.

A bot points its base URL at the proxy; each request goes to the upstream unchanged (method,
path and query, headers including Authorization, body) except for hop-by-hop headers and `Host`.
The response comes back unchanged and streamed: status, end-to-end headers, body bytes. When the
upstream cannot be reached the bot gets a 502, when it is too slow a 504, each with a JSON body.

h11 is used directly for both sides because it is already installed (httpx depends on it through
httpcore) and because httpx as the upstream client costs ~0.5 ms per request on loopback, half the
meter's 1 ms budget; a small keep-alive pool over h11 costs ~0.1 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import ssl
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from ht_dash.api.client import is_loopback_host
from ht_dash.api.errors import ConfigError
from ht_dash.meter import DEFAULT_LISTEN, DEFAULT_UPSTREAM
from ht_dash.meter.recorder import Record, Recorder, is_error
from ht_dash.meter.templates import path_template

READ_CHUNK = 65536
MAX_REQUEST_BODY = 32 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
LISTEN_BACKLOG = 1024  # a burst of new bot connections must not wait for SYN retries

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
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"upstream {url!r} is not an http(s) URL", hint=f"e.g. {DEFAULT_UPSTREAM}"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// upstream {parts.hostname}: the token would travel unencrypted",
            hint="use https://, or http:// only to 127.0.0.1/localhost",
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"upstream {url!r} must not have a query or fragment")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"upstream {url!r} has an invalid port") from None
    return Upstream(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT`, `[v6]:PORT` or `PORT`."""
    value = value.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", value
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(
            f"--listen {value!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}"
        ) from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--listen {value!r}: port must be between 0 and 65535")
    return host, port


class UpstreamError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "unreachable" | "timeout" | "bad_response"
        self.message = message


class _StaleConnection(Exception):
    """A reused keep-alive connection was closed by the upstream before it answered."""


class LiveStats:
    """Rolling figures for the live line: the last 60 s of requests, plus totals."""

    WINDOW_S = 60.0

    def __init__(self) -> None:
        self.recent: deque[tuple[float, float, int]] = deque()  # (monotonic, latency_ms, status)
        self.total = 0
        self.throttled = 0
        self.errors = 0
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
        self._idle: list[_UpstreamConnection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._ssl: ssl.SSLContext | None = None
        if upstream.scheme == "https":
            if ssl_context is None:
                import httpx  # its context has certifi's CA bundle, like all ht-dash requests

                ssl_context = httpx.create_ssl_context()
            self._ssl = ssl_context

    async def acquire(self) -> _UpstreamConnection:
        await self._slots.acquire()
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
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
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_connections: int = 128,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.upstream = upstream
        self.recorder = recorder
        self.host = host
        self.port = port
        self.timeout = timeout
        self.stats = LiveStats()
        self.pool = UpstreamPool(
            upstream,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            ssl_context=ssl_context,
        )
        self._server: asyncio.base_events.Server | None = None
        self._clients: dict[asyncio.Task, bool] = {}  # handler task -> busy with a request

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(
            self._serve_client, self.host, self.port, limit=READ_CHUNK, backlog=LISTEN_BACKLOG
        )
        sockname = self._server.sockets[0].getsockname()
        self.port = sockname[1]
        return sockname[0], sockname[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def serve_forever(self) -> None:
        assert self._server is not None, "start() first"
        await self._server.serve_forever()

    async def close(self, grace: float = 2.0) -> None:
        """Stop listening; requests in flight get `grace` seconds to finish, idle ones none."""
        if self._server is not None:
            self._server.close()
        idle = [task for task, busy in self._clients.items() if not busy]
        for task in idle:
            task.cancel()
        if self._clients:
            await asyncio.wait(list(self._clients), timeout=grace)
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.wait(list(self._clients), timeout=1.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        self.pool.close()

    async def __aenter__(self) -> MeterProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- the bot's side ----------------------------------------------------------------------

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        clients = self._clients
        clients[task] = False
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        try:
            while True:
                try:
                    event = await _next_event(conn, reader)
                except h11.RemoteProtocolError as exc:
                    await self._reject(conn, writer, exc)
                    return
                if not isinstance(event, h11.Request):  # ConnectionClosed: the bot hung up
                    return
                clients[task] = True
                keep_open = await self._handle(conn, reader, writer, event)
                clients[task] = False
                if (
                    not keep_open
                    or conn.our_state is not h11.DONE
                    or conn.their_state is not h11.DONE
                ):
                    return
                conn.start_next_cycle()
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError):
            return
        except asyncio.CancelledError:
            return  # shutting down; ending quietly keeps asyncio from logging the cancellation
        finally:
            clients.pop(task, None)
            with contextlib.suppress(Exception):
                writer.close()

    async def _reject(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, exc: h11.RemoteProtocolError
    ) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        status = exc.error_status_hint or 400
        body = json.dumps({"error": "bad_request", "message": f"ht-dash meter: {exc}"}).encode()
        with contextlib.suppress(Exception):
            writer.write(
                conn.send(h11.Response(status_code=status, headers=_json_headers(body, close=True)))
                + conn.send(h11.Data(data=body))
                + conn.send(h11.EndOfMessage())
            )
            await writer.drain()

    async def _handle(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
    ) -> bool:
        """Forward one request and stream the answer back. False when the connection must close."""
        started = time.perf_counter()
        ts = time.time()
        method = request.method.decode("ascii", "replace")
        target = request.target.decode("ascii", "replace")
        token_fp = None
        for name, value in request.headers:
            if name == b"authorization":
                credential = value.split(b" ", 1)[-1] if value[:7].lower() == b"bearer " else value
                token_fp = self.recorder.fingerprint(credential.strip().decode("latin-1"))
                break

        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        body = bytearray()
        while True:
            event = await _next_event(conn, reader)
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_REQUEST_BODY:
                    await self._answer_self(
                        conn,
                        writer,
                        413,
                        "request_too_large",
                        f"request body over {MAX_REQUEST_BODY // 2**20} MiB",
                        close=True,
                    )
                    return False
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                return False

        status = 502
        sent = 0
        retry_after = None
        failure: str | None = "cancelled"  # until we know better
        latency_ms = 0.0
        keep_open = False
        try:
            try:
                upstream_conn, response = await self._send_upstream(request, bytes(body))
            except UpstreamError as exc:
                latency_ms = (time.perf_counter() - started) * 1000
                status = 504 if exc.kind == "timeout" else 502
                failure = exc.kind
                sent = await self._answer_self(
                    conn, writer, status, f"upstream_{exc.kind}", exc.message
                )
                keep_open = True
                return keep_open
            latency_ms = (time.perf_counter() - started) * 1000
            status = response.status_code
            if status == 429:
                retry_after = _retry_after(response.headers)
            progress = [0]
            try:
                retry_body = await self._relay(conn, writer, upstream_conn, response, progress)
                failure = None
                keep_open = True
                if retry_body is not None:
                    retry_after = max(retry_after or 0.0, retry_body)
            except UpstreamError as exc:  # broke off mid-body: nothing to do but hang up on the bot
                failure = "aborted_" + exc.kind
            finally:
                sent = progress[0]
                self.pool.release(upstream_conn, reusable=failure is None)
            return keep_open
        except (ConnectionError, asyncio.IncompleteReadError, h11.LocalProtocolError):
            failure = "client_gone"
            return False
        finally:
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

    async def _answer_self(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        error: str,
        message: str,
        *,
        close: bool = False,
    ) -> int:
        body = json.dumps({"error": error, "message": f"ht-dash meter: {message}"}).encode()
        writer.write(
            conn.send(h11.Response(status_code=status, headers=_json_headers(body, close=close)))
            + conn.send(h11.Data(data=body))
            + conn.send(h11.EndOfMessage())
        )
        await writer.drain()
        return len(body)

    # ---- the upstream's side -----------------------------------------------------------------

    def _upstream_request(self, request: h11.Request, body: bytes) -> h11.Request:
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
        target = request.target
        if self.upstream.base_path:
            target = self.upstream.base_path.encode("ascii") + target
        return h11.Request(method=request.method, target=target, headers=headers)

    async def _send_upstream(
        self, request: h11.Request, body: bytes
    ) -> tuple[_UpstreamConnection, h11.Response]:
        outgoing = self._upstream_request(request, body)
        for attempt in (1, 2):
            try:
                conn = await self.pool.acquire()
            except TimeoutError:
                raise UpstreamError(
                    "timeout", f"connecting to {self.upstream.label} timed out"
                ) from None
            except (OSError, ssl.SSLError) as exc:
                raise UpstreamError(
                    "unreachable", f"cannot reach {self.upstream.label}: {_os_reason(exc)}"
                ) from None
            reused = conn.uses > 0
            try:
                response = await asyncio.wait_for(
                    self._exchange(conn, outgoing, body, reused), self.timeout
                )
                return conn, response
            except _StaleConnection:
                self.pool.release(conn, reusable=False)
                if attempt == 2:
                    raise UpstreamError(
                        "bad_response", f"{self.upstream.label} closed the connection"
                    ) from None
            except TimeoutError:
                self.pool.release(conn, reusable=False)
                raise UpstreamError(
                    "timeout", f"{self.upstream.label} did not answer within {self.timeout:g} s"
                ) from None
            except (OSError, ssl.SSLError) as exc:
                self.pool.release(conn, reusable=False)
                raise UpstreamError(
                    "unreachable", f"connection to {self.upstream.label} failed: {_os_reason(exc)}"
                ) from None
            except h11.ProtocolError as exc:
                self.pool.release(conn, reusable=False)
                raise UpstreamError(
                    "bad_response", f"{self.upstream.label} sent an invalid response: {exc}"
                ) from None
            except BaseException:
                self.pool.release(conn, reusable=False)
                raise
        raise AssertionError("unreachable")

    async def _exchange(
        self, conn: _UpstreamConnection, request: h11.Request, body: bytes, reused: bool
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
            event = up.next_event()
            if event is h11.NEED_DATA:
                if out:
                    writer.write(b"".join(out))
                    out.clear()
                    await writer.drain()
                try:
                    chunk = await asyncio.wait_for(upstream.reader.read(READ_CHUNK), self.timeout)
                except TimeoutError:
                    raise UpstreamError("timeout", "body stalled") from None
                except OSError as exc:
                    raise UpstreamError("unreachable", _os_reason(exc)) from None
                try:
                    up.receive_data(chunk)
                except h11.RemoteProtocolError as exc:
                    raise UpstreamError("bad_response", str(exc)) from None
                continue
            if isinstance(event, h11.Data):
                progress[0] += len(event.data)
                if keep_for_429 is not None and len(keep_for_429) < 65536:
                    keep_for_429 += event.data
                out.append(conn.send(h11.Data(data=event.data)))
            elif isinstance(event, h11.EndOfMessage):
                out.append(conn.send(h11.EndOfMessage()))
                writer.write(b"".join(out))
                await writer.drain()
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise UpstreamError("bad_response", "closed mid-body")
        return _retry_after_in_body(bytes(keep_for_429)) if keep_for_429 is not None else None


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader):
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(READ_CHUNK))


def _connection_scoped(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Hop-by-hop header names, plus any the `Connection` header lists (lower case)."""
    named = [
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
    ]
    return HOP_BY_HOP.union(named) if named else HOP_BY_HOP


def _json_headers(body: bytes, *, close: bool) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    return headers


def _retry_after(headers: list[tuple[bytes, bytes]]) -> float | None:
    from email.utils import parsedate_to_datetime

    for name, value in headers:
        if name == b"retry-after":
            text = value.decode("latin-1").strip()
            try:
                return max(0.0, float(text))
            except ValueError:
                pass
            try:
                when = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
            return max(0.0, when.timestamp() - time.time())
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


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.lower()
