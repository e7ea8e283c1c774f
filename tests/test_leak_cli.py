"""Leak test, command-line side: a sentinel token goes through every auth subcommand, every keyring
state and every API error path; it must surface nowhere except where the user asked to see it
(`token show --reveal`) or chose to keep it (the opt-in plain-text file)."""

from __future__ import annotations

import io
import logging

import pytest

from ht_dash import cli
from ht_dash.api.errors import HtError
from ht_dash.auth import KEYRING_SERVICE, TokenStore
from ht_dash.commands import auth as auth_cmd
from ht_dash.commands import errors
from test_auth_cli import HOST, SENTINEL, api  # noqa: F401 - `api` is a fixture

SIGNATURE = SENTINEL.rsplit(".", 1)[1]  # the part a masked form must never show in full

COMMANDS = {
    "login": (["login"], SENTINEL + "\n"),
    "login-insecure": (["login", "--insecure-storage"], SENTINEL + "\n"),
    "logout": (["logout"], ""),
    "token-show": (["token", "show"], ""),
    "token-show-reveal": (["token", "show", "--reveal"], ""),
    "token-copy": (["token", "copy"], ""),
    "token-regenerate": (["token", "regenerate", "--yes"], ""),
    "token-regenerate-unconfirmed": (["token", "regenerate"], ""),
    "auth-status": (["auth", "status"], ""),
    "demo-token-show": (["--demo", "token", "show"], ""),
    "demo-auth-status": (["--demo", "auth", "status"], ""),
    "demo-regenerate": (["--demo", "token", "regenerate", "--yes"], ""),
}

KEYRINGS = ("memory_keyring", "fail_keyring", "null_keyring", "refusing_keyring", "hanging_keyring")
STARTS = ("keyring", "file", "env", "none")


def contains_sentinel(text: str) -> bool:
    return SENTINEL in text or SIGNATURE in text


def exception_texts(exc: BaseException) -> list[str]:
    texts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        texts += [str(exc), repr(exc), *map(repr, exc.args)]
        if isinstance(exc, HtError):
            texts += [exc.message, exc.hint]
        exc = exc.__cause__ or exc.__context__
    return texts


def place_token(start: str, backend, monkeypatch) -> None:
    if start == "env":
        monkeypatch.setenv("HT_DASH_TOKEN", SENTINEL)
    elif start == "file":
        from ht_dash.api.secret import Secret

        TokenStore(HOST).write_file(Secret(SENTINEL))
    elif start == "keyring" and hasattr(backend, "entries"):
        backend.entries[(KEYRING_SERVICE, HOST)] = SENTINEL


# Commands that ask the API (and so meet its faults), and what each prints when it did its job.
ASKS_THE_API = {
    "login", "login-insecure", "token-show", "token-show-reveal", "token-regenerate",
    "auth-status", "demo-token-show", "demo-auth-status", "demo-regenerate",
}  # fmt: skip
DONE = {
    "login": "Logged in to ht-api.coinmarketman.com as Ada Lovelace",
    "login-insecure": "Logged in to ht-api.coinmarketman.com as Ada Lovelace",
    "logout": "ht-api.coinmarketman.com",  # "Removed the token for …" / "No token stored for …"
    "token-show": "last used:  2026-01-20 09:30 UTC",
    "token-show-reveal": f"token:      {SENTINEL}",
    "token-copy": "clipboard",
    "token-regenerate": "The old token no longer works",
    "token-regenerate-unconfirmed": "refusing to regenerate without confirmation",
    "auth-status": "Account:  Ada Lovelace <ada@example.com>",
    "demo-token-show": "last used:  2026-01-20 09:30 UTC",
    "demo-auth-status": "Account:  Ada Lovelace <ada@example.com>",
    "demo-regenerate": "New token eyJhbG…",
}
FAULTS = {"401": (3, "401"), "500": (4, "500"), "down": (4, "refused")}


