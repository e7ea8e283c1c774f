"""Bots' WebSocket streams through the meter: relayed unchanged, counted, never stored, shown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ht_dash.commands.meter import live_line
from ht_dash.meter.streams import parse_stream_upstream
from meter_harness import ScriptedUpstream, running_meter, still_serving
from stream_harness import SECRET_MARK, Bot, CentrifugoServer

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QtNDIifQ.c2VjcmV0LXNpZ25hdHVyZS14eXo"


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "meter.sqlite3"


def stream_rows(db: Path) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT minute, channel, connections, subscriptions, messages FROM stream_minutes"
            " ORDER BY minute, channel"
        ).fetchall()


def last_written(db: Path) -> dict[str, tuple[int, int]]:
    """Per channel ('' = the connections): (connections, subscriptions) of its latest row."""
    return {channel: (conns, subs) for _, channel, conns, subs, _ in stream_rows(db)}


def messages(db: Path, channel: str) -> int:
    return sum(m for _, c, _, _, m in stream_rows(db) if c == channel)


def connect_and_subscribe(channel: str) -> str:
    """What a Centrifugo client sends first: two commands in one frame, newline-separated."""
    return (
        json.dumps({"id": 1, "connect": {"token": TOKEN, "name": "bot"}})
        + "\n"
        + json.dumps({"id": 2, "subscribe": {"channel": channel}})
    )


def leaks(db: Path) -> list[str]:
    """Database files (WAL included) holding the token or a message's contents."""
    return [
        path.name
        for path in db.parent.glob(db.name + "*")
        if any(secret in path.read_bytes() for secret in (TOKEN.encode(), SECRET_MARK.encode()))
    ]


async def test_a_bot_stream_is_relayed_byte_exact_and_counted_per_channel(db_path):
    address = "0x" + "ab12" * 10
    with ScriptedUpstream() as up, CentrifugoServer(publications=5) as centrifugo:
        async with running_meter(
            up.upstream, db_path, stream_upstream=parse_stream_upstream(centrifugo.url)
        ) as proxy:
            async with Bot(proxy.port, headers=[(b"Origin", b"https://bot.example")]) as bot:
                bot.send(connect_and_subscribe(f"trades:{address}"))
                for _ in range(1 + 1 + 5):  # connect reply, subscribe reply, 5 publications
                    await bot.recv()
                denied = json.dumps({"id": 3, "subscribe": {"channel": "forbidden:x"}})
                bot.send(denied)
                await bot.recv()
                bot.send("{}")  # Centrifugo's ping
                await bot.recv()
                counts = proxy.streams.counts
                assert counts.open == 1
                assert dict(counts.subscriptions) == {f"trades:{address}": 1}
                assert live_line(proxy, proxy.recorder).endswith(" · 1 stream open, 5 msg/min")
                await asyncio.sleep(1.5)  # the meter hands its counts over once a second
                assert proxy.recorder.flush()
                while_open = last_written(db_path)
            await asyncio.sleep(0.3)
            await still_serving(proxy)  # plain requests still go through beside streams
    assert bot.received == centrifugo.sent
    assert centrifugo.received == [connect_and_subscribe(f"trades:{address}").encode(),
                                   denied.encode(), b"{}"]  # fmt: skip
    assert centrifugo.handshakes[0]["target"] == "/connection/websocket"
    assert centrifugo.handshakes[0]["origin"] == "https://bot.example"
    assert while_open == {"": (1, 0), f"trades:{address}": (0, 1)}
    assert last_written(db_path) == {"": (0, 0), f"trades:{address}": (0, 0)}
    assert messages(db_path, f"trades:{address}") == 5
    assert leaks(db_path) == []


async def test_opaque_channel_parts_are_stored_as_placeholders(db_path):
    with ScriptedUpstream() as up, CentrifugoServer(publications=2) as centrifugo:
        async with (
            running_meter(
                up.upstream, db_path, stream_upstream=parse_stream_upstream(centrifugo.url)
            ) as proxy,
            Bot(proxy.port) as bot,
        ):
            bot.send(connect_and_subscribe("alerts#9f2c4e1d7a0b3c5d6e7f8091a2b3c4d5"))
            for _ in range(4):
                await bot.recv()
    assert {c for _, c, *_ in stream_rows(db_path)} == {"", "alerts#{hash}"}


