"""The one async client that speaks the account-API contract over a single httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from ht_dash import __version__
from ht_dash.api import contract, service
from ht_dash.api.errors import (
    AuthError,
    BadPayload,
    BadRequest,
    InsecureBaseURL,
    NetworkError,
    NotOffered,
    QuotaExhausted,
    RateLimited,
    Redirected,
    ServerError,
)
from ht_dash.api.models import (
    EndpointDaily,
    EndpointUsageReport,
    HistoryEntry,
    HistoryPage,
    LiveUsage,
    Metrics,
    NextBilling,
    Profile,
    RegeneratedToken,
    RequestLogPage,
    SecondCounts,
    Subscription,
    TokenInfo,
)
from ht_dash.api.secret import Secret
from ht_dash.clock import Clock, SystemClock
from ht_dash.logs import redact, register_secret
from ht_dash.sanitize import terminal_safe

USER_AGENT = f"ht-dash/{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # per connect / per read
DEFAULT_DEADLINE_S = 20.0  # per request, whole: a byte-a-second answer resets read timeouts
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_RETRY_WAIT_S = 366 * 86_400
# On an account path these mean "the service does not offer this to tokens", not a fault.
NOT_OFFERED_STATUSES = frozenset({404, 405, 501})

T = TypeVar("T")
log = logging.getLogger(__name__)


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Return the normalised base URL, or raise InsecureBaseURL / ConfigError-like messages."""
    url = url.strip().rstrip("/")
    if any(c.isspace() or not c.isprintable() for c in url):  # urlsplit drops CR, LF and tabs
        raise InsecureBaseURL(
            f"base URL {url!r} contains a space or a control character",  # repr: escaped
            hint="use e.g. https://ht-api.coinmarketman.com/api/external",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError on a port that is not a number
    except ValueError as exc:
        raise InsecureBaseURL(
            f"base URL {url!r} is not a valid URL ({exc})",
            hint="use e.g. https://ht-api.coinmarketman.com/api/external",
        ) from None
    if parts.username is not None or parts.password is not None:
        raise InsecureBaseURL(
            "the base URL must not contain a user name or password",
            hint="the token is the only credential ht-dash sends; remove the part before '@'",
        )
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InsecureBaseURL(
            f"base URL {url!r} is not an http(s) URL",
            hint="use e.g. https://ht-api.coinmarketman.com/api/external",
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InsecureBaseURL(
            f"refusing plain http:// to {parts.hostname}: the token would travel unencrypted",
            hint="use https://, or http:// only to 127.0.0.1/localhost",
        )
    return url


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class AccountClient:
    """Async client for the account API. Implements `ht_dash.api.source.AccountSource`."""

    name = "api"

    def __init__(
        self,
        base_url: str,
        token: Secret | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE_S,
        clock: Clock | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.deadline = deadline
        register_secret(token)
        self._token = token
        self._clock = clock or SystemClock()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self.requests_sent = 0

    def __repr__(self) -> str:
        return (
            f"AccountClient(base_url={self.base_url!r}, token={'set' if self._token else 'none'})"
        )

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    def set_token(self, token: Secret | None) -> None:
        register_secret(token)
        self._token = token

    @property
    def has_token(self) -> bool:
        return self._token is not None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AccountClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- transport ---------------------------------------------------------------------------

    async def _request(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        if self._token is None:
            raise AuthError("no API token is configured")
        if not _sendable_token(self._token.reveal()):
            raise AuthError(
                "the token contains characters a token cannot have (spaces, line breaks or '…')",
                hint="paste the full token, not its masked form (`ht-dash login`)",
            )
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        params = {k: v for k, v in (params or {}).items() if v is not None}
        self.requests_sent += 1
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.deadline):
                request = self._http.build_request(method, path, params=params, headers=headers)
                response = await self._http.send(request, stream=True)
                try:
                    body = await self._read_capped(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            log.debug("%s %s: no full answer within the %g s deadline", method, path, self.deadline)
            raise NetworkError(
                f"{self.host} answered too slowly (no full answer in {self.deadline:g} s)",
                hint="the service or a proxy is overloaded; raise --request-deadline "
                "(HT_DASH_REQUEST_DEADLINE) if it is just slow",
            ) from None
        except httpx.TransportError as exc:
            elapsed = _ms(started)
            log.debug("%s %s failed after %.0f ms: %s", method, path, elapsed, type(exc).__name__)
            raise NetworkError(_transport_message(self.host, exc)) from None
        except BadPayload:
            log.debug("%s %s -> body over %d bytes, refused", method, path, MAX_BODY_BYTES)
            raise
        status, elapsed = response.status_code, _ms(started)
        log.debug("%s %s -> %s in %.0f ms (%d bytes)", method, path, status, elapsed, len(body))
        return self._decode(response, body, path)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BadPayload(f"response larger than {MAX_BODY_BYTES // 2**20} MiB")
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, response: httpx.Response, body: bytes, path: str = "") -> Any:
        status = response.status_code
        data = _json_or_none(body)
        reason = _server_text(response.reason_phrase or "")[:100]
        message = _server_message(data) or reason or f"HTTP {status}"
        if 200 <= status < 300:
            if data is _NOT_JSON:
                raise BadPayload(f"the server answered {status} with something that is not JSON")
            return data
        if status in (401, 403):
            text = (
                "the token was rejected (401)"
                if status == 401
                else "the token is not allowed here (403)"
            )
            raise AuthError(text, status=status)
        if status == 402:
            resets = None
            if isinstance(data, dict) and isinstance(data.get("resets_at"), str):
                with contextlib.suppress(ValueError, OverflowError):  # an odd reset is unknown
                    resets = contract.read_instant(data["resets_at"])
            raise QuotaExhausted(message, resets_at=resets)
        if status == 429:
            raise self._rate_limited(response, data, message)
        if 300 <= status < 400:
            location = _server_text(response.headers.get("Location", ""))[:100]
            where = f" to {location}" if location else ""
            raise Redirected(
                f"unexpected redirect ({status}){where}; ht-dash does not follow redirects",
                status=status,
            )
        if status in NOT_OFFERED_STATUSES and contract.is_account_path(path):
            raise NotOffered(
                f"the API does not offer {path} to tokens ({status})",
                status=status,
                hint="ht-dash answers from the local meter or your declared plan instead",
            )
        if 400 <= status < 500:
            raise BadRequest(f"{message} ({status})", status=status)
        raise ServerError(f"the server answered {status} {reason}".strip(), status=status)

    def _rate_limited(self, response: httpx.Response, data: Any, message: str) -> Exception:
        now = self._clock.now()
        waits = [parse_retry_after(response.headers.get("Retry-After"), now)]
        if isinstance(data, dict):
            body_wait = data.get("retry_after")
            if (
                isinstance(body_wait, int | float)
                and not isinstance(body_wait, bool)
                and body_wait >= 0
            ):
                waits.append(float(body_wait))
        known = [w for w in waits if w is not None and math.isfinite(w)]
        # Cap absurd waits (1e300 s would overflow datetime): no quota resets later than a year.
        wait = min(max(known), MAX_RETRY_WAIT_S) if known else None
        if wait is not None and wait > contract.QUOTA_RETRY_AFTER_THRESHOLD_S:
            return QuotaExhausted(message, resets_at=now + timedelta(seconds=wait))
        return RateLimited(message, retry_after=wait)

    async def _get(self, path: str, parse: Callable[[Any], T], **params: Any) -> T:
        return parse(await self._request("GET", path, params))

    # ---- endpoints ---------------------------------------------------------------------------

    async def profile(self) -> Profile:
        return await self._get(contract.PROFILE, contract.parse_profile)

    async def token_info(self) -> TokenInfo:
        return await self._get(contract.TOKEN, contract.parse_token_info)

    async def check_token(self) -> None:
        """One request to a cheap documented data endpoint (may spend one usage token): returns
        when the token is accepted, raises AuthError (401), RateLimited, QuotaExhausted…"""
        await self._request("GET", service.TOKEN_CHECK)

    async def regenerate_token(self) -> RegeneratedToken:
        data = await self._request("POST", contract.TOKEN_REGENERATE)
        regenerated = contract.parse_regenerated(data)
        register_secret(regenerated.token)
        return regenerated

    async def subscription(self) -> Subscription:
        return await self._get(contract.SUBSCRIPTION, contract.parse_subscription)

    async def live(self, window_minutes: int = 15) -> LiveUsage:
        return await self._get(contract.LIVE, contract.parse_live, window_minutes=window_minutes)

    async def metrics(self, days: int = 90) -> Metrics:
        return await self._get(contract.METRICS, contract.parse_metrics, days=days)

    async def endpoint_usage(
        self, timeframe: str = "30d", date: date | None = None
    ) -> EndpointUsageReport:
        return await self._get(
            contract.ENDPOINT_USAGE,
            contract.parse_endpoint_usage,
            timeframe=None if date is not None else timeframe,
            date=None if date is None else date.isoformat(),
        )

    async def endpoint_daily(
        self, method: str, path: str, timeframe: str = "30d", date: date | None = None
    ) -> EndpointDaily:
        query = {
            "method": method,
            "path": path,  # a query parameter here, not `_get`'s path: passed as a dict
            "timeframe": None if date is not None else timeframe,
            "date": None if date is None else date.isoformat(),
        }
        return contract.parse_endpoint_daily(
            await self._request("GET", contract.ENDPOINT_DAILY, query)
        )

    async def next_billing(self) -> NextBilling:
        return await self._get(contract.NEXT_BILLING, contract.parse_next_billing)

    async def second_counts(self, window_minutes: int = 15) -> SecondCounts:
        return await self._get(
            contract.SECONDS, contract.parse_second_counts, window_minutes=window_minutes
        )

    async def recent_requests(
        self, after_id: int | None = None, limit: int = 1000
    ) -> RequestLogPage:
        return await self._get(
            contract.REQUESTS, contract.parse_request_log, after_id=after_id, limit=limit
        )

    async def history(
        self, *, kind: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> HistoryPage:
        return await self._get(
            contract.HISTORY, contract.parse_history, kind=kind, cursor=cursor, limit=limit
        )

    async def iter_history(
        self, *, kind: str | None = None, limit: int = 200, max_pages: int = 10_000
    ) -> AsyncIterator[HistoryEntry]:
        """Every entry, page by page; stops on the last page or on a cursor seen before."""
        seen: set[str] = set()
        cursor: str | None = None
        for _ in range(max_pages):
            page = await self.history(kind=kind, cursor=cursor, limit=limit)
            for entry in page.items:
                yield entry
            cursor = page.next_cursor
            if cursor is None or cursor in seen:
                return
            seen.add(cursor)


_NOT_JSON = object()


def _json_or_none(body: bytes) -> Any:
    if not body.strip():
        return _NOT_JSON
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _NOT_JSON


def _server_message(data: Any) -> str | None:
    """The body's `message`, shortened, redacted and terminal-safe."""
    if isinstance(data, dict):
        message = data.get("message")
        if isinstance(message, list) and message and all(isinstance(m, str) for m in message):
            message = "; ".join(message)
        if isinstance(message, str) and (text := _server_text(message)):
            return text[:200]
    return None


def _server_text(text: str) -> str:
    """Server text bound for an error: redacted (a server may echo the token) and terminal-safe."""
    return redact(terminal_safe(text)).strip()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _sendable_token(token: str) -> bool:
    return token.isascii() and token.isprintable() and not any(c.isspace() for c in token)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and members of exception groups, each once."""
    found: list[BaseException] = []
    todo = [exc]
    while todo and len(found) < 50:
        current = todo.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += list(getattr(current, "exceptions", ()) or ())
    return found


def _transport_message(host: str, exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting to {host}"
    if isinstance(exc, httpx.ReadTimeout):
        return f"{host} did not answer in time"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out talking to {host}"
    if isinstance(exc, httpx.ConnectError):
        return _connect_message(host, exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc).lower()
        if "peer closed" in text or "incomplete" in text:
            return f"connection to {host} broke off in the middle of the answer"
        if "without sending a response" not in text:
            return f"{host} answered with something that is not HTTP"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return f"connection to {host} broke off (closed or reset)"
    return f"could not reach {host} ({type(exc).__name__})"


def _connect_message(host: str, exc: httpx.ConnectError) -> str:
    chain = _causes(exc)
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, socket.gaierror) for e in chain) or any(
        phrase in text
        for phrase in (
            "name or service not known",
            "nodename nor servname",
            "getaddrinfo",
            "temporary failure in name resolution",
            "no address associated",
        )
    ):
        return f"cannot resolve {host} (DNS)"
    if any(isinstance(e, ssl.SSLError) for e in chain) or any(
        word in text for word in ("certificate", "ssl", "tls")
    ):
        return f"TLS handshake with {host} failed (certificate or proxy problem)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return f"connection to {host} refused"
    if any(isinstance(e, TimeoutError) for e in chain):
        return f"timed out connecting to {host}"
    return f"cannot connect to {host}"
