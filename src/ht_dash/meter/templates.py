"""Path templates: `/segments/9/summary` and `/segments/4/summary` are one endpoint.

Values in a path (ids, wallet addresses, coin symbols, dates, uuids, numbers, long opaque strings)
become placeholders. The query string is never kept: it may hold addresses or even a token.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

# The data API's base path; templates are stored relative to it, as the account API reports them.
DATA_API_PREFIX = "/api/external"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_ADDRESS = re.compile(r"0x[0-9a-f]{40}", re.I)
_HEX = re.compile(r"(0x)?[0-9a-f]{16,}", re.I)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?")
_INT = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+\.\d+")
_JWT = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
# Hyperliquid coins: BTC, ETH, kPEPE, HYPE, 1000SATS, spot ids like @107. Endpoint names are
# lowercase kebab-case, so a mostly upper-case short segment is a value.
_COIN = re.compile(r"(k?[A-Z0-9]{1,15}|@\d+)")
_OPAQUE_MIN = 20
_MAX_SEGMENTS = 24
_MAX_SEGMENT_CHARS = 80


def _placeholder(segment: str) -> str | None:
    """The placeholder for a value segment, or None when the segment is part of the route."""
    if _INT.fullmatch(segment):
        return "{id}"
    if _ADDRESS.fullmatch(segment):
        return "{address}"
    if _UUID.fullmatch(segment):
        return "{uuid}"
    if _DATE.fullmatch(segment):
        return "{date}"
    if _NUMBER.fullmatch(segment):
        return "{number}"
    if _HEX.fullmatch(segment):
        return "{hash}"
    if _JWT.fullmatch(segment):
        return "{token}"
    if _COIN.fullmatch(segment) and any(c.isupper() or c == "@" for c in segment):
        return "{coin}"
    if len(segment) >= _OPAQUE_MIN and any(c.isdigit() for c in segment):
        return "{id}"
    if len(segment) > _MAX_SEGMENT_CHARS:
        return "{value}"
    return None


@lru_cache(maxsize=4096)
def path_template(target: str) -> str:
    """The endpoint template of a request target (path and optional query).

    >>> path_template("/api/external/segments/9/summary?limit=5")
    '/segments/{id}/summary'
    """
    path = target.split("?", 1)[0].split("#", 1)[0] or "/"
    if path == DATA_API_PREFIX or path.startswith(DATA_API_PREFIX + "/"):
        path = path[len(DATA_API_PREFIX) :] or "/"
    out: list[str] = []
    segments = path.split("/")[1:]
    for raw in segments[:_MAX_SEGMENTS]:
        segment = unquote(raw)
        if not segment:
            out.append("")
            continue
        placeholder = _placeholder(segment)
        # Route segments are kept as sent (percent-encoding included), cut to a sane length.
        out.append(placeholder or raw[:_MAX_SEGMENT_CHARS])
    if len(segments) > _MAX_SEGMENTS:
        out.append("…")
    return "/" + "/".join(out)
