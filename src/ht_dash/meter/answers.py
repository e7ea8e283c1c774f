"""The meter's own answers to a bot (a JSON body with a reason phrase) and the words it uses for
what went wrong: shared by the HTTP proxy and the stream relay."""

from __future__ import annotations

import json
import re
import ssl
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit

import h11

from ht_dash.api.client import is_loopback_host
from ht_dash.api.errors import ConfigError


def checked_upstream(
    url: str, *, what: str, schemes: tuple[str, str], example: str
) -> tuple[SplitResult, int]:
    """An upstream URL the meter may forward to, and its port: `schemes` is (plain, encrypted);
    the plain one only to loopback (the token travels in it); no query or fragment."""
    plain, secure = schemes
    parts = urlsplit(url.strip())
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(
            f"{what} {url!r} is not a {plain}:// or {secure}:// URL", hint=f"e.g. {example}"
        )
    if parts.scheme == plain and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"refusing plain {plain}:// {what} {parts.hostname}: "
            "the token would travel unencrypted",
            hint=f"use {secure}://, or {plain}:// only to 127.0.0.1/localhost",
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{what} {url!r} must not have a query or fragment")
    try:
        port = parts.port or (443 if parts.scheme == secure else 80)
    except ValueError:
        raise ConfigError(f"{what} {url!r} has an invalid port") from None
    return parts, port


class Refusal(NamedTuple):
    """The meter's own answer instead of forwarding, and the `failure` it is recorded with."""

    status: int
    error: str
    message: str
    failure: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


def answer_bytes(
    conn: h11.Connection, refusal: Refusal, *, head: bool = False, close: bool = False
) -> tuple[bytes, int]:
    """The meter's own JSON answer on `conn`, and its body size (a HEAD gets the headers only)."""
    body = json.dumps({"error": refusal.error, "message": f"ht-dash meter: {refusal.message}"})
    encoded = body.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(encoded))]
    if close:
        headers.append((b"connection", b"close"))
    headers += refusal.headers
    data = conn.send(
        h11.Response(
            status_code=refusal.status, headers=headers, reason=reason_phrase(refusal.status)
        )
    )
    if not head:
        data += conn.send(h11.Data(data=encoded))
    data += conn.send(h11.EndOfMessage())
    return data, 0 if head else len(encoded)


def reason_phrase(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


# h11 quotes the offending bytes (`bytearray(b'…')`): they may hold a token, and read badly.
_QUOTED_BYTES = re.compile(r":?\s*(?:bytearray\()?\bb['\"].*", re.S)


def describe(exc: Exception) -> str:
    return _QUOTED_BYTES.sub("", str(exc)) or type(exc).__name__


def os_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.lower()
