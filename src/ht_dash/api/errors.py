"""Errors the account API can produce, each with a title and a message that says what to do.

Messages never contain the token: they are built from status codes, server messages and field
names only.
"""

from __future__ import annotations

from datetime import datetime


class HtError(Exception):
    """Base of every error ht-dash reports to the user."""

    title = "Error"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ConfigError(HtError):
    title = "Configuration problem"


class InsecureBaseURL(ConfigError):
    title = "Refusing insecure URL"


class AuthError(HtError):
    """401/403, or no token at all."""

    title = "Not authorised"

    def __init__(self, message: str, *, status: int | None = None, hint: str = "") -> None:
        super().__init__(
            message,
            hint=hint or "log in again with `ht-dash login` (or set HT_DASH_TOKEN)",
        )
        self.status = status


class QuotaExhausted(HtError):
    """402, or a 429 whose wait is hours: the plan's usage tokens are spent."""

    title = "Usage quota spent"

    def __init__(self, message: str, *, resets_at: datetime | None = None) -> None:
        when = f"it resets at {resets_at:%Y-%m-%d %H:%M} UTC" if resets_at else "wait for the reset"
        super().__init__(message, hint=f"{when}, or upgrade the plan")
        self.resets_at = resets_at


class RateLimited(HtError):
    """429: the per-minute limit was hit; `retry_after` is the wait in seconds."""

    title = "Rate-limited"

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        wait = f"retry in {retry_after:.0f} s" if retry_after is not None else "retry shortly"
        super().__init__(message, hint=wait)
        self.retry_after = retry_after


class BadRequest(HtError):
    title = "Request rejected"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(
            message, hint="this is a bug in ht-dash or a changed API; please report it"
        )
        self.status = status


class ServerError(HtError):
    title = "Server error"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, hint="the service is having trouble; ht-dash will retry")
        self.status = status


class Redirected(ServerError):
    """A 3xx: ht-dash never follows one (the token must not travel elsewhere); asking again
    gets the same answer, so it is not retried. Usually the base URL is not the API's."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, status=status)
        self.hint = "check the base URL (--base-url, HT_DASH_BASE_URL)"


class NetworkError(HtError):
    title = "Network problem"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint or "check your connection; ht-dash will retry")


class BadPayload(HtError):
    """A 2xx answer ht-dash cannot understand; names the offending field."""

    title = "Unexpected response"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, hint="the API may have changed; try again or report it")
        self.field = field


class NotAvailable(HtError):
    """The current data source cannot provide this (e.g. billing from the local meter)."""

    title = "Not available from this source"


class NotOffered(NotAvailable):
    """The service does not offer this to tokens (404/405/501 on an account path).

    A state, not a fault: the feed stops asking the API (re-probing at most hourly, and on `r`)
    and falls to the next source in its chain; no message calls it a bug.
    """

    title = "Not offered by the API"

    def __init__(self, message: str, *, status: int | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status