def expected(command: str, backend: str, start: str, fault: str | None) -> tuple[int, str]:
    """The exit code and a piece of the output of a command that did its job (or failed the way
    it must): the oracle that makes the leak matrix also a behaviour matrix."""
    demo = command.startswith("demo-")
    from_stdin = command.startswith("login")
    readable = start in ("env", "file") or (
        start == "keyring" and backend in ("memory_keyring", "refusing_keyring")
    )
    if not (demo or from_stdin or readable or command == "logout"):
        return 3, "no API token"
    if fault is not None and command in ASKS_THE_API:
        return FAULTS[fault]
    if command == "login" and backend != "memory_keyring":
        return 3, "keyring"  # nowhere safe to keep it, and no terminal to offer the file
    if command == "logout" and backend == "hanging_keyring":
        return 3, "keyring"
    if command == "token-regenerate" and start == "keyring" and backend == "refusing_keyring":
        return 3, "failed while storing"  # and the new token is printed, to be copied
    if command == "token-regenerate-unconfirmed":
        return 2, DONE[command]
    return 0, DONE[command]


def run_and_check(
    request, monkeypatch, capsys, caplog, isolated_home, command, backend, start, fault
):
    from ht_dash.api.secret import Secret

    fake = request.getfixturevalue("api")
    fake.fault = fault
    fake.token = Secret(SENTINEL)  # a regeneration in an earlier run must not change this one
    place_token(start, request.getfixturevalue(backend), monkeypatch)
    argv, stdin = COMMANDS[command]
    caught: list[BaseException] = []
    original = errors.print_error
    monkeypatch.setattr(errors, "print_error", lambda exc: (caught.append(exc), original(exc))[1])
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.setattr(auth_cmd, "is_interactive", lambda: False)
    caplog.set_level(logging.DEBUG)

    code = cli.main(argv)
    out, err = capsys.readouterr()

    want_code, want_text = expected(command, backend, start, fault)
    assert (code, want_text in out + err) == (want_code, True), (command, backend, start, err)
    assert "Traceback" not in err
    assert not contains_sentinel(err), f"{command}: sentinel on stderr"
    if command == "token-show-reveal" and code in (0, 3, 4) and "token:" in out:
        assert SENTINEL in out  # the one place it is asked for
    else:
        assert not contains_sentinel(out), f"{command}: sentinel on stdout"
    assert not contains_sentinel(caplog.text)
    for exc in caught:
        assert not any(contains_sentinel(t) for t in exception_texts(exc)), f"{command}: in {exc!r}"
    chosen_file = isolated_home / "config" / "tokens" / f"{HOST}.token"
    for path in isolated_home.rglob("*"):
        if path.is_file() and path != chosen_file:
            assert not contains_sentinel(path.read_text(errors="replace")), f"{command}: in {path}"
    if chosen_file.exists() and contains_sentinel(chosen_file.read_text()):
        # Only where the user chose plain text, before or now.
        assert start == "file" or command == "login-insecure"


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("backend", KEYRINGS)
def test_sentinel_never_leaks_across_keyring_states(
    request, monkeypatch, capsys, caplog, isolated_home, command, backend
):
    for start in STARTS:
        run_and_check(
            request, monkeypatch, capsys, caplog, isolated_home, command, backend, start, None
        )
        # Reset for the next starting state.
        monkeypatch.delenv("HT_DASH_TOKEN", raising=False)
        TokenStore(HOST).file_path.unlink(missing_ok=True)
        getattr(request.getfixturevalue(backend), "entries", {}).clear()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("fault", ["401", "500", "down"])
@pytest.mark.parametrize("start", STARTS)
def test_sentinel_never_leaks_on_api_errors(
    request, monkeypatch, capsys, caplog, isolated_home, command, fault, start
):
    run_and_check(
        request, monkeypatch, capsys, caplog, isolated_home, command, "memory_keyring", start, fault
    )
