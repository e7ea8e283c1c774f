"""`ht-dash login | logout | token show|copy|regenerate | auth status`: the token, scriptable.

stdout carries results (and the full token only for `token show --reveal`, or a regenerated token
that could not be stored); stderr carries prompts, warnings and errors. Never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ht_dash.api.errors import (
    AuthError,
    HtError,
    NetworkError,
    NotOffered,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from ht_dash.api.jwt import token_claims, token_times
from ht_dash.api.secret import Secret, token_text
from ht_dash.api.service import TOKEN_CHECK, TOKEN_CHECK_COST, WEB_DASHBOARD
from ht_dash.auth import clipboard
from ht_dash.auth.errors import INSTALL_HINT, TokenStoreError
from ht_dash.auth.flows import regenerate, validate_and_store
from ht_dash.auth.storage import (
    DemoTokenStore,
    ResolvedToken,
    TokenStore,
    Where,
    display_path,
    store_for,
)
from ht_dash.commands import errors
from ht_dash.commands._common import final_hint
from ht_dash.insights.format import when
from ht_dash.sanitize import terminal_safe

if TYPE_CHECKING:
    from datetime import datetime

    from ht_dash.api.client import AccountClient
    from ht_dash.api.models import TokenInfo
    from ht_dash.runtime import Runtime

T = TypeVar("T")

# What each command can exit with; its --help lists only its own.
_EXIT_MEANINGS = {
    "ok": "0 ok",
    "cancelled": "1 cancelled",
    "not copied": "1 the token could not be copied",
    "usage": "2 usage error (bad input, or a confirmation that cannot be asked without a terminal)",
    "auth": "3 authentication problem: no token, or token rejected (401/403)",
    "auth store": "3 authentication problem: no token, token rejected (401/403), or it could not "
    "be stored",
    "not removed": "3 the token could not be removed (keyring or file problem)",
    "network": "4 network or server problem (not retried: run the command again)",
    "limited": "5 rate-limited, or the usage quota is spent",
}
EXIT_CODES_BY_COMMAND = {
    "login": ("ok", "cancelled", "usage", "auth store", "network", "limited"),
    "logout": ("ok", "not removed"),
    "token": ("ok", "cancelled", "not copied", "usage", "auth store", "network", "limited"),
    "show": ("ok", "auth", "network", "limited"),
    "copy": ("ok", "not copied", "auth"),
    "regenerate": ("ok", "cancelled", "usage", "auth store", "network", "limited"),
    "auth": ("ok", "auth", "network", "limited"),
    "status": ("ok", "auth", "network", "limited"),
    "check": ("ok", "auth", "network", "limited"),
}


def exit_codes(command: str) -> str:
    lines = (_EXIT_MEANINGS[key] for key in EXIT_CODES_BY_COMMAND[command])
    return "exit codes:\n" + "\n".join(f"  {line}" for line in lines)


NO_TOKEN_HINT = "run `ht-dash login`, or set HT_DASH_TOKEN; `ht-dash --demo …` works without one"

# Replaced in tests: where the OSC 52 sequence goes (the controlling terminal, never stdout).
terminal_writer: Callable[[str], bool] = clipboard.write_to_tty


# ---- plumbing --------------------------------------------------------------------------------


def handles_broken_pipe(handler: Callable[[argparse.Namespace, Runtime], int]):
    """`ht-dash token show | head -1`: a reader that goes away early is not an error."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace, runtime: Runtime) -> int:
        try:
            return handler(args, runtime)
        except BrokenPipeError:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return errors.EXIT_OK

    return wrapper


def exit_code(exc: HtError) -> int:
    if isinstance(exc, TokenStoreError):
        return errors.EXIT_AUTH
    return errors.error_exit_code(exc)


def fail(exc: HtError) -> int:
    errors.print_error(exc)
    return exit_code(exc)


def say(text: str = "") -> None:
    print(terminal_safe(text, multiline=True), flush=True)


def warn(text: str) -> None:
    print(f"ht-dash: warning: {terminal_safe(text, multiline=True)}", file=sys.stderr, flush=True)


def note(text: str) -> None:
    print(f"ht-dash: {terminal_safe(text, multiline=True)}", file=sys.stderr, flush=True)


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def ask(prompt: str) -> str | None:
    """One line from the user on the terminal; None on end of input."""
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    return line.strip() if line else None


