"""WebSocket streams through the meter: a bot's Centrifugo connection relayed to the stream host.

A bot opens `ws://127.0.0.1:PORT/connection/websocket` on the meter's own listener; the meter
answers the upgrade only once the stream host (`--stream-upstream`, TLS unless on loopback) has
accepted the same upgrade, then relays whole messages both ways, unchanged. On the way it reads
the Centrifugo JSON protocol just enough to count: open connections, subscriptions per channel,
publications pushed per channel, bytes. Message contents and the connect token are never kept,
logged or stored: only channel templates (`templates.channel_template`) and numbers are.

Every wait has a deadline: the upstream handshake (`header_timeout`), a peer that stops reading
(`timeout`), a connection with no message either way (`idle_timeout`); a message over
`max_message` bytes closes both sides with 1009. wsproto is imported when the first bot asks for a
stream, not before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import h11

from ht_dash.meter import DEFAULT_STREAM_UPSTREAM, STREAM_PATH
from ht_dash.meter.answers import (
    Refusal,
    answer_bytes,
    checked_upstream,
    describe,
    os_reason,
    reason_phrase,
)
from ht_dash.meter.recorder import Recorder, StreamMinute
from ht_dash.meter.templates import channel_template

if TYPE_CHECKING:  # wsproto itself is imported when the first stream is relayed
    import wsproto
    import wsproto.connection
    import wsproto.events as ws

    from ht_dash.meter.proxy import MeterProxy

MAX_MESSAGE = 4 * 1024 * 1024  # a bigger message closes the stream with 1009 (too big)
MAX_REJECT_BODY = 64 * 1024  # of an upstream's refusal relayed to the bot
MAX_CHANNELS = 1000  # channel templates counted at once; more are counted as "{other}"
MAX_PENDING_IDS = 1024  # subscribe commands awaiting their reply, per connection
FLUSH_EVERY_S = 1.0
READ_CHUNK = 65536
CLOSE_GRACE_S = 0.5  # for close frames when the meter stops
# Headers of the bot's upgrade request that are about this one hop or this one handshake.
_NOT_FORWARDED = frozenset(
    {
        b"host",
        b"connection",
        b"upgrade",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"content-length",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"sec-websocket-accept",
    }
)


@dataclass(frozen=True, slots=True)
class StreamUpstream:
    secure: bool
    host: str
    port: int
    base_path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.secure else 80) else f"{host}:{self.port}"

    @property
    def label(self) -> str:
        return f"{'wss' if self.secure else 'ws'}://{self.host_header}{self.base_path}"


def parse_stream_upstream(url: str) -> StreamUpstream:
    """Validate `--stream-upstream`: ws(s) only; plain ws only to loopback (the token is in it)."""
    parts, port = checked_upstream(
        url, what="stream upstream", schemes=("ws", "wss"), example=DEFAULT_STREAM_UPSTREAM
    )
    path = parts.path.rstrip("/")
    if path.endswith(STREAM_PATH):  # the full URL a bot uses: the bot's path is appended
        path = path[: -len(STREAM_PATH)]
    return StreamUpstream(parts.scheme == "wss", parts.hostname or "", port, path)


def wants_websocket(request: h11.Request) -> bool:
    """A `GET` offering `Upgrade: websocket` (RFC 6455 §4.1)."""
    return request.method == b"GET" and any(
        name == b"upgrade" and b"websocket" in (t.strip().lower() for t in value.split(b","))
        for name, value in request.headers
    )


# ---- counting ---------------------------------------------------------------------------------


class StreamCounts:
    """What the streams through one meter amount to; rows go to the recorder once a second."""

    def __init__(self, recorder: Recorder, now: Callable[[], float] = time.time) -> None:
        self.recorder = recorder
        self.now = now
        self.open = 0  # connections relayed right now
        self.total = 0  # connections relayed since start
        self.ended: Counter[str] = Counter()  # why connections ended: bot_closed, too_large, ...
        self.subscriptions: Counter[str] = Counter()  # channel template -> subscriptions open
        self._messages: Counter[str] = Counter()  # since the last flush
        self.published_total: Counter[str] = Counter()  # since start, for /metrics
        self._bytes: Counter[str] = Counter()
        self._recent: deque[list[int]] = deque()  # [second, publications], the last minute
        self._written_minute = -1
        self._dirty = False

    def channel(self, name: object) -> str:
        template = channel_template(name) if isinstance(name, str) else "{unknown}"
        if template not in self.subscriptions and len(self.subscriptions) >= MAX_CHANNELS:
            return "{other}"
        return template

    def opened(self) -> None:
        self.open += 1
        self.total += 1
        self._dirty = True

    def closed(self, reason: str) -> None:
        self.open -= 1
        self.ended[reason] += 1
        self._dirty = True

    def subscribed(self, channel: str) -> None:
        self.subscriptions[channel] += 1
        self._dirty = True

    def unsubscribed(self, channel: str) -> None:
        self.subscriptions[channel] -= 1
        self._dirty = True

    def published(self, channel: str, size: int) -> None:
        self._messages[channel] += 1
        total = self.published_total
        total[channel if channel in total or len(total) < MAX_CHANNELS else "{other}"] += 1
        self._bytes[channel] += size
        second = int(time.monotonic())
        recent = self._recent
        if recent and recent[-1][0] == second:
            recent[-1][1] += 1
        else:
            recent.append([second, 1])
            while recent[0][0] <= second - 60:
                recent.popleft()
        self._dirty = True

    def relayed(self, size: int) -> None:
        self._bytes[""] += size
        self._dirty = True

    def messages_per_minute(self) -> int:
        cutoff = int(time.monotonic()) - 60
        return sum(n for second, n in self._recent if second > cutoff)

    def flush(self) -> None:
        """Hand this minute's rows to the recorder: on any change, and each minute while open."""
        minute = int(self.now() // 60)
        if not self._dirty and (minute == self._written_minute or not self.open):
            return
        channels = set(self._messages) | set(self.subscriptions) | {c for c in self._bytes if c}
        rows = [StreamMinute(minute, "", self.open, 0, self._messages.pop("", 0), self._bytes[""])]
        rows += [
            StreamMinute(
                minute,
                channel,
                0,
                self.subscriptions.get(channel, 0),
                self._messages.get(channel, 0),
                self._bytes.get(channel, 0),
            )
            for channel in sorted(channels - {""})
        ]
        for channel in [c for c, n in self.subscriptions.items() if n <= 0]:
            del self.subscriptions[channel]  # its 0 is written: the reader sees it closed
        self._messages.clear()
        self._bytes.clear()
        self.recorder.add_streams(rows)
        self._written_minute = minute
        self._dirty = False


class _Centrifugo:
    """One connection's view of the Centrifugo JSON protocol, for counting only."""

    def __init__(self, counts: StreamCounts) -> None:
        self.counts = counts
        self.pending: dict[object, str] = {}  # command id -> channel of a subscribe
        self.channels: Counter[str] = Counter()  # subscriptions of this connection

    def from_bot(self, data: bytes) -> None:
        for command in _commands(data):
            subscribe = command.get("subscribe")
            unsubscribe = command.get("unsubscribe")
            if isinstance(subscribe, dict) and "id" in command:
                if len(self.pending) < MAX_PENDING_IDS:
                    key = _hashable(command["id"])
                    self.pending[key] = self.counts.channel(subscribe.get("channel"))
            elif isinstance(unsubscribe, dict):
                self._drop(self.counts.channel(unsubscribe.get("channel")))

    def from_stream(self, data: bytes) -> None:
        for reply in _commands(data):
            if "id" in reply:
                channel = self.pending.pop(_hashable(reply["id"]), None)
                if channel is not None and "error" not in reply:
                    self._add(channel)
                connect = reply.get("connect")
                if isinstance(connect, dict) and isinstance(connect.get("subs"), dict):
                    for name in connect["subs"]:  # server-side subscriptions
                        self._add(self.counts.channel(name))
            push = reply.get("push")
            if isinstance(push, dict):
                channel = self.counts.channel(push.get("channel"))
                if "pub" in push:
                    self.counts.published(channel, len(data))
                elif "subscribe" in push:
                    self._add(channel)
                elif "unsubscribe" in push:
                    self._drop(channel)

    def _add(self, channel: str) -> None:
        self.channels[channel] += 1
        self.counts.subscribed(channel)

    def _drop(self, channel: str) -> None:
        if self.channels[channel] > 0:
            self.channels[channel] -= 1
            self.counts.unsubscribed(channel)

    def close(self) -> None:
        for channel, n in self.channels.items():
            for _ in range(n):
                self.counts.unsubscribed(channel)
        self.channels.clear()


def _commands(data: bytes) -> list[dict]:
    """The JSON objects of a frame; several may come newline-separated. Unreadable ones: none."""
    out = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def _hashable(value: object) -> object:
    return value if isinstance(value, int | str) else repr(value)[:32]


# ---- relaying ---------------------------------------------------------------------------------


class StreamClosed(Exception):
    """Why a relayed stream ended, as recorded and as the close code sent to the other side."""

    def __init__(self, reason: str, code: int = 1001) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class _Side:
    """One end of a relayed stream: its socket and its wsproto connection."""

    def __init__(
        self,
        name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: wsproto.connection.Connection | wsproto.WSConnection,
    ) -> None:
        self.name = name
        self.reader = reader
        self.writer = writer
        self.conn = conn
        self.closed = False

    def send_now(self, event: ws.Event) -> None:
        """Queue a frame without waiting (closing frames; a stalled peer cannot hold them up)."""
        with contextlib.suppress(Exception):
            self.writer.write(self.conn.send(event))

    async def send(self, event: ws.Event, timeout: float) -> None:
        if self.writer.is_closing():
            raise StreamClosed(f"{self.name}_gone")
        self.writer.write(self.conn.send(event))
        if self.writer.transport.get_write_buffer_size():
            try:
                async with asyncio.timeout(timeout):
                    await self.writer.drain()
            except TimeoutError:
                raise StreamClosed(f"{self.name}_stalled") from None
            except OSError:
                raise StreamClosed(f"{self.name}_gone") from None


class StreamRelay:
    """Relays bots' WebSocket streams for one `MeterProxy` and counts them."""

    def __init__(
        self,
        proxy: MeterProxy,
        upstream: StreamUpstream,
        *,
        max_message: int = MAX_MESSAGE,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.proxy = proxy
        self.upstream = upstream
        self.max_message = max_message
        self.counts = StreamCounts(proxy.recorder)
        self._ssl = ssl_context
        self._flusher: asyncio.Task | None = None

    # ---- the handshake -----------------------------------------------------------------------

    async def serve(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
    ) -> None:
        """Answer the bot's upgrade like the stream host does, then relay until either side ends."""
        import wsproto.utilities

        proxy = self.proxy
        headers = {name: value for name, value in request.headers}
        refusal = None
        if headers.get(b"sec-websocket-version") != b"13":
            refusal = Refusal(
                426,
                "websocket_version",
                "only WebSocket version 13 is relayed",
                "not_supported",
                ((b"sec-websocket-version", b"13"),),
            )
        elif b"sec-websocket-key" not in headers or (
            b"content-length" in headers or b"transfer-encoding" in headers
        ):
            refusal = Refusal(400, "bad_request", "not a valid WebSocket upgrade", "")
        if refusal is not None:
            await proxy._send(writer, answer_bytes(conn, refusal, close=True)[0])
            return
        label = self.upstream.label
        try:
            async with asyncio.timeout(proxy.header_timeout):
                upstream, accepted = await self._open_upstream(request)
        except TimeoutError:
            refusal = Refusal(
                504,
                "upstream_timeout",
                f"{label} did not accept the stream within {proxy.header_timeout:g} s",
                "timeout",
            )
        except (OSError, ssl.SSLError) as exc:
            refusal = Refusal(
                502, "upstream_unreachable", f"cannot reach {label}: {os_reason(exc)}", ""
            )
        except wsproto.utilities.RemoteProtocolError as exc:
            refusal = Refusal(
                502,
                "upstream_bad_response",
                f"{label} sent an invalid answer: {describe(exc)}",
                "",
            )
        except _Rejected as rejected:
            await proxy._send(writer, rejected.answer(conn))
            return
        if refusal is not None:
            await proxy._send(writer, answer_bytes(conn, refusal, close=True)[0])
            return

        import wsproto.connection

        answer = [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (
                b"sec-websocket-accept",
                wsproto.utilities.generate_accept_token(headers[b"sec-websocket-key"]),
            ),
        ]
        if accepted.subprotocol:
            answer.append((b"sec-websocket-protocol", accepted.subprotocol.encode("ascii")))
        answer += [
            (name, value)
            for name, value in accepted.extra_headers
            if name.lower() not in _NOT_FORWARDED
        ]
        try:
            while conn.next_event() is not h11.PAUSED:  # the upgrade request's end of message
                pass
            data = conn.send(h11.InformationalResponse(status_code=101, headers=answer))
            bot = _Side(
                "bot",
                reader,
                writer,
                wsproto.connection.Connection(
                    wsproto.connection.ConnectionType.SERVER, trailing_data=conn.trailing_data[0]
                ),
            )
            await proxy._send(writer, data)
        except BaseException:
            upstream.writer.close()
            raise
        await self._relay(bot, upstream)

    async def _open_upstream(self, request: h11.Request) -> tuple[_Side, ws.AcceptConnection]:
        import wsproto
        import wsproto.events as ws

        up = self.upstream
        context = None
        if up.secure:
            context = self._ssl
            if context is None:
                import httpx  # certifi's CA bundle, like every request of ht-dash

                context = self._ssl = httpx.create_ssl_context()
        reader, writer = await asyncio.open_connection(
            up.host,
            up.port,
            ssl=context,
            server_hostname=up.host if context else None,
            limit=READ_CHUNK,
        )
        try:
            client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
            offered = [
                p.strip().decode("ascii", "replace")
                for name, value in request.headers
                if name == b"sec-websocket-protocol"
                for p in value.split(b",")
                if p.strip()
            ]
            extra = [
                (name, value)
                for name, value in request.headers.raw_items()
                if name.lower() not in _NOT_FORWARDED
            ]
            target = request.target.decode("ascii")
            if not target.startswith("/"):
                target = urlsplit(target).path or "/"
            writer.write(
                client.send(
                    ws.Request(
                        host=up.host_header,
                        target=up.base_path + target,
                        subprotocols=offered,
                        extra_headers=extra,
                    )
                )
            )
            rejection: _Rejected | None = None
            while True:
                data = await reader.read(READ_CHUNK)
                client.receive_data(data or None)
                for event in client.events():
                    if isinstance(event, ws.AcceptConnection):
                        return _Side("upstream", reader, writer, client), event
                    if isinstance(event, ws.RejectConnection):
                        rejection = _Rejected(event.status_code, event.headers)
                        if not event.has_body:
                            raise rejection
                    elif isinstance(event, ws.RejectData) and rejection is not None:
                        rejection.add(event.data)
                        if event.body_finished or len(rejection.body) >= MAX_REJECT_BODY:
                            raise rejection
                    elif isinstance(event, ws.CloseConnection):
                        raise ConnectionResetError("closed before answering")
                if not data:
                    raise ConnectionResetError("closed before answering")
        except BaseException:
            writer.close()
            raise

    # ---- the relay ---------------------------------------------------------------------------

    async def _relay(self, bot: _Side, upstream: _Side) -> None:
        import wsproto.events as ws

        self.proxy.settle()  # a stream is not a request in flight: stopping closes it at once
        counts = self.counts
        protocol = _Centrifugo(counts)
        counts.opened()
        self._start_flusher()
        activity = [time.monotonic()]
        reason = "error"
        pumps = [
            asyncio.ensure_future(self._pump(bot, upstream, protocol.from_bot, activity)),
            asyncio.ensure_future(self._pump(upstream, bot, protocol.from_stream, activity)),
        ]
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            error = next(iter(done)).exception()
            code = error.code if isinstance(error, StreamClosed) else 1011
            reason = error.reason if isinstance(error, StreamClosed) else "error"
            if not isinstance(error, StreamClosed):  # the type only: a message may quote data
                self.proxy.report(f"a stream ended on {type(error).__name__}")
            for side in (bot, upstream):
                side.send_now(ws.CloseConnection(code=code))
        except asyncio.CancelledError:  # the meter is stopping: tell both ends why
            reason = "meter_stopped"
            for side in (bot, upstream):
                side.send_now(ws.CloseConnection(code=1001, reason="ht-dash meter stopped"))
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.wait(pumps, timeout=CLOSE_GRACE_S)
            for task in pumps:  # retrieved, so that asyncio does not log them at exit
                if task.done() and not task.cancelled():
                    task.exception()
            protocol.close()
            counts.closed(reason)
            counts.flush()
            # Closing with unread bytes pending would reset the connection, and the peer could
            # lose the close frame: read on briefly, then close.
            grace = CLOSE_GRACE_S / 4 if reason == "meter_stopped" else CLOSE_GRACE_S
            await asyncio.wait([asyncio.ensure_future(_linger(s, grace)) for s in (bot, upstream)])

    async def _pump(
        self,
        source: _Side,
        target: _Side,
        count: Callable[[bytes], None],
        activity: list[float],
    ) -> None:
        """Whole messages from `source` to `target`, counted; control frames passed on."""
        import wsproto.events as ws
        import wsproto.utilities

        proxy = self.proxy
        message = bytearray()
        text = False
        while True:
            try:
                data = await self._read(source, activity)
            except OSError:
                data = b""
            try:
                source.conn.receive_data(data or None)
                events = list(source.conn.events())
            except wsproto.utilities.RemoteProtocolError:
                raise StreamClosed(f"{source.name}_protocol_error", 1002) from None
            for event in events:
                if isinstance(event, ws.Message):
                    if not message:
                        text = isinstance(event, ws.TextMessage)
                    chunk = event.data.encode("utf-8") if text else bytes(event.data)
                    if len(message) + len(chunk) > self.max_message:
                        raise StreamClosed("too_large", 1009)
                    message += chunk
                    if not event.message_finished:
                        continue
                    whole = bytes(message)
                    message.clear()
                    self.counts.relayed(len(whole))
                    if text:
                        count(whole)
                        out: ws.Event = ws.TextMessage(whole.decode("utf-8"))
                    else:
                        if source.name == "upstream":
                            self.counts.published("", 0)
                        out = ws.BytesMessage(whole)
                    await target.send(out, proxy.timeout)
                elif isinstance(event, ws.Ping):
                    await target.send(ws.Ping(event.payload), proxy.timeout)
                elif isinstance(event, ws.Pong):
                    await target.send(ws.Pong(event.payload), proxy.timeout)
                elif isinstance(event, ws.CloseConnection):
                    if data:  # a close frame: answer it, pass it on
                        source.send_now(event.response())
                        with contextlib.suppress(Exception):
                            target.writer.write(
                                target.conn.send(ws.CloseConnection(event.code, event.reason))
                            )
                        raise StreamClosed(f"{source.name}_closed")
                    raise StreamClosed(f"{source.name}_gone", 1001)

    async def _read(self, side: _Side, activity: list[float]) -> bytes:
        """The next bytes from `side`; gives up when neither side sent anything for the idle
        timeout (a Centrifugo server pings every 25 s, so a live stream is never idle that long)."""
        idle = self.proxy.idle_timeout
        while True:
            wait = activity[0] + idle - time.monotonic()
            if wait <= 0:
                raise StreamClosed("idle_timeout", 1001)
            try:
                async with asyncio.timeout(wait):
                    data = await side.reader.read(READ_CHUNK)
            except TimeoutError:
                continue
            activity[0] = time.monotonic()
            return data

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            self.counts.flush()
            if not self.counts.open:
                return

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self.counts.flush()


async def _linger(side: _Side, grace: float) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(grace):
            while await side.reader.read(READ_CHUNK):
                pass
    with contextlib.suppress(Exception):
        side.writer.close()


class _Rejected(Exception):
    """The stream host refused the upgrade: its status and (bounded) body go to the bot."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(status)
        self.status = status
        self.headers = [
            (n, v) for n, v in headers if n.lower() in (b"content-type", b"retry-after")
        ]
        self.body = bytearray()

    def add(self, data: bytes) -> None:
        self.body += data[: MAX_REJECT_BODY - len(self.body)]

    def answer(self, conn: h11.Connection) -> bytes:
        headers = [
            *self.headers,
            (b"content-length", b"%d" % len(self.body)),
            (b"connection", b"close"),
        ]
        status = self.status if 400 <= self.status < 600 else 502
        data = conn.send(
            h11.Response(status_code=status, headers=headers, reason=reason_phrase(status))
        )
        data += conn.send(h11.Data(data=bytes(self.body)))
        return data + conn.send(h11.EndOfMessage())
