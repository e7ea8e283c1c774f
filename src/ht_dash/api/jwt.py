"""Read a JWT's claims (`iat`, `exp`, `sub`, `mid`) without verifying it: ht-dash has no key,
these are for display only."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ht_dash.api.secret import Secret
from ht_dash.sanitize import terminal_safe


@dataclass(frozen=True, slots=True)
class TokenTimes:
    issued_at: datetime | None
    expires_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def decode_claims(token: Secret | str) -> dict[str, Any] | None:
    """The payload of a JWT as a dict, or None when it is not a JWT. The signature is unchecked."""
    value = token.reveal() if isinstance(token, Secret) else token
    parts = value.strip().split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


def _instant(value: Any) -> datetime | None:
    """A NumericDate claim (seconds since the epoch) as an aware UTC datetime, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def token_times(token: Secret | str) -> TokenTimes:
    """Issued-at and expiry from the token itself; None for claims that are absent or unreadable."""
    claims = decode_claims(token) or {}
    return TokenTimes(issued_at=_instant(claims.get("iat")), expires_at=_instant(claims.get("exp")))


def token_claims(secret: Secret) -> list[tuple[str, str]]:
    """What the token itself says besides its dates: subject and member id (JWT claims)."""
    claims = decode_claims(secret) or {}
    out = []
    for key, label in (("sub", "subject"), ("mid", "member id")):
        value = claims.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            out.append((label, terminal_safe(str(value))[:60]))  # data, never control
    return out
