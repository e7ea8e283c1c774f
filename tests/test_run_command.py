"""`ht-dash run -- CMD`: a bot through the meter without editing it, and the summary at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ht_dash.meter.source import MeterSource
from realserver import BASE_PATH, REAL_TOKEN, RealServer
from test_cli_support import run_cli

BOT = textwrap.dedent(
    """
    import os, signal, sys, httpx
    base = os.environ["HYPERTRACKER_BASE_URL"].rstrip("/")
    prefix = {"origin": "/api/external", "api": "/external", "external": ""}[sys.argv[2]]
    headers = {"Authorization": "Bearer " + os.environ["BOT_TOKEN"]}
    with httpx.Client(base_url=base + prefix, headers=headers) as client:
        for i in range(int(sys.argv[1])):
            client.get("/positions" if i % 4 == 0 else "/hypertracker/state/status")
    print("bot: done", flush=True)
    sys.exit(int(os.environ.get("BOT_EXIT", "0")))
    """
)


@pytest.fixture
def real(monkeypatch, tmp_path):
    with RealServer(rate_limit=10_000) as server:
        monkeypatch.setenv("BOT_TOKEN", REAL_TOKEN)
        monkeypatch.setenv("HT_DASH_TOKEN", REAL_TOKEN)
        monkeypatch.setenv("HT_DASH_BASE_URL", server.base_url)
        (tmp_path / "bot.py").write_text(BOT)
        yield server


@pytest.mark.parametrize(
    ("base_path", "bot_base"), [("", "origin"), ("/api", "api"), ("/api/external", "external")]
)
def test_a_bot_through_run_is_counted_whichever_base_it_uses(
    real, capfd, tmp_path, monkeypatch, base_path, bot_base
):
    monkeypatch.setenv("BOT_EXIT", "3")
    bot = [sys.executable, str(tmp_path / "bot.py"), "40", bot_base]
    code, out, _ = run_cli(
        capfd, "run", "--plan", "pulse", "--base-path", base_path, "--json", "--", *bot
    )
    assert code == 3  # the bot's own exit code
    summary = json.loads(out[out.index("{") :])
    assert summary["requests"] == 40 and summary["errors"] == 0
    assert summary["tokens_spent"] == 40
    assert {e["path"]: e["requests"] for e in summary["endpoints"]} == {
        "/hypertracker/state/status": 30,
        "/positions": 10,
    }
    assert len(real.data_requests()) == 40
    assert all(s.path.startswith(BASE_PATH + "/") for s in real.seen)  # forwarded as sent


def test_a_few_hundred_requests_then_the_dashboard_sources_see_them(real, capfd, tmp_path):
    from ht_dash.clock import SystemClock

    bot = [sys.executable, str(tmp_path / "bot.py"), "300", "external"]
    code, out, err = run_cli(capfd, "run", "--plan", "flow", "--", *bot)
    assert code == 0
    assert "bot: done" in out  # the bot's own output is not swallowed
    assert "ht-dash run: 300 requests" in err and "0 errors · 0 429s" in err
    assert "usage tokens spent: 300 = 0.07 % of the Flow plan's monthly quota (400,000)" in err
    assert "GET /hypertracker/state/status" in err and "p95" in err

    import asyncio

    meter = MeterSource.open_default(clock=SystemClock())
    live = asyncio.run(meter.live())
    report = asyncio.run(meter.endpoint_usage("today"))
    assert live.requests_per_minute == 300
    assert sum(e.requests for e in report.endpoints) == 300


def test_the_env_option_sets_more_variable_names(real, capfd, tmp_path):
    script = "import os; print(os.environ['MY_API'], os.environ['HYPERTRACKER_BASE_URL'])"
    code, out, _ = run_cli(capfd, "run", "--env", "MY_API", "--", sys.executable, "-c", script)
    first, second = out.split()[:2]
    assert code == 0 and first == second and first.startswith("http://127.0.0.1:")
    assert first.endswith("/api/external")


def test_a_command_that_does_not_exist_exits_127_with_one_line(real, capfd):
    code, out, err = run_cli(capfd, "run", "--", "no-such-bot-command-xyz")
    assert code == 127
    assert err == "ht-dash run: no-such-bot-command-xyz: command not found\n"
    assert out == ""


def test_ctrl_c_reaches_the_bot_first_and_the_summary_is_still_printed(real, tmp_path):
    bot = tmp_path / "slow_bot.py"
    bot.write_text(
        textwrap.dedent(
            """
            import os, signal, sys, time, httpx
            client = httpx.Client(
                base_url=os.environ["HYPERTRACKER_BASE_URL"],
                headers={"Authorization": "Bearer " + os.environ["BOT_TOKEN"]},
            )
            def stop(signum, frame):
                client.get("/positions")  # a last request after Ctrl-C: it must be counted
                print("bot: interrupted", flush=True)
                sys.exit(130)
            signal.signal(signal.SIGINT, stop)
            for _ in range(5):
                client.get("/hypertracker/state/status")
            print("bot: ready", flush=True)
            while True:
                time.sleep(0.1)
            """
        )
    )
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ht_dash", "run", "--json", "--", sys.executable, str(bot)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "bot: ready"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "bot: interrupted" in out
    summary = json.loads(out[out.index("{") :])
    assert summary["requests"] == 6 and summary["exit_code"] == 130
    time.sleep(0)  # records are on disk once run returned
    import asyncio

    from ht_dash.clock import SystemClock

    report = asyncio.run(MeterSource.open_default(clock=SystemClock()).endpoint_usage("today"))
    assert sum(e.requests for e in report.endpoints) == 6  # no record lost


STREAM_BOT = textwrap.dedent(
    """
    import asyncio, json, os, sys
    sys.path.insert(0, sys.argv[1])
    from stream_harness import Bot
    from urllib.parse import urlsplit

    async def main():
        url = urlsplit(os.environ["HYPERTRACKER_WS_URL"])
        assert os.environ["MY_WS"] == os.environ["HYPERTRACKER_WS_URL"]
        async with Bot(url.port, url.path) as bot:
            bot.send(json.dumps({"id": 1, "subscribe": {"channel": "trades:BTC"}}))
            for _ in range(4):
                await bot.recv()
        print("bot: streamed", url.geturl(), flush=True)

    asyncio.run(main())
    """
)


def test_run_points_the_bots_stream_at_the_meter_and_counts_it(real, capfd, tmp_path):
    from pathlib import Path

    from stream_harness import CentrifugoServer

    (tmp_path / "stream_bot.py").write_text(STREAM_BOT)
    tests_dir = str(Path(__file__).parent)
    with CentrifugoServer(publications=3) as centrifugo:
        code, out, _ = run_cli(
            capfd, "run", "--stream-upstream", centrifugo.url, "--stream-env", "MY_WS", "--json",
            "--", sys.executable, str(tmp_path / "stream_bot.py"), tests_dir,
        )  # fmt: skip
    assert code == 0
    streamed = out.split("bot: streamed ", 1)[1].split()[0]
    summary = json.loads(out[out.index("{") :])
    assert streamed == summary["stream_url"]
    assert streamed.startswith("ws://127.0.0.1:") and streamed.endswith("/connection/websocket")
    assert summary["streams"] == {"relayed": 1, "publications": 3}
    assert len(centrifugo.sent) == 4
