"""The meter's own answers to a bot (a JSON body with a reason phrase) and the words it uses for
what went wrong: shared by the HTTP proxy and the stream relay."""

from __future__ import annotations

import json
import re
import ssl
from http import HTTPStatus
from typing import NamedTuple

import h11


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
