"""Exit codes, retries and error output of the scriptable commands."""

from __future__ import annotations

import json

import httpx
import pytest

from test_cli_commands import ERROR_SCHEMA, STATUS_SCHEMA
from test_cli_support import (
    TOKEN,
    ScriptedBackend,
    install_scripted,
    run_cli,
    validate,
)


@pytest.fixture
def scripted(monkeypatch) -> ScriptedBackend:
    return install_scripted(monkeypatch)


RATE_LIMITED = {"error": "rate_limit_exceeded", "message": "Too many requests", "retry_after": 2}


def assert_one_clear_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("ht-dash: ") and lines[1].startswith("  hint: ")
    for fragment in fragments:
        assert fragment in err
    assert "Traceback" not in err
    assert TOKEN not in err


def json_error(out: str) -> dict:
    document = json.loads(out)
    validate(document, ERROR_SCHEMA)
    assert TOKEN not in out
    return document["error"]


def test_401_exits_3_and_says_to_log_in(scripted: ScriptedBackend, capsys):
    scripted.set_fault("/account", 401, {"statusCode": 401, "message": "Unauthorized"})
    code, out, err = run_cli(capsys, "--demo", "status")
    assert code == 3
    assert out == ""
    assert_one_clear_error(err, "rejected (401)", "ht-dash login")
    assert len(scripted.requests) == 2  # subscription + live, neither retried


def test_403_exits_3(scripted: ScriptedBackend, capsys):
    scripted.set_fault("/account", 403, {"statusCode": 403, "message": "Forbidden"})
    code, _, err = run_cli(capsys, "--demo", "billing")
    assert code == 3
    assert_one_clear_error(err, "403")


def test_401_with_json_also_prints_a_json_error(scripted: ScriptedBackend, capsys):
    scripted.set_fault("/account", 401, {"statusCode": 401, "message": "Unauthorized"})
    code, out, err = run_cli(capsys, "--demo", "usage", "--json")
    assert code == 3
    error = json_error(out)
    assert error["type"] == "auth" and error["exit_code"] == 3
    assert "ht-dash login" in error["hint"]
    assert_one_clear_error(err)


def test_402_exits_5_with_the_reset_time(scripted: ScriptedBackend, capsys):
    body = {
        "error": "quota_exhausted",
        "message": "Monthly usage quota spent",
        "resets_at": "2026-12-01T00:00:00Z",
    }
    scripted.set_fault("/account", 402, body)
    code, out, err = run_cli(capsys, "--demo", "metrics", "--json")
    assert code == 5
    assert_one_clear_error(err, "Monthly usage quota spent", "2026-12-01 00:00 UTC")
    assert json_error(out)["type"] == "quota_exhausted"
    assert len(scripted.requests) == 1  # a spent quota is not retried


def test_429_is_retried_after_retry_after_then_exits_5(scripted: ScriptedBackend, capsys):
    scripted.set_fault("/account/billing", 429, RATE_LIMITED)
    code, out, err = run_cli(capsys, "--demo", "billing", "--json")
    assert code == 5
    assert scripted.waits == [2.0, 2.0]  # type: ignore[attr-defined]
    assert len(scripted.requests) == 3
    assert_one_clear_error(err, "still rate-limited after 3 attempts")
    assert json_error(out)["type"] == "rate_limited"


def test_429_with_a_retry_after_header_waits_the_longer_of_the_two(scripted, capsys):
    scripted.set_fault("/account/billing", 429, RATE_LIMITED, headers={"Retry-After": "7"}, times=1)
    code, _, _ = run_cli(capsys, "--demo", "billing", "--json")
    assert code == 0
    assert scripted.waits == [7.0]


def test_429_asking_for_a_long_wait_is_not_waited_for(scripted: ScriptedBackend, capsys):
    scripted.set_fault("/account/billing", 429, {**RATE_LIMITED, "retry_after": 120})
    code, _, err = run_cli(capsys, "--demo", "billing")
    assert code == 5
    assert scripted.waits == []
    assert len(scripted.requests) == 1
    assert_one_clear_error(err, "retry in 120 s")


def test_a_passing_429_and_5xx_are_retried_transparently(scripted: ScriptedBackend, capsys):
    scripted.faults["/account/billing"] = [
        httpx.Response(503, text="<html>Service Unavailable</html>"),
        httpx.Response(429, json={**RATE_LIMITED, "retry_after": 1}),
    ]
    code, out, err = run_cli(capsys, "--demo", "billing", "--json")
    assert code == 0, err
    assert err == ""
    assert json.loads(out)["amount"] == "$179.00"
    assert scripted.waits == [0.5, 1.0]


