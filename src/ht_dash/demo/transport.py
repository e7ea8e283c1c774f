"""The httpx transport that puts the demo backend behind a real AccountClient (in-process)."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import httpx


class Backend(Protocol):
    """What the transport needs of a backend (the DemoBackend is one)."""

    latency_s: float

    def handle_request(self, request: httpx.Request) -> httpx.Response: ...


class DemoTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """Answers every request from a backend; its `latency_s` simulates a slow server."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.backend.latency_s > 0:
            await asyncio.sleep(self.backend.latency_s)
        await request.aread()
        return self.backend.handle_request(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.backend.latency_s > 0:
            time.sleep(self.backend.latency_s)
        request.read()
        return self.backend.handle_request(request)
