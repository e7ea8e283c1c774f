"""`ht-dash run [--plan ID] -- CMD [ARGS…]`: run a bot through the local meter without editing it.

A meter starts on a free loopback port (in this process, on a thread), forwarding to the origin
of the configured base URL and recording to the meter database the dashboard reads. CMD runs with
`HYPERTRACKER_BASE_URL` pointing at it (and `HYPERTRACKER_WS_URL` at the meter's stream relay);
its terminal, stdin/stdout and exit code are its own.
At the end a summary of its API traffic goes to stderr (`--json`: stdout), like `time` does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ht_dash.api.errors import ConfigError
from ht_dash.commands import _common as common

if TYPE_CHECKING:
    from ht_dash.meter.proxy import MeterProxy
    from ht_dash.meter.recorder import Record
    from ht_dash.runtime import Runtime

DEFAULT_ENV = "HYPERTRACKER_BASE_URL"
STREAM_ENV = "HYPERTRACKER_WS_URL"  # the bot's WebSocket stream URL (Stream plan)
DEFAULT_BASE_PATH = "/api/external"

DESCRIPTION = """\
Run CMD with its HyperTracker requests going through a local meter, then print a summary of
them: requests, errors, 429s, peak and mean req/min against your plan's limit, usage tokens spent
and their share of the quota, the busiest endpoints with p95 latency, and optimisation hints.

CMD gets HYPERTRACKER_BASE_URL=http://127.0.0.1:PORT/api/external (a bot that reads the bare
origin or .../api also works: paths are forwarded as sent) and, for its WebSocket streams,
HYPERTRACKER_WS_URL=ws://127.0.0.1:PORT/connection/websocket (relayed and counted). The records
go to the meter database, so the dashboard (screens 3 and 4) shows the traffic right after.
Ctrl-C reaches CMD first; the summary is still printed.

exit status: CMD's own (128+N when signal N ended it; 127 when it cannot be found, 126 when it
cannot be executed); 2 when nothing ran because `ht-dash run` itself was asked wrongly (no CMD,
an unknown --plan, a bad --stream-upstream)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from ht_dash.meter import DEFAULT_STREAM_UPSTREAM

    parser = subparsers.add_parser(
        "run",
        help="run your bot through the local meter and summarise its API traffic",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="ht-dash run [--plan ID] [--base-path PATH] [--env NAME] [--stream-env NAME] "
        "[--json] -- CMD [ARGS…]",
    )
    parser.add_argument(
        "--plan",
        metavar="ID",
        help="the plan for the summary's limit and quota (default: declared)",
    )
    parser.add_argument(
        "--base-path",
        default=DEFAULT_BASE_PATH,
        metavar="PATH",
        help=f"path put after the meter's address in the variable (default: {DEFAULT_BASE_PATH})",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME",
        help=f"also set this variable to the meter's URL (besides {DEFAULT_ENV}; repeatable)",
    )
    parser.add_argument(
        "--stream-env",
        action="append",
        default=[],
        metavar="NAME",
        help=f"also set this variable to the meter's stream URL (besides {STREAM_ENV}; repeatable)",
    )
    parser.add_argument(
        "--stream-upstream",
        metavar="URL",
        default=DEFAULT_STREAM_UPSTREAM,
        help=f"where the bot's WebSocket streams go (default: {DEFAULT_STREAM_UPSTREAM})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON on stdout (docs/cli.md)"
    )
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS…]")
    parser.set_defaults(handler=run)


class _MeterThread:
    """A MeterProxy serving on its own event loop in a daemon thread."""

    def __init__(self, proxy: MeterProxy) -> None:
        self.proxy = proxy
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="ht-dash-run-meter", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.proxy.start())
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise ConfigError(f"cannot start the meter: {self._error}")

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self.proxy.close(grace=5.0), self.loop)
        with contextlib.suppress(Exception):
            future.result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def meter_url(proxy_url: str, base_path: str) -> str:
    path = "/" + base_path.strip("/") if base_path.strip("/") else ""
    return proxy_url + path


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    from ht_dash.insights.run_summary import summarise
    from ht_dash.meter.proxy import MeterProxy, parse_upstream
    from ht_dash.meter.recorder import Recorder
    from ht_dash.meter.store import open_store
    from ht_dash.meter.streams import parse_stream_upstream
    from ht_dash.sources.plan import declared_plan, validate_plan

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise ConfigError("no command to run", hint="ht-dash run -- python bot.py")
    plan = validate_plan(args.plan) if args.plan else declared_plan(runtime.settings)
    base = urlsplit(runtime.base_url)
    upstream = parse_upstream(f"{base.scheme}://{base.netloc}")
    stream_upstream = parse_stream_upstream(args.stream_upstream)

    records: list[Record] = []  # this run's, for the summary; the store gets them all too
    recorder = Recorder(open_store(runtime.settings.meter_store or None), observer=records.append)
    recorder.start()
    if recorder.last_error:
        print(
            f"ht-dash run: warning: {recorder.last_error}; requests are forwarded, not recorded",
            file=sys.stderr,
        )
    proxy = MeterProxy(
        upstream, recorder, host="127.0.0.1", port=0, stream_upstream=stream_upstream
    )
    meter = _MeterThread(proxy)
    try:
        meter.start()
        url = meter_url(proxy.url, args.base_path)
        env = dict(os.environ)
        for name in (DEFAULT_ENV, *args.env):
            env[name] = url
        for name in (STREAM_ENV, *args.stream_env):
            env[name] = proxy.stream_url
        started = time.time()
        code, ran = _run_child(argv, env)
    finally:
        meter.stop()
        recorder.close()
    if not ran:  # like a shell: one line, the code, nothing else
        return code
    summary = summarise(records, seconds=time.time() - started, plan=plan, started=started)
    counts = proxy.streams.counts
    streams = {"relayed": counts.total, "publications": sum(counts.published_total.values())}
    if args.json:
        doc = summary.as_json()
        doc["exit_code"] = code
        doc["meter"] = url
        doc["stream_url"] = proxy.stream_url
        doc["streams"] = streams
        common.write_json(doc)
    else:
        for line in summary.lines():
            print(line, file=sys.stderr)
        if streams["relayed"]:
            print(
                f"  streams: {streams['relayed']:,} relayed, "
                f"{streams['publications']:,} publications delivered",
                file=sys.stderr,
            )
        if recorder.dropped:
            print(
                f"  {recorder.dropped:,} records NOT saved ({recorder.last_error})",
                file=sys.stderr,
            )
    return code


def _run_child(argv: list[str], env: dict[str, str]) -> tuple[int, bool]:
    """Run CMD in the foreground: (its exit status the way a shell reports it, whether it ran)."""
    try:
        child = subprocess.Popen(argv, env=env)
    except FileNotFoundError:
        print(f"ht-dash run: {argv[0]}: command not found", file=sys.stderr)
        return 127, False
    except PermissionError:
        print(f"ht-dash run: {argv[0]}: permission denied", file=sys.stderr)
        return 126, False
    # Ctrl-C goes to the whole foreground group: CMD gets it itself, ht-dash waits for it to end
    # (a handler, not SIG_IGN: a handler is never inherited). SIGTERM/SIGHUP are passed on.
    forwarded = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, _forward(child)) for sig in forwarded}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return (128 - code if code < 0 else code), True


def _forward(child: subprocess.Popen):
    def handler(signum, frame) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    return handler