def with_client(
    runtime: Runtime, token: Secret | None, work: Callable[[AccountClient], Awaitable[T]]
) -> T:
    async def run() -> T:
        client = runtime.make_client(token)
        try:
            return await work(client)
        except (NetworkError, ServerError) as exc:  # one attempt: no "ht-dash will retry"
            exc.hint = final_hint(exc)
            raise
        finally:
            await client.aclose()

    return asyncio.run(run())


def no_token(resolved: ResolvedToken) -> int:
    for text in resolved.warnings:
        warn(text)
    problem = resolved.problem
    if problem is not None:
        return fail(AuthError(f"no API token could be read: {problem.message}", hint=problem.hint))
    return fail(AuthError("no API token found", hint=NO_TOKEN_HINT))


# ---- login -----------------------------------------------------------------------------------


def read_token(from_stdin: bool) -> Secret | None:
    """The token from a hidden prompt or from stdin. ValueError for input that is not a token."""
    if from_stdin:
        text = sys.stdin.read()
    else:
        try:
            text = getpass.getpass("Paste your HyperTracker API token (input is hidden): ")
        except EOFError:
            return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    if len(lines) > 1:
        raise ValueError("expected the token on one line, got several lines")
    value = token_text(lines[0])
    if any(c.isspace() for c in value) or not value.isprintable():
        raise ValueError(
            "that does not look like a token (it contains spaces or control characters)"
        )
    return Secret(value)


def choose_plain_file(store: TokenStore, problem: TokenStoreError) -> bool:
    """Explain why the keyring cannot be used and let the user pick. True: use the plain file."""
    note(problem.message)
    print(
        "How should ht-dash keep your token?\n"
        "  1) in a plain-text file only you can read (mode 0600):\n"
        f"     {display_path(store.file_path)}\n"
        "  2) nowhere: cancel, and set HT_DASH_TOKEN in your shell instead\n"
        f"To use an OS keyring instead: {INSTALL_HINT}; then run `ht-dash login` again.",
        file=sys.stderr,
        flush=True,
    )
    while True:
        answer = ask("Choose 1 or 2 [2]: ")
        if answer is None or answer in ("", "2"):
            return False
        if answer == "1":
            return True


@handles_broken_pipe
def cmd_login(args: argparse.Namespace, runtime: Runtime) -> int:
    if runtime.demo:
        say("Demo mode uses the demo backend's own token: there is nothing to log in to.")
        say("Run `ht-dash login` without --demo to log in to your account.")
        return errors.EXIT_OK
    store = TokenStore.for_base_url(runtime.base_url)
    interactive = is_interactive()
    from_stdin = args.with_token or not sys.stdin.isatty()
    insecure = bool(args.insecure_storage)

    if not insecure:
        probe = store.probe_keyring()
        if not probe.usable and probe.problem is not None:
            if not (interactive and not from_stdin):
                return fail(probe.problem)
            if not choose_plain_file(store, probe.problem):
                note("nothing stored. To use a token without storing it: export HT_DASH_TOKEN=…")
                return errors.EXIT_ERROR
            insecure = True

    try:
        secret = read_token(from_stdin)
    except ValueError as exc:
        note(f"{exc}; nothing stored")
        return errors.EXIT_USAGE
    if secret is None:
        note("no token given; nothing stored")
        return errors.EXIT_USAGE

    async def confirm_check() -> bool:
        if args.check is not None:
            return args.check
        if not (interactive and not from_stdin):
            return False
        note(
            "the API does not offer account details to tokens; "
            f"checking it costs {TOKEN_CHECK_COST}"
        )
        return (ask("Check it now? [y/N]: ") or "").lower() in ("y", "yes")

    try:
        outcome = with_client(
            runtime,
            None,
            lambda client: validate_and_store(
                client, store, secret, insecure=insecure, confirm_check=confirm_check
            ),
        )
    except AuthError as exc:
        return fail(
            AuthError(
                f"{exc.message}; nothing was stored",
                status=exc.status,
                hint=f"check the token (copy it again from {WEB_DASHBOARD})",
            )
        )
    except HtError as exc:
        errors.print_error(exc)
        note("the token could not be checked, so nothing was stored")
        return exit_code(exc)

    saved = outcome.saved
    if saved is None and outcome.store_error is not None:
        if not (interactive and not from_stdin) or not choose_plain_file(
            store, outcome.store_error
        ):
            return fail(outcome.store_error)
        try:
            saved = store.save(secret, insecure=True)
        except TokenStoreError as exc:
            return fail(exc)
    assert saved is not None
    if outcome.profile is not None:
        say(f"Logged in to {store.host} as {outcome.profile.name} <{outcome.profile.email}>.")
    elif outcome.checked:
        say(f"Logged in to {store.host}: the token works (checked with GET {TOKEN_CHECK}).")
    else:
        say(f"Logged in to {store.host}: token not checked.")
        note("check it any time with `ht-dash auth check` (it may spend one usage token)")
    say(f"Token stored in the {saved.location.label}.")
    for text in saved.warnings:
        warn(text)
    if saved.location.insecure:
        warn("the token is stored in plain text; `ht-dash auth status` will keep saying so")
    if env := store.from_env():
        warn(f"{env[1].label} is set and is used instead of the stored token while it is set")
    return errors.EXIT_OK


