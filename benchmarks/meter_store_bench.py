"""The meter's PostgreSQL store, measured (figures for the closing note; not a test).

    python benchmarks/meter_store_bench.py [--store URL] [--rows 10000000] [--json FILE]

1. write rate: records per second one recorder writes into PostgreSQL at steady state (its
   queue kept full, so the writer runs flat out);
2. added latency p50 through the meter with the PostgreSQL store (upstream and load generator in
   child processes, as in `python -m ht_dash.meter.bench`), plus throughput and records lost;
3. dashboard queries on a generated table of `--rows` records over 90 days (3 instances, 2 tokens,
   40 endpoints; the per-day, per-hour and daily sums built from them as the recorder would):
   screen 3's endpoint table (30 and 90 days, and split by instance), screen 4's live series
   (15 minutes), the 90-day metrics, the quota; median of 5 runs each, and the plans
   (EXPLAIN ANALYZE).

Without --store it starts a throwaway PostgreSQL (tests/pg_server.py) with default durability
settings (fsync on, synchronous_commit on) and removes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from ht_dash.clock import FixedClock  # noqa: E402
from ht_dash.meter.recorder import Record, Recorder  # noqa: E402
from ht_dash.meter.source import MeterSource  # noqa: E402
from ht_dash.meter.store.postgres import PostgresStore  # noqa: E402

DAY = 86400


def _database(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def write_rate(url: str, records: int) -> dict[str, Any]:
    recorder = Recorder(PostgresStore(url), instance="bench", flush_interval=0.05)
    recorder.start()
    now = time.time()
    batch = [
        Record(now + n * 0.001, "GET", f"/segments/{{id}}/p{n % 40}", 200, 12.5, 1000, None,
               "fp000001")
        for n in range(records)
    ]  # fmt: skip
    started = time.perf_counter()
    for record in batch:
        recorder.add(record)
    assert recorder.flush(600)
    elapsed = time.perf_counter() - started
    recorder.close()
    return {
        "records": records,
        "seconds": round(elapsed, 2),
        "records_per_s": round(records / elapsed),
        "dropped": recorder.dropped,
    }


def latency(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    import multiprocessing

    from ht_dash.meter import bench
    from ht_dash.meter.proxy import MeterProxy, Upstream

    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = ctx.Queue()
    upstream = ctx.Process(target=bench._serve_upstream, args=(ports, 300.0), daemon=True)
    upstream.start()
    try:
        port = ports.get(timeout=30)

        async def measure() -> dict[str, Any]:
            loop = asyncio.get_running_loop()
            recorder = Recorder(PostgresStore(url), instance="bench")
            recorder.start()
            proxy = MeterProxy(Upstream("http", "127.0.0.1", port, ""), recorder, port=0)
            await proxy.start()
            try:
                samples = min(2000, requests)
                _, direct = await loop.run_in_executor(None, bench._run_load, port, samples, 1)
                _, proxied = await loop.run_in_executor(
                    None, bench._run_load, proxy.port, samples, 1
                )
                elapsed, _ = await loop.run_in_executor(
                    None, bench._run_load, proxy.port, requests, concurrency
                )
            finally:
                await proxy.close()
                recorder.close()
            direct_p50 = statistics.median(direct) * 1000
            proxied_p50 = statistics.median(proxied) * 1000
            return {
                "direct_p50_ms": round(direct_p50, 3),
                "proxied_p50_ms": round(proxied_p50, 3),
                "added_p50_ms": round(proxied_p50 - direct_p50, 3),
                "throughput_rps": round(requests / elapsed),
                "recorded": recorder.written,
                "lost": samples + requests - recorder.written,
            }

        return asyncio.run(measure())
    finally:
        upstream.terminate()
        upstream.join(5)


GENERATE = """
INSERT INTO requests (ts, method, path, status, latency_ms, bytes, retry_after, token_fp,
                      failure, instance)
SELECT %(start)s + i * %(step)s,
       CASE WHEN i %% 10 = 0 THEN 'POST' ELSE 'GET' END,
       '/endpoint-' || (i * 7919 %% 40) || '/{id}',
       CASE WHEN i %% 50 = 0 THEN 429 WHEN i %% 97 = 0 THEN 500 ELSE 200 END,
       5 + (i * 31 %% 400) / 4.0, 1000, NULL,
       CASE WHEN i %% 3 = 0 THEN 'fp000002' ELSE 'fp000001' END, NULL,
       'host-' || (i %% 3)
FROM generate_series(CAST(1 AS BIGINT), %(rows)s) AS i
"""
DAILY = """
INSERT INTO daily
SELECT to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD'), instance,
       COALESCE(token_fp, ''), COUNT(*),
       SUM(CASE WHEN status BETWEEN 200 AND 299 THEN 1 ELSE 0 END),
       SUM(CASE WHEN status >= 500 OR (status >= 400 AND status != 429) THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END), SUM(latency_ms)
