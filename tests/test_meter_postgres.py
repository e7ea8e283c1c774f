"""The meter on a PostgreSQL store (a throwaway cluster, tests/pg_server.py): the same figures as
SQLite, several meters on one store, outages, secrets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from auth_harness import screen_text
from ht_dash import cli
from ht_dash.clock import FixedClock
from ht_dash.config import Settings
from ht_dash.meter.proxy import MeterProxy, Upstream
from ht_dash.meter.recorder import Record, Recorder
from ht_dash.meter.source import MeterSource, set_plan
from ht_dash.meter.store import SCHEMA_VERSION, StoreTooNew, open_store
from ht_dash.meter.store.postgres import PostgresStore, redact_url
from ht_dash.runtime import Runtime
from ht_dash.tui.app import make_app
from pg_server import PASSWORD, PASSWORD_ROLE
from test_cli_commands import STATUS_SCHEMA
from test_cli_support import validate
from test_meter_proxy import SENTINEL, FakeApi, _raw_get
from ui_harness import wait_until

NOW = datetime(2025, 3, 12, 12, 0, 30, tzinfo=UTC)
T = NOW.timestamp()
KEEP_FOREVER = 365_000


@pytest.fixture
def fake_api():
    server = FakeApi()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server
    server.release.set()
    server.first_chunk_seen.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def _records() -> list[Record]:
    def rec(ago, path, status=200, latency=10.0, method="GET", fp="ab12cd34"):
        retry = 42.0 if status == 429 else None
        return Record(T - ago, method, path, status, latency, 100, retry, fp)

    return [
        rec(30, "/segments/{id}/summary", 200, 10.0),
        rec(20, "/segments/{id}/summary", 429, 20.0),
        rec(0, "/segments/{id}/summary", 500, 30.0),
        rec(100, "/positions", 200, 5.0),
        rec(3700, "/positions", 200, 7.0),
        rec(90, "/info", 201, 50.0, method="POST"),
        rec(86400, "/positions", 200, 9.0),
        rec(10 * 86400, "/positions", 404, 11.0),
        rec(40 * 86400, "/segments", 200, 1.0, fp=None),
        rec(5, "/positions", 304, 3.0),
    ]


async def _figures(source: MeterSource) -> dict:
    return {
        "live": await source.live(window_minutes=15),
        "live_1s": await source.live(window_minutes=1, interval_seconds=1),
        "usage": [await source.endpoint_usage(t) for t in ("today", "week", "month", "30d", "90d")],
        "daily": [
            await source.endpoint_daily("GET", "/positions", t) for t in ("today", "30d", "90d")
        ],
        "split": await source.endpoint_usage("30d", by_instance=True),
        "percentiles": await source.latency_percentiles("90d"),
        "metrics": await source.metrics(30),
        "subscription": await source.subscription(),
    }


async def test_postgresql_gives_the_same_figures_as_sqlite(pg_url, tmp_path):
    for target in (tmp_path / "meter.sqlite3", open_store(pg_url)):
        with Recorder(target, retention_days=KEEP_FOREVER, instance="host-a") as recorder:
            for record in _records():
                recorder.add(record)
        assert recorder.written == len(_records()) and recorder.dropped == 0
    sqlite = MeterSource(tmp_path / "meter.sqlite3", clock=FixedClock(NOW))
    postgres = MeterSource(open_store(pg_url), clock=FixedClock(NOW))
    try:
        expected, got = await _figures(sqlite), await _figures(postgres)
    finally:
        await postgres.aclose()
    for name in expected:
        assert got[name] == expected[name], name
    assert got["subscription"].tokens_used == 5  # 2xx since the 1st: not the 304, 429, 500


def test_schema_is_versioned_and_a_newer_store_is_refused(pg_url):
    store = PostgresStore(pg_url)
    store.open_for_writing()
    store.open_for_writing()  # a second meter starting: nothing to do
    versions = [v for (v,) in store.query("SELECT version FROM migrations ORDER BY 1")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    indexes = {name for (name,) in store.query("SELECT indexname FROM pg_indexes")}
    assert {"requests_ts", "requests_fp_ts"} <= indexes
    store.query("INSERT INTO migrations VALUES (?, 0, '99.0')", (SCHEMA_VERSION + 1,), fetch=False)
    store.close()
    with pytest.raises(StoreTooNew, match="newer ht-dash"):
        Recorder(PostgresStore(pg_url)).start()


def test_meters_starting_at_once_on_an_empty_store_take_turns(pg_server):
    """Found by hand: the second meter to get the schema lock still saw no tables (a name lookup
    that takes no lock keeps the catalog cache of before the wait) and failed on migrations."""
    failures: list[BaseException] = []

    def start(store: PostgresStore) -> None:
        try:
            store.open_for_writing()
        except Exception as exc:
            failures.append(exc)
        finally:
            store.close()

    for _ in range(3):
        url = pg_server.url(db=pg_server.create_database())
        stores = [PostgresStore(url) for _ in range(4)]

        threads = [threading.Thread(target=start, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert failures == []
        check = PostgresStore(url)
        assert check.schema_version() == SCHEMA_VERSION
        check.close()


async def test_meters_on_one_store_share_the_fingerprint_key(pg_url):
    fps = []
    for instance in ("host-a", "host-b"):
        with Recorder(open_store(pg_url), instance=instance) as recorder:
            fps.append(recorder.fingerprint("the-token"))
            recorder.add(Record(time.time(), "GET", "/x", 200, 1.0, 0, None, fps[-1]))
            recorder.add(
                Record(time.time(), "GET", "/x", 200, 1.0, 0, None, recorder.fingerprint("other"))
            )
    assert fps[0] == fps[1]
    meter = MeterSource(open_store(pg_url))
    try:
        fp = await meter.fingerprint_of("the-token")
        assert fp == fps[0]
        assert (await meter.live()).requests_per_minute == 4
        one = MeterSource(open_store(pg_url), token_fp=fp)
        live = await one.live()
        assert live.requests_per_minute == 2
        assert sorted(i.instance for i in live.instances) == ["host-a", "host-b"]
        assert (await one.subscription()).tokens_used == 2
        await one.aclose()
    finally:
        await meter.aclose()


def _start_meter(upstream_port: int, store_url: str, instance: str, *extra: str):
    command = [
        sys.executable, "-m", "ht_dash", "meter", "--listen", "127.0.0.1:0",
        "--upstream", f"http://127.0.0.1:{upstream_port}", "--interval", "0.2",
        "--store", store_url, "--instance", instance, *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        banner = next((line for line in lines if "ht-dash meter: http://127.0.0.1:" in line), None)
        if banner:
            port = int(banner.split("http://127.0.0.1:", 1)[1].split()[0])
            return proc, port, lines
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"meter did not start: {proc.stderr.read()}")


def _stop_meter(proc) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    return code, err


def test_two_meters_on_one_store_are_read_as_one_team(fake_api, pg_url, capsys):
    """Two hosts' meters (different --instance), 500 requests each, one PostgreSQL store."""
    meters = [_start_meter(fake_api.server_address[1], pg_url, name) for name in ("bot-a", "bot-b")]
    try:

        async def send(port: int, count: int) -> list[int]:
            statuses = []
            for n in range(count):
                status, _ = await _raw_get(port, f"/api/external/segments/{n % 7}/summary")
                statuses.append(status)
            return statuses

        async def both() -> list[list[int]]:
            return await asyncio.gather(*(send(port, 500) for _, port, _ in meters))

        results = asyncio.run(both())
        assert all(statuses == [200] * 500 for statuses in results)
    finally:
        stops = [_stop_meter(proc) for proc, _, _ in meters]
    assert [code for code, _ in stops] == [0, 0]
    assert all("500 recorded" in "".join(lines) for _, _, lines in meters)

    assert cli.main(["--source", "meter", "--store", pg_url, "usage", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["requests"] == 1000
    assert (
        cli.main(["--source", "meter", "--store", pg_url, "usage", "--by", "instance", "--json"])
        == 0
    )
    split = json.loads(capsys.readouterr().out)
    assert split["instances"] == ["bot-a", "bot-b"]
    assert {(e["instance"], e["requests"]) for e in split["endpoints"]} == {
        ("bot-a", 500),
        ("bot-b", 500),
    }
    # What screen 4 and `status` get: both hosts, each with its own req/min.
    assert cli.main(["--source", "meter", "--store", pg_url, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    validate(status, STATUS_SCHEMA)
    assert status["rate"]["requests_per_minute"] == 1000
    assert {(i["instance"], i["requests_per_minute"]) for i in status["instances"]} == {
        ("bot-a", 500),
        ("bot-b", 500),
    }

    # The app's screen 4 shows both hosts under the team's gauge; the header names the store.
    async def screen_4() -> tuple[str, str]:
        runtime = Runtime(settings=Settings(source="meter", meter_store=pg_url))
        app = make_app(runtime, live=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("4")
            await wait_until(pilot, lambda: "bot-b" in screen_text(app), step=0.05, what="hosts")
            return screen_text(app), app.screen.query_one("#nav-context").content

    text, header = asyncio.run(screen_4())
    assert "2 hosts on this token" in text
    for host in ("bot-a", "bot-b"):
        assert any(host in line and "500/min" in line for line in text.splitlines()), host
    assert header.startswith(f"meter {redact_url(pg_url)}") and "local meter" not in header


async def test_postgresql_stopped_mid_load_loses_nothing_and_the_bot_sees_no_error(
    fake_api, pg_server, pg_url
):
    recorder = Recorder(open_store(pg_url), instance="host-a", flush_interval=0.05)
    recorder.start()
    proxy = MeterProxy(Upstream("http", "127.0.0.1", fake_api.server_address[1], ""), recorder)
    proxy.port = 0
    await proxy.start()
    statuses: list[int] = []
    try:
        async with httpx.AsyncClient(base_url=proxy.url) as client:

            async def burst(count: int) -> None:
                for n in range(count):
                    response = await client.get(f"/api/external/segments/{n}")
                    statuses.append(response.status_code)

            await burst(100)
            assert await asyncio.to_thread(recorder.flush, 5)
            await asyncio.to_thread(pg_server.stop, "fast")
            try:
                await burst(150)  # PostgreSQL is down: forwarding goes on
                await asyncio.sleep(0.5)
                assert recorder.waiting_for_store and recorder.pending > 0
            finally:
                await asyncio.to_thread(pg_server.start)
            await burst(50)
            assert await asyncio.to_thread(recorder.flush, 20)
    finally:
        await proxy.close()
        recorder.close()
    assert statuses == [200] * 300
    assert recorder.dropped == 0 and recorder.written == 300
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone() == (300,)
        assert conn.execute("SELECT SUM(requests) FROM daily").fetchone() == (300,)


def test_past_the_bound_records_are_dropped_and_counted(pg_server):
    store = PostgresStore(pg_server.url(db="no_such_database"))
    recorder = Recorder(store, max_pending=10, flush_interval=0.05)
    recorder.start()
    try:
        assert recorder.waiting_for_store
        for _ in range(25):
            recorder.add(Record(time.time(), "GET", "/x", 200, 1.0, 0, None, None))
        assert recorder.dropped == 15 and recorder.pending == 10
        assert not recorder.flush(0.3)
    finally:
        recorder.close(timeout=0.5)


async def test_the_token_never_reaches_the_store(fake_api, pg_url):
    recorder = Recorder(open_store(pg_url), instance="host-a")
    recorder.start()
    proxy = MeterProxy(Upstream("http", "127.0.0.1", fake_api.server_address[1], ""), recorder)
    proxy.port = 0
    await proxy.start()
    try:
        async with httpx.AsyncClient(base_url=proxy.url) as client:
            for path in (
                "/api/external/segments/1/summary",
                f"/api/external/segments?apiKey={SENTINEL}",
                f"/api/external/echo/{SENTINEL}",
            ):
                await client.get(path, headers={"Authorization": f"Bearer {SENTINEL}"})
    finally:
        await proxy.close()
        recorder.close()
    with psycopg.connect(pg_url) as conn:
        for table in ("requests", "daily", "meta", "migrations"):
            (found,) = conn.execute(
                f"SELECT COUNT(*) FROM {table} t WHERE t::text LIKE %s", ("%SENTINEL%",)
            ).fetchone()
            assert found == 0, table
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone() == (3,)


def test_a_password_in_the_url_is_never_shown(pg_server, fake_api, capsys, monkeypatch):
    name = pg_server.create_database(owner=PASSWORD_ROLE)
    url = pg_server.url(user=PASSWORD_ROLE, db=name, password=PASSWORD)
    assert redact_url(url) == f"postgresql://{PASSWORD_ROLE}:***@127.0.0.1:{pg_server.port}/{name}"
    assert PASSWORD not in redact_url(url + "?password=" + PASSWORD)
    store = PostgresStore(url)
    assert PASSWORD not in repr(store) + store.label + repr(MeterSource(store))

    # A wrong password: the error names the store, not the password.
    wrong = url.replace(PASSWORD, "wrong-" + PASSWORD)
    with pytest.raises(Exception) as info:
        set_plan("pulse", PostgresStore(wrong))
    assert PASSWORD not in str(info.value) and "***" in str(info.value)

    # The meter and the readers, with the password in the URL (and then in the environment).
    proc, port, lines = _start_meter(
        fake_api.server_address[1], url, "pw-host", "--metrics-listen", "127.0.0.1:0"
    )
    try:
        status, _ = asyncio.run(_raw_get(port, "/api/external/segments/1/summary"))
        assert status == 200
        metrics_line = next(line for line in lines if "/metrics" in line)
        metrics_url = metrics_line.split("at ", 1)[1].strip()
        exposition = httpx.get(metrics_url).text
        assert "htdash_requests_total" in exposition
    finally:
        code, err = _stop_meter(proc)
    assert code == 0
    assert "PGPASSWORD" in err  # the password on the command line is warned about
    output = "".join(lines) + err + exposition
    assert PASSWORD not in output and "***" in output
    monkeypatch.setenv("HT_DASH_METER_STORE", url)
    assert cli.main(["--source", "meter", "usage", "--json"]) == 0

    async def app_text() -> str:  # the header names the store, password masked
        app = make_app(Runtime(settings=Settings(source="meter", meter_store=url)), live=False)
        async with app.run_test(size=(160, 30)) as pilot:
            await pilot.press("4")
            await wait_until(pilot, lambda: ":***@" in screen_text(app), step=0.05, what="header")
            return screen_text(app)

    text = asyncio.run(app_text())
    assert f"meter postgresql://{PASSWORD_ROLE}:***@" in text and PASSWORD not in text
    monkeypatch.setenv("HT_DASH_METER_STORE", wrong)
    assert cli.main(["--source", "meter", "--debug", "status", "--json"]) != 0
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err
    from ht_dash.config import load_settings

    assert PASSWORD not in repr(load_settings())
    log_dir = os.environ["HT_DASH_HOME"] + "/log"
    for root, _, files in os.walk(log_dir):
        for file in files:
            with open(os.path.join(root, file), errors="replace") as log:
                assert PASSWORD not in log.read()


def test_an_unreachable_store_is_a_network_problem_for_readers(pg_server, capsys):
    from pg_server import free_port

    url = f"postgresql://ht@127.0.0.1:{free_port()}/nothing"
    assert cli.main(["--source", "meter", "--store", url, "status", "--json"]) == cli.EXIT_NETWORK
    document = json.loads(capsys.readouterr().out)
    assert document["error"]["type"] == "network"
    assert "PostgreSQL unreachable" in document["error"]["message"]


def test_tokens_seen_while_the_store_was_away_get_the_store_fingerprint(pg_server, pg_url):
    with Recorder(open_store(pg_url)) as first:  # creates the store and its key
        expected = first.fingerprint("late-token")
    pg_server.stop("fast")
    try:
        recorder = Recorder(open_store(pg_url), flush_interval=0.05)
        recorder.start()  # PostgreSQL is down: the key is not known yet
        assert recorder.waiting_for_store
        fp = recorder.fingerprint("late-token")
        assert "late-token" not in repr(fp)
        recorder.add(Record(time.time(), "GET", "/x", 200, 1.0, 0, None, fp))
    finally:
        pg_server.start()
    assert recorder.flush(20)
    recorder.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT token_fp FROM requests").fetchall() == [(expected,)]