def test_5xx_every_time_exits_4_after_three_attempts(scripted: ScriptedBackend, capsys):
    scripted.set_fault("/account/history", 502, b"<html>Bad Gateway</html>")
    code, _, err = run_cli(capsys, "--demo", "history")
    assert code == 4
    assert len(scripted.requests) == 3
    assert scripted.waits == [0.5, 1.5]
    assert_one_clear_error(err, "502", "gave up after 3 attempts")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<html>captive portal</html>", "not JSON"),
        (
            b'{"invoice_date": "2026-12-01", "currency": "USD", "plan_id": "p", "plan_name": "P"}',
            "amount_cents",
        ),
        (
            b'{"invoice_date": "2026-12-01", "amount_cents": "lots", "currency": "USD", '
            b'"plan_id": "p", "plan_name": "P", "payment_method": null}',
            "amount_cents",
        ),
    ],
    ids=["html", "missing-field", "wrong-type"],
)
def test_a_bad_payload_exits_4_naming_the_problem(
    scripted: ScriptedBackend, capsys, body, fragment
):
    scripted.set_fault("/account/billing", 200, body)
    code, out, err = run_cli(capsys, "--demo", "billing", "--json")
    assert code == 4
    assert_one_clear_error(err, fragment)
    assert json_error(out)["type"] == "bad_payload"


def test_network_down_exits_4_with_one_line(capsys, monkeypatch):
    """Acceptance: `HT_DASH_TOKEN=x ht-dash --base-url http://127.0.0.1:9 status` exits 4."""
    from ht_dash.commands import _common

    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(_common, "RETRY", _common.RetryPolicy(sleep=no_sleep))
    monkeypatch.setenv("HT_DASH_TOKEN", "x")
    code, out, err = run_cli(capsys, "--base-url", "http://127.0.0.1:9", "status")
    assert code == 4
    assert out == ""
    assert_one_clear_error(err, "127.0.0.1", "gave up after 3 attempts", "--base-url")
    assert sorted(waits) == [
        0.5,
        0.5,
        1.5,
        1.5,
    ]  # subscription and live (concurrent), 2 retries each


