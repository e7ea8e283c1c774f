"""Helpers for the CLI command tests: a scripted account API, a CLI runner, a schema checker.

The scripted backend serves the contract's own `dump_*` of hand-built models, so what it sends
is exactly what the client parses. It stands in for the demo backend behind `--demo`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from ht_dash.api import contract
from ht_dash.api.models import (
    DailyMetric,
    EndpointUsage,
    EndpointUsageReport,
    HistoryEntry,
    LiveBucket,
    LiveUsage,
    Metrics,
    MetricsSummary,
    NextBilling,
    Plan,
    StreamUsage,
    Subscription,
)
from ht_dash.api.plans import plan_by_id
from ht_dash.api.secret import Secret

NOW = datetime(2026, 11, 25, 14, 3, 0, tzinfo=UTC)
TOKEN = "scripted-token-abcdef123456"

PULSE = plan_by_id("pulse")  # the public price table


def subscription(tokens_used: int = 12_345, plan: Plan = PULSE) -> Subscription:
    return Subscription(
        plan=plan,
        status="active",
        tokens_used=tokens_used,
        period_start=datetime(2026, 11, 1, tzinfo=UTC),
        resets_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


def live(
    rpm: int = 42,
    limit: int | None = 60,
    series: list[int] | None = None,
    throttled: int = 3,
    streams: StreamUsage | None = None,
    at: datetime = NOW,
) -> LiveUsage:
    counts = series if series is not None else [10] * 60
    start = at - timedelta(seconds=15 * len(counts))
    buckets = tuple(
        LiveBucket(at=start + timedelta(seconds=15 * i), requests=n, throttled=0)
        for i, n in enumerate(counts)
    )
    return LiveUsage(
        at=at,
        requests_per_minute=rpm,
        limit_per_minute=limit,
        interval_seconds=15,
        series=buckets,
        throttled_in_window=throttled,
        streams=streams,
    )


def metrics(days: int = 3) -> Metrics:
    daily = tuple(
        DailyMetric(
            date=date(2026, 11, 25) - timedelta(days=days - 1 - i),
            requests=1000 + 100 * i,
            avg_latency_ms=120.5 + i,
            errors=i,
            rate_limited=2 * i,
        )
        for i in range(days)
    )
    return Metrics(
        days=days,
        start=daily[0].date,
        end=daily[-1].date,
        summary=MetricsSummary(
            avg_daily_requests=1100.0, avg_latency_ms=121.5, error_rate=0.001, rate_limit_hits=6
        ),
        previous_summary=None,
        daily=daily,
    )


ENDPOINTS = (
    EndpointUsage("GET", "/segments/{id}/bias-history", 9000, 12, 3, 88.25, 12.5, 288.0),
    EndpointUsage("POST", "/info", 10, 0, 0, 40.0, 0.2, None),
    # A path with a comma, quotes and unicode: CSV must round-trip it.
    EndpointUsage("GET", '/wallets?tag="whale",€-ünïcode', 5, 1, 0, 300.0, 0.1, 7200.5),
)


def endpoint_usage(timeframe: str = "30d") -> EndpointUsageReport:
    return EndpointUsageReport(
        timeframe=timeframe, start=NOW - timedelta(days=30), end=NOW, endpoints=ENDPOINTS
    )


BILLING = NextBilling(
    invoice_date=date(2026, 12, 1),
    amount_cents=17900,
    currency="USD",
    plan_id="pulse",
    plan_name="Pulse",
    payment_method="Visa •••• 4242",
)


def history_entries(n: int = 7) -> list[HistoryEntry]:
    entries = []
    for i in range(n):
        kind = ("payment", "support", "refund")[i % 3]
        entries.append(
            HistoryEntry(
                id=f"h{i}",
                at=NOW - timedelta(days=i),
                kind=kind,
                description=f'Entry {i}, "quoted", café ✓' if i == 1 else f"Entry {i}",
                status="paid",
                amount_cents=None if kind == "support" else (-500 if kind == "refund" else 17900),
                currency=None if kind == "support" else "USD",
                reference=f"INV-{i}" if kind != "support" else None,
            )
        )
    return entries


class ScriptedBackend:
    """An in-process account API behind an httpx.MockTransport; same shape as DemoBackend."""

    def __init__(self) -> None:
        self.token = Secret(TOKEN)
        self.subscription = subscription()
        self.live_samples: list[LiveUsage] = [live()]
        self.metrics = metrics()
        self.history = history_entries()
        self.faults: dict[str, list[httpx.Response]] = {}
        self.requests: list[httpx.Request] = []
        self._live_index = 0

    def set_fault(
        self,
        path_prefix: str,
        status: int,
        body: Any = None,
        headers: dict | None = None,
        times: int = 1000,
    ) -> None:
        content = (
            body
            if isinstance(body, bytes)
            else json.dumps(body if body is not None else {}).encode()
        )
        self.faults[path_prefix] = [
            httpx.Response(status, content=content, headers=headers or {})
        ] * times

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/external")
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"statusCode": 401, "message": "Unauthorized"})
        for prefix, responses in self.faults.items():
            if path.startswith(prefix) and responses:
                return responses.pop(0)
        return httpx.Response(200, json=self._body(path, request.url.params))

    def _body(self, path: str, params: httpx.QueryParams) -> Any:
        if path == contract.SUBSCRIPTION:
            return contract.dump_subscription(self.subscription)
        if path == contract.LIVE:
            sample = self.live_samples[min(self._live_index, len(self.live_samples) - 1)]
            self._live_index += 1
            return contract.dump_live(sample)
        if path == contract.METRICS:
            return contract.dump_metrics(self.metrics)
        if path == contract.ENDPOINT_USAGE:
            return contract.dump_endpoint_usage(endpoint_usage(params.get("timeframe", "30d")))
        if path == contract.NEXT_BILLING:
            return contract.dump_next_billing(BILLING)
        if path == contract.HISTORY:
            kind = params.get("kind")
            items = [e for e in self.history if kind is None or e.kind == kind]
            start = int(params.get("cursor") or 0)
            limit = int(params.get("limit", 50))
            page = items[start : start + limit]
            more = start + limit < len(items)
            return {
                "items": [contract.dump_history_entry(e) for e in page],
                "next_cursor": str(start + limit) if more else None,
            }
        return {"statusCode": 404, "message": "not found"}


def install_scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedBackend:
    """`--demo` talks to a ScriptedBackend; retries never sleep (waits are recorded)."""
    from ht_dash.commands import _common
    from ht_dash.runtime import Runtime

    backend = ScriptedBackend()
    monkeypatch.setattr(Runtime, "demo_backend", property(lambda self: backend))
    monkeypatch.setattr(_common, "RETRY", _common.RetryPolicy(sleep=_recording_sleep(backend)))
    return backend


def _recording_sleep(backend: ScriptedBackend) -> Callable[[float], Any]:
    backend.waits = []  # type: ignore[attr-defined]

    async def sleep(seconds: float) -> None:
        backend.waits.append(seconds)  # type: ignore[attr-defined]

    return sleep


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from ht_dash.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- a tiny JSON-schema subset checker (type, properties, required, items, enum, pattern) -----

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}

INSTANT = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"}
DATE = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\d$"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(*, optional: dict | None = None, **properties: dict) -> dict:
    """An object whose listed properties are all required, `optional` ones may be present, and
    no others are allowed."""
    return {
        "type": "object",
        "properties": {**properties, **(optional or {})},
        "required": list(properties),
        "additionalProperties": False,
    }


def validate(value: Any, schema: dict, where: str = "$") -> None:
    """Raise AssertionError naming the first place `value` breaks `schema`."""
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                validate(value, option, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: matches no option ({'; '.join(errors)})")
    kind = schema.get("type")
    if kind is not None:
        assert _TYPES[kind](value), (
            f"{where}: expected {kind}, got {type(value).__name__} {value!r:.60}"
        )
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "pattern" in schema:
        assert re.search(schema["pattern"], value), (
            f"{where}: {value!r} does not match {schema['pattern']}"
        )
    if "minimum" in schema:
        assert value >= schema["minimum"], f"{where}: {value} < {schema['minimum']}"
    if "maximum" in schema:
        assert value <= schema["maximum"], f"{where}: {value} > {schema['maximum']}"
    if kind == "object":
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key!r}"
        extra_schema = schema.get("additionalProperties")
        extra = set(value) - set(props)
        if extra_schema is False:
            assert not extra, f"{where}: unexpected fields {sorted(extra)}"
        elif isinstance(extra_schema, dict):
            for key in sorted(extra):
                validate(value[key], extra_schema, f"{where}.{key}")
        for key, sub in props.items():
            if key in value:
                validate(value[key], sub, f"{where}.{key}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{i}]")
