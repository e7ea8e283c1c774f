"""`ht-dash meter`: run the local metering proxy in the foreground (see docs/meter.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from ht_dash.api.errors import ConfigError

if TYPE_CHECKING:
    from ht_dash.meter.proxy import MeterProxy
    from ht_dash.meter.recorder import Recorder
    from ht_dash.meter.store import Store
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
        "stream, enterprise); saved as the `plan` setting, like `ht-dash plan set` (default: "
        "the declared plan, else pulse)",
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
    parser.add_argument(
        "--store",
        dest="meter_store",
        metavar="URL",
        help="where records go: a postgresql://user@host/db URL to share one store between "
        "meters on several hosts (give the password through PGPASSWORD or ~/.pgpass, not here: "
        "`ps` shows command lines), or a SQLite file (default: HT_DASH_METER_STORE, else "
        "meter_store in config.toml, else meter.sqlite3 in the data directory)",
    )
    parser.add_argument(
        "--instance",
        metavar="NAME",
        help="this meter's name in a shared store and in /metrics (default: the host name)",
    )
    parser.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9787); "
        "off by default",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    from ht_dash.meter.proxy import MeterProxy, parse_listen, parse_upstream
    from ht_dash.meter.recorder import MAX_PENDING, Recorder, default_instance
    from ht_dash.meter.store import open_store
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
    instance = check_instance(args.instance or default_instance())
    metrics_address = parse_listen(args.metrics_listen) if args.metrics_listen else None
    store = open_store(args.meter_store or runtime.settings.meter_store or None)
    plan_name = _effective_plan(store, args.plan, runtime.settings.plan)
    if warning := listen_warning(host):
        print(f"ht-dash meter: warning: {warning}", file=sys.stderr)
    if args.meter_store and password_in_url(args.meter_store):
        print(
            "ht-dash meter: warning: the --store URL holds a password, which `ps` shows to "
            "every user of this machine; put it in PGPASSWORD or ~/.pgpass instead",
            file=sys.stderr,
        )
    if metrics_address and (warning := metrics_listen_warning(metrics_address[0])):
        print(f"ht-dash meter: warning: {warning}", file=sys.stderr)

    metrics = None
    if metrics_address:
        from ht_dash.meter.metrics import MeterMetrics

        metrics = MeterMetrics(instance)
    recorder = Recorder(
        store,
        retention_days=args.retention_days,
        instance=instance,
        observer=metrics.observe if metrics else None,
    )
    recorder.start()  # a store from a newer ht-dash: ConfigError, exit 2
    if recorder.last_error:
        fate = (
            f"records wait in memory (up to {MAX_PENDING:,}) until it is back"
            if store.keeps_batches_when_down
            else "but not recorded (dropped records are counted)"
        )
        print(
            f"ht-dash meter: warning: {recorder.last_error}; requests are still forwarded, {fate}",
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
    metrics_url = None
    try:
        if metrics is not None and metrics_address is not None:
            metrics.attach(recorder)
            metrics.streams = proxy.streams.counts
            metrics_url = _serve_metrics(metrics, *metrics_address)
        out = sys.stdout
        tty = out.isatty()
        interval = args.interval or (1.0 if tty else 10.0)
        where = f"{store.label} as instance {instance}"
        return asyncio.run(
            _serve(proxy, recorder, out, tty, interval, args.quiet, where, plan_name, metrics_url)
        )
    finally:
        recorder.close()
        if metrics is not None:
            metrics.close()


def password_in_url(spec: str) -> bool:
    from ht_dash.meter.store.postgres import is_postgres_url, url_secrets

    return is_postgres_url(spec) and bool(url_secrets(spec))


def check_instance(name: str) -> str:
    """An instance name: it labels records, /metrics series and the dashboard's rows."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,62}", name):
        raise ConfigError(
            f"--instance must be 1-63 letters, digits or . _ : @ -, got {name!r}",
            hint="e.g. --instance bot-host-1",
        )
    return name


def metrics_listen_warning(host: str) -> str | None:
    from ht_dash.api.client import is_loopback_host

    if is_loopback_host(host):
        return None
    return (
        f"/metrics listens on {host}, not loopback: anyone who reaches it can read your bots' "
        "request counts per endpoint"
    )


def _serve_metrics(metrics: object, host: str, port: int) -> str:
    try:
        bound_host, bound_port = metrics.serve(host, port)  # type: ignore[attr-defined]
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(
            f"cannot serve /metrics on {host}:{port}: {reason}",
            hint="choose another address with --metrics-listen HOST:PORT",
        ) from None
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return f"http://{shown}:{bound_port}/metrics"


def listen_warning(host: str) -> str | None:
    """What to tell the user when the meter listens beyond this machine."""
    from ht_dash.api.client import is_loopback_host

    if is_loopback_host(host):
        return None
    return (
        f"listening on {host}, not loopback: anyone who reaches it can use the proxy, "
        "and bots' tokens reach it unencrypted"
    )


def _save_stream_url(store: Store, url: str) -> None:
    """For readers: where a bot's stream URL should point (`--source meter`, screen 4)."""
    from ht_dash.meter.source import STREAM_URL_META_KEY
    from ht_dash.meter.store import StoreError

    with contextlib.suppress(StoreError, OSError):  # the recorder reports store problems
        store.set_meta(STREAM_URL_META_KEY, url)


def _effective_plan(store: Store, plan_id: str | None, declared: str = "") -> str:
    """`--plan` is the plan setting in config.toml (`ht-dash plan set`, one truth): save it there;
    return the name of the plan in effect (the declared one, else what older meters saved in the
    store, else Pulse)."""
    from ht_dash.meter.source import DEFAULT_PLAN_ID, saved_plan, validate_plan
    from ht_dash.meter.store import StoreError
    from ht_dash.sources.plan import declare_plan

    try:
        if plan_id:
            return declare_plan(plan_id).name  # a typo: exit 2, valid ids
        if declared:
            return validate_plan(declared).name
        return saved_plan(store).name
    except (StoreError, OSError):
        return validate_plan(DEFAULT_PLAN_ID).name  # the recorder reports the store's problem
    finally:
        store.close()  # the recorder opens its own connection in its thread


async def _serve(
    proxy: MeterProxy,
    recorder: Recorder,
    out: TextIO,
    tty: bool,
    interval: float,
    quiet: bool,
    where: str,
    plan_name: str,
    metrics_url: str | None = None,
) -> int:
    try:
        await proxy.start()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(
            f"cannot listen on {proxy.host}:{proxy.port}: {reason}",
            hint="choose another address with --listen HOST:PORT",
        ) from None
    _save_stream_url(recorder.store, proxy.stream_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    print(
        f"ht-dash meter: {proxy.url} → {proxy.upstream.label}\n"
        f"  point your bot at {proxy.url}/api/external\n"
        f"  and its streams at {proxy.stream_url} → {proxy.streams.upstream.label}\n"
        f"  recording to {where} (plan {plan_name}, {recorder.retention_days}-day retention)\n"
        + (f"  Prometheus metrics at {metrics_url}\n" if metrics_url else "")
        + "  Ctrl-C to stop",
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
    if streams := proxy.streams.counts.total:
        summary += f"; {streams:,} stream{'' if streams == 1 else 's'} relayed"
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
        streams = "stream" if counts.open == 1 else "streams"
        parts.append(f"{counts.open:,} {streams} open, {counts.messages_per_minute():,} msg/min")
    if recorder.waiting_for_store:
        parts.append(f"store unreachable, {recorder.pending:,} waiting")
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
