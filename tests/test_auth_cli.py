"""`ht-dash login | logout | token … | auth status`: outputs, storage effects and exit codes."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
from datetime import UTC, datetime

import httpx
import pytest

from ht_dash import cli
from ht_dash.api import contract
from ht_dash.api.client import AccountClient
from ht_dash.api.models import Profile, TokenInfo
from ht_dash.api.secret import Secret
from ht_dash.auth import KEYRING_SERVICE
from ht_dash.commands import auth as auth_cmd

HOST = "ht-api.coinmarketman.com"
ISSUED = 1_767_225_600  # 2026-01-01 00:00 UTC


def make_jwt(sub: str, signature: str) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = part({"alg": "HS256", "typ": "JWT"})
    return f"{header}.{part({'sub': sub, 'mid': 7, 'iat': ISSUED})}.{signature}"


SENTINEL = make_jwt("acct_1", "SENTINEL-do-not-leak-7f3a9c")


class FakeTokenAPI:
    """The token endpoints of the account API behind an httpx.MockTransport, enforcing auth.

    Shaped like DemoBackend (`.token`, `.transport()`), so it also stands in for it under --demo.
    `fault`: None, "401" (every request rejected), "500", "429" (rate-limited, a short
    retry_after), "402" (quota spent) or "down" (connection refused).
    """

    def __init__(self, token: str = SENTINEL) -> None:
        self.token = Secret(token)
        self.token_id = "tok_1"
        self.fault: str | None = None
        self.requests: list[tuple[str, str]] = []
        self.issued = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def info(self) -> TokenInfo:
        return TokenInfo(
            token_id=self.token_id,
            masked=self.token.masked,
            issued_at=datetime.fromtimestamp(ISSUED, UTC),
            last_used_at=datetime(2026, 1, 20, 9, 30, tzinfo=UTC),
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/external")
        self.requests.append((request.method, path))
        if self.fault == "down":
            raise httpx.ConnectError("connection refused")
        if self.fault == "500":
            return httpx.Response(500, text="<html>Internal Server Error</html>")
        if self.fault == "429":
            body = {"error": "rate_limit_exceeded", "message": "slow down", "retry_after": 1}
            return httpx.Response(429, json=body)
        if self.fault == "402":
            return httpx.Response(402, json={"statusCode": 402, "message": "quota exhausted"})
        if (
            self.fault == "401"
            or request.headers.get("Authorization") != f"Bearer {self.token.reveal()}"
        ):
            return httpx.Response(401, json={"statusCode": 401, "message": "Unauthorized"})
        if path == contract.PROFILE:
            profile = Profile(
                "acct_1", "ada@example.com", "Ada Lovelace", None, datetime(2025, 1, 1, tzinfo=UTC)
            )
            return httpx.Response(200, json=contract.dump_profile(profile))
        if path == contract.TOKEN:
            return httpx.Response(200, json=contract.dump_token_info(self.info()))
        if path == contract.TOKEN_REGENERATE and request.method == "POST":
            self.issued += 1
            self.token = Secret(make_jwt("acct_1", f"NEWTOKEN-{self.issued}-e5d1b2"))
            self.token_id = f"tok_{self.issued + 1}"
            return httpx.Response(
                201, json={**contract.dump_token_info(self.info()), "token": self.token.reveal()}
            )
        return httpx.Response(404, json={"statusCode": 404, "message": "Not Found"})


@pytest.fixture
def api(monkeypatch) -> FakeTokenAPI:
    """Every AccountClient the commands make talks to this fake (also as the --demo backend)."""
    from ht_dash.runtime import Runtime

    fake = FakeTokenAPI()

    def make_client(self, token):
        return AccountClient(self.base_url, token, transport=fake.transport(), clock=self.clock)

    monkeypatch.setattr(Runtime, "make_client", make_client)
    monkeypatch.setattr(Runtime, "demo_backend", property(lambda self: fake))
    sent: list[str] = []
    monkeypatch.setattr(auth_cmd, "terminal_writer", lambda seq: sent.append(seq) or True)
    fake.osc52 = sent  # type: ignore[attr-defined]
    return fake


class TtyInput(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(monkeypatch, capsys, *argv: str, stdin: str | None = None, tty: bool = False):
    """Run `ht-dash argv…`; returns (exit code, stdout, stderr)."""
    stream = TtyInput(stdin or "") if tty else io.StringIO(stdin or "")
    monkeypatch.setattr("sys.stdin", stream)
    monkeypatch.setattr(auth_cmd, "is_interactive", lambda: tty)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stored(memory_keyring) -> str | None:
    return memory_keyring.entries.get((KEYRING_SERVICE, HOST))


# ---- login ----------------------------------------------------------------------------------


def test_login_from_stdin_validates_then_stores_in_keyring(
    api, memory_keyring, monkeypatch, capsys
):
    code, out, err = run(monkeypatch, capsys, "login", "--with-token", stdin=SENTINEL + "\n")
    assert code == 0, err
    assert stored(memory_keyring) == SENTINEL
    assert api.requests == [("GET", contract.PROFILE)]
    assert "Logged in to ht-api.coinmarketman.com as Ada Lovelace <ada@example.com>" in out
    assert "OS keyring (" in out


def test_login_accepts_a_bearer_prefix(api, memory_keyring, monkeypatch, capsys):
    code, _, _ = run(monkeypatch, capsys, "login", stdin=f"Bearer {SENTINEL}")
    assert code == 0 and stored(memory_keyring) == SENTINEL


def test_login_with_hidden_prompt_on_a_terminal(api, memory_keyring, monkeypatch, capsys):
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or SENTINEL)
    code, _, _ = run(monkeypatch, capsys, "login", tty=True)
    assert code == 0
    assert prompts and "hidden" in prompts[0]
    assert stored(memory_keyring) == SENTINEL


@pytest.mark.parametrize(("fault", "expected"), [("401", 3), ("500", 4), ("down", 4)])
def test_login_with_a_token_that_cannot_be_checked_stores_nothing(
    api, memory_keyring, isolated_home, monkeypatch, capsys, fault, expected
):
    api.fault = fault
    code, _, err = run(monkeypatch, capsys, "login", stdin=SENTINEL)
    assert code == expected
    assert "nothing was stored" in err or "so nothing was stored" in err
    assert "will retry" not in err  # login tried once and exits: it must not promise a retry
    assert memory_keyring.entries == {}
    assert not any(isolated_home.rglob("*.token"))


@pytest.mark.parametrize("given", ["", "\n\n", "two words", "line1\nline2"])
def test_login_with_bad_input_is_a_usage_error(api, memory_keyring, monkeypatch, capsys, given):
    code, _, err = run(monkeypatch, capsys, "login", stdin=given)
    assert code == 2 and "nothing stored" in err
    assert api.requests == []


def test_login_without_keyring_piped_explains_and_stores_nothing(
    api, fail_keyring, isolated_home, monkeypatch, capsys
):
    code, out, err = run(monkeypatch, capsys, "login", stdin=SENTINEL)
    assert code == 3
    assert "no OS keyring is available" in err
    assert "--insecure-storage" in err and "HT_DASH_TOKEN" in err
    assert api.requests == []  # fails before sending the token anywhere
    assert not any(isolated_home.rglob("*.token"))


def test_login_without_keyring_on_a_terminal_offers_the_choice(
    api, fail_keyring, isolated_home, monkeypatch, capsys
):
    monkeypatch.setattr("getpass.getpass", lambda prompt: SENTINEL)
    code, _, err = run(
        monkeypatch, capsys, "login", stdin="\n", tty=True
    )  # Enter = the safe default
    assert code == 1
    assert "1) in a plain-text file" in err and "2) nowhere" in err
    assert not any(isolated_home.rglob("*.token"))

    code, out, err = run(monkeypatch, capsys, "login", stdin="1\n", tty=True)
    assert code == 0, err
    path = isolated_home / "config" / "tokens" / f"{HOST}.token"
    assert path.read_text().strip() == SENTINEL
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "plain-text file" in out and "plain text" in err


def test_login_insecure_storage_when_asked(api, fail_keyring, isolated_home, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "login", "--insecure-storage", stdin=SENTINEL)
    assert code == 0, err
    assert (isolated_home / "config" / "tokens" / f"{HOST}.token").exists()
    assert "(insecure)" in out


def test_login_keyring_that_drops_writes_is_not_trusted(
    api, null_keyring, isolated_home, monkeypatch, capsys
):
    code, _, err = run(monkeypatch, capsys, "login", stdin=SENTINEL)
    assert code == 3
    assert "null backend" in err
    assert not any(isolated_home.rglob("*.token"))


def test_login_demo_needs_no_login(api, memory_keyring, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "--demo", "login", stdin=SENTINEL)
    assert code == 0 and "nothing to log in" in out
    assert memory_keyring.entries == {}


# ---- logout ---------------------------------------------------------------------------------


def test_logout_removes_keyring_entry_and_file(api, memory_keyring, monkeypatch, capsys):
    from ht_dash.auth import TokenStore

    store = TokenStore(HOST)
    store.write_file(Secret(SENTINEL))
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    code, out, _ = run(monkeypatch, capsys, "logout")
    assert code == 0
    assert "from the OS keyring" in out and "from the plain-text file" in out
    assert memory_keyring.entries == {} and not store.file_path.exists()
    code, out, _ = run(monkeypatch, capsys, "logout")
    assert code == 0 and "No token stored" in out


def test_logout_with_hanging_keyring_reports_timeout(api, hanging_keyring, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "logout")
    assert code == 3 and "did not answer within 0.2 s" in err


# ---- token show / copy ----------------------------------------------------------------------


def test_token_show_masked_with_times_and_location(api, memory_keyring, monkeypatch, capsys):
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    code, out, _ = run(monkeypatch, capsys, "token", "show")
    assert code == 0
    assert Secret(SENTINEL).masked in out and SENTINEL not in out
    assert "issued at:  2026-01-01 00:00 UTC" in out
    assert "expires:    no expiry in the token" in out
    assert "last used:  2026-01-20 09:30 UTC" in out
    assert "stored in:  OS keyring (" in out

    code, out, _ = run(monkeypatch, capsys, "token", "show", "--reveal")
    assert code == 0 and SENTINEL in out


def test_token_show_from_env_says_so(api, memory_keyring, monkeypatch, capsys):
    monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL)
    code, out, _ = run(monkeypatch, capsys, "token", "show")
    assert code == 0 and "stored in:  environment variable HT_DASH_TOKEN" in out


@pytest.mark.parametrize(
    ("fault", "expected", "phrase"), [("401", 3, "regenerated or revoked"), ("down", 4, "refused")]
)
def test_token_show_when_the_api_fails_still_shows_local_facts(
    api, memory_keyring, monkeypatch, capsys, fault, expected, phrase
):
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    api.fault = fault
    code, out, err = run(monkeypatch, capsys, "token", "show")
    assert code == expected
    assert "issued at:  2026-01-01" in out and "unknown (the API could not be asked)" in out
    assert phrase in err


def test_token_show_without_token_exits_3(api, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "token", "show")
    assert code == 3 and "no API token found" in err and "ht-dash login" in err


def test_token_show_with_hanging_keyring_says_it_timed_out(
    api, hanging_keyring, monkeypatch, capsys
):
    code, _, err = run(monkeypatch, capsys, "token", "show")
    assert code == 3 and "did not answer within 0.2 s" in err


def test_token_copy_sends_osc52_and_is_honest(api, memory_keyring, monkeypatch, capsys):
    monkeypatch.setenv("HT_DASH_CLIPBOARD", "osc52")
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    code, out, _ = run(monkeypatch, capsys, "token", "copy")
    assert code == 0
    assert len(api.osc52) == 1 and base64.b64decode(api.osc52[0][7:-1]).decode() == SENTINEL
    assert out.startswith("Sent to the terminal's clipboard (OSC 52)")
    assert "ht-dash token show --reveal" in out
    assert SENTINEL not in out


def test_token_copy_native_only_without_tool_fails_honestly(
    api, memory_keyring, monkeypatch, capsys
):
    monkeypatch.setenv("HT_DASH_CLIPBOARD", "native")
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    code, out, err = run(monkeypatch, capsys, "token", "copy")
    assert code == 1 and "Could not copy the token" in err and "SSH" in err
    assert api.osc52 == []


# ---- token regenerate -----------------------------------------------------------------------


def test_regenerate_needs_yes_without_a_terminal(api, memory_keyring, monkeypatch, capsys):
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    code, _, err = run(monkeypatch, capsys, "token", "regenerate")
    assert code == 2 and "--yes" in err
    assert ("POST", contract.TOKEN_REGENERATE) not in api.requests


def test_regenerate_asks_on_a_terminal(api, memory_keyring, monkeypatch, capsys):
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    code, _, err = run(monkeypatch, capsys, "token", "regenerate", stdin="no\n", tty=True)
    assert code == 1 and "stops working at once" in err and "get 401" in err
    assert stored(memory_keyring) == SENTINEL
    code, _, _ = run(monkeypatch, capsys, "token", "regenerate", stdin="yes\n", tty=True)
    assert code == 0 and stored(memory_keyring) == api.token.reveal() != SENTINEL


def test_regenerate_stores_reads_back_and_verifies(api, memory_keyring, monkeypatch, capsys):
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    code, out, _ = run(monkeypatch, capsys, "token", "regenerate", "--yes")
    assert code == 0
    new = api.token.reveal()
    assert new != SENTINEL and stored(memory_keyring) == new
    assert new not in out and api.token.masked in out
    assert "the new token works" in out
    assert api.requests[-2:] == [("POST", contract.TOKEN_REGENERATE), ("GET", contract.TOKEN)]


def test_regenerate_with_failing_keyring_write_shows_the_new_token(
    api, refusing_keyring, monkeypatch, capsys
):
    refusing_keyring.entries[(KEYRING_SERVICE, HOST)] = SENTINEL
    code, out, err = run(monkeypatch, capsys, "token", "regenerate", "--yes")
    assert code == 3
    new = api.token.reveal()
    assert new != SENTINEL
    assert new in out.splitlines()  # on a line of its own, for copying
    assert "Failed to unlock the collection" in err and "copy it now" in err
    assert refusing_keyring.entries[(KEYRING_SERVICE, HOST)] == SENTINEL


def test_regenerate_with_env_token_prints_it_for_the_env_var(
    api, memory_keyring, monkeypatch, capsys
):
    monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL)
    code, out, err = run(monkeypatch, capsys, "token", "regenerate", "--yes")
    assert code == 0
    assert api.token.reveal() in out.splitlines()
    assert "environment variable HT_DASH_TOKEN" in err
    assert memory_keyring.entries == {}


def test_regenerate_when_network_drops_says_outcome_is_unknown(
    api, memory_keyring, monkeypatch, capsys
):
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    api.fault = "down"
    code, _, err = run(monkeypatch, capsys, "token", "regenerate", "--yes")
    assert code == 4 and "unknown whether the token was regenerated" in err
    assert stored(memory_keyring) == SENTINEL


def test_regenerate_with_rejected_token_exits_3(api, memory_keyring, monkeypatch, capsys):
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    api.fault = "401"
    code, _, err = run(monkeypatch, capsys, "token", "regenerate", "--yes")
    assert code == 3 and "nothing was regenerated" in err


def test_regenerate_in_demo_mode_leaves_the_keyring_alone(
    api, hanging_keyring, monkeypatch, capsys
):
    code, out, _ = run(monkeypatch, capsys, "--demo", "token", "regenerate", "--yes")
    assert code == 0, out
    assert "the built-in demo backend" in out
    assert hanging_keyring.calls == 0


# ---- auth status ----------------------------------------------------------------------------


def test_auth_status_reports_source_keyring_and_account(api, memory_keyring, monkeypatch, capsys):
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    code, out, _ = run(monkeypatch, capsys, "auth", "status")
    assert code == 0
    assert "Keyring:  " in out and "(usable)" in out
    assert f"Token:    {Secret(SENTINEL).masked} from the OS keyring" in out
    assert "Account:  Ada Lovelace <ada@example.com>" in out


def test_auth_status_keeps_saying_plain_text(api, fail_keyring, monkeypatch, capsys):
    from ht_dash.auth import TokenStore

    TokenStore(HOST).write_file(Secret(SENTINEL))
    code, out, err = run(monkeypatch, capsys, "auth", "status")
    assert code == 0
    assert "plain-text file" in out and "(insecure)" in out
    assert "stored in plain text" in err
    assert "no OS keyring is available" in out


def test_auth_status_notes_a_stored_token_shadowed_by_env(api, memory_keyring, monkeypatch, capsys):
    memory_keyring.set_password(KEYRING_SERVICE, HOST, "some-other-stored-token-value")
    monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL)
    code, out, _ = run(monkeypatch, capsys, "auth", "status")
    assert code == 0 and "is not used while it is set" in out


@pytest.mark.parametrize(("fault", "expected"), [(None, 3), ("401", 3), ("500", 4), ("down", 4)])
def test_auth_status_exit_codes(api, memory_keyring, monkeypatch, capsys, fault, expected):
    if fault is not None:
        memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
        api.fault = fault
    code, _, err = run(monkeypatch, capsys, "auth", "status")
    assert code == expected
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "lists", "omits"),
    [
        (["logout"], ["3 the token could not be removed"], ["copied", "network"]),
        (["token", "copy"], ["1 the token could not be copied"], ["network", "cancelled"]),
        (["token", "show"], ["4 network"], ["copied", "cancelled"]),
        (["login"], ["1 cancelled", "4 network"], ["copied"]),
    ],
)
def test_each_auth_command_lists_only_its_own_exit_codes(capsys, argv, lists, omits):
    with pytest.raises(SystemExit):
        cli.main([*argv, "--help"])
    epilog = capsys.readouterr().out.split("exit codes:")[1]
    for text in lists:
        assert text in epilog
    for text in omits:
        assert text not in epilog


@pytest.mark.parametrize(
    "argv",
    [
        ["login"],
        ["token", "show"],
        ["token", "copy"],
        ["token", "regenerate", "--yes"],
        ["auth", "status"],
        ["auth", "check"],
        ["logout"],
    ],
)
@pytest.mark.parametrize("fault", ["401", "500", "down", "429", "402"])
def test_every_exit_code_an_auth_command_returns_is_in_its_help(
    api, memory_keyring, monkeypatch, capsys, argv, fault
):
    with pytest.raises(SystemExit):
        cli.main([*argv, "--help"])
    listed = {
        int(line.split()[0])
        for line in capsys.readouterr().out.split("exit codes:")[1].splitlines()
        if line.strip()[:1].isdigit()
    }
    memory_keyring.set_password(KEYRING_SERVICE, HOST, SENTINEL)
    api.fault = fault
    code, _, err = run(monkeypatch, capsys, *argv, stdin=SENTINEL)
    assert code in listed, (argv, fault, code, listed, err)


def test_token_without_action_is_a_usage_error(api, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["token"])
    assert info.value.code == 2
