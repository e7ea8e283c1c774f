"""`/metrics` for Prometheus (`ht-dash meter --metrics-listen HOST:PORT`), on its own port: the
proxy's own paths all belong to the data API (which has `/metrics/perp-volume`).

Names follow Prometheus practice (`_total` counters, base units: seconds) and the conventions of
gateways (Kong, Traefik) and OpenTelemetry's `http.server.request.duration`. Labels carry route
templates (`/segments/{id}/summary`), never raw paths, query strings or tokens; the number of
distinct routes is capped so that a bot calling odd paths cannot blow up the series count.

prometheus_client is imported only when the listener is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ht_dash.meter.store.base import Record

if TYPE_CHECKING:
    from ht_dash.meter.recorder import Recorder
    from ht_dash.meter.streams import StreamCounts

# OpenTelemetry's advice for http.server.request.duration, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
MAX_ROUTES = 500
OTHER_ROUTE = "_other"
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


class MeterMetrics:
    """Counters fed from the recorder's hot path (`observe`, one call per request) plus the
    recorder's own figures (written, dropped, waiting), read at scrape time."""

    def __init__(self, instance: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.instance = instance
        self.registry = CollectorRegistry(auto_describe=True)
        self._routes: set[str] = set()
        self._requests = Counter(
            "htdash_requests",
            "Requests forwarded by the meter, by route template, method and status code.",
            ("route", "method", "code", "instance"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "htdash_request_duration_seconds",
            "Time from the request reaching the meter until the API's response headers came back.",
            ("route", "method", "instance"),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._rate_limited = Counter(
            "htdash_rate_limited",
            "Requests the API answered with 429 (per-minute limit or quota).",
            ("route", "instance"),
            registry=self.registry,
        )
        self._failures = Counter(
            "htdash_upstream_failures",
            "Requests the meter answered itself or that broke off (unreachable, timeout, ...).",
            ("reason", "instance"),
            registry=self.registry,
        )
        self._recorder: Recorder | None = None
        self.streams: StreamCounts | None = None  # the stream relay's counts, when attached
        self.registry.register(_RecorderCollector(self))
        self.registry.register(_StreamCollector(self))
        self._server: Any = None

    def attach(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def route(self, path: str) -> str:
        if path in self._routes:
            return path
        if len(self._routes) >= MAX_ROUTES:
            return OTHER_ROUTE
        self._routes.add(path)
        return path

    def observe(self, record: Record) -> None:
        route = self.route(record.path)
        method = record.method if record.method in KNOWN_METHODS else "_OTHER"
        instance = self.instance
        self._requests.labels(route, method, str(record.status), instance).inc()
        self._duration.labels(route, method, instance).observe(record.latency_ms / 1000)
        if record.status == 429:
            self._rate_limited.labels(route, instance).inc()
        if record.failure:
            self._failures.labels(record.failure, instance).inc()

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def serve(self, host: str, port: int) -> tuple[str, int]:
        """Start the `/metrics` listener in a thread; returns the bound address."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        bound = server.server_address
        return bound[0], bound[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _StreamCollector:
    """The WebSocket streams the meter relays, by channel template (never a raw channel)."""

    def __init__(self, metrics: MeterMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        counts = self.metrics.streams
        if counts is None:
            return
        instance = self.metrics.instance
        open_now = GaugeMetricFamily(
            "htdash_stream_connections",
            "WebSocket streams being relayed.",
            labels=["instance"],
        )
        open_now.add_metric([instance], counts.open)
        opened = CounterMetricFamily(
            "htdash_stream_connections_opened",
            "WebSocket streams relayed since the meter started.",
            labels=["instance"],
        )
        opened.add_metric([instance], counts.total)
        labels = ["channel", "instance"]
        subscriptions = GaugeMetricFamily(
            "htdash_stream_subscriptions", "Channel subscriptions open.", labels=labels
        )
        for channel, n in list(counts.subscriptions.items()):
            if n > 0:
                subscriptions.add_metric([channel, instance], n)
        publications = CounterMetricFamily(
            "htdash_stream_publications",
            "Publications delivered to bots (binary frames: channel _binary).",
            labels=labels,
        )
        for channel, n in list(counts.published_total.items()):
            publications.add_metric([channel or "_binary", instance], n)
        yield from (open_now, opened, subscriptions, publications)


class _RecorderCollector:
    """The recorder's counters as they are at scrape time."""

    def __init__(self, metrics: MeterMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        recorder = self.metrics._recorder
        if recorder is None:
            return
        labels = ["instance"]
        instance = [self.metrics.instance]
        written = CounterMetricFamily(
            "htdash_records_written", "Request records saved in the store.", labels=labels
        )
        written.add_metric(instance, recorder.written)
        dropped = CounterMetricFamily(
            "htdash_records_dropped",
            "Request records lost: the store refused them or the waiting queue was full.",
            labels=labels,
        )
        dropped.add_metric(instance, recorder.dropped)
        pending = GaugeMetricFamily(
            "htdash_records_pending",
            "Request records waiting to be written (the store is slow or unreachable).",
            labels=labels,
        )
        pending.add_metric(instance, max(0, recorder.pending))
        down = GaugeMetricFamily(
            "htdash_store_up",
            "1 while the store takes records, 0 while it is unreachable.",
            labels=labels,
        )
        down.add_metric(instance, 0 if recorder.waiting_for_store else 1)
        yield from (written, dropped, pending, down)
