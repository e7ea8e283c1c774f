"""The embedded simulated account API: routing, auth, validation, scripted faults.

It serves exactly docs/account-api.md, with JSON built by `ht_dash.api.contract.dump_*` from
`ht_dash.api.models` objects, so the demo and the client share one spelling of the contract.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import httpx

from ht_dash.api import contract
from ht_dash.api.models import (
    HISTORY_KINDS,
    TIMEFRAMES,
    NextBilling,
    RegeneratedToken,
    Subscription,
    TokenInfo,
)
from ht_dash.api.secret import Secret, mask
from ht_dash.clock import Clock, SystemClock, iso
from ht_dash.demo.account import PAYMENT_METHOD, DemoAccount, monthly_charge
from ht_dash.demo.noise import unit
from ht_dash.demo.usage import Traffic

if TYPE_CHECKING:
    from ht_dash.demo.history import History
    from ht_dash.demo.requests import DemoRequestLog

_JSON = "application/json; charset=utf-8"
_INTEGER = re.compile(r"^[+-]?\d{1,9}$")
_LAST_USED = 21


class _BadParam(Exception):
    pass


@dataclass
class _Fault:
    prefix: str
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int | None


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str]


def _json_reply(status: int, data: Any, headers: Mapping[str, str] | None = None) -> _Reply:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _Reply(
        status, body, {"Content-Type": _JSON, "Cache-Control": "no-store", **(headers or {})}
    )


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _route_path(path: str) -> str:
    """The contract-relative path of a request, whatever the base URL's own path is."""
    index = path.find("/account/")
    rel = path[index:] if index >= 0 else path
    return rel.rstrip("/") or "/"


# The demo account every run shows unless --demo-seed picks another: the app and the CLI agree.
DEFAULT_SEED = 7