def test_no_token_exits_3_without_prompting(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", None)  # any attempt to prompt would crash
    code, out, err = run_cli(capsys, "status", "--json")
    assert code == 3
    assert "HT_DASH_TOKEN" in json_error(out)["hint"]
    assert err.startswith("ht-dash: no API token")


def test_insecure_base_url_with_json_is_a_json_usage_error(capsys):
    code, out, err = run_cli(capsys, "--base-url", "http://example.com", "status", "--json")
    assert code == 2
    assert json_error(out)["type"] == "config"
    assert "plain http://" in err


class PartialSource:
    """A source (like the local meter) that knows live usage but nothing about billing."""

    name = "meter"

    def __init__(self, backend: ScriptedBackend) -> None:
        from ht_dash.api.client import AccountClient

        self._client = AccountClient(
            "https://example.test", backend.token, transport=backend.transport()
        )

    async def subscription(self):
        from ht_dash.api.errors import NotAvailable

        raise NotAvailable("the local meter does not know the subscription")

    async def next_billing(self):
        from ht_dash.api.errors import NotAvailable

        raise NotAvailable("the local meter does not know about billing", hint="use --source api")

    async def live(self, window_minutes: int = 15):
        return await self._client.live(window_minutes)

    async def aclose(self) -> None:
        await self._client.aclose()


def test_what_a_source_cannot_provide_is_null_in_status_and_exit_6_alone(
    scripted: ScriptedBackend, capsys, monkeypatch
):
    from ht_dash.runtime import Runtime

    monkeypatch.setattr(Runtime, "make_source", lambda self, token: PartialSource(scripted))
    code, out, _ = run_cli(capsys, "--demo", "status", "--json")
    assert code == 0
    data = json.loads(out)
    validate(data, STATUS_SCHEMA)
    assert data["plan"] is None and data["tokens"] is None
    assert data["rate"]["requests_per_minute"] == 42

    code, out, err = run_cli(capsys, "--demo", "billing", "--json")
    assert code == 6
    assert json_error(out)["type"] == "not_available"
    assert_one_clear_error(err, "billing", "--source api")


def crash_log_named_in(err: str):
    """The crash log whose path the hint gives: private, redacted, with the traceback."""
    import stat
    from pathlib import Path

    from ht_dash.paths import log_dir

    path = Path(err.strip().splitlines()[1].rsplit(" in ", 1)[1])
    assert path.parent == log_dir() and path.name.startswith("ht-dash-crash-")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text(encoding="utf-8")


def test_an_unexpected_error_exits_1_with_one_line_and_no_traceback(scripted, capsys, monkeypatch):
    from ht_dash.api.client import AccountClient

    async def broken(self):
        raise ZeroDivisionError(f"division by zero (Bearer {TOKEN})")

    monkeypatch.setattr(AccountClient, "next_billing", broken)
    code, out, err = run_cli(capsys, "--demo", "billing", "--json")
    assert code == 1
    assert_one_clear_error(err, "unexpected error: ZeroDivisionError", "crash report in")
    assert json_error(out)["type"] == "unexpected"
    log = crash_log_named_in(err)
    assert "Traceback (most recent call last)" in log and "in broken" in log
    assert "ZeroDivisionError: division by zero (Bearer [redacted])" in log
    assert TOKEN not in log


@pytest.mark.fault
def test_an_unexpected_error_outside_the_fetch_is_one_line_too(scripted, capsys, monkeypatch):
    """auth commands and the dashboard's start-up run outside run_command: same treatment."""
    from ht_dash.commands import auth as auth_cmd

    def broken(runtime):
        raise KeyError("store")

    monkeypatch.setattr(auth_cmd, "store_for", broken)
    code, _, err = run_cli(capsys, "--demo", "auth", "status")
    assert code == 1
    assert_one_clear_error(err, "unexpected error: KeyError: 'store'", "crash report in")
    assert "in broken" in crash_log_named_in(err)


def test_with_debug_the_traceback_goes_to_the_debug_log_not_the_terminal(
    scripted, capsys, monkeypatch
):
    from ht_dash.api.client import AccountClient
    from ht_dash.logs import setup_logging
    from ht_dash.paths import log_dir

    async def broken(self):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(AccountClient, "next_billing", broken)
    try:
        code, _, err = run_cli(capsys, "--debug", "--demo", "billing")
    finally:
        setup_logging(False)
    assert code == 1
    assert "Traceback" not in err
    (debug_log,) = log_dir().glob("ht-dash-debug-*.log")
    assert f"details in {debug_log}" in err
    assert "Traceback (most recent call last)" in debug_log.read_text(encoding="utf-8")
    assert not list(log_dir().glob("ht-dash-crash-*"))


def test_the_token_never_reaches_any_output(scripted: ScriptedBackend, capsys):
    scripted.set_fault("/account", 500, {"message": f"echoing Bearer {TOKEN}"})
    for argv in (["status"], ["status", "--json"], ["usage", "--csv"], ["history", "--json"]):
        _, out, err = run_cli(capsys, "--demo", *argv)
        assert TOKEN not in out + err


def test_the_local_meter_needs_no_token(scripted: ScriptedBackend, capsys, monkeypatch):
    from ht_dash.runtime import Runtime

    seen = []

    def make_source(self, token):
        seen.append(token)
        return PartialSource(scripted)

    monkeypatch.setattr(Runtime, "make_source", make_source)
    code, out, err = run_cli(capsys, "--source", "meter", "status", "--json")
    assert code == 0, err
    assert seen == [None]
    assert json.loads(out)["source"] == "meter"


@pytest.mark.fault
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/a\r\nb", "http://127.0.0.1:1/a b", "http://127.0.0.1:1/\x1b[2Ja", "\x00"],
)
@pytest.mark.parametrize("command", [["status"], ["auth", "status"]])
def test_a_base_url_with_control_characters_is_a_usage_error(capsys, monkeypatch, url, command):
    monkeypatch.setenv("HT_DASH_TOKEN", "x" * 40)
    code, out, err = run_cli(capsys, "--base-url", url, *command)
    assert code == 2
    assert err.startswith("ht-dash: base URL ")
    assert "contains a space or a control character" in err
    assert "\x1b" not in err and "\r" not in err and "Traceback" not in err
    assert len(err.splitlines()) == 2  # the line and its hint


def test_a_base_url_with_control_characters_in_the_environment_names_the_variable(
    capsys, monkeypatch
):
    monkeypatch.setenv("HT_DASH_BASE_URL", "http://127.0.0.1:1/a\r\nb")
    code, _, err = run_cli(capsys, "status")
    assert code == 2
    assert "HT_DASH_BASE_URL" in err and "control character" in err
