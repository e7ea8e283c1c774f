"""Loopback WebSocket pieces for the meter's stream tests: a small Centrifugo server and a bot.

`CentrifugoServer` is a `LoopThreadServer` (its own event loop in a thread), speaks wsproto,
and answers just enough of Centrifugo's JSON protocol: connect, subscribe (pushing `publications`
messages on the channel), unsubscribe, `{}` ping. It keeps every message it got and sent, as bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import wsproto
import wsproto.events as ws

from meter_harness import LoopThreadServer

SECRET_MARK = "PAYLOAD-SECRET-7f3a9c"  # inside every publication: must never reach the database


class CentrifugoServer(LoopThreadServer):
    def __init__(
        self,
        *,
        publications: int = 5,
        stall_handshake: bool = False,
        vanish_after_pushes: bool = False,
        push_size: int = 0,
    ) -> None:
        self.publications = publications
        self.stall_handshake = stall_handshake
        self.vanish_after_pushes = vanish_after_pushes
        self.push_size = push_size
        self.received: list[bytes] = []
        self.sent: list[bytes] = []
        self.closes: list[int] = []  # codes of the close frames the server got
        self.handshakes: list[dict[str, str]] = []
        super().__init__()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        try:
            while True:
                data = await reader.read(65536)
                conn.receive_data(data or None)
                for event in conn.events():
                    await self._on_event(conn, event, writer)
                if not data:
                    return
        except (ConnectionError, asyncio.CancelledError, wsproto.utilities.LocalProtocolError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _on_event(self, conn, event, writer: asyncio.StreamWriter) -> None:
        if isinstance(event, ws.Request):
            self.handshakes.append(
                {k.decode().lower(): v.decode() for k, v in event.extra_headers}
                | {"target": event.target}
            )
            if self.stall_handshake:
                await asyncio.sleep(3600)
            writer.write(conn.send(ws.AcceptConnection()))
        elif isinstance(event, ws.TextMessage):
            raw = event.data.encode()
            self.received.append(raw)
            for line in raw.split(b"\n"):
                await self._command(conn, json.loads(line), writer)
        elif isinstance(event, ws.Ping):
            writer.write(conn.send(event.response()))
        elif isinstance(event, ws.CloseConnection):
            if event.code != 1006:  # 1006 is wsproto's word for "no close frame, just EOF"
                self.closes.append(event.code)
            with contextlib.suppress(wsproto.utilities.LocalProtocolError):
                writer.write(conn.send(event.response()))
            await writer.drain()
            writer.close()  # RFC 6455 §7.1.1: the server closes the TCP connection first
        await writer.drain()

    async def _command(self, conn, command: dict, writer: asyncio.StreamWriter) -> None:
        if not command:
            self._send(conn, writer, {})  # pong
        elif "connect" in command:
            self._send(
                conn, writer, {"id": command["id"], "connect": {"client": "c-1", "ping": 25}}
            )
        elif "subscribe" in command:
            channel = command["subscribe"]["channel"]
            if channel.startswith("forbidden"):
                error = {"code": 103, "message": "permission denied"}
                self._send(conn, writer, {"id": command["id"], "error": error})
                return
            self._send(conn, writer, {"id": command["id"], "subscribe": {}})
            for n in range(self.publications):
                data = {"n": n, "secret": SECRET_MARK, "pad": "x" * self.push_size}
                self._send(conn, writer, {"push": {"channel": channel, "pub": {"data": data}}})
            if self.vanish_after_pushes:
                await writer.drain()
                writer.transport.abort()  # no close frame: the stream host just went away
        elif "unsubscribe" in command:
            self._send(conn, writer, {"id": command["id"], "unsubscribe": {}})

    def _send(self, conn, writer: asyncio.StreamWriter, message: dict) -> None:
        raw = json.dumps(message, separators=(",", ":")).encode()
        self.sent.append(raw)
        writer.write(conn.send(ws.TextMessage(raw.decode())))


class Bot:
    """A WebSocket client on the test's loop: `async with Bot(url) as bot:`."""

    def __init__(self, port: int, path: str = "/connection/websocket", headers=()) -> None:
        self.port = port
        self.path = path
        self.headers = list(headers)
        self.conn = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self.events: asyncio.Queue = asyncio.Queue()
        self.received: list[bytes] = []
        self.close_code: int | None = None
        self.rejected: int | None = None

    async def __aenter__(self) -> Bot:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            self.conn.send(
                ws.Request(host="127.0.0.1", target=self.path, extra_headers=self.headers)
            )
        )
        self._reading = asyncio.ensure_future(self._read())
        first = await asyncio.wait_for(self.events.get(), 10)
        if not isinstance(first, ws.AcceptConnection):
            raise ConnectionError(f"stream refused: {first}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reading.cancel()
        self.writer.close()

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(65536)
            try:
                self.conn.receive_data(data or None)
            except wsproto.utilities.LocalProtocolError:
                return
            for event in self.conn.events():
                if isinstance(event, ws.RejectConnection):
                    self.rejected = event.status_code
                if isinstance(event, ws.CloseConnection):
                    self.close_code = event.code
                await self.events.put(event)
            if not data:
                return

    def send(self, text: str) -> None:
        self.writer.write(self.conn.send(ws.TextMessage(text)))

    async def recv(self, timeout: float = 10) -> bytes:
        """The next whole text message (fragments joined)."""
        parts = []
        while True:
            event = await asyncio.wait_for(self.events.get(), timeout)
            if isinstance(event, ws.CloseConnection):
                raise ConnectionResetError(f"closed with {event.code}")
            if isinstance(event, ws.TextMessage):
                parts.append(event.data)
                if event.message_finished:
                    raw = "".join(parts).encode()
                    self.received.append(raw)
                    return raw

    async def closed(self, timeout: float = 10) -> int | None:
        """Wait for a close frame (its code) or the end of the connection (None)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    event = await self.events.get()
                    if isinstance(event, ws.CloseConnection):
                        return event.code
        return None
