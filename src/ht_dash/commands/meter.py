"""`ht-dash meter`: run the local metering proxy in the foreground (see docs/meter.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ht_dash.api.errors import ConfigError

if TYPE_CHECKING:
    from ht_dash.meter.proxy import MeterProxy
    from ht_dash.meter.recorder import Recorder
    from ht_dash.runtime import Runtime

DESCRIPTION = """\
Run a local reverse proxy that records every request your bot makes, then forwards it unchanged
to the API. Point the bot's base URL at http://127.0.0.1:8787/api/external (paths are kept),
and its stream URL at ws://127.0.0.1:8787/connection/websocket (relayed to the stream host).
Read the figures with `ht-dash --source meter` (the app) or `ht-dash --source meter usage`.

Stored per request: time, method, endpoint template (ids, addresses, coins, dates replaced by
placeholders; the query string is never stored), status, latency, response size, retry_after on
429 and a short keyed fingerprint of the token — never the token itself. Per stream minute:
connections, subscriptions and publications per channel, bytes — never a message or the token."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from ht_dash.meter import (
        DEFAULT_HEADER_TIMEOUT_S,
        DEFAULT_IDLE_TIMEOUT_S,
        DEFAULT_LISTEN,
        DEFAULT_MAX_BUFFERED_MIB,
        DEFAULT_MAX_CLIENTS,
        DEFAULT_RETENTION_DAYS,
        DEFAULT_STREAM_UPSTREAM,
        DEFAULT_TIMEOUT_S,
        DEFAULT_UPSTREAM,
    )

    parser = subparsers.add_parser(
        "meter",
        help="run the local usage meter (a recording proxy for your bot)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=DEFAULT_LISTEN,
        help=f"address to listen on, [::1]:PORT for IPv6 (default: {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--upstream",
        metavar="URL",
        default=DEFAULT_UPSTREAM,
        help=f"where requests go (default: {DEFAULT_UPSTREAM}); http:// only to loopback",
    )
    parser.add_argument(
        "--stream-upstream",
        metavar="URL",
        default=DEFAULT_STREAM_UPSTREAM,
        help="where bots' WebSocket streams go (default: "
        f"{DEFAULT_STREAM_UPSTREAM}); ws:// only to loopback",
    )
    parser.add_argument(
        "--plan",
        metavar="ID",
        help="the plan of your bot's token, for quota and rate limit (free, pulse, surge, flow, "
        "stream, enterprise); remembered in the meter database (default: pulse)",
    )
    parser.add_argument(
        "--retention-days",
        type=int,
        default=DEFAULT_RETENTION_DAYS,
        metavar="N",
        help=f"delete request records older than N days (default: {DEFAULT_RETENTION_DAYS})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="seconds to wait for the upstream before answering 504, and for each gap in a body "
        f"either way (default: {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=DEFAULT_HEADER_TIMEOUT_S,
        metavar="S",
        help=f"seconds a bot has to send a request head (default: {DEFAULT_HEADER_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT_S,
        metavar="S",
        help="seconds a kept-alive connection may wait for its next request "
        f"(default: {DEFAULT_IDLE_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--max-clients",
        type=int,
        metavar="N",
        help="bot connections open at once; more get 503 (default: "
        f"{DEFAULT_MAX_CLIENTS}, or fewer to fit the open-file limit)",
    )
    parser.add_argument(
        "--max-buffered",
        type=int,
        default=DEFAULT_MAX_BUFFERED_MIB,
        metavar="MIB",
        help="request bodies held in memory across all connections; past it, 503 "
        f"(default: {DEFAULT_MAX_BUFFERED_MIB})",
    )
    parser.add_argument(
        "--interval",
        type=float,
        metavar="S",
        help="seconds between live lines (default: 1 on a terminal, 10 when piped)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no live line, only start and stop messages"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    from ht_dash.meter.proxy import MeterProxy, parse_listen, parse_upstream
    from ht_dash.meter.recorder import Recorder
    from ht_dash.meter.source import default_db_path
    from ht_dash.meter.streams import parse_stream_upstream

    upstream = parse_upstream(args.upstream)
    stream_upstream = parse_stream_upstream(args.stream_upstream)
    host, port = parse_listen(args.listen)
    if args.retention_days < 1:
        raise ConfigError("--retention-days must be at least 1")
    for flag in ("timeout", "header_timeout", "idle_timeout", "max_buffered"):
        if getattr(args, flag) <= 0:
            raise ConfigError(f"--{flag.replace('_', '-')} must be positive")
    if args.max_clients is not None and args.max_clients < 1:
        raise ConfigError("--max-clients must be at least 1")
    if args.interval is not None and args.interval <= 0:
        raise ConfigError("--interval must be positive")
    db = default_db_path()  # where `--source meter` reads
    plan_name = _effective_plan(db, args.plan)
    if warning := listen_warning(host):
        print(f"ht-dash meter: warning: {warning}", file=sys.stderr)

    recorder = Recorder(db, retention_days=args.retention_days)
    recorder.start()
    if recorder.last_error:
        print(
            f"ht-dash meter: warning: {recorder.last_error}; requests are still forwarded, "
            "but not recorded (dropped records are counted)",
            file=sys.stderr,
        )
    proxy = MeterProxy(
        upstream,
        recorder,
        host=host,
        port=port,
        timeout=args.timeout,
        header_timeout=args.header_timeout,
        idle_timeout=args.idle_timeout,
        max_clients=args.max_clients,
        max_buffered=args.max_buffered * 1024 * 1024,
        stream_upstream=stream_upstream,
    )
    out = sys.stdout
    tty = out.isatty()
    interval = args.interval or (1.0 if tty else 10.0)
    try:
        return asyncio.run(_serve(proxy, recorder, out, tty, interval, args.quiet, db, plan_name))
    finally:
        recorder.close()


def listen_warning(host: str) -> str | None:
    """What to tell the user when the meter listens beyond this machine."""
    from ht_dash.api.client import is_loopback_host

    if is_loopback_host(host):
        return None
    return (
        f"listening on {host}, not loopback: anyone who reaches it can use the proxy, "
        "and bots' tokens reach it unencrypted"
    )


def _save_stream_url(db: Path, url: str) -> None:
    """For readers: where a bot's stream URL should point (`--source meter`, screen 4)."""
    import sqlite3

    from ht_dash.meter.recorder import write_meta
    from ht_dash.meter.source import STREAM_URL_META_KEY

    with contextlib.suppress(sqlite3.Error, OSError):  # the recorder reports database problems
        write_meta(db, STREAM_URL_META_KEY, url)


def _effective_plan(db: Path, plan_id: str | None) -> str:
    """Save `--plan` in the database; return the name of the plan in effect."""
    import sqlite3

    from ht_dash.meter.source import DEFAULT_PLAN_ID, saved_plan, set_plan, validate_plan

    plan = validate_plan(plan_id or DEFAULT_PLAN_ID)  # a typo fails before anything starts
    try:
        return (set_plan(plan.id, db) if plan_id else saved_plan(db)).name
    except (sqlite3.Error, OSError):
        return plan.name  # the recorder reports the database problem itself


async def _serve(
    proxy: MeterProxy,
    recorder: Recorder,
    out: TextIO,
    tty: bool,
    interval: float,
    quiet: bool,
    db: Path,
    plan_name: str,
) -> int:
    try:
        await proxy.start()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(
            f"cannot listen on {proxy.host}:{proxy.port}: {reason}",
            hint="choose another address with --listen HOST:PORT",
        ) from None
    _save_stream_url(db, proxy.stream_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    print(
        f"ht-dash meter: {proxy.url} → {proxy.upstream.label}\n"
        f"  point your bot at {proxy.url}/api/external\n"
        f"  and its streams at {proxy.stream_url} → {proxy.streams.upstream.label}\n"
        f"  recording to {db} (plan {plan_name}, {recorder.retention_days}-day retention)\n"
        "  Ctrl-C to stop",
        file=out,
        flush=True,
    )
    serving = asyncio.create_task(proxy.serve_forever())
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            if not quiet and not stop.is_set():
                _print_live(out, tty, live_line(proxy, recorder))
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await serving
        await proxy.close()
    flushed = await asyncio.to_thread(recorder.flush, 10.0)
    if tty and not quiet:
        out.write("\n")
    stats = proxy.stats
    summary = (
        f"ht-dash meter: stopped; {stats.total:,} requests forwarded, {recorder.written:,} recorded"
    )
    if recorder.dropped:
        summary += f", {recorder.dropped:,} dropped ({recorder.last_error})"
    if not flushed:
        summary += f", {recorder.pending:,} still unwritten"
    print(summary, file=out, flush=True)
    return 0


def live_line(proxy: MeterProxy, recorder: Recorder, now: float | None = None) -> str:
    snap = proxy.stats.snapshot()
    clock = datetime.fromtimestamp(now or time.time()).strftime("%H:%M:%S")
    p95 = snap["p95_ms"]
    parts = [
        f"{clock}  {snap['req_per_min']:,} req/min",
        f"{snap['throttled_per_min']:,}×429",
        f"{snap['errors_per_min']:,} errors",
        "p95 —" if p95 is None else f"p95 {p95:,.0f} ms" if p95 >= 10 else f"p95 {p95:.1f} ms",
        f"{snap['total']:,} total",
    ]
    counts = proxy.streams.counts
    if counts.total:
        parts.append(f"{counts.open:,} streams, {counts.messages_per_minute():,} msg/min")
    if recorder.dropped:
        parts.append(f"{recorder.dropped:,} NOT recorded ({recorder.last_error})")
    return " · ".join(parts)


def _print_live(out: TextIO, tty: bool, line: str) -> None:
    try:
        if tty:
            out.write("\r" + line + "\x1b[K")
        else:
            out.write(line + "\n")
        out.flush()
    except (BrokenPipeError, OSError):
        pass
