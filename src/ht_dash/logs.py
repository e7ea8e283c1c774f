"""Logging with redaction: no token reaches a log line, an exception text or the debug log file.

`setup_logging(debug)` runs once per process (cli.main). Every handler it installs carries
`RedactionFilter`, which removes registered secret values (`register_secret`, called wherever a
token enters the process) and anything shaped like a Bearer credential or a JWT.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a runtime import would be circular: ht_dash.api's client registers secrets here
    from ht_dash.api.secret import Secret

LOGGER_NAME = "ht_dash"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
KEEP_LOG_FILES = 10
REDACTED = "[redacted]"

_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{4,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_AUTH_HEADER = re.compile(r"(?i)(['\"]?authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+")
_TOKEN_FIELD = re.compile(
    r"(?i)(['\"]?(?:token|api_key|apikey)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}&]{8,}"
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(secret: Secret | str | None) -> None:
    """Remember a value that must never appear in a log line (the token, a regenerated one)."""
    if secret is None:
        return
    value = secret if isinstance(secret, str) else secret.reveal()
    value = value.strip()
    if len(value) >= 6:  # shorter values would redact ordinary words
        with _secrets_lock:
            _secrets.add(value)


def contains_secret(text: str) -> bool:
    """Whether `text` holds a registered secret or something token-shaped."""
    with _secrets_lock:
        known = list(_secrets)
    return any(s in text for s in known) or bool(_BEARER.search(text) or _JWT.search(text))


def redact(text: str) -> str:
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _TOKEN_FIELD.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


class RedactionFilter(logging.Filter):
    """Rewrites a record in place: message with its args, exception and stack text, all redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record, nor crash the app
            message = f"{record.msg!r} (unformattable args)"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(_format_exception(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _format_exception(exc_info: Any) -> str:
    return logging.Formatter().formatException(exc_info)


class _Installed(logging.Handler):
    """Marker base so a second setup_logging() replaces what the first one installed."""


class _FileHandler(logging.FileHandler, _Installed):
    pass


class _NullHandler(logging.NullHandler, _Installed):
    pass


def setup_logging(debug: bool) -> Path | None:
    """Configure the `ht_dash` logger; with `debug`, log to a new 0600 file and return its path.

    Never raises: if the log directory cannot be written, says so on stderr and logs nothing.
    Without `debug` nothing is written anywhere (the terminal belongs to the dashboard).
    """
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if isinstance(handler, _Installed):
            logger.removeHandler(handler)
            handler.close()
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    if not debug:
        null = _NullHandler()
        null.addFilter(RedactionFilter())
        logger.addHandler(null)
        return None
    try:
        path = _new_log_file()
        handler = _FileHandler(path, encoding="utf-8")
    except OSError as exc:
        sys.stderr.write(
            f"ht-dash: cannot write a debug log ({exc.strerror or exc}); continuing without\n"
        )
        logger.addHandler(_NullHandler())
        return None
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactionFilter())
    logger.addHandler(handler)
    from ht_dash import __version__

    logger.debug("ht-dash %s, Python %s, debug log %s", __version__, sys.version.split()[0], path)
    return path


def record_crash(exc: BaseException) -> Path | None:
    """Keep the redacted traceback of an error nobody expected; return the file that holds it.

    With --debug it goes to the debug log; otherwise to a new 0600 crash report in the log
    directory. Never frame locals (they can hold the token). None if nothing could be written.
    """
    logger = logging.getLogger(LOGGER_NAME)
    for handler in logger.handlers:
        if isinstance(handler, _FileHandler):
            logger.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
            return Path(handler.baseFilename)
    text = redact("".join(traceback.format_exception(exc)))
    try:
        path = _new_log_file("crash")
        path.write_text(text, encoding="utf-8")
    except OSError:
        return None
    return path


def _new_log_file(kind: str = "debug") -> Path:
    from ht_dash.paths import log_dir

    directory = log_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"ht-dash-{kind}-{stamp}-{os.getpid()}.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)  # the umask may have narrowed it, never widened: make it exact
    _prune(directory, kind)
    return path


def _prune(directory: Path, kind: str) -> None:
    logs = sorted(directory.glob(f"ht-dash-{kind}-*.log"), key=lambda p: p.stat().st_mtime)
    for old in logs[:-KEEP_LOG_FILES]:
        with contextlib.suppress(OSError):
            old.unlink()
