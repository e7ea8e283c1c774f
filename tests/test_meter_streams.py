"""Bots' WebSocket streams through the meter: relayed unchanged, counted, never stored."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from meter_harness import running_meter, still_serving, ScriptedUpstream
from stream_harness import SECRET_MARK, Bot, CentrifugoServer

from ht_dash.meter.streams import parse_stream_upstream

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QtNDIifQ.c2VjcmV0LXNpZ25hdHVyZS14eXo"


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "meter.sqlite3"


def stream_rows(db: Path) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT channel, connections, subscriptions, messages FROM stream_minutes"
            " ORDER BY minute, channel"
        ).fetchall()


async def test_a_bot_stream_is_relayed_byte_exact_and_counted_per_channel(db_path):
    with ScriptedUpstream() as up, CentrifugoServer(publications=5) as centrifugo:
        async with running_meter(
            up.upstream, db_path, stream_upstream=parse_stream_upstream(centrifugo.url)
        ) as proxy:
            async with Bot(proxy.port, headers=[(b"Origin", b"https://bot.example")]) as bot:
                commands = (
                    json.dumps({"id": 1, "connect": {"token": TOKEN}})
                    + "\n"
                    + json.dumps({"id": 2, "subscribe": {"channel": "trades:BTC"}})
                )
                bot.send(commands)
                for _ in range(1 + 1 + 5):
                    await bot.recv()
                bot.send(json.dumps({"id": 3, "subscribe": {"channel": "forbidden:x"}}))
                await bot.recv()
                bot.send("{}")
                await bot.recv()
                counts = proxy.streams.counts
                assert (counts.open, dict(counts.subscriptions)) == (1, {"trades:BTC": 1})
                await asyncio.sleep(1.5)  # one flush
                proxy.recorder.flush()
                while_open = stream_rows(db_path)
            await asyncio.sleep(0.3)
            await still_serving(proxy)
    assert bot.received == centrifugo.sent
    assert centrifugo.received == [commands.encode(), bot_bytes(3), b"{}"]
    assert centrifugo.handshakes[0]["target"] == "/connection/websocket"
    assert centrifugo.handshakes[0]["origin"] == "https://bot.example"
    assert ("", 1, 0, 0) in while_open and ("trades:BTC", 0, 1, 5) in while_open
    assert stream_rows(db_path)[-2:] == [("", 0, 0, 0), ("trades:BTC", 0, 0, 5)]
    for path in db_path.parent.glob("meter.sqlite3*"):
        raw = path.read_bytes()
        assert TOKEN.encode() not in raw and SECRET_MARK.encode() not in raw, path.name


def bot_bytes(n: int) -> bytes:
    return json.dumps({"id": n, "subscribe": {"channel": "forbidden:x"}}).encode()