# ---- logout ----------------------------------------------------------------------------------


@handles_broken_pipe
def cmd_logout(args: argparse.Namespace, runtime: Runtime) -> int:
    if runtime.demo:
        say("Demo mode stores nothing: there is nothing to log out of.")
        return errors.EXIT_OK
    store = TokenStore.for_base_url(runtime.base_url)
    result = store.delete()
    for location in result.removed:
        say(f"Removed the token for {store.host} from the {location.label}.")
    from ht_dash.feeds.offline import clear_offline_copies

    if clear_offline_copies(runtime.base_url):
        say(f"Removed the offline copies of the account data from {store.host}.")
    if not result.removed and not result.problems:
        say(f"No token stored for {store.host}.")
    if env := store.from_env():
        warn(f"{env[1].label} is still set; unset it to stop using that token")
    for problem in result.problems:
        errors.print_error(problem)
    return exit_code(result.problems[0]) if result.problems else errors.EXIT_OK


# ---- token show / copy / regenerate ----------------------------------------------------------


@handles_broken_pipe
def cmd_token_show(args: argparse.Namespace, runtime: Runtime) -> int:
    store = store_for(runtime)
    resolved = store.load()
    if resolved.secret is None:
        return no_token(resolved)
    secret = resolved.secret
    now = runtime.clock.now()
    times = token_times(secret)
    error: HtError | None = None
    try:
        info = with_client(runtime, secret, lambda client: client.token_info())
    except HtError as exc:
        info, error = None, exc

    issued = times.issued_at or (info.issued_at if info else None)
    if times.expires_at is None:
        expires = "no expiry in the token" if times.issued_at else "unknown (not a JWT)"
    else:
        expires = when(times.expires_at, now)
        if times.expired(now):
            expires += " — EXPIRED"
    claims = token_claims(secret)
    if info is not None:
        last_used = when(info.last_used_at, now) if info.last_used_at else "never"
    elif isinstance(error, NotOffered):
        last_used = last_seen_by_meter(runtime, secret, now)
        error = None  # not offered is not a failure: the rest is known without the API
    else:
        last_used = "unknown (the API could not be asked)"

    say(f"Token for {runtime.base_url}")
    say(f"  token:      {secret.reveal() if args.reveal else secret.masked}")
    say(f"  issued at:  {when(issued, now)}")
    say(f"  expires:    {expires}")
    for label, value in claims:
        say(f"  {label + ':':<11} {value}")
    say(f"  last used:  {last_used}")
    say(f"  stored in:  {resolved.location}")
    for text in resolved.warnings:
        warn(text)
    if error is not None:
        if isinstance(error, AuthError):
            error = AuthError(
                f"the API rejects this token ({error.status}): it was regenerated or revoked",
                status=error.status,
            )
        return fail(error)
    return errors.EXIT_OK


@handles_broken_pipe
def cmd_token_copy(args: argparse.Namespace, runtime: Runtime) -> int:
    resolved = store_for(runtime).load()
    if resolved.secret is None:
        return no_token(resolved)
    result = clipboard.copy_text(
        resolved.secret.reveal(), runtime.settings.clipboard, terminal_writer
    )
    message = result.message("run `ht-dash token show --reveal` to select it by hand")
    if result.severity == "error":
        note(message)
        return errors.EXIT_ERROR
    say(message)
    return errors.EXIT_OK


def confirm_regenerate(host: str) -> bool | None:
    """True/False from the user; None when there is no terminal to ask on."""
    if not is_interactive():
        return None
    print(
        f"Regenerate the API token for {host}?\n"
        "The current token stops working at once: bots and scripts using it will get 401\n"
        "until you give them the new one.",
        file=sys.stderr,
    )
    return (ask("Type 'yes' to regenerate: ") or "").lower() == "yes"


