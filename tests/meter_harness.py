"""Loopback pieces for the meter's fault tests: a scripted upstream, raw clients, a proxy fixture.

The upstream runs its own event loop in a thread, so it answers whatever the proxy (in the test's
loop, or in an `ht-dash meter` subprocess) does. Each test gives it a `respond(seen, writer)`
coroutine that writes raw bytes and returns whether to keep the connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from ht_dash.meter.proxy import MeterProxy, Upstream
from ht_dash.meter.recorder import Recorder

HANG_LIMIT_S = 30.0  # a hanging upstream answer is given up after this, or when the server stops
NORMAL_PATH = "/api/external/segments/7/summary"


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    index_on_connection: int  # 0 for a connection's first request


Respond = Callable[["ScriptedUpstream", Seen, asyncio.StreamWriter], Awaitable[bool]]


def response(status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def answer_ok(up: ScriptedUpstream, seen: Seen, writer: asyncio.StreamWriter) -> bool:
    writer.write(response(200, json.dumps({"path": seen.target}).encode()))
    await writer.drain()
    return True


class LoopThreadServer:
    """A loopback server with its own event loop in a thread: `with Server() as s:` starts it
    (`_start`, which sets `port`) and stops it (`_stop`) on leaving."""

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task] = set()
        self._server: asyncio.Server | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _start(self) -> None:
        raise NotImplementedError

    async def _stop(self) -> None:
        raise NotImplementedError


class ScriptedUpstream(LoopThreadServer):
    """`with ScriptedUpstream(respond) as up:` an HTTP/1.1 server on 127.0.0.1:`up.port`."""

    def __init__(self, respond: Respond | None = None) -> None:
        self.respond = respond or answer_ok
        self.seen: list[Seen] = []
        self.connections = 0
        super().__init__()
        self.stopping: asyncio.Event | None = None

    @property
    def upstream(self) -> Upstream:
        return Upstream("http", "127.0.0.1", self.port, "")

    async def hang(self) -> None:
        """Inside a `respond`: wait until the server stops (bounded)."""
        assert self.stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), HANG_LIMIT_S)

    async def _start(self) -> None:
        self.stopping = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None and self.stopping is not None
        self.stopping.set()
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            for index in range(10_000):
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                seen = Seen(method, target, headers, body, index)
                self.seen.append(seen)
                if not await self.respond(self, seen, writer):
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


# ---- the bot's side ---------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    closed: bool  # the meter had closed the connection when the reply was read

    def json(self) -> dict:
        return json.loads(self.body)


def parse_reply(raw: bytes, *, head_request: bool = False, closed: bool = True) -> Reply:
    assert raw, "the meter sent no answer at all"
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    _, status, reason = (lines[0].split(" ", 2) + [""])[:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = rest if head_request else rest[: int(headers.get("content-length", len(rest)))]
    return Reply(int(status), reason, headers, body, closed)


async def exchange(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send raw bytes, read until the meter closes the connection (or `timeout`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(timeout):
                while chunk := await reader.read(65536):
                    chunks.append(chunk)
        return b"".join(chunks)
    finally:
        writer.close()


async def one_request(port: int, data: bytes, *, timeout: float = 10.0) -> Reply:
    """Send one request, read one response (Content-Length framed) without closing first."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        async with asyncio.timeout(timeout):
            head = await reader.readuntil(b"\r\n\r\n")
            reply = parse_reply(head)
            length = int(reply.headers.get("content-length", "0"))
            reply.body = await reader.readexactly(length)
            reply.closed = reader.at_eof()
        return reply
    finally:
        writer.close()


def get(path: str = NORMAL_PATH, method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: bot\r\n{extra}\r\n".encode()


async def still_serving(proxy: MeterProxy) -> None:
    """The meter answers a normal request after the fault."""
    reply = await one_request(proxy.port, get(), timeout=10)
    assert reply.status == 200, reply


# ---- the meter --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_meter(upstream: Upstream, db: Path, **options):
    """A proxy on 127.0.0.1:0 recording to `db`; records are all written when the block ends."""
    recorder = Recorder(db)
    recorder.start()
    proxy = MeterProxy(upstream, recorder, host="127.0.0.1", port=0, **options)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
        recorder.close()


def records(db: Path, columns: str = "method, path, status, failure") -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(f"SELECT {columns} FROM requests ORDER BY id").fetchall()
