"""Real mode: a real-looking token against the stand-in for the real service (no account API).

Every command answers from wherever it can (the API, else the local meter, else the declared
plan), says where from, and never calls a "not offered" answer a bug.
"""

from __future__ import annotations

import json
import time

import pytest

from ht_dash.meter.recorder import Record, Recorder
from ht_dash.meter.source import default_db_path
from realserver import BASE_PATH, REAL_TOKEN, RealServer
from test_cli_support import run_cli


@pytest.fixture
def real(monkeypatch):
    with RealServer() as server:
        monkeypatch.setenv("HT_DASH_TOKEN", REAL_TOKEN)
        monkeypatch.setenv("HT_DASH_BASE_URL", server.base_url)
        yield server


def record_traffic(token: str = REAL_TOKEN, requests: int = 120, *, path="/positions") -> None:
    """Bot traffic in the meter's database, as `ht-dash meter` records it: the last minutes."""
    recorder = Recorder(default_db_path())
    recorder.start()
    fp = recorder.fingerprint(token)
    now = time.time()
    for i in range(requests):
        status = 429 if i % 40 == 39 else 200
        recorder.add(Record(now - 5 - i * 0.5, "GET", path, status, 12.0 + i % 5, 100, None, fp))
    recorder.close()


def no_bug(*texts: str) -> None:
    """No "this is a bug" line (the word is checked on its own, not inside a path)."""
    for text in texts:
        assert " bug" not in text.lower(), text


COMMANDS = ("status", "usage", "metrics", "billing", "history")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_what_would_answer_with_an_empty_meter_and_no_plan(
    real, capsys, command
):
    code, out, err = run_cli(capsys, command)
    no_bug(out, err)
    assert code == 6  # not available here
    assert err.startswith("ht-dash: ") and "  hint: " in err
    assert ("ht-dash plan set" in err) or ("ht-dash run --" in err) or ("web dashboard" in err)