FROM requests GROUP BY 1, 2, 3
"""
HOURLY = """
INSERT INTO hourly
SELECT CAST(floor(ts / 3600) AS BIGINT), instance, COALESCE(token_fp, ''), method, path,
       COUNT(*),
       SUM(CASE WHEN status >= 500 OR (status >= 400 AND status != 429) THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END), SUM(latency_ms), MIN(ts), MAX(ts)
FROM requests GROUP BY 1, 2, 3, 4, 5
"""
ENDPOINT_DAYS = """
INSERT INTO endpoint_days
SELECT CAST(floor(ts / 86400) AS BIGINT), instance, COALESCE(token_fp, ''), method, path,
       COUNT(*),
       SUM(CASE WHEN status >= 500 OR (status >= 400 AND status != 429) THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END), SUM(latency_ms), MIN(ts), MAX(ts),
       SUM(DISTINCT CAST(1 AS BIGINT) << CAST(floor(ts / 3600) - floor(ts / 86400) * 24 AS INTEGER))
FROM requests GROUP BY 1, 2, 3, 4, 5
"""


class _Traced(PostgresStore):
    """Keeps the statements the source sends, to show their plans."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.statements: list[tuple[str, tuple]] = []

    def query(self, sql: str, params: Any = (), *, fetch: bool = True) -> list[tuple]:
        self.statements.append((sql, tuple(params)))
        return super().query(sql, params, fetch=fetch)


def queries(url: str, rows: int) -> dict[str, Any]:
    import psycopg

    store = PostgresStore(url)
    store.open_for_writing()
    store.close()
    now = time.time()
    start = now - 90 * DAY
    built = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(GENERATE, {"start": start, "step": 90 * DAY / rows, "rows": rows})
        conn.execute(DAILY)  # what the recorder's batches add up as they write
        conn.execute(HOURLY)
        conn.execute(ENDPOINT_DAYS)
        conn.execute("VACUUM ANALYZE")
    build_s = time.perf_counter() - built
    clock = FixedClock(datetime.fromtimestamp(now, UTC))
    cases = {
        "screen 3: endpoint table, 30 days": lambda s: s.endpoint_usage("30d"),
        "screen 3: endpoint table, 90 days": lambda s: s.endpoint_usage("90d"),
        "usage --by instance, 30 days": lambda s: s.endpoint_usage("30d", by_instance=True),
        "screen 4: live series, 15 minutes": lambda s: s.live(15),
        "metrics, 90 days": lambda s: s.metrics(90),
        "subscription (quota this month)": lambda s: s.subscription(),
    }
    results = {}
    for name, call in cases.items():
        traced = _Traced(url)
        source = MeterSource(traced, clock=clock)
        asyncio.run(call(source))  # warm: connection, schema check, cache
        traced.statements.clear()
        timings = []
        for _ in range(5):
            began = time.perf_counter()
            asyncio.run(call(source))
            timings.append((time.perf_counter() - began) * 1000)
        statements = traced.statements[: len(traced.statements) // 5]
        plans = []
        for sql, params in statements:
            rows_ = traced.query("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            plans.append("\n".join(r[0] for r in rows_))
        traced.close()
        results[name] = {"median_ms": round(statistics.median(timings), 1), "plans": plans}
    sizes = {}
    with psycopg.connect(url) as conn:
        for table in ("requests", "hourly", "endpoint_days", "daily"):
            (count,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            (size,) = conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
            sizes[table] = {"rows": count, "bytes": size, "bytes_per_row": round(size / count)}
    return {"rows": rows, "build_s": round(build_s, 1), "tables": sizes, "queries": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", help="an admin URL of an existing PostgreSQL (default: own)")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--skip", default="", help="comma list of: write,latency,queries")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    server = None
    if args.store:
        admin = args.store
    else:
        from pg_server import start_server

        server = start_server(durable=True)
        admin = server.url(db="postgres")
    out: dict[str, Any] = {}
    try:
        if "write" not in skip:
            out["write"] = write_rate(_database(admin, "bench_write"), args.records)
            print("write rate:", json.dumps(out["write"]), flush=True)
        if "latency" not in skip:
            out["latency"] = latency(_database(admin, "bench_latency"), args.requests, 32)
            print("latency:", json.dumps(out["latency"]), flush=True)
        if "queries" not in skip:
            out["queries"] = queries(_database(admin, "bench_queries"), args.rows)
            q = out["queries"]
            print(f"queries on {q['rows']:,} rows (built in {q['build_s']} s)")
            for table, size in q["tables"].items():
                print(f"  table {table}: {size['rows']:,} rows, {size['bytes'] / 2**20:,.0f} MiB "
                      f"with indexes ({size['bytes_per_row']} bytes per row)")  # fmt: skip
            for name, result in q["queries"].items():
                print(f"  {name:40} {result['median_ms']:8.1f} ms")
                for plan in result["plans"]:
                    print("    " + plan.replace("\n", "\n    "))
    finally:
        if server is not None:
            server.destroy()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
