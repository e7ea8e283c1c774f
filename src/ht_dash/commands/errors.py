"""Exit codes and how a command reports an error: one line on stderr, a hint, and for `--json`
a JSON error document (schema: docs/cli.md). Commands and the CLI entry both use this module;
no command imports `ht_dash.cli`."""

from __future__ import annotations

import sys
from pathlib import Path

from ht_dash.api.errors import (
    AuthError,
    BadPayload,
    BadRequest,
    ConfigError,
    HtError,
    NetworkError,
    NotAvailable,
    QuotaExhausted,
    RateLimited,
    ServerError,
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_AUTH, EXIT_NETWORK, EXIT_QUOTA = 0, 1, 2, 3, 4, 5
EXIT_NOT_AVAILABLE = 6  # nothing here can answer (the API does not offer it, no meter data…)

# Stable names of the "type" field of a JSON error (documented in docs/cli.md).
ERROR_TYPES: tuple[tuple[type[BaseException], str], ...] = (
    (AuthError, "auth"),
    (QuotaExhausted, "quota_exhausted"),
    (RateLimited, "rate_limited"),
    (NetworkError, "network"),
    (ServerError, "server"),
    (BadPayload, "bad_payload"),
    (BadRequest, "bad_request"),
    (NotAvailable, "not_available"),
    (ConfigError, "config"),
)


def error_exit_code(exc: BaseException) -> int:
    if isinstance(exc, AuthError):
        return EXIT_AUTH
    if isinstance(exc, QuotaExhausted | RateLimited):
        return EXIT_QUOTA
    if isinstance(exc, NetworkError | ServerError | BadPayload | BadRequest):
        return EXIT_NETWORK
    if isinstance(exc, NotAvailable):
        return EXIT_NOT_AVAILABLE
    if isinstance(exc, ConfigError):
        return EXIT_USAGE
    return EXIT_ERROR


def print_error(exc: HtError) -> None:
    from ht_dash.sanitize import terminal_safe  # the last line of defence for error text

    print(f"ht-dash: {terminal_safe(exc.message)}", file=sys.stderr)
    if exc.hint:
        print(f"  hint: {terminal_safe(exc.hint)}", file=sys.stderr)


def error_type(exc: BaseException) -> str:
    for cls, name in ERROR_TYPES:
        if isinstance(exc, cls):
            return name
    return "unexpected"


def unexpected_hint(report: Path | None, *, debug: bool) -> str:
    """What to do about a bug: report it, with the file that holds its redacted traceback."""
    if report is None:
        return "this is a bug in ht-dash; please report it (--debug writes a redacted log)"
    if debug:
        return f"this is a bug in ht-dash; please report it; details in {report}"
    return f"this is a bug in ht-dash; please report it with the redacted crash report in {report}"


def unexpected_message(exc: BaseException) -> str:
    from ht_dash.logs import redact  # an exception's text may quote the token
    from ht_dash.sanitize import terminal_safe

    text = redact(terminal_safe(str(exc).strip().splitlines()[0]))[:200] if str(exc).strip() else ""
    return f"unexpected error: {type(exc).__name__}" + (f": {text}" if text else "")


def error_document(
    exc: BaseException, exit_code: int, *, hint: str | None = None
) -> dict[str, object]:
    if isinstance(exc, HtError):
        message, hint = exc.message, exc.hint
    else:
        message, hint = unexpected_message(exc), hint or unexpected_hint(None, debug=False)
    return {
        "error": {"type": error_type(exc), "message": message, "hint": hint, "exit_code": exit_code}
    }
