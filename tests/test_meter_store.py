"""The meter's store on SQLite: privacy of the file, counting, schema versions, retention,
instances and the per-token filter (the same behaviour is checked on PostgreSQL in
test_meter_postgres.py)."""

from __future__ import annotations

import sqlite3
import stat
import time
from datetime import UTC, datetime

import pytest

from ht_dash import cli
from ht_dash.clock import FixedClock
from ht_dash.meter.recorder import Record, Recorder
from ht_dash.meter.source import MeterSource
from ht_dash.meter.store import SCHEMA_VERSION, StoreTooNew
from ht_dash.meter.store.sqlite import SqliteStore

NOW = datetime(2025, 3, 12, 12, 0, 30, tzinfo=UTC)
T = NOW.timestamp()
KEEP_FOREVER = 365_000


def rec(ago_s: float, status: int = 200, fp: str | None = "aaaa0001", path: str = "/positions"):
    return Record(T - ago_s, "GET", path, status, 10.0, 100, None, fp)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_file_and_directory_are_private(tmp_path):
    data = tmp_path / "data"
    db = data / "meter.sqlite3"
    with Recorder(db) as recorder:
        recorder.add(rec(0))
        assert recorder.flush(5)
        # While it runs, the WAL and shared-memory files exist: private too.
        for name in ("meter.sqlite3", "meter.sqlite3-wal", "meter.sqlite3-shm"):
            assert mode(data / name) == 0o600, name
    assert mode(data) == 0o700
    assert mode(db) == 0o600


def test_an_existing_world_readable_database_is_tightened(isolated_home):
    data = isolated_home / "data"  # ht-dash's data directory, as an older version left it
    data.mkdir(mode=0o755, parents=True)
    db = data / "meter.sqlite3"
    with Recorder(db):
        pass
    db.chmod(0o644)
    data.chmod(0o755)
    with Recorder(db):
        pass
    assert (mode(data), mode(db)) == (0o700, 0o600)


def test_a_directory_the_user_chose_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with Recorder(shared / "meter.sqlite3"):
        pass
    assert mode(shared) == 0o755 and mode(shared / "meter.sqlite3") == 0o600


def test_a_failed_batch_counts_every_record_it_held(tmp_path):
    db = tmp_path / "meter.sqlite3"
    recorder = Recorder(db, busy_timeout_ms=50, flush_interval=60)
    recorder.start()
    try:
        blocker = sqlite3.connect(db, timeout=0)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            for n in range(7):
                recorder.add(rec(n))
            assert recorder.flush(5)
        finally:
            blocker.rollback()
            blocker.close()
    finally:
        recorder.close()
    assert recorder.dropped == 7 and recorder.written == 0
    assert "locked" in (recorder.last_error or "")


@pytest.mark.parametrize("status", [301, 304, 307])
def test_redirects_are_not_counted_as_spent_tokens(tmp_path, status):
    db = tmp_path / "meter.sqlite3"
    with Recorder(db, retention_days=KEEP_FOREVER) as recorder:
        recorder.add(rec(10, status))
        recorder.add(rec(5, 200))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT SUM(requests), SUM(ok) FROM daily").fetchone() == (2, 1)


async def test_redirects_are_not_spent_tokens_in_the_subscription(tmp_path):
    db = tmp_path / "meter.sqlite3"
    with Recorder(db, retention_days=KEEP_FOREVER) as recorder:
        for status in (200, 304, 302, 201):
            recorder.add(rec(10, status))
    sub = await MeterSource(db, clock=FixedClock(NOW)).subscription()
    assert sub.tokens_used == 2


def _v1_database(path) -> None:
    """What the first meter (schema version 1) left behind."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE requests (id INTEGER PRIMARY KEY, ts REAL NOT NULL, method TEXT NOT NULL,
            path TEXT NOT NULL, status INTEGER NOT NULL, latency_ms REAL NOT NULL,
            bytes INTEGER NOT NULL, retry_after REAL, token_fp TEXT, failure TEXT);
        CREATE INDEX requests_ts ON requests (ts);
        CREATE TABLE daily (day TEXT PRIMARY KEY, requests INTEGER NOT NULL, ok INTEGER NOT NULL,
            errors INTEGER NOT NULL, throttled INTEGER NOT NULL, latency_ms_sum REAL NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1'),
            ('salt', '00112233445566778899aabbccddeeff'), ('plan', 'flow');
        """
    )
    conn.execute(
        "INSERT INTO requests (ts, method, path, status, latency_ms, bytes, token_fp)"
        " VALUES (?, 'GET', '/old', 200, 4.0, 10, 'fp000001')",
        (T - 30,),
    )
    for ago in (3 * 86400, 3 * 86400 - 60, 3 * 86400 - 7200):  # whole days: from the backfill
        conn.execute(
            "INSERT INTO requests (ts, method, path, status, latency_ms, bytes, token_fp)"
            " VALUES (?, 'GET', '/older', 200, 2.0, 10, 'fp000001')",
            (T - ago,),
        )
    conn.execute("INSERT INTO daily VALUES ('2025-03-12', 1, 1, 0, 0, 4.0)")
    conn.commit()
    conn.close()


