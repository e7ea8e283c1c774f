"""`ht-dash meter` pieces that need no server: options, warnings, the live line."""

from __future__ import annotations

import pytest

from ht_dash import cli
from ht_dash.commands.errors import EXIT_USAGE
from ht_dash.commands.meter import listen_warning, live_line
from ht_dash.meter.proxy import MeterProxy, Upstream
from ht_dash.meter.recorder import Record, Recorder


def test_non_loopback_listen_is_warned_about():
    assert listen_warning("127.0.0.1") is None
    assert listen_warning("::1") is None
    assert listen_warning("localhost") is None
    warning = listen_warning("0.0.0.0")
    assert warning and "0.0.0.0" in warning and "unencrypted" in warning


def test_live_line_reports_rates_and_dropped_records(tmp_path):
    recorder = Recorder(tmp_path / "m.sqlite3")
    proxy = MeterProxy(Upstream("http", "127.0.0.1", 9, ""), recorder)
    for latency, status in [(5.0, 200)] * 18 + [(40.0, 429), (80.0, 502)]:
        proxy.stats.add(latency, status)
    line = live_line(proxy, recorder, now=0)
    assert "20 req/min" in line and "1×429" in line and "1 errors" in line
    assert "p95 40 ms" in line and "20 total" in line
    assert "NOT recorded" not in line
    recorder.dropped, recorder.last_error = 3, "database is locked (meter.sqlite3)"
    assert "3 NOT recorded (database is locked (meter.sqlite3))" in live_line(proxy, recorder)


def test_bad_options_are_usage_errors_before_anything_starts(isolated_home, capsys):
    assert cli.main(["meter", "--upstream", "http://example.com"]) == EXIT_USAGE
    assert "unencrypted" in capsys.readouterr().err
    assert cli.main(["meter", "--plan", "platinum"]) == EXIT_USAGE
    assert "valid plan ids: free, pulse" in capsys.readouterr().err
    assert cli.main(["meter", "--listen", "127.0.0.1:99999"]) == EXIT_USAGE
    assert not (isolated_home / "data" / "meter.sqlite3").exists()


def test_port_in_use_is_a_clear_error(isolated_home, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = cli.main(["meter", "--listen", f"127.0.0.1:{port}", "--quiet"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--listen" in err


@pytest.mark.parametrize("status", [200, 201, 204])
def test_successful_responses_count_as_tokens(tmp_path, status):
    import sqlite3

    path = tmp_path / "m.sqlite3"
    with Recorder(path) as recorder:
        import time

        recorder.add(Record(time.time(), "GET", "/x", status, 1.0, 0, None, None))
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT requests, ok FROM daily").fetchall() == [(1, 1)]
