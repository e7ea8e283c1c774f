"""A loopback HTTP server that misbehaves on purpose, for the fault-matrix tests and by hand.

    python tests/faultserver.py --port 8765 --mode garbage
    ht-dash --base-url http://127.0.0.1:8765          # any token; see the modes with --help

Every mode answers the account-API paths of `ht_dash.api.contract`; `ok` serves valid payloads,
the others break one layer of the exchange (TCP, HTTP, or the JSON). `--only PATH` applies the
mode to that path prefix and serves `ok` elsewhere (one failing panel among working ones).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from ht_dash.api import contract

STALL_LIMIT_S = 60.0  # a stalled connection is released after this, or when the server stops


# ---- valid payloads, one per contract path ------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sample_payloads(now: datetime) -> dict[str, Any]:
    """Wire JSON for every GET path of the contract, consistent with each other and with `now`."""
    now = now.replace(microsecond=0)
    today = now.date()
    period_start = now.replace(day=1, hour=0, minute=0, second=0)
    next_month = (period_start + timedelta(days=32)).replace(day=1)
    buckets = [
        {"at": _iso(now - timedelta(seconds=15 * (60 - i))), "requests": 10 + i % 7, "throttled": 0}
        for i in range(60)
    ]
    daily = [
        {
            "date": (today - timedelta(days=89 - i)).isoformat(),
            "requests": 1200 + (i * 37) % 400,
            "avg_latency_ms": 180.5,
            "errors": i % 5,
            "rate_limited": 3 if i == 60 else 0,
        }
        for i in range(90)
    ]
    return {
        contract.PROFILE: {
            "id": "acct_fault",
            "email": "fault@example.test",
            "name": "Fault Server",
            "organization": None,
            "created_at": "2025-01-15T09:30:00Z",
        },
        contract.TOKEN: {
            "token_id": "tok_fault",
            "masked": "eyJhbG…f4ul",
            "issued_at": "2026-01-02T03:04:05Z",
            "last_used_at": _iso(now - timedelta(minutes=3)),
        },
        contract.SUBSCRIPTION: {
            "plan": {
                "id": "pulse",
                "name": "Pulse",
                "price_cents": 17900,
                "currency": "USD",
                "quota": 50_000,
                "quota_period": "month",
                "rate_limit_per_minute": 60,
                "streams_included": False,
                "stream_connection_limit": None,
            },
            "status": "active",
            "tokens_used": 12_345,
            "period_start": _iso(period_start),
            "resets_at": _iso(next_month),
        },
        contract.LIVE: {
            "at": _iso(now),
            "requests_per_minute": 42,
            "limit_per_minute": 60,
            "interval_seconds": 15,
            "series": buckets,
            "throttled_in_window": 0,
            "streams": None,
        },
        contract.METRICS: {
            "days": 90,
            "from": daily[0]["date"],
            "to": daily[-1]["date"],
            "summary": {
                "avg_daily_requests": 1400.0,
                "avg_latency_ms": 180.5,
                "error_rate": 0.0017,
                "rate_limit_hits": 3,
            },
            "previous_summary": None,
            "daily": daily,
        },
        contract.ENDPOINT_USAGE: {
            "timeframe": "30d",
            "from": _iso(now - timedelta(days=30)),
            "to": _iso(now),
            "endpoints": [
                {
                    "method": "GET",
                    "path": "/positions",
                    "requests": 4200,
                    "errors": 2,
                    "throttled": 1,
                    "avg_latency_ms": 210.0,
                    "calls_per_hour": 5.8,
                    "mean_interval_s": 617.0,
                }
            ],
        },
        contract.ENDPOINT_DAILY: {  # the /positions row above, day by day: 30 × 140 = 4200
            "method": "GET",
            "path": "/positions",
            "timeframe": "30d",
            "date": None,
            "from": _iso(now - timedelta(days=30)),
            "to": _iso(now),
            "daily": [
                {
                    "date": (today - timedelta(days=29 - i)).isoformat(),
                    "requests": 140,
                    "avg_latency_ms": 210.0,
                    "errors": 2 if i == 10 else 0,
                    "rate_limited": 1 if i == 20 else 0,
                }
                for i in range(30)
            ],
        },
        contract.NEXT_BILLING: {
            "invoice_date": next_month.date().isoformat(),
            "amount_cents": 17900,
            "currency": "USD",
            "plan_id": "pulse",
            "plan_name": "Pulse",
            "payment_method": "Visa •••• 4242",
        },
        contract.HISTORY: {
            "items": [
                {
                    "id": "pay_1",
                    "at": _iso(period_start),
                    "kind": "payment",
                    "description": "Pulse — monthly",
                    "status": "succeeded",
                    "amount_cents": 17900,
                    "currency": "USD",
                    "reference": "in_0001",
                }
            ],
            "next_cursor": None,
        },
        contract.SECONDS: {
            "from": _iso(now - timedelta(minutes=15)),
            "requests": [1, 0, 2] * 300,
            "throttled": [0, 0, 1] * 300,
            "limit_per_minute": 60,
        },
        contract.REQUESTS: {
            "log_id": "0123456789abcdef",
            "newest_id": 42,
            "truncated": False,
            "requests": [
                {
                    "id": 42,
                    "at": "2026-11-25T13:59:58.250Z",
                    "method": "GET",
                    "path": "/fills",
                    "status": 429,
                    "latency_ms": 3.5,
                    "bytes": 92,
                    "retry_after": 12.0,
                    "instance": "bot-a",
                },
                {
                    "id": 41,
                    "at": "2026-11-25T13:59:57.010Z",
                    "method": "POST",
                    "path": "/info",
                    "status": 200,
                    "latency_ms": 38.2,
                    "bytes": 2948,
                    "retry_after": None,
                    "instance": None,
                },
            ],
        },
    }


# Server text that tries to drive the terminal (OSC 52 clipboard write, clear screen, window
# title, 8-bit CSI) or Rich markup: `--hostile` serves it in the fields the screens show.
OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x1b\\"
CLEAR_AND_TITLE = "\x1b[2J\x1b]0;TITLE"
HOSTILE_PATCH: dict[str, dict[str, Any]] = {
    contract.PROFILE: {"name": f"Mallory{OSC52}", "organization": "[link=https://evil.test]Org"},
    contract.TOKEN: {"token_id": "tok\x9b2J_x"},
    contract.SUBSCRIPTION: {"plan": {"name": f"Pulse{CLEAR_AND_TITLE}"}, "status": "active\x07"},
    contract.ENDPOINT_USAGE: {"endpoints": [{"path": "/positions[bold]\x1b[31m"}]},
    contract.NEXT_BILLING: {
        "currency": "US\x1b[5mD",
        "plan_name": f"Pulse{CLEAR_AND_TITLE}",
        "payment_method": "[b]Visa[/b]\x1b]8;;https://evil.test\x1b\\",
    },
    contract.HISTORY: {
        "items": [
            {
                "description": f"x{OSC52}",
                "status": "succeeded\x1b[2K",
                "reference": '=HYPERLINK("https://evil.test")',
            }
        ]
    },
}


# ---- the server ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # lower-case names


@dataclass
class Options:
    delay: float = 3.0  # slow: seconds before answering
    retry_after: int = 30  # throttle: seconds in the body and the header
    retry_after_header: str | None = "seconds"  # "seconds", "date" or None
    status: int = 500  # status: the code to answer
    location: str = "http://127.0.0.2:9/account/profile"  # redirect: where to
    size: int = 10 * 1024 * 1024  # huge: body size in bytes
    only: str = ""  # path prefix the mode applies to; elsewhere `ok`
    message: str = "fault server"  # status: the body's `message`
    byte_delay: float = 1.0  # trickle: seconds between two bytes of the answer
    # ok and every mode serving valid payloads: fields to replace, per path, merged into the
    # payload ({"plan": {"name": …}} replaces one nested field; {"items": [{…}]} the first item's)
    patch: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Exchange:
    conn: socket.socket
    request: SeenRequest
    server: FaultServer
    options: Options = field(init=False)

    def __post_init__(self) -> None:
        self.options = self.server.options

    def respond(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.conn.sendall(_head(status, len(body), content_type, headers) + body)

    def respond_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self.respond(status, json.dumps(data).encode(), headers=headers)

    def stall(self) -> None:
        self.server.stopping.wait(STALL_LIMIT_S)

    def valid_body(self) -> bytes:
        payload = sample_payloads(self.server.now()).get(self.request.path)
        if payload is None:
            return b""
        return json.dumps(_merge(payload, self.options.patch.get(self.request.path, {}))).encode()


def _merge(payload: Any, patch: Any) -> Any:
    if isinstance(payload, dict) and isinstance(patch, dict):
        return {
            k: _merge(payload.get(k), patch[k]) if k in patch else v for k, v in payload.items()
        }
    if isinstance(payload, list) and isinstance(patch, list) and payload:
        return [_merge(item, p) for item, p in zip(payload, patch, strict=False)] + payload[
            len(patch) :
        ]
    return patch


def _head(status: int, length: int, content_type: str, headers: dict[str, str] | None) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
        "Connection: close",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_REASONS = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def mode_ok(x: _Exchange) -> None:
    if "authorization" not in x.request.headers:
        x.respond_json(401, {"statusCode": 401, "message": "Unauthorized"})
        return
    body = x.valid_body()
    if not body:
        x.respond_json(404, {"statusCode": 404, "message": f"Cannot GET {x.request.path}"})
        return
    x.respond(200, body)


def mode_slow(x: _Exchange) -> None:
    if not x.server.stopping.wait(x.options.delay):
        mode_ok(x)


def mode_held(x: _Exchange) -> None:
    if x.server.release.wait(STALL_LIMIT_S) and not x.server.stopping.is_set():
        mode_ok(x)


def mode_stall(x: _Exchange) -> None:
    x.stall()


def mode_stall_body(x: _Exchange) -> None:
    body = x.valid_body() or b'{"padding": "' + b"x" * 200 + b'"}'
    x.conn.sendall(_head(200, len(body), "application/json", None) + body[: len(body) // 2])
    x.stall()


def mode_cut(x: _Exchange) -> None:
    body = x.valid_body() or b'{"padding": "' + b"x" * 200 + b'"}'
    x.conn.sendall(_head(200, len(body), "application/json", None) + body[: len(body) // 2])


def mode_garbage(x: _Exchange) -> None:
    x.conn.sendall(b"\x00\x17 SSH-2.0-definitely-not-http \xff\xfe\r\n\r\n")


def mode_reset(x: _Exchange) -> None:
    x.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def mode_close(x: _Exchange) -> None:
    pass  # close without a word


def mode_html(x: _Exchange) -> None:
    page = (
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
        b"</center><hr><center>nginx</center></body></html>"
    )
    x.respond(502, page, content_type="text/html")


def mode_html200(x: _Exchange) -> None:
    x.respond(
        200, b"<!doctype html><html><body>Please log in</body></html>", content_type="text/html"
    )


def mode_empty(x: _Exchange) -> None:
    x.respond(200, b"")


def mode_badjson(x: _Exchange) -> None:
    x.respond(200, x.valid_body()[:-7] or b'{"broken": ')


def mode_binary(x: _Exchange) -> None:
    x.respond(200, b'{"id": "\xff\xfe\xfa"}', content_type="application/octet-stream")


def mode_huge(x: _Exchange) -> None:
    """A valid payload padded with an extra field up to --size bytes."""
    valid = x.valid_body() or b"{}"
    filler = b"x" * max(0, x.options.size - len(valid) - 16)
    x.respond(200, valid[:-1] + b', "padding": "' + filler + b'"}')


def mode_throttle(x: _Exchange) -> None:
    wait = x.options.retry_after
    headers: dict[str, str] = {}
    if x.options.retry_after_header == "seconds":
        headers["Retry-After"] = str(wait)
    elif x.options.retry_after_header == "date":
        headers["Retry-After"] = format_datetime(
            x.server.now() + timedelta(seconds=wait), usegmt=True
        )
    body = {"error": "rate_limit_exceeded", "message": "Too many requests", "retry_after": wait}
    x.respond_json(429, body, headers)


def mode_quota(x: _Exchange) -> None:
    resets = (x.server.now() + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    x.respond_json(
        402,
        {
            "error": "quota_exhausted",
            "message": "Monthly usage quota spent",
            "resets_at": _iso(resets),
        },
    )


def mode_unauthorized(x: _Exchange) -> None:
    x.respond_json(401, {"statusCode": 401, "message": "Unauthorized"})


def mode_forbidden(x: _Exchange) -> None:
    x.respond_json(403, {"statusCode": 403, "message": "Forbidden"})


def mode_status(x: _Exchange) -> None:
    x.respond_json(x.options.status, {"statusCode": x.options.status, "message": x.options.message})


def mode_trickle(x: _Exchange) -> None:
    """The whole valid answer, head and body, one byte every --byte-delay seconds."""
    body = x.valid_body()
    for byte in _head(200, len(body), "application/json", None) + body:
        x.conn.sendall(bytes([byte]))
        if x.server.stopping.wait(x.options.byte_delay):
            return


def mode_redirect(x: _Exchange) -> None:
    status = x.options.status if 300 <= x.options.status < 400 else 302
    x.respond(status, b"", headers={"Location": x.options.location})


def mode_flaky(x: _Exchange) -> None:
    if next(x.server.counter) % 2:
        x.respond_json(503, {"statusCode": 503, "message": "Service Unavailable"})
    else:
        mode_ok(x)


MODES: dict[str, tuple[Callable[[_Exchange], None], str]] = {
    "ok": (mode_ok, "valid payloads for every contract path (401 without a token)"),
    "slow": (mode_slow, "valid payloads after --delay seconds"),
    "held": (mode_held, "tests only: a valid answer once the test sets server.release"),
    "stall": (mode_stall, "accept and read the request, never answer"),
    "stall-body": (mode_stall_body, "send the headers and half the body, then stall"),
    "cut": (mode_cut, "send the headers and half the body, then close"),
    "garbage": (mode_garbage, "answer bytes that are not HTTP"),
    "reset": (mode_reset, "reset the connection (RST) after reading the request"),
    "close": (mode_close, "close the connection without answering"),
    "html": (mode_html, "502 with a proxy's HTML page"),
    "html200": (mode_html200, "200 with an HTML page (a captive portal)"),
    "empty": (mode_empty, "200 with an empty body"),
    "badjson": (mode_badjson, "200 with truncated JSON"),
    "binary": (mode_binary, "200 with bytes that are not UTF-8"),
    "huge": (mode_huge, "200, a valid payload padded to --size bytes"),
    "throttle": (mode_throttle, "429 with retry_after and Retry-After (--retry-after)"),
    "quota": (mode_quota, "402 usage quota spent"),
    "unauthorized": (mode_unauthorized, "401 for every request"),
    "forbidden": (mode_forbidden, "403 for every request"),
    "status": (mode_status, "answer --status with a JSON body"),
    "redirect": (mode_redirect, "302 (or a 3xx --status) to --location"),
    "flaky": (mode_flaky, "alternate valid answers and 503"),
    "trickle": (mode_trickle, "a valid answer, one byte every --byte-delay seconds"),
}


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        fault = self.server.owner
        conn: socket.socket = self.request
        conn.settimeout(5)
        try:
            request = _read_request(conn)
        except (OSError, ValueError):
            return
        if request is None:
            return
        fault.seen(request)
        name = fault.mode
        if fault.options.only and not request.path.startswith(fault.options.only):
            name = "ok"
        conn.settimeout(None)
        with contextlib.suppress(OSError):  # the client may go away first: that is its right
            MODES[name][0](_Exchange(conn, request, fault))


def _read_request(conn: socket.socket) -> SeenRequest | None:
    data = conn.recv(65536)
    if data.startswith(b"\x16\x03"):  # a TLS ClientHello: answer in plain HTTP, as nginx does
        conn.sendall(_head(400, 0, "text/plain", None))
        return None
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 64 * 1024:
            raise ValueError("request head too large")
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, target, _ = head[0].split(" ", 2)
    path, _, query = target.partition("?")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return SeenRequest(method, path, query, headers)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FaultServer


class FaultServer:
    """`with FaultServer("stall") as server: server.base_url ...` — loopback only."""

    def __init__(
        self,
        mode: str = "ok",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: Options | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        self.mode = mode
        self.options = options or Options()
        self.now = now or (lambda: datetime.now(UTC))
        self.requests: list[SeenRequest] = []
        self.stopping = threading.Event()
        self.release = threading.Event()  # mode held: answers wait for it
        self.counter = itertools.count()
        self._lock = threading.Lock()
        self._server = _TCPServer((host, port), _Handler, bind_and_activate=True)
        self._server.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self, request: SeenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> FaultServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.release.set()  # held answers give up
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    modes = "\n".join(f"  {name:<13} {text}" for name, (_, text) in MODES.items())
    parser = argparse.ArgumentParser(
        description="Loopback HTTP server that misbehaves on purpose (for ht-dash fault testing).",
        epilog=f"modes:\n{modes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--mode", choices=list(MODES), default="ok", metavar="MODE")
    parser.add_argument(
        "--only", default="", metavar="PATH", help="apply the mode to this path prefix only"
    )
    parser.add_argument("--delay", type=float, default=3.0, help="slow: seconds before answering")
    parser.add_argument("--retry-after", type=int, default=30, help="throttle: seconds to wait")
    parser.add_argument("--status", type=int, default=500, help="status: the code to answer")
    parser.add_argument(
        "--location", default=Options.location, help="redirect: the Location header"
    )
    parser.add_argument("--size", type=int, default=Options.size, help="huge: body size in bytes")
    parser.add_argument("--message", default=Options.message, help="status: the body's message")
    parser.add_argument(
        "--hostile", action="store_true", help="serve terminal escapes and markup in text fields"
    )
    parser.add_argument(
        "--byte-delay", type=float, default=Options.byte_delay, help="trickle: seconds per byte"
    )
    args = parser.parse_args(argv)
    options = Options(
        delay=args.delay,
        retry_after=args.retry_after,
        status=args.status,
        location=args.location,
        size=args.size,
        only=args.only,
        message=args.message,
        byte_delay=args.byte_delay,
        patch=HOSTILE_PATCH if args.hostile else {},
    )
    server = FaultServer(args.mode, port=args.port, options=options)
    where = f" on {args.only}*" if args.only else ""
    print(f"fault server: mode {args.mode}{where} at {server.base_url} (Ctrl-C stops)")
    print(f"  try: HT_DASH_TOKEN=anything ht-dash --base-url {server.base_url}")
    server.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# ---- helpers for the tests that drive the client against this server -----------------------------

# JWT-shaped, so the redaction patterns and the exact-value registry are both exercised.
SENTINEL_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYXVsdC10ZXN0In0.SENTINEL-do-not-leak-7f3a9c"


def assert_token_absent(*texts: object, token: str = SENTINEL_TOKEN) -> None:
    """Neither the token nor its longer fragments appear in any text (or exception traceback)."""
    import traceback

    for item in texts:
        if isinstance(item, BaseException):
            text = "".join(traceback.format_exception(item)) + repr(item) + str(item)
        else:
            text = str(item)
        for fragment in (token, token.split(".")[-1], token.split(".")[1]):
            assert fragment not in text, f"token leaked into: {text[:300]!r}"
