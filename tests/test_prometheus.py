"""`ht-dash meter --metrics-listen`: Prometheus exposition on its own port, counts equal to the
store's, route templates as labels (never raw paths or tokens)."""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ht_dash import cli
from ht_dash.commands.meter import metrics_listen_warning
from ht_dash.meter.metrics import MAX_ROUTES, OTHER_ROUTE, MeterMetrics
from ht_dash.meter.proxy import MeterProxy, Upstream
from ht_dash.meter.recorder import Record, Recorder
from ht_dash.meter.store import open_store
from test_meter_proxy import SENTINEL, FakeApi


@pytest.fixture
def fake_api():
    server = FakeApi()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def _samples(text: str) -> dict[str, list]:
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = family.samples
    return families


async def test_metrics_count_what_the_store_holds(fake_api, pg_url):
    metrics = MeterMetrics("host-a")
    recorder = Recorder(open_store(pg_url), instance="host-a", observer=metrics.observe)
    recorder.start()
    metrics.attach(recorder)
    host, port = metrics.serve("127.0.0.1", 0)
    proxy = MeterProxy(Upstream("http", "127.0.0.1", fake_api.server_address[1], ""), recorder)
    proxy.port = 0
    await proxy.start()
    paths = (
        [f"/api/external/segments/{n}/summary" for n in range(12)]
        + ["/api/external/limited"] * 3
        + ["/api/external/boom"] * 2
        + [f"/api/external/segments?apiKey={SENTINEL}", f"/api/external/echo/{SENTINEL}"]
    )
    try:
        async with httpx.AsyncClient(base_url=proxy.url) as client:
            for path in paths:
                await client.get(path, headers={"Authorization": f"Bearer {SENTINEL}"})
            await client.post("/api/external/info", content=b"{}")
        assert recorder.flush(5)
        async with httpx.AsyncClient() as scraper:
            response = await scraper.get(f"http://{host}:{port}/metrics")
    finally:
        await proxy.close()
        recorder.close()
        metrics.close()
    assert response.status_code == 200
    text = response.text
    assert SENTINEL not in text and "apiKey" not in text
    families = _samples(text)

    requests = {
        (s.labels["route"], s.labels["method"], int(s.labels["code"])): int(s.value)
        for s in families["htdash_requests"]
        if s.name == "htdash_requests_total"
    }
    assert all(s.labels["instance"] == "host-a" for s in families["htdash_requests"])
    store = open_store(pg_url)
    try:
        stored = {
            (path, method, status): count
            for path, method, status, count in store.query(
                "SELECT path, method, status, COUNT(*) FROM requests GROUP BY 1, 2, 3"
            )
        }
    finally:
        store.close()
    assert requests == stored
    assert requests[("/segments/{id}/summary", "GET", 200)] == 12
    assert requests[("/echo/{token}", "GET", 200)] == 1

    limited = {s.labels["route"]: s.value for s in families["htdash_rate_limited"]}
    assert limited == {"/limited": 3.0}
    counts = {
        s.labels["route"]: s.value
        for s in families["htdash_request_duration_seconds"]
        if s.name == "htdash_request_duration_seconds_count"
    }
    assert counts["/segments/{id}/summary"] == 12
    written = families["htdash_records_written"][0]
    dropped = families["htdash_records_dropped"][0]
    assert written.value == len(paths) + 1 == sum(stored.values())
    assert dropped.name == "htdash_records_dropped_total" and dropped.value == 0


def test_routes_are_capped_so_series_stay_bounded():
    metrics = MeterMetrics("host-a")
    for n in range(MAX_ROUTES + 5):
        metrics.observe(Record(0.0, "GET", f"/odd-{n}", 200, 1.0, 0, None, None))
    metrics.observe(Record(0.0, "BREW", "/odd-1", 200, 1.0, 0, None, None))
    routes = {
        s.labels["route"]
        for s in _samples(metrics.exposition().decode())["htdash_requests"]
        if s.name == "htdash_requests_total"
    }
    assert len(routes) == MAX_ROUTES + 1 and OTHER_ROUTE in routes
    methods = {
        s.labels["method"] for s in _samples(metrics.exposition().decode())["htdash_requests"]
    }
    assert methods == {"GET", "_OTHER"}


def test_non_loopback_metrics_listen_is_warned_about():
    assert metrics_listen_warning("127.0.0.1") is None
    warning = metrics_listen_warning("0.0.0.0")
    assert warning and "0.0.0.0" in warning


def test_bad_metrics_listen_is_a_usage_error(isolated_home, capsys):
    assert cli.main(["meter", "--metrics-listen", "127.0.0.1:99999"]) == cli.EXIT_USAGE
    assert cli.main(["meter", "--instance", "bad name!"]) == cli.EXIT_USAGE
    assert "--instance" in capsys.readouterr().err


def test_dashboard_commands_import_neither_psycopg_nor_prometheus_client(tmp_path):
    code = (
        "import sys\n"
        "from ht_dash import cli\n"
        "cli.main(['--demo', 'status', '--json'])\n"
        "cli.main(['--source', 'meter', 'status', '--json'])\n"
        "lazy = ('psycopg', 'prometheus_client')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in lazy)\n"
        "assert not bad, bad"
    )
    env = {"HT_DASH_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