@handles_broken_pipe
def cmd_token_regenerate(args: argparse.Namespace, runtime: Runtime) -> int:
    store = store_for(runtime)
    resolved = store.load()
    if resolved.secret is None:
        return no_token(resolved)
    host = "the demo backend" if isinstance(store, DemoTokenStore) else store.host
    if not args.yes:
        answer = confirm_regenerate(host)
        if answer is None:
            note("refusing to regenerate without confirmation: no terminal to ask on")
            print("  hint: pass --yes (the current token stops working at once)", file=sys.stderr)
            return errors.EXIT_USAGE
        if not answer:
            note("cancelled; nothing changed")
            return errors.EXIT_ERROR

    try:
        outcome = with_client(runtime, resolved.secret, lambda c: regenerate(c, store, resolved))
    except AuthError as exc:
        return fail(AuthError(f"{exc.message}; nothing was regenerated", status=exc.status))
    except (NetworkError, ServerError) as exc:
        exc.hint = (
            "it is unknown whether the token was regenerated: run `ht-dash token show`; if it "
            f"reports 401, get the new token from {WEB_DASHBOARD} and run `ht-dash login`"
        )
        return fail(exc)
    except HtError as exc:
        return fail(exc)

    code = errors.EXIT_OK
    if outcome.saved is not None:
        say(f"New token {outcome.token.masked} stored in the {outcome.saved.location.label}.")
        for text in outcome.saved.warnings:
            warn(text)
    else:
        if outcome.store_error is not None:
            errors.print_error(outcome.store_error)
            code = errors.EXIT_AUTH
        else:
            note(outcome.not_saved_reason or "the new token was not stored")
        note("the new token is stored nowhere else: copy it now. Here it is, on stdout:")
        say(outcome.token.reveal())
    if outcome.verified:
        say("Checked with the API: the new token works.")
    elif outcome.verify_error is not None:
        warn(f"could not check the new token with the API: {outcome.verify_error.message}")
        if code == errors.EXIT_OK:
            code = exit_code(outcome.verify_error)
    say("The old token no longer works: give bots and scripts the new one (`ht-dash token copy`).")
    return code


# ---- auth status -----------------------------------------------------------------------------


@handles_broken_pipe
def cmd_auth_status(args: argparse.Namespace, runtime: Runtime) -> int:
    store = store_for(runtime)
    resolved = store.load()
    say(f"API:      {runtime.base_url}" + (" (demo backend)" if runtime.demo else ""))
    if isinstance(store, TokenStore):
        probe = store.probe_keyring()
        keyring_text = (
            f"{probe.backend} (usable)" if probe.usable else f"not usable — {probe.problem.message}"
        )
    else:
        keyring_text = "not used in demo mode"
    say(f"Keyring:  {keyring_text}")
    if resolved.secret is None:
        say("Token:    none found")
        return no_token(resolved)
    say(f"Token:    {resolved.secret.masked} from the {resolved.location}")
    if resolved.location is not None and resolved.location.where is Where.ENV:
        shadowed = _stored_elsewhere(store)
        if shadowed:
            say(f"          (a token stored in the {shadowed} is not used while it is set)")
    for text in resolved.warnings:
        warn(text)
    try:
        profile = with_client(runtime, resolved.secret, lambda client: client.profile())
    except NotOffered:
        for label, value in token_claims(resolved.secret):
            say(f"{(label.capitalize() + ':').ljust(9)} {value} (from the token itself)")
        say(f"Account:  not offered by the API to tokens; see {WEB_DASHBOARD}")
        say("Checked:  not by this command; `ht-dash auth check` asks the API (may cost 1 token)")
        return errors.EXIT_OK
    except HtError as exc:
        say("Account:  unknown")
        return fail(exc)
    org = f", {profile.organization}" if profile.organization else ""
    say(f"Account:  {profile.name} <{profile.email}>{org}")
    return errors.EXIT_OK


def _stored_elsewhere(store: TokenStore | DemoTokenStore) -> str | None:
    if not isinstance(store, TokenStore):
        return None
    try:
        if store.read_keyring() is not None:
            return store.keyring_location.label
    except TokenStoreError:
        pass
    return store.file_location.label if store.file_path.exists() else None


# ---- auth check ------------------------------------------------------------------------------


def last_seen_by_meter(runtime: Runtime, secret: Secret, now: datetime) -> str:
    """`token show` where the API does not offer token details: the local meter's last sight."""
    from ht_dash.sources.chain import ChainSource

    async def ask_chain() -> TokenInfo | None:
        chain = runtime.make_source(secret)
        try:
            return await chain.token_info() if isinstance(chain, ChainSource) else None
        except HtError:
            return None
        finally:
            await chain.aclose()

    info = asyncio.run(ask_chain())
    if info is not None and info.last_used_at is not None:
        return when(info.last_used_at, now) + " (seen by the local meter)"
    return "not offered by the API; the local meter has not seen it in the last hour"