async def test_meter_source_reads_stream_usage_and_before_any_stream_says_where_to_point(
    db_path,
):
    from ht_dash.meter.source import STREAM_URL_META_KEY, MeterSource

    with ScriptedUpstream() as up, CentrifugoServer(publications=6) as centrifugo:
        async with running_meter(
            up.upstream, db_path, stream_upstream=parse_stream_upstream(centrifugo.url)
        ) as proxy:
            proxy.recorder.store.set_meta(STREAM_URL_META_KEY, proxy.stream_url)  # as `meter` does
            source = MeterSource(db_path, plan_id="stream")
            before = (await source.live()).streams
            async with Bot(proxy.port) as bot:
                bot.send(connect_and_subscribe("trades:ETH"))
                for _ in range(8):
                    await bot.recv()
                await asyncio.sleep(1.5)
                proxy.recorder.flush()
                during = (await source.live()).streams
        after = (await source.live()).streams
        pulse = (await MeterSource(db_path, plan_id="pulse").live()).streams
    assert before is not None and before.not_seen_at == proxy.stream_url
    assert proxy.stream_url == f"ws://127.0.0.1:{proxy.port}/connection/websocket"
    assert during is not None and during.not_seen_at is None
    assert (during.connections_open, during.connection_limit, during.subscriptions) == (1, 10, 1)
    assert during.messages_per_minute == 6
    assert after is not None and (after.connections_open, after.subscriptions) == (0, 0)
    assert pulse is not None and pulse.connections_open == 0  # seen, even on a plan without


# ---- the acceptance: `ht-dash meter` + a bot's stream + screen 4 ------------------------------


def _start_meter(up_port: int, stream_port: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ht_dash", "meter", "--listen", "127.0.0.1:0", "--quiet",
         "--upstream", f"http://127.0.0.1:{up_port}",
         "--stream-upstream", f"ws://127.0.0.1:{stream_port}", "--plan", "stream"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    banner = proc.stdout.readline()
    assert "ht-dash meter: http://127.0.0.1:" in banner, banner + proc.stderr.read()
    return proc, int(banner.split("http://127.0.0.1:", 1)[1].split()[0])


async def _screen_shows(pilot, text: str, seconds: float = 20) -> str:
    """Wait (refreshing) until the stream line on screen 4 contains `text`; return the line."""
    deadline = time.monotonic() + seconds
    while True:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)
        line = str(pilot.app.screen.query_one("#live-streams").render())
        if text in line or time.monotonic() > deadline:
            return line
        await pilot.press("r")


async def test_screen_4_shows_a_bots_stream_through_the_meter(isolated_home):
    from ht_dash.config import load_settings
    from ht_dash.runtime import Runtime
    from ht_dash.tui.app import make_app

    with ScriptedUpstream() as up, CentrifugoServer(publications=7) as centrifugo:
        proc, port = _start_meter(up.port, centrifugo.port)
        try:
            # the settings `ht-dash meter --plan stream` left (the plan is one of them)
            app = make_app(
                Runtime(settings=load_settings(env={"HT_DASH_SOURCE": "meter"})), live=False
            )
            async with app.run_test(size=(120, 30)) as pilot:
                await pilot.press("4")
                url = f"ws://127.0.0.1:{port}/connection/websocket"
                waiting = await _screen_shows(pilot, url)
                async with Bot(port) as bot:
                    bot.send(connect_and_subscribe("trades:BTC"))
                    for _ in range(9):
                        await bot.recv()
                    streaming = await _screen_shows(pilot, "7 messages/min")
        finally:
            proc.terminate()
            proc.wait(10)
            proc.stdout.close()
            proc.stderr.close()
    assert waiting == (
        "Live streams: not seen locally — point the bot's stream URL at the meter: " + url
    )
    assert streaming == ("Live streams: 1 / 10 connections · 7 messages/min · 1 subscription")
    assert proc.returncode == 0
    assert leaks(isolated_home / "data" / "meter.sqlite3") == []