async def test_a_version_1_database_is_upgraded_in_place(tmp_path):
    db = tmp_path / "meter.sqlite3"
    _v1_database(db)
    with Recorder(db, retention_days=KEEP_FOREVER, instance="host-b") as recorder:
        recorder.add(rec(10))
    with sqlite3.connect(db) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM migrations ORDER BY 1")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        assert conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone() == (
            "00112233445566778899aabbccddeeff",
        )
        instances = conn.execute("SELECT path, instance FROM requests ORDER BY id").fetchall()
        assert instances == [("/old", ""), ("/older", ""), ("/older", ""), ("/older", "")] + [
            ("/positions", "host-b")
        ]
    meter = MeterSource(db, clock=FixedClock(NOW))
    sub = await meter.subscription()
    assert sub.plan.id == "flow" and sub.tokens_used == 2  # the old daily row is kept
    older = next(e for e in (await meter.endpoint_usage("30d")).endpoints if e.path == "/older")
    assert (older.requests, older.calls_per_hour) == (3, 1.5)  # 3 calls in 2 clock hours


def test_a_store_from_a_newer_ht_dash_is_refused(tmp_path):
    db = tmp_path / "meter.sqlite3"
    with Recorder(db):
        pass
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO migrations VALUES (?, 0, '99.0')", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreTooNew, match="newer ht-dash"):
        Recorder(db).start()


def test_meter_command_exits_2_on_a_newer_store(isolated_home, capsys):
    db = isolated_home / "data" / "meter.sqlite3"
    with Recorder(db):
        pass
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO migrations VALUES (?, 0, '99.0')", (SCHEMA_VERSION + 1,))
    assert cli.main(["meter", "--listen", "127.0.0.1:0", "--quiet"]) == cli.EXIT_USAGE
    assert "newer ht-dash" in capsys.readouterr().err
    assert cli.main(["--source", "meter", "status", "--json"]) == cli.EXIT_USAGE


def test_retention_deletes_in_bounded_chunks(tmp_path, monkeypatch):
    from ht_dash.meter import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "RETENTION_CHUNK", 3)
    db = tmp_path / "meter.sqlite3"
    store = SqliteStore(db)
    statements: list[str] = []
    with Recorder(store, retention_days=1, flush_interval=60) as recorder:
        now = time.time()
        old = [
            Record(now - 3 * 86400 - n, "GET", "/old", 200, 1.0, 0, None, None) for n in range(8)
        ]
        store._conn.set_trace_callback(statements.append)
        for record in old:
            recorder.add(record)
        recorder.add(Record(now, "GET", "/new", 200, 1.0, 0, None, None))
        assert recorder.flush(5)
        for _ in range(4):  # each later batch deletes one more chunk
            recorder.add(Record(now, "GET", "/new", 200, 1.0, 0, None, None))
            assert recorder.flush(5)
    deletes = [s for s in statements if s.startswith("DELETE FROM requests")]
    assert len(deletes) == 3 and all("LIMIT 3" in s for s in deletes)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT DISTINCT path FROM requests").fetchall() == [("/new",)]


async def test_instances_and_the_token_filter(tmp_path):
    db = tmp_path / "meter.sqlite3"
    for instance, n in (("host-a", 3), ("host-b", 5)):
        with Recorder(db, retention_days=KEEP_FOREVER, instance=instance) as recorder:
            for i in range(n):
                recorder.add(rec(i, fp=recorder.fingerprint("token-one")))
            recorder.add(rec(1, fp=recorder.fingerprint("token-two")))
    meter = MeterSource(db, clock=FixedClock(NOW))
    live = await meter.live()
    assert live.requests_per_minute == 10
    assert [(i.instance, i.requests_per_minute) for i in live.instances] == [
        ("host-b", 6),
        ("host-a", 4),
    ]
    one = MeterSource(db, clock=FixedClock(NOW), token_fp=await meter.fingerprint_of("token-one"))
    assert (await one.live()).requests_per_minute == 8
    assert (await one.subscription()).tokens_used == 8
    assert sum(e.requests for e in (await one.endpoint_usage("today")).endpoints) == 8
    assert (await one.metrics(days=1)).daily[-1].requests == 8
    split = await meter.endpoint_usage("today", by_instance=True)
    assert {(e.instance, e.requests) for e in split.endpoints} == {("host-a", 4), ("host-b", 6)}


