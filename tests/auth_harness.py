"""An app that talks to a real API client with a real token store, backed by the demo backend.

`ApiRuntime` is an ordinary (non-demo) runtime: the token comes from env > keyring > file and the
keyring is the test's in-memory one. Its client reaches the demo backend through `Gateway`, which
also accepts the test's own token (e.g. a sentinel) as the demo's current one, and can be taken
"down" to simulate a network failure.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from ht_dash.api.client import AccountClient
from ht_dash.api.secret import Secret
from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.demo import DemoBackend
from ht_dash.runtime import Runtime
from ui_harness import build_demo_app

AT = datetime(2026, 11, 25, 14, 3, 20, tzinfo=UTC)
SIZE = (100, 30)
KEYRING_KEY = ("ht-dash", "ht-api.coinmarketman.com")  # service, host of the default base URL


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt_like(marker: str, iat: datetime) -> str:
    """A token shaped like HyperTracker's (JWT, `iat`, no `exp`) whose signature holds `marker`."""
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64({"sub": "acc_test", "mid": 7, "iat": int(iat.timestamp())})
    return f"{header}.{payload}.{marker}{marker}Zq9"


class Gateway(httpx.AsyncBaseTransport):
    """The demo backend, reached as if over the network; `aliases` maps test tokens to the demo's
    token as it was when the gateway was built (so after a regeneration they get 401)."""

    def __init__(self, backend: DemoBackend, *tokens: str) -> None:
        self.backend = backend
        self.inner = backend.transport()
        self.aliases = {token: backend.token.reveal() for token in tokens}
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if value in self.aliases:
            request.headers["Authorization"] = f"{scheme} {self.aliases[value]}"
        return await self.inner.handle_async_request(request)


@dataclass
class ApiRuntime(Runtime):
    gateway: Gateway | None = field(default=None, repr=False)

    def make_client(self, token: Secret | None) -> AccountClient:
        return AccountClient(self.base_url, token, transport=self.gateway, clock=self.clock)


def api_runtime(*tokens: str, seed: int = 7, settings: Settings | None = None) -> ApiRuntime:
    backend = DemoBackend(seed=seed, clock=FixedClock(AT))
    runtime = ApiRuntime.on_backend(backend, settings=settings, demo=False)
    runtime.gateway = Gateway(backend, *tokens)
    return runtime


def demo_app(seed: int = 7, settings: Settings | None = None):
    return build_demo_app(at=AT, seed=seed, settings=settings)


async def settle(pilot, rounds: int = 5) -> None:
    """Let workers (polls, keyring threads) finish and the screen catch up."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_lines(app) -> list[str]:
    """What the terminal shows now, line by line (notifications included)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))


def unwrapped(app) -> str:
    """All lines run together without box borders: a wrapped token reads as one piece again."""
    return "".join(line.strip().strip("│┃▌").strip() for line in screen_lines(app))


def notifications(app) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]
