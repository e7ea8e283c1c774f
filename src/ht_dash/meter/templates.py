"""Path templates: `/segments/9/summary` and `/segments/4/summary` are one endpoint.

Values in a path (ids, wallet addresses, coin symbols, dates, uuids, numbers, long opaque strings)
become placeholders. A segment is kept as it is only when it is a literal of a known route of the
data API or a short lowercase word; anything else may be a key and becomes `{value}`. The query
string, the host and any user info are never kept: they may hold addresses or even a token.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, urlsplit

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
# Literals of the data API's documented routes (docs of the service, see HYPERTRACKER.md).
ROUTE_LITERALS = frozenset(
    {
        "orders", "5m-snapshots", "position-metrics", "general", "positions", "coin",
        "segments", "state", "summary", "heatmap", "leaderboards", "bias-history",
        "closed-trades", "fills", "liquidation", "fundings", "hypertracker", "status",
        "perp-pnl", "all-pnl", "biggest-positions", "assets", "liquidation-risk", "builders",
        "all-time-revenue", "events", "endpoints", "info", "metrics", "perp-volume", "wallets",
        "external-json",
    }
)  # fmt: skip
# A short lowercase word, or a few of them in kebab case: `latest`, `by-coin`.
_WORD = re.compile(r"[a-z]{1,12}(-[a-z]{1,12}){0,2}")


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
    if segment in ROUTE_LITERALS or _WORD.fullmatch(segment):
        return None
    return "{value}"


@lru_cache(maxsize=4096)
def path_template(target: str) -> str:
    """The endpoint template of a request target (path and optional query).

    >>> path_template("/api/external/segments/9/summary?limit=5")
    '/segments/{id}/summary'
    """
    if target == "*":
        return "*"
    if not target.startswith("/"):
        if "://" not in target:
            return "{authority}"  # CONNECT host:port
        target = urlsplit(target).path or "/"  # absolute form: never the host or user info
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
        out.append(_placeholder(segment) or segment)
    if len(segments) > _MAX_SEGMENTS:
        out.append("…")
    return "/" + "/".join(out)


# Centrifugo channels: `namespace:name`, with `#user` or `$private` parts, sometimes `/` or `.`.
_CHANNEL_SPLIT = re.compile(r"([:/#.,$])")
_CHANNEL_MAX = 128
_PRINTABLE = re.compile(r"[^\x21-\x7e]")


def _channel_part(part: str) -> str:
    """A channel segment kept as it is (an address, a coin, a word, a number) unless it may be a
    secret: a token, a hash, a uuid or a long opaque string becomes a placeholder."""
    if not part or _ADDRESS.fullmatch(part) or _INT.fullmatch(part):
        return part
    if _UUID.fullmatch(part):
        return "{uuid}"
    if _HEX.fullmatch(part):
        return "{hash}"
    if len(part) >= _OPAQUE_MIN and (any(c.isdigit() for c in part) or len(part) > 40):
        return "{id}"
    return part


@lru_cache(maxsize=4096)
def channel_template(channel: str) -> str:
    """A stream channel as the meter stores it.

    >>> channel_template("trades:0x" + "ab" * 20)
    'trades:0xabababababababababababababababababababab'
    >>> channel_template("orders#9f2c4e1d7a0b3c5d6e7f8091a2b3c4d5")
    'orders#{hash}'
    """
    channel = _JWT.sub("{token}", _PRINTABLE.sub("?", channel))  # before `.` splits it
    parts = _CHANNEL_SPLIT.split(channel)
    template = "".join(_channel_part(p) if i % 2 == 0 else p for i, p in enumerate(parts))
    return template if len(template) <= _CHANNEL_MAX else template[: _CHANNEL_MAX - 1] + "…"