@pytest.mark.parametrize("timeframe", ["today", "week", "30d"])
async def test_endpoint_table_from_hourly_sums_equals_the_raw_records(tmp_path, timeframe):
    """Whole hours come from the hourly sums, the edges from raw records: same figures."""
    import random

    from ht_dash.meter.source import timeframe_window

    rng = random.Random(7)
    db = tmp_path / "meter.sqlite3"
    now = datetime(2025, 3, 12, 12, 34, 56, 789000, tzinfo=UTC)
    records = [
        Record(
            now.timestamp() - rng.uniform(0, 40 * 86400),
            rng.choice(["GET", "POST"]),
            rng.choice(["/a", "/b/{id}", "/c"]),
            rng.choice([200, 200, 200, 429, 500, 404, 304]),
            rng.uniform(1, 100),
            0,
            None,
            None,
        )
        for _ in range(3000)
    ]
    with Recorder(db, retention_days=KEEP_FOREVER) as recorder:
        for record in records:
            recorder.add(record)
    report = await MeterSource(db, clock=FixedClock(now)).endpoint_usage(timeframe)
    start, end = (t.timestamp() for t in timeframe_window(timeframe, now))
    expected = {}
    for r in records:
        if start <= r.ts <= end:
            expected.setdefault(f"{r.method} {r.path}", []).append(r)
    assert {e.key for e in report.endpoints} == set(expected)
    for e in report.endpoints:
        rows = expected[e.key]
        assert e.requests == len(rows)
        assert e.throttled == sum(r.status == 429 for r in rows)
        assert e.errors == sum(r.status in (500, 404) for r in rows)
        assert e.avg_latency_ms == pytest.approx(sum(r.latency_ms for r in rows) / len(rows))
        assert e.calls_per_hour == pytest.approx(len(rows) / len({int(r.ts // 3600) for r in rows}))
        span = max(r.ts for r in rows) - min(r.ts for r in rows)
        assert e.mean_interval_s == pytest.approx(span / (len(rows) - 1))


def test_meter_store_setting_from_config_and_environment_never_shows_its_password(isolated_home):
    from ht_dash.config import load_settings

    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('meter_store = "postgresql://team:hunter2@db.example/ht"\n')
    settings = load_settings(config, env={})
    assert settings.meter_store == "postgresql://team:hunter2@db.example/ht"
    assert "hunter2" not in repr(settings) and "team:***@db.example" in repr(settings)
    env = {"HT_DASH_METER_STORE": "/tmp/other.sqlite3"}
    assert load_settings(config, env=env).meter_store == "/tmp/other.sqlite3"


def test_stores_and_metrics_never_import_textual():
    import subprocess
    import sys

    code = (
        "import sys, ht_dash.meter.store.postgres, ht_dash.meter.store.sqlite, "
        "ht_dash.meter.metrics, ht_dash.meter.recorder\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


async def test_instance_names_from_the_store_reach_no_terminal_as_escapes(tmp_path):
    db = tmp_path / "meter.sqlite3"
    with Recorder(db, retention_days=KEEP_FOREVER, instance="host-a") as recorder:
        recorder.add(rec(1))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE requests SET instance = 'evil\x1b]0;pwned\x07host'")
    meter = MeterSource(db, clock=FixedClock(NOW))
    live = await meter.live()
    assert [i.instance for i in live.instances] == ["evil]0;pwnedhost"]
    conn = sqlite3.connect(db)
    conn.execute("UPDATE endpoint_days SET instance = 'evil\x1b[2Jhost'")
    conn.execute("UPDATE hourly SET instance = 'evil\x1b[2Jhost'")
    conn.commit()
    conn.close()
    split = await meter.endpoint_usage("30d", by_instance=True)
    assert {e.instance for e in split.endpoints} <= {"evil[2Jhost", "evil]0;pwnedhost"}