@pytest.mark.parametrize(
    ("channel", "stored"),
    [
        ("trades:BTC", "trades:BTC"),
        ("fills:0x" + "Ab" * 20, "fills:0x" + "Ab" * 20),  # an address is public: kept
        ("alerts#9f2c4e1d7a0b3c5d6e7f8091a2b3c4d5", "alerts#{hash}"),
        (f"$private:{TOKEN}", "$private:{token}"),
        ("user:123e4567-e89b-12d3-a456-426614174000", "user:{uuid}"),
        ("orders:a8Fk2LmQ9xZt7VbN4cRw1", "orders:{id}"),
        ("news:\x1b]52;c;aGk=\x07", "news:?]52;c;aGk=?"),  # never terminal control
        ("x" * 300, "{id}"),
    ],
)
def test_channels_are_stored_as_templates_that_keep_no_secret(channel, stored):
    from ht_dash.meter.templates import channel_template

    assert channel_template(channel) == stored


def test_starting_the_meter_does_not_import_wsproto():
    """wsproto loads with the first stream, not with the proxy (nor with any other command)."""
    probe = "import sys, ht_dash.meter.proxy; print('wsproto' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


async def test_a_stream_counts_against_the_client_cap(db_path):
    from meter_harness import one_request

    plain = b"GET / HTTP/1.1\r\nHost: b\r\n\r\n"
    with ScriptedUpstream() as up, CentrifugoServer() as centrifugo:
        async with running_meter(
            up.upstream,
            db_path,
            stream_upstream=parse_stream_upstream(centrifugo.url),
            max_clients=1,
        ) as proxy:
            async with Bot(proxy.port):
                turned_away = await one_request(proxy.port, plain)
            for _ in range(50):  # the stream's connection is given back once it has closed
                served = await one_request(proxy.port, plain)
                if served.status == 200:
                    break
                await asyncio.sleep(0.1)
    assert turned_away.json()["error"] == "too_many_connections"
    assert served.status == 200


async def test_streams_of_several_meters_on_one_store_add_up_and_a_stopped_one_reads_zero(db_path):
    import time as clock

    from ht_dash.meter.recorder import StreamMinute
    from ht_dash.meter.source import MeterSource
    from ht_dash.meter.store import open_store

    minute = int(clock.time() // 60)
    store = open_store(db_path)
    store.open_for_writing()
    for instance, at, connections in (("host-a", minute - 1, 2), ("host-b", minute, 1),
                                      ("stopped", minute - 5, 4)):  # fmt: skip
        row = StreamMinute(at, "", connections, 0, 0, 0)
        store.write_batch([], instance, streams=[row, StreamMinute(at, "trades:BTC", 0, 1, 0, 0)])
    store.close()
    streams = (await MeterSource(db_path, plan_id="stream").live()).streams
    assert streams is not None
    assert (streams.connections_open, streams.subscriptions) == (3, 2)


async def test_metrics_expose_streams_by_channel_template_without_contents(db_path):
    from prometheus_client.parser import text_string_to_metric_families

    from ht_dash.meter.metrics import MeterMetrics

    metrics = MeterMetrics("host-a")
    with ScriptedUpstream() as up, CentrifugoServer(publications=4) as centrifugo:
        async with running_meter(
            up.upstream, db_path, stream_upstream=parse_stream_upstream(centrifugo.url)
        ) as proxy:
            metrics.streams = proxy.streams.counts
            async with Bot(proxy.port) as bot:
                bot.send(connect_and_subscribe("alerts#9f2c4e1d7a0b3c5d6e7f8091a2b3c4d5"))
                for _ in range(6):
                    await bot.recv()
                text = metrics.exposition().decode()
    samples = {
        (sample.name, sample.labels.get("channel")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("htdash_stream")
    }
    assert samples == {
        ("htdash_stream_connections", None): 1,
        ("htdash_stream_connections_opened_total", None): 1,
        ("htdash_stream_subscriptions", "alerts#{hash}"): 1,
        ("htdash_stream_publications_total", "alerts#{hash}"): 4,
    }
    assert TOKEN not in text and SECRET_MARK not in text and "9f2c4e1d" not in text