def test_status_with_a_declared_plan_shows_it_and_says_what_is_not_seen(real, capsys):
    assert run_cli(capsys, "plan", "set", "pulse", "--billing-day", "15")[0] == 0
    code, out, err = run_cli(capsys, "status", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["source"] == "auto"
    assert data["plan"]["id"] == "pulse"
    assert data["origins"]["subscription"]["label"] == "estimated from your plan"
    assert data["tokens"] is None and "ht-dash run --" in data["why"]["tokens"]
    assert data["rate"] is None and "ht-dash run --" in data["why"]["rate"]
    assert data["tokens"] is None
    no_bug(out, err)


def test_billing_is_estimated_from_the_declared_plan(real, capsys):
    run_cli(capsys, "plan", "set", "surge", "--billing-day", "31")
    code, out, _ = run_cli(capsys, "billing", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["amount"] == "$399.00" and data["plan_id"] == "surge"
    assert data["origins"]["next_billing"]["label"] == "estimated from your plan"


def test_with_meter_data_the_commands_answer_from_the_meter(real, capsys):
    run_cli(capsys, "plan", "set", "pulse")
    record_traffic(requests=120)
    code, out, err = run_cli(capsys, "status", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["rate"]["limit_per_minute"] == 60
    assert data["rate"]["requests_per_minute"] > 0
    assert data["tokens"]["used"] == 117  # 120 requests, 3 of them 429
    assert data["origins"]["subscription"]["label"].startswith("counted by the local meter since")
    assert data["origins"]["live"]["label"].startswith("from the local meter · since")

    code, out, _ = run_cli(capsys, "usage", "--json", "--timeframe", "today")
    assert code == 0
    usage = json.loads(out)
    assert usage["endpoints"][0]["path"] == "/positions"
    assert usage["origins"]["endpoint_usage"]["kind"] == "meter"

    code, out, _ = run_cli(capsys, "metrics", "--days", "7")
    assert code == 0 and "recorded 1 of the 7 days asked" in out


def test_the_commands_send_nothing_to_the_data_api(real, capsys):
    run_cli(capsys, "plan", "set", "pulse")
    for command in COMMANDS:
        run_cli(capsys, command)
    assert real.seen, "the account paths were asked"
    assert real.data_requests() == []
    assert all(seen.path.startswith(BASE_PATH + "/account/") for seen in real.seen)


def test_an_unknown_token_is_still_an_authentication_problem(real, capsys, monkeypatch):
    monkeypatch.setenv("HT_DASH_TOKEN", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln")
    code, _, err = run_cli(capsys, "status")
    assert code == 3 and "401" in err


@pytest.mark.parametrize(
    "content", [b"this is not a database at all, just text" * 100, b""], ids=["garbage", "empty"]
)
def test_a_broken_meter_database_falls_to_the_plan(real, capsys, content):
    run_cli(capsys, "plan", "set", "flow")
    db = default_db_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(content)
    code, out, err = run_cli(capsys, "status", "--json")
    data = json.loads(out)
    assert code == 0, err
    assert data["plan"]["id"] == "flow"
    assert data["origins"]["subscription"]["kind"] == "plan"
    assert data["rate"] is None and data["why"]["rate"]


def test_plan_set_with_an_unknown_id_exits_2_listing_the_valid_ids(capsys):
    code, _, err = run_cli(capsys, "plan", "set", "platinum")
    assert code == 2
    assert "unknown plan 'platinum'" in err
    assert "free, pulse, surge, flow, stream, enterprise" in err


def test_plan_is_one_setting_in_config_toml(capsys):
    from ht_dash.config import load_settings
    from ht_dash.paths import config_file

    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text('# mine\ntheme = "nord"\nplan = "free"\n')
    assert run_cli(capsys, "plan", "set", "Stream", "--billing-day", "3")[0] == 0
    assert config_file().read_text() == '# mine\ntheme = "nord"\nplan = "stream"\nbilling_day = 3\n'
    settings = load_settings(env={})
    assert (settings.plan, settings.billing_day) == ("stream", 3)
    code, out, _ = run_cli(capsys, "plan", "show")
    assert code == 0 and out.startswith("Stream · $1,999.00/month")
    assert "reset time assumed" in out


# ---- the token commands ------------------------------------------------------------------------


def test_auth_status_and_token_show_say_what_the_token_says_and_exit_0(real, capsys):
    code, out, err = run_cli(capsys, "auth", "status")
    assert code == 0, err
    assert "Subject:  user_8f3a2c (from the token itself)" in out
    assert "Member id: 41873" in out
    assert "Account:  not offered by the API to tokens" in out
    no_bug(out, err)

    record_traffic(requests=3)
    code, out, err = run_cli(capsys, "token", "show")
    assert code == 0, err
    assert "issued at:  2025-11-24 16:00 UTC" in out
    assert "member id:  41873" in out
    assert "(seen by the local meter)" in out
    no_bug(out, err)


def test_auth_check_spends_one_data_request_and_says_so_first(real, capsys):
    code, out, err = run_cli(capsys, "auth", "check")
    assert code == 0
    assert err.startswith("ht-dash: checking eyJhbG…")
    assert "may spend one usage token" in err
    assert out.startswith("Valid:")
    assert [s.path for s in real.data_requests()] == [BASE_PATH + "/hypertracker/state/status"]


def test_auth_check_reports_a_rejected_token(real, capsys, monkeypatch):
    monkeypatch.setenv("HT_DASH_TOKEN", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln")
    code, out, err = run_cli(capsys, "auth", "check")
    assert code == 3 and out.startswith("Rejected (401)")
    assert "ht-dash login" in err


def test_auth_check_reports_rate_limited(capsys, monkeypatch):
    with RealServer(rate_limit=0) as server:
        monkeypatch.setenv("HT_DASH_TOKEN", REAL_TOKEN)
        monkeypatch.setenv("HT_DASH_BASE_URL", server.base_url)
        code, out, err = run_cli(capsys, "auth", "check")
    assert code == 5 and out.startswith("Rate-limited")
    assert "retry in 42 s" in err


@pytest.mark.parametrize(("flag", "checked"), [("--no-check", False), ("--check", True)])
def test_login_where_the_api_offers_no_profile_checks_only_when_asked(
    real, capsys, monkeypatch, flag, checked
):
    import io

    monkeypatch.delenv("HT_DASH_TOKEN")
    monkeypatch.setattr("sys.stdin", io.StringIO(REAL_TOKEN + "\n"))
    code, out, err = run_cli(capsys, "login", "--with-token", flag)
    assert code == 0, err
    assert ("the token works" in out) is checked
    assert ("token not checked" in out) is not checked
    assert len(real.data_requests()) == (1 if checked else 0)
    no_bug(out, err)


def test_meter_plan_is_the_same_setting_as_plan_set(capsys, monkeypatch):
    from ht_dash.commands import meter
    from ht_dash.config import load_settings
    from ht_dash.meter.store import open_store

    assert meter._effective_plan(open_store(None), "surge") == "Surge"
    assert load_settings(env={}).plan == "surge"
    code, out, _ = run_cli(capsys, "plan", "show")
    assert out.startswith("Surge")
    run_cli(capsys, "plan", "set", "flow")
    assert meter._effective_plan(open_store(None), None, load_settings(env={}).plan) == "Flow"


def test_another_tokens_traffic_in_the_meter_is_not_counted(real, capsys):
    run_cli(capsys, "plan", "set", "pulse")
    record_traffic(requests=40)
    record_traffic("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvdGhlciJ9.b3RoZXJzaWduYXR1cmU", 500)
    code, out, err = run_cli(capsys, "status", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["tokens"]["used"] == 39  # 40 requests with this token, one a 429
    assert data["rate"]["requests_per_minute"] == 40
    code, out, _ = run_cli(capsys, "usage", "--json", "--timeframe", "today")
    assert sum(e["requests"] for e in json.loads(out)["endpoints"]) == 40