@handles_broken_pipe
def cmd_auth_check(args: argparse.Namespace, runtime: Runtime) -> int:
    resolved = store_for(runtime).load()
    if resolved.secret is None:
        return no_token(resolved)
    note(f"checking {resolved.secret.masked}: {TOKEN_CHECK_COST}")
    try:
        with_client(runtime, resolved.secret, lambda client: client.check_token())
    except AuthError as exc:
        code = f" ({exc.status})" if exc.status else ""
        say(f"Rejected{code}: the token is not valid (regenerated or revoked?).")
        return fail(
            AuthError(
                f"the API rejected the token{code}",
                status=exc.status,
                hint=f"copy the current token from {WEB_DASHBOARD} and run `ht-dash login`",
            )
        )
    except (RateLimited, QuotaExhausted) as exc:
        say("Rate-limited: the token was accepted but the request was throttled.")
        return fail(exc)
    except HtError as exc:
        say("Unknown: the check could not be completed.")
        return fail(exc)
    say(f"Valid: the API accepted the token for {runtime.base_url}.")
    return errors.EXIT_OK


# ---- registration ----------------------------------------------------------------------------


def _parser(subparsers: argparse._SubParsersAction, name: str, help: str, description: str):
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=exit_codes(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    login = _parser(
        subparsers,
        "login",
        "store your API token (validated first) in the OS keyring",
        "Store your API token for the API host. On a terminal you paste it at a hidden prompt; "
        "piped input (or --with-token) is read from stdin. The token is checked against the API "
        "before it is stored. It goes to the OS keyring; a plain-text file is used only if you "
        "choose it (--insecure-storage, or when asked because no keyring is available).",
    )
    login.add_argument("--with-token", action="store_true", help="read the token from stdin")
    login.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="where the API offers no account details: check the token with one data request "
        "(may cost one usage token) or not (stored as not checked); asked on a terminal",
    )
    login.add_argument(
        "--insecure-storage",
        action="store_true",
        help="store the token in a plain-text file (mode 0600) instead of the OS keyring",
    )
    login.set_defaults(handler=cmd_login)

    logout = _parser(
        subparsers,
        "logout",
        "remove the stored token (keyring entry and plain-text file)",
        "Remove the token stored for the API host from the OS keyring and the plain-text file.",
    )
    logout.set_defaults(handler=cmd_logout)

    token = _parser(
        subparsers,
        "token",
        "show, copy or regenerate the API token",
        "Show, copy or regenerate the API token.",
    )
    actions = token.add_subparsers(dest="token_action", metavar="action", required=True)
    show = _parser(
        actions,
        "show",
        "masked token, issued at, expiry, last used, where it is stored",
        "Show the token (masked unless --reveal), when it was issued, its expiry if it has one, "
        "when it was last used (asks the API) and where it is stored.",
    )
    show.add_argument("--reveal", action="store_true", help="print the whole token")
    show.set_defaults(handler=cmd_token_show)
    copy = _parser(
        actions,
        "copy",
        "copy the token to the clipboard",
        "Copy the token: through the terminal (OSC 52, works over SSH) and, on a local session, "
        "the system clipboard tool. The `clipboard` setting (auto|osc52|native) chooses.",
    )
    copy.set_defaults(handler=cmd_token_copy)
    regen = _parser(
        actions,
        "regenerate",
        "revoke the token and issue a new one",
        "Revoke the current token and issue a new one. The old token stops working at once. The "
        "new one is stored where the old one was, read back and checked with the API; if it "
        "cannot be stored it is printed so that it is never lost.",
    )
    regen.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    regen.set_defaults(handler=cmd_token_regenerate)

    auth = _parser(subparsers, "auth", "authentication status", "Authentication status.")
    auth_actions = auth.add_subparsers(dest="auth_action", metavar="action", required=True)
    status = _parser(
        auth_actions,
        "status",
        "where the token comes from, whether the keyring works, who it belongs to",
        "Show the API, the keyring backend, where the token comes from (warning when it is in "
        "plain text) and the account it belongs to.",
    )
    status.set_defaults(handler=cmd_auth_status)
    check = _parser(
        auth_actions,
        "check",
        "check the token with one request to the API (may cost one usage token)",
        f"Check the token with {TOKEN_CHECK_COST}. Reports valid, rejected (401, exit 3) or "
        "rate-limited (exit 5).",
    )
    check.set_defaults(handler=cmd_auth_check)
