"""The one async client that speaks the account-API contract over a single httpx.AsyncClient."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from ht_dash import __version__
from ht_dash.api import contract
from ht_dash.api.errors import (
    AuthError,
    BadPayload,
    BadRequest,
    InsecureBaseURL,
    NetworkError,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from ht_dash.api.models import (
    EndpointUsageReport,
    HistoryEntry,
    HistoryPage,
    LiveUsage,
    Metrics,
    NextBilling,
    Profile,
    RegeneratedToken,
    Subscription,
    TokenInfo,
)
from ht_dash.api.secret import Secret
from ht_dash.clock import Clock, SystemClock

USER_AGENT = f"ht-dash/{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_BODY_BYTES = 16 * 1024 * 1024

T = TypeVar("T")


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
    parts = urlsplit(url)
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
        return max(0.0, float(value))
    except ValueError:
        pass
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
        clock: Clock | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
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
        return f"AccountClient(base_url={self.base_url!r}, token={'set' if self._token else 'none'})"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    def set_token(self, token: Secret | None) -> None:
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
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        params = {k: v for k, v in (params or {}).items() if v is not None}
        self.requests_sent += 1
        try:
            request = self._http.build_request(method, path, params=params, headers=headers)
            response = await self._http.send(request, stream=True)
            try:
                body = await self._read_capped(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise NetworkError(f"{_timeout_kind(exc)} talking to {self.host}") from None
        except httpx.ConnectError as exc:
            raise NetworkError(_connect_message(self.host, exc)) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise NetworkError(f"connection to {self.host} broke off ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise NetworkError(f"could not reach {self.host} ({type(exc).__name__})") from None
        return self._decode(response, body)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BadPayload(f"response larger than {MAX_BODY_BYTES // 2**20} MiB")
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, response: httpx.Response, body: bytes) -> Any:
        status = response.status_code
        data = _json_or_none(body)
        message = _server_message(data) or response.reason_phrase or f"HTTP {status}"
        if 200 <= status < 300:
            if data is _NOT_JSON:
                raise BadPayload(f"the server answered {status} with something that is not JSON")
            return data
        if status in (401, 403):
            text = "the token was rejected (401)" if status == 401 else "the token is not allowed here (403)"
            raise AuthError(text, status=status)
        if status == 402:
            resets = None
            if isinstance(data, dict) and isinstance(data.get("resets_at"), str):
                try:
                    resets = datetime.fromisoformat(data["resets_at"])
                except ValueError:
                    resets = None
            raise QuotaExhausted(message, resets_at=resets)
        if status == 429:
            raise self._rate_limited(response, data, message)
        if 300 <= status < 400:
            raise ServerError(f"unexpected redirect ({status}); ht-dash does not follow redirects", status=status)
        if 400 <= status < 500:
            raise BadRequest(f"{message} ({status})", status=status)
        raise ServerError(f"the server answered {status} {response.reason_phrase}".strip(), status=status)

    def _rate_limited(self, response: httpx.Response, data: Any, message: str) -> Exception:
        now = self._clock.now()
        waits = [parse_retry_after(response.headers.get("Retry-After"), now)]
        if isinstance(data, dict):
            body_wait = data.get("retry_after")
            if isinstance(body_wait, int | float) and not isinstance(body_wait, bool) and body_wait >= 0:
                waits.append(float(body_wait))
        known = [w for w in waits if w is not None]
        wait = max(known) if known else None
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

    async def regenerate_token(self) -> RegeneratedToken:
        return contract.parse_regenerated(await self._request("POST", contract.TOKEN_REGENERATE))

    async def subscription(self) -> Subscription:
        return await self._get(contract.SUBSCRIPTION, contract.parse_subscription)

    async def live(self, window_minutes: int = 15) -> LiveUsage:
        return await self._get(contract.LIVE, contract.parse_live, window_minutes=window_minutes)

    async def metrics(self, days: int = 90) -> Metrics:
        return await self._get(contract.METRICS, contract.parse_metrics, days=days)

    async def endpoint_usage(self, timeframe: str = "30d") -> EndpointUsageReport:
        return await self._get(contract.ENDPOINT_USAGE, contract.parse_endpoint_usage, timeframe=timeframe)

    async def next_billing(self) -> NextBilling:
        return await self._get(contract.NEXT_BILLING, contract.parse_next_billing)

    async def history(self, *, kind: str | None = None, cursor: str | None = None, limit: int = 50) -> HistoryPage:
        return await self._get(contract.HISTORY, contract.parse_history, kind=kind, cursor=cursor, limit=limit)

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
    if isinstance(data, dict):
        message = data.get("message")
        if isinstance(message, str) and message.strip():
            return message.strip()[:200]
        if isinstance(message, list) and message and all(isinstance(m, str) for m in message):
            return "; ".join(message)[:200]
    return None


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, httpx.ReadTimeout):
        return "timed out waiting for an answer"
    return "timed out"


def _connect_message(host: str, exc: httpx.ConnectError) -> str:
    text = str(exc).lower()
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return f"cannot resolve {host} (DNS)"
    if "certificate" in text or "ssl" in text or "tls" in text:
        return f"TLS handshake with {host} failed (certificate or proxy problem)"
    if "refused" in text:
        return f"connection to {host} refused"
    return f"cannot connect to {host}"
