"""Logging: the redaction filter, the --debug log file (0600, redacted), the client's requests."""

from __future__ import annotations

import logging
import stat
from datetime import UTC, datetime

import httpx
import pytest

from faultserver import SENTINEL_TOKEN, assert_token_absent, sample_payloads
from ht_dash import cli
from ht_dash.api import AccountClient, NetworkError, Secret, contract
from ht_dash.logs import REDACTED, redact, register_secret, setup_logging
from ht_dash.paths import log_dir


@pytest.fixture(autouse=True)
def reset_logging():
    yield
    setup_logging(False)  # close the file handler a test opened


def test_registered_secret_is_removed_anywhere_in_a_line():
    register_secret("plain-opaque-key-4471")
    assert redact("key=plain-opaque-key-4471; again plain-opaque-key-4471") == (
        f"key={REDACTED}; again {REDACTED}"
    )


def test_secret_object_can_be_registered():
    register_secret(Secret("another-opaque-key-9921"))
    assert "another-opaque-key-9921" not in redact("value another-opaque-key-9921")


@pytest.mark.parametrize(
    "line",
    [
        f"Authorization: Bearer {SENTINEL_TOKEN}",
        f"headers={{'authorization': 'Bearer {SENTINEL_TOKEN}'}}",
        f"got {SENTINEL_TOKEN} from the server",
        f'{{"token": "{SENTINEL_TOKEN}"}}',
        "Bearer some-unregistered-opaque-credential",
        "Authorization: Basic dXNlcjpwYXNz",
    ],
)
def test_token_shaped_text_is_redacted_without_registration(line):
    cleaned = redact(line)
    assert REDACTED in cleaned
    assert_token_absent(cleaned)
    assert "some-unregistered-opaque-credential" not in cleaned
    assert "dXNlcjpwYXNz" not in cleaned


def test_ordinary_text_is_left_alone():
    line = "GET /account/token -> 200 in 12 ms; token_id tok_1, masked eyJhbG…f4ul"
    assert redact(line) == line


def test_without_debug_nothing_is_written(isolated_home):
    assert setup_logging(False) is None
    logging.getLogger("ht_dash.test").warning("a warning")
    assert not log_dir().exists()


def test_debug_log_is_a_private_file_in_the_log_dir():
    path = setup_logging(True)
    assert path is not None and path.parent == log_dir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "ht-dash" in path.read_text(encoding="utf-8")


def test_debug_log_redacts_messages_args_and_tracebacks():
    path = setup_logging(True)
    log = logging.getLogger("ht_dash.test")
    log.debug("token is %s", SENTINEL_TOKEN)
    log.info(f"header Authorization: Bearer {SENTINEL_TOKEN}")
    try:
        raise ValueError(f"bad token {SENTINEL_TOKEN}")
    except ValueError:
        log.exception("failed with %r", {"token": SENTINEL_TOKEN})
    text = path.read_text(encoding="utf-8")
    assert_token_absent(text)
    assert text.count(REDACTED) >= 4
    assert "ValueError: bad token [redacted]" in text


def test_unformattable_log_call_does_not_crash_or_leak():
    path = setup_logging(True)
    logging.getLogger("ht_dash.test").warning("two %s %s", SENTINEL_TOKEN)  # one arg short
    text = path.read_text(encoding="utf-8")
    assert "unformattable args" in text
    assert_token_absent(text)


async def test_client_requests_are_logged_without_headers():
    path = setup_logging(True)
    payload = sample_payloads(datetime.now(UTC))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(contract.PROFILE):
            return httpx.Response(200, json=payload[contract.PROFILE])
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    api = AccountClient(
        "https://api.example.test", Secret(SENTINEL_TOKEN), transport=httpx.MockTransport(handler)
    )
    async with api:
        await api.profile()
        with pytest.raises(NetworkError):
            await api.subscription()
    text = path.read_text(encoding="utf-8")
    assert "GET /account/profile -> 200 in " in text
    assert "GET /account/subscription failed after " in text and "ConnectError" in text
    assert "authorization" not in text.lower()
    assert_token_absent(text)


@pytest.mark.fault
def test_unwritable_log_dir_is_reported_and_the_run_goes_on(isolated_home, capsys):
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "log").write_text("a file where the directory should be")
    assert setup_logging(True) is None
    err = capsys.readouterr().err
    assert err.startswith("ht-dash: cannot write a debug log (")
    assert err.endswith("continuing without\n")
    logging.getLogger("ht_dash.test").debug("still fine")


def test_cli_debug_option_writes_the_log(monkeypatch, capsys):
    seen = {}

    def fake_app(runtime):
        seen["debug"] = runtime.debug
        logging.getLogger("ht_dash.tui.app").debug("app started")
        return 0

    monkeypatch.setattr("ht_dash.tui.app.run_app", fake_app)
    assert cli.main(["--debug", "--demo"]) == 0
    assert seen == {"debug": True}
    (path,) = log_dir().glob("ht-dash-debug-*.log")
    assert "app started" in path.read_text(encoding="utf-8")
    assert capsys.readouterr().err == f"ht-dash: writing a redacted debug log to {path}\n"


def test_cli_without_debug_writes_no_log(monkeypatch):
    monkeypatch.setattr("ht_dash.tui.app.run_app", lambda runtime: 0)
    assert cli.main(["--demo"]) == 0
    assert not log_dir().exists()
