"""A loopback stand-in for the real HyperTracker service, as far as it is public (tests, by hand).

    python tests/realserver.py --port 8766          # prints a real-looking token to use
    HT_DASH_TOKEN=<that token> ht-dash --base-url http://127.0.0.1:8766/api/external

- a few documented data endpoints answer under `/api/external` (`/hypertracker/state/status`,
  `/positions`, `/segments`, `/leaderboards/perp-pnl`, `/orders/5m-snapshots/latest`);
- every `/api/external/account/*` path answers a NestJS-style 404, like every unknown path;
- a token the server did not issue gets `401 {"statusCode":401,"message":"Unauthorized"}`;
- more than `rate_limit` requests in a rolling minute get the documented 429 body.

Every request is recorded (`server.seen`) so tests can say which paths the app asked for.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BASE_PATH = "/api/external"
STATUS_PATH = "/hypertracker/state/status"
ISSUED_AT = 1_764_000_000  # 2025-11-24T16:00:00Z


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(sub: str = "user_8f3a2c", mid: int = 41873, iat: int = ISSUED_AT) -> str:
    """An HS256 JWT shaped like the service's public samples: `sub`, `mid`, `iat`, no `exp`."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": sub, "mid": mid, "iat": iat}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(b"stand-in", f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


REAL_TOKEN = make_jwt()


def _data(path: str, now: float) -> Any | None:
    """The body of a documented data endpoint (path relative to the base), or None."""
    if path == STATUS_PATH:
        last = int(now // 900 * 900)
        return {
            "lastUpdate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)),
            "nextUpdate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last + 900)),
            "nextUpdateThreshold": 1800,
        }
    if path == "/positions":
        return {"data": [{"coin": "BTC", "size": 1.5, "side": "long"}], "nextCursor": None}
    if path == "/segments":
        return [{"id": 1, "name": "Whales"}, {"id": 2, "name": "Smart money"}]
    if path.startswith("/segments/") and path.endswith("/summary"):
        return {"segment": path.split("/")[2], "longs": 120, "shorts": 80}
    if path == "/leaderboards/perp-pnl":
        return {"data": [{"address": "0x" + "ab" * 20, "pnl": 1234.5}], "nextCursor": None}
    if path == "/orders/5m-snapshots/latest":
        return {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "orders": []}
    return None


@dataclass
class Seen:
    method: str
    path: str
    authorized: bool


@dataclass
class RealServer:
    """The stand-in on 127.0.0.1 (port 0: any free one). Use as a context manager."""

    port: int = 0
    tokens: frozenset[str] = frozenset({REAL_TOKEN})
    rate_limit: int = 60
    retry_after: int = 42
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + BASE_PATH

    def data_requests(self) -> list[Seen]:
        """Requests to the data API (everything but /account/*)."""
        return [s for s in self.seen if not s.path.startswith(BASE_PATH + "/account/")]

    def answer(self, method: str, target: str, authorization: str | None) -> tuple[int, Any]:
        path = target.split("?", 1)[0]
        token = (authorization or "")[7:] if (authorization or "")[:7].lower() == "bearer " else ""
        authorized = token in self.tokens
        now = time.time()
        with self._lock:
            self.seen.append(Seen(method, path, authorized))
            if not authorized:
                return 401, {"statusCode": 401, "message": "Unauthorized"}
            while self._recent and self._recent[0] <= now - 60:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                return 429, {
                    "error": "rate_limit_exceeded",
                    "message": "Rate limit exceeded. Please slow down.",
                    "retry_after": self.retry_after,
                }
            self._recent.append(now)
        body = None
        if method == "GET" and path.startswith(BASE_PATH + "/"):
            body = _data(path[len(BASE_PATH) :], now)
        if body is None:
            return 404, {
                "statusCode": 404,
                "message": f"Cannot {method} {path}",
                "error": "Not Found",
            }
        return 200, body

    def start(self) -> RealServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, body = server.answer(
                    self.command, self.path, self.headers.get("Authorization")
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> RealServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--rate-limit", type=int, default=60, help="requests per rolling minute")
    args = parser.parse_args(argv)
    server = RealServer(port=args.port, rate_limit=args.rate_limit).start()
    print(f"stand-in for the real service on {server.base_url}")
    print(f"token: {REAL_TOKEN}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