class DemoBackend:
    """A whole simulated HyperTracker account behind the account-API contract."""

    def __init__(
        self,
        seed: int | None = None,
        clock: Clock | None = None,
        *,
        plan_id: str = "surge",
        history_entries: int | None = None,
        endpoint_count: int | None = None,
        latency_s: float = 0.0,
    ) -> None:
        self.seed = DEFAULT_SEED if seed is None else seed
        self.clock = clock or SystemClock()
        self.latency_s = latency_s
        now = self.clock.now().astimezone(UTC)
        self.account = DemoAccount.create(self.seed, plan_id, now)
        self.traffic = Traffic(self.account, endpoint_count)
        self._history_entries = history_entries
        self._history: History | None = None
        self.requests_served = 0
        self.requests_by_path: Counter[str] = Counter()
        self._faults: list[_Fault] = []
        self._generation = 0
        first_issue = now - timedelta(
            days=20 + self.seed % 40, hours=self.seed % 9, minutes=self.seed % 53
        )
        self._issue(max(first_issue, self.account.signup_at + timedelta(hours=1)))
        self._routes: dict[str, tuple[str, Callable[[Mapping[str, str], datetime], _Reply]]] = {
            contract.PROFILE: ("GET", self._profile),
            contract.TOKEN: ("GET", self._token_info),
            contract.TOKEN_REGENERATE: ("POST", self._regenerate),
            contract.SUBSCRIPTION: ("GET", self._subscription),
            contract.LIVE: ("GET", self._live),
            contract.METRICS: ("GET", self._metrics),
            contract.ENDPOINT_USAGE: ("GET", self._endpoint_usage),
            contract.ENDPOINT_DAILY: ("GET", self._endpoint_daily),
            contract.NEXT_BILLING: ("GET", self._next_billing),
            contract.HISTORY: ("GET", self._history_page),
            contract.REQUESTS: ("GET", self._request_log),
            contract.SECONDS: ("GET", self._second_counts),
        }
        self._request_log: DemoRequestLog | None = None

    def __repr__(self) -> str:
        return f"DemoBackend(seed={self.seed}, plan={self.account.plan.id!r})"

    # ---- public interface ---------------------------------------------------------------------

    @property
    def token(self) -> Secret:
        """The currently valid demo token."""
        return Secret(self._token)

    def transport(self) -> httpx.AsyncBaseTransport:
        from ht_dash.demo.transport import DemoTransport

        return DemoTransport(self)

    def set_fault(
        self,
        path_prefix: str | None,
        status: int = 0,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        times: int | None = None,
    ) -> None:
        """Answer requests whose path starts with `path_prefix` (e.g. "/account/usage") with
        `status` — before auth, like a proxy would. `body`: dict/list (JSON), str or bytes (sent
        as is), None (a typical body for the status). `times`: only the next N requests.
        `path_prefix=None` clears every fault."""
        if path_prefix is None:
            self._faults.clear()
            return
        if not 100 <= status <= 599:
            raise ValueError(f"status {status} is not an HTTP status")
        self._faults = [f for f in self._faults if f.prefix != path_prefix]
        self._faults.append(_Fault(path_prefix, status, body, dict(headers or {}), times))

    def clear_faults(self) -> None:
        self._faults.clear()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one httpx request (the transport calls this)."""
        reply = self.handle(
            request.method,
            request.url.path,
            dict(request.url.params.multi_items()),
            request.headers.get("Authorization"),
        )
        return httpx.Response(
            reply.status, headers=reply.headers, content=reply.body, request=request
        )

    def handle(
        self, method: str, path: str, query: Mapping[str, str], authorization: str | None
    ) -> _Reply:
        rel = _route_path(path)
        self.requests_served += 1
        self.requests_by_path[rel] += 1
        fault = self._fault_for(rel)
        if fault is not None:
            return fault
        route = self._routes.get(rel)
        if route is None or route[0] != method.upper():
            return _json_reply(
                404,
                {
                    "statusCode": 404,
                    "message": f"Cannot {method.upper()} {rel}",
                    "error": "Not Found",
                },
            )
        if not self._authorised(authorization):
            return _json_reply(401, {"statusCode": 401, "message": "Unauthorized"})
        try:
            return route[1](query, self.clock.now().astimezone(UTC))
        except _BadParam as exc:
            return _json_reply(
                400, {"statusCode": 400, "message": str(exc), "error": "Bad Request"}
            )

    # ---- auth ---------------------------------------------------------------------------------

    def _issue(self, at: datetime) -> None:
        at = at.replace(microsecond=0)
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        claims = {
            "sub": self.account.profile.id,
            "mid": self.account.member_id,
            "iat": int(at.timestamp()),
        }
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        key = f"ht-dash-demo:{self.seed}:{self._generation}".encode()
        signature = _b64url(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        self._token = f"{header}.{payload}.{signature}"
        self._token_issued_at = at
        digest = hashlib.sha256(key).hexdigest()
        self._token_id = f"tok_{digest[:16]}"

    def _authorised(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(value.strip().encode(), self._token.encode())

    def _current_token_info(self, now: datetime) -> TokenInfo:
        age = (now - self._token_issued_at).total_seconds()
        last_used = None
        if age >= 90:  # a fresh token is unused until the user's bots pick it up
            ago = 3 + 170 * unit(self.seed, _LAST_USED, int(now.timestamp()) // 20)
            last_used = max(
                self._token_issued_at, (now - timedelta(seconds=ago)).replace(microsecond=0)
            )
        return TokenInfo(
            token_id=self._token_id,
            masked=mask(self._token),
            issued_at=self._token_issued_at,
            last_used_at=last_used,
        )

    # ---- faults -------------------------------------------------------------------------------

    def _fault_for(self, rel: str) -> _Reply | None:
        for fault in self._faults:
            if rel.startswith(fault.prefix):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return self._fault_reply(fault)
        return None

    def _fault_reply(self, fault: _Fault) -> _Reply:
        status, body = fault.status, fault.body
        headers = dict(fault.headers)
        if body is None:
            body, extra = self._typical_error(status)
            headers = {**extra, **headers}
        if isinstance(body, dict | list):
            reply = _json_reply(status, body)
            return _Reply(status, reply.body, {**reply.headers, **headers})
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        kind = "text/html; charset=utf-8" if raw.lstrip().startswith(b"<") else _JSON
        return _Reply(status, raw, {"Content-Type": kind, **headers})

    def _typical_error(self, status: int) -> tuple[Any, dict[str, str]]:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        if status == 401:
            return {"statusCode": 401, "message": "Unauthorized"}, {}
        if status == 402:
            _, resets = self.account.period_bounds(self.clock.now())
            return {
                "error": "quota_exhausted",
                "message": "Monthly usage quota spent",
                "resets_at": iso(resets),
            }, {}
        if status == 429:
            return {
                "error": "rate_limit_exceeded",
                "message": "Too many requests",
                "retry_after": 30,
            }, {"Retry-After": "30"}
        if status >= 500:
            page = (
                f"<html><head><title>{status} {phrase}</title></head><body>"
                f"<center><h1>{status} {phrase}</h1></center><hr><center>nginx</center>"
                "</body></html>"
            )
            return page, {}
        return {"statusCode": status, "message": phrase, "error": phrase}, {}

    # ---- parameters ---------------------------------------------------------------------------

    @staticmethod
    def _int(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
        raw = query.get(name)
        if raw is None or raw == "":
            return default
        if not _INTEGER.match(raw) or not lo <= int(raw) <= hi:
            raise _BadParam(f"{name} must be an integer between {lo} and {hi}")
        return int(raw)

    @staticmethod
    def _date(query: Mapping[str, str], name: str, now: datetime) -> date | None:
        raw = query.get(name)
        if raw is None or raw == "":
            return None
        try:
            day = date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            day = None
        if day is None or day > now.date():
            raise _BadParam(f"{name} must be a past or present UTC date, YYYY-MM-DD")
        return day

    @staticmethod
    def _choice(
        query: Mapping[str, str], name: str, choices: tuple[str, ...], default: str | None
    ) -> str | None:
        raw = query.get(name)
        if raw is None or raw == "":
            return default
        if raw not in choices:
            raise _BadParam(f"{name} must be one of the following values: {', '.join(choices)}")
        return raw

    # ---- endpoints ----------------------------------------------------------------------------

    def _profile(self, query: Mapping[str, str], now: datetime) -> _Reply:
        return _json_reply(200, contract.dump_profile(self.account.profile))

    def _token_info(self, query: Mapping[str, str], now: datetime) -> _Reply:
        return _json_reply(200, contract.dump_token_info(self._current_token_info(now)))

    def _regenerate(self, query: Mapping[str, str], now: datetime) -> _Reply:
        self._generation += 1
        self._issue(now)
        info = self._current_token_info(now)
        return _json_reply(
            201, contract.dump_regenerated(RegeneratedToken(info=info, token=Secret(self._token)))
        )

    def subscription(self, now: datetime) -> Subscription:
        start, resets = self.account.period_bounds(now)
        return Subscription(
            plan=self.account.plan,
            status="active",
            tokens_used=self.traffic.tokens_used(start, now),
            period_start=start,
            resets_at=resets,
        )

    def _subscription(self, query: Mapping[str, str], now: datetime) -> _Reply:
        return _json_reply(200, contract.dump_subscription(self.subscription(now)))

    def _live(self, query: Mapping[str, str], now: datetime) -> _Reply:
        window = self._int(query, "window_minutes", 15, 1, 60)
        return _json_reply(200, contract.dump_live(self.traffic.live(window, now)))

    def _metrics(self, query: Mapping[str, str], now: datetime) -> _Reply:
        days = self._int(query, "days", 90, 1, 365)
        return _json_reply(200, contract.dump_metrics(self.traffic.metrics(days, now)))

    def _endpoint_usage(self, query: Mapping[str, str], now: datetime) -> _Reply:
        timeframe = self._choice(query, "timeframe", TIMEFRAMES, "30d")
        assert timeframe is not None
        day = self._date(query, "date", now)
        return _json_reply(
            200, contract.dump_endpoint_usage(self.traffic.endpoint_usage(timeframe, now, day))
        )

    def _endpoint_daily(self, query: Mapping[str, str], now: datetime) -> _Reply:
        method, path = query.get("method", ""), query.get("path", "")
        if not method or not path:
            raise _BadParam("method and path are required (one row of /account/usage/endpoints)")
        timeframe = self._choice(query, "timeframe", TIMEFRAMES, "30d")
        assert timeframe is not None
        day = self._date(query, "date", now)
        daily = self.traffic.endpoint_daily(method, path, timeframe, now, day)
        return _json_reply(200, contract.dump_endpoint_daily(daily))

    def next_billing(self, now: datetime) -> NextBilling:
        plan = self.account.plan
        amount = monthly_charge(plan)
        _, resets = self.account.period_bounds(now)
        billed = amount > 0
        return NextBilling(
            invoice_date=resets.date() if billed else None,
            amount_cents=amount,
            currency=plan.currency,
            plan_id=plan.id,
            plan_name=plan.name,
            payment_method=PAYMENT_METHOD if billed else None,
        )

    def _next_billing(self, query: Mapping[str, str], now: datetime) -> _Reply:
        return _json_reply(200, contract.dump_next_billing(self.next_billing(now)))

    @property
    def request_log(self) -> DemoRequestLog:
        """The bot's requests one by one (screen 7), built when first asked for."""
        if self._request_log is None:
            from ht_dash.demo.requests import DemoRequestLog

            self._request_log = DemoRequestLog(self.traffic)
        return self._request_log

    def _second_counts(self, query: Mapping[str, str], now: datetime) -> _Reply:
        window = self._int(query, "window_minutes", 15, 1, 60)
        counts = self.request_log.second_counts(window, now)
        return _json_reply(200, contract.dump_second_counts(counts))

    def _request_log(self, query: Mapping[str, str], now: datetime) -> _Reply:
        limit = self._int(query, "limit", 1000, 1, contract.REQUEST_LOG_MAX_LIMIT)
        raw_after = query.get("after_id") or ""
        if raw_after and not (raw_after.isascii() and raw_after.isdigit() and len(raw_after) <= 15):
            raise _BadParam("after_id must be a request id (a non-negative integer)")
        after_id = int(raw_after) if raw_after else None
        page = self.request_log.page(after_id, limit, now)
        return _json_reply(200, contract.dump_request_log(page))

    @property
    def history(self) -> History:
        if self._history is None:  # built on first use: most commands never ask for history
            from ht_dash.demo.history import History

            self._history = History(self.account, self._history_entries)
        return self._history

    def _history_page(self, query: Mapping[str, str], now: datetime) -> _Reply:
        kind = self._choice(query, "kind", HISTORY_KINDS, None)
        limit = self._int(query, "limit", 50, 1, 200)
        cursor = query.get("cursor") or None
        from ht_dash.demo.history import CursorError

        try:
            page = self.history.page(kind=kind, cursor=cursor, limit=limit, now=now)
        except CursorError as exc:
            raise _BadParam(str(exc)) from None
        return _json_reply(200, contract.dump_history(page))
