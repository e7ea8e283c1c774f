"""Measure the meter against its budgets: added latency (p50 < 1 ms) and throughput (>= 1,000 req/s
on loopback without losing a record).

    python -m ht_dash.meter.bench [--requests 5000] [--concurrency 32] [--json]

or from code: `result = ht_dash.meter.bench.run_benchmark()`; `result.ok` says whether the budgets
hold. The proxy and its recorder run in this process, as in `ht-dash meter`; the upstream and the
load generator each run in a child process so they do not share the proxy's interpreter. The
database is a temporary file, never the user's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ht_dash.meter.proxy import MeterProxy, Upstream
from ht_dash.meter.recorder import Recorder

LATENCY_BUDGET_MS = 1.0
THROUGHPUT_BUDGET_RPS = 1000.0
_BODY = b'{"items":[{"coin":"BTC","size":1.5}],"nextCursor":null}'
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(_BODY)).encode()
    + b"\r\n\r\n"
    + _BODY
)


@dataclass(frozen=True)
class BenchResult:
    requests: int
    concurrency: int
    direct_p50_ms: float
    proxied_p50_ms: float
    added_p50_ms: float
    throughput_rps: float
    recorded: int
    lost: int

    @property
    def ok(self) -> bool:
        return (
            self.added_p50_ms < LATENCY_BUDGET_MS
            and self.throughput_rps >= THROUGHPUT_BUDGET_RPS
            and self.lost == 0
        )


# ---- child processes -------------------------------------------------------------------------


class _UpstreamProtocol(asyncio.Protocol):
    """A minimal keep-alive HTTP/1.1 server answering every request with one JSON body."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = 0
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            self.buffer = self.buffer[end + 4 :]  # benchmark requests carry no body
            answers += 1
        if answers:
            self.transport.write(_RESPONSE * answers)  # type: ignore[attr-defined]


def _serve_upstream(port_queue: multiprocessing.Queue, lifetime: float) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_UpstreamProtocol, "127.0.0.1", 0)
        port_queue.put(server.sockets[0].getsockname()[1])
        await asyncio.sleep(lifetime)

    asyncio.run(main())


async def _one_connection(port: int, count: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        b"GET /api/external/segments/7/summary?limit=10 HTTP/1.1\r\nHost: bench\r\n"
        b"Authorization: Bearer bench-token\r\n\r\n"
    )
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def _load(port: int, requests: int, concurrency: int, out: multiprocessing.Queue) -> None:
    async def main() -> tuple[float, list[float]]:
        latencies: list[float] = []
        share, extra = divmod(requests, concurrency)
        counts = [share + (1 if i < extra else 0) for i in range(concurrency)]
        started = time.perf_counter()
        await asyncio.gather(*(_one_connection(port, n, latencies) for n in counts if n))
        return time.perf_counter() - started, latencies

    elapsed, latencies = asyncio.run(main())
    out.put((elapsed, latencies))


def _run_load(port: int, requests: int, concurrency: int) -> tuple[float, list[float]]:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    proc = ctx.Process(target=_load, args=(port, requests, concurrency, out), daemon=True)
    proc.start()
    try:
        return out.get(timeout=120)
    finally:
        proc.join(5)


# ---- the measurement -------------------------------------------------------------------------


async def _measure(upstream_port: int, db: Path, requests: int, concurrency: int) -> BenchResult:
    loop = asyncio.get_running_loop()
    recorder = Recorder(db)
    recorder.start()
    proxy = MeterProxy(Upstream("http", "127.0.0.1", upstream_port, ""), recorder, port=0)
    await proxy.start()
    try:
        samples = min(2000, requests)
        _, direct = await loop.run_in_executor(None, _run_load, upstream_port, samples, 1)
        _, proxied = await loop.run_in_executor(None, _run_load, proxy.port, samples, 1)
        elapsed, _ = await loop.run_in_executor(None, _run_load, proxy.port, requests, concurrency)
    finally:
        await proxy.close()
        recorder.close()
    with sqlite3.connect(db) as conn:
        recorded = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    direct_p50 = statistics.median(direct) * 1000
    proxied_p50 = statistics.median(proxied) * 1000
    expected = samples + requests  # the direct samples never reach the proxy
    return BenchResult(
        requests=requests,
        concurrency=concurrency,
        direct_p50_ms=round(direct_p50, 3),
        proxied_p50_ms=round(proxied_p50, 3),
        added_p50_ms=round(proxied_p50 - direct_p50, 3),
        throughput_rps=round(requests / elapsed, 1),
        recorded=recorded,
        lost=expected - recorded,
    )


def run_benchmark(
    requests: int = 5000, concurrency: int = 32, lifetime: float = 300.0
) -> BenchResult:
    """Run upstream and load generator in child processes and the proxy here; see the module doc."""
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = ctx.Queue()
    upstream = ctx.Process(target=_serve_upstream, args=(ports, lifetime), daemon=True)
    upstream.start()
    try:
        port = ports.get(timeout=30)
        with tempfile.TemporaryDirectory(prefix="ht-dash-meter-bench-") as tmp:
            return asyncio.run(_measure(port, Path(tmp) / "meter.sqlite3", requests, concurrency))
    finally:
        upstream.terminate()
        upstream.join(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ht_dash.meter.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run_benchmark(args.requests, args.concurrency)
    if args.json:
        print(json.dumps({**asdict(result), "ok": result.ok}))
    else:
        print(
            f"added latency p50   {result.added_p50_ms:.3f} ms"
            f"  (budget < {LATENCY_BUDGET_MS:g} ms; direct {result.direct_p50_ms:.3f} ms,"
            f" through the meter {result.proxied_p50_ms:.3f} ms)"
        )
        print(
            f"throughput          {result.throughput_rps:,.0f} req/s"
            f"  (budget >= {THROUGHPUT_BUDGET_RPS:,.0f};"
            f" {result.requests} requests, {result.concurrency} connections)"
        )
        print(f"records lost        {result.lost}  ({result.recorded} recorded)")
        print("budgets:", "met" if result.ok else "NOT met")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
