"""The demo account's support and billing history, and its opaque cursor pagination.

Monthly invoices and card payments since signup (billing periods continue past the backend's
creation, and appear as the clock reaches them), the upgrade with its proration, one declined
payment that was retried, an incident ticket followed by a service credit, and a few tickets.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from ht_dash.api.models import HISTORY_KINDS, HistoryEntry, HistoryPage
from ht_dash.demo.account import PAYMENT_METHOD, DemoAccount, midnight, monthly_charge

FUTURE_PERIODS_DAYS = 400  # billing periods generated ahead, for a long-running demo


def _d(day) -> str:
    return day.isoformat()  # how ht-dash spells a day everywhere


class CursorError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Cursor:
    kind: str | None
    offset: int
    as_of: int  # epoch seconds: later pages see the same list as the first one

    def encode(self) -> str:
        raw = json.dumps(
            {"k": self.kind or "", "o": self.offset, "t": self.as_of}, separators=(",", ":")
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw.decode("utf-8"))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise CursorError("cursor is not valid") from None
        if not isinstance(data, dict):
            raise CursorError("cursor is not valid")
        kind, offset, as_of = data.get("k"), data.get("o"), data.get("t")
        if (
            not isinstance(kind, str)
            or not isinstance(offset, int)
            or not isinstance(as_of, int)
            or isinstance(offset, bool)
            or offset < 0
        ):
            raise CursorError("cursor is not valid")
        return cls(kind or None, offset, as_of)


class History:
    """All entries, newest first, with per-kind views; built once."""

    def __init__(self, account: DemoAccount, entries: int | None = None) -> None:
        self.account = account
        story = build_story(account)
        if entries is not None:
            past = [e for e in story if e.at <= account.anchor]
            future = [e for e in story if e.at > account.anchor]
            if entries <= len(past):
                past.sort(key=_newest_first)
                past = past[:entries]
            else:
                past += _filler(account, entries - len(past))
            story = past + future
        story.sort(key=_newest_first)
        self._all = story
        self._by_kind = {kind: [e for e in story if e.kind == kind] for kind in HISTORY_KINDS}
        # Negated timestamps ascend along the newest-first lists: bisect finds the visible part.
        self._keys = {None: [-e.at.timestamp() for e in story]}
        for kind, items in self._by_kind.items():
            self._keys[kind] = [-e.at.timestamp() for e in items]

    def __len__(self) -> int:
        return len(self._all)

    def visible(self, kind: str | None, as_of: int) -> list[HistoryEntry]:
        items = self._all if kind is None else self._by_kind[kind]
        start = bisect.bisect_left(self._keys[kind], -as_of)
        return items[start:]

    def page(
        self, *, kind: str | None, cursor: str | None, limit: int, now: datetime
    ) -> HistoryPage:
        if cursor:
            position = Cursor.decode(cursor)
            if position.kind != kind:
                raise CursorError("cursor belongs to a different kind filter")
        else:
            position = Cursor(kind, 0, int(now.timestamp()))
        items = self.visible(kind, position.as_of)
        if position.offset > len(items):
            raise CursorError("cursor is past the end of the history")
        chunk = items[position.offset : position.offset + limit]
        end = position.offset + len(chunk)
        next_cursor = Cursor(kind, end, position.as_of).encode() if end < len(items) else None
        return HistoryPage(items=tuple(chunk), next_cursor=next_cursor)


def _newest_first(e: HistoryEntry) -> tuple[float, str]:
    return (-e.at.timestamp(), e.id)


class _Numbers:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def next(self, prefix: str) -> int:
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return self.counts[prefix]


def build_story(a: DemoAccount) -> list[HistoryEntry]:
    rng = random.Random(a.seed ^ 0x5EED)
    numbers = _Numbers()
    out: list[HistoryEntry] = []

    def add(
        kind: str, at: datetime, description: str, status: str, amount: int | None, ref: str | None
    ):
        out.append(
            HistoryEntry(
                id=f"{kind}#{numbers.next(kind)}",
                at=at,
                kind=kind,
                description=description,
                status=status,
                amount_cents=amount,
                currency=None if amount is None else "USD",
                reference=ref,
            )
        )

    # Placeholders: invoice and ticket numbers are given in time order at the end.
    def invoice_number(at: datetime) -> str:
        return f"invoice#{numbers.next('invoice-number')}"

    def ticket_number() -> str:
        return _TICKET

    periods = a.billing_periods(a.anchor.date() + timedelta(days=FUTURE_PERIODS_DAYS))
    past_periods = [p for p in periods if midnight(p[0]) <= a.anchor]
    declined_index = len(past_periods) - 7 if len(past_periods) >= 9 else None
    upgrade = a.upgrade_at
    for index, (start, nxt) in enumerate(periods):
        plan = a.plan_on(start)
        price = monthly_charge(plan)
        if price == 0:
            continue
        issued = midnight(start) + timedelta(minutes=4, seconds=rng.randrange(60))
        # A first paid period that starts with the upgrade is billed at the upgrade.
        if upgrade is not None and start == upgrade.date():
            issued = upgrade + timedelta(minutes=1)
        number = invoice_number(issued)
        last_day = nxt - timedelta(days=1)
        add(
            "invoice",
            issued,
            f"{plan.name} plan — monthly subscription, {_d(start)} – {_d(last_day)}",
            "paid",
            price,
            number,
        )
        charged = issued + timedelta(minutes=2, seconds=rng.randrange(60))
        if index == declined_index:
            add(
                "payment",
                charged,
                f"Card payment declined (insufficient funds), {PAYMENT_METHOD} — retry scheduled",
                "failed",
                price,
                number,
            )
            retried = midnight(start + timedelta(days=3)) + timedelta(
                hours=9, minutes=rng.randrange(60)
            )
            add("payment", retried, f"Card payment retry, {PAYMENT_METHOD}", "paid", price, number)
        else:
            add("payment", charged, f"Card payment, {PAYMENT_METHOD}", "paid", price, number)

    if upgrade is not None and a.previous is not None:
        add(
            "plan_change",
            upgrade,
            f"Plan changed: {a.previous.name} → {a.plan.name} (upgrade, effective immediately)",
            "completed",
            None,
            None,
        )
        old_price = monthly_charge(a.previous)
        new_price = monthly_charge(a.plan)
        if old_price > 0:
            start, nxt = next(p for p in periods if p[0] <= upgrade.date() < p[1])
            remaining = (nxt - upgrade.date()).days
            length = (nxt - start).days
            amount = round((new_price - old_price) * remaining / length)
            at = upgrade + timedelta(minutes=1, seconds=rng.randrange(30))
            number = invoice_number(at)
            add(
                "invoice",
                at,
                f"Proration: {a.plan.name} for {remaining} of {length} days, "
                f"less unused {a.previous.name} time",
                "paid",
                amount,
                number,
            )
            add(
                "payment",
                at + timedelta(seconds=40),
                f"Card payment, {PAYMENT_METHOD}",
                "paid",
                amount,
                number,
            )
        add(
            "support",
            upgrade - timedelta(days=16, hours=rng.randrange(6)),
            "429s during funding hour — is the "
            f"{a.previous.rate_limit_per_minute or 'free'} req/min limit per token or per account?",
            "resolved",
            None,
            ticket_number(),
        )

    signup = a.signup_at
    add(
        "support",
        signup + timedelta(days=5, hours=3, minutes=rng.randrange(60)),
        'Question about the "mid" claim in API tokens, and how to rotate a token safely',
        "resolved",
        None,
        ticket_number(),
    )
    add(
        "support",
        signup + timedelta(days=150, hours=rng.randrange(8)),
        'Webhook deliveries delayed: "position_closed" alerts arrive 5–10 min late',
        "resolved",
        None,
        ticket_number(),
    )
    incident = midnight(a.incident_day) + timedelta(hours=14, minutes=7)
    add(
        "support",
        incident,
        "Elevated 502s and slow /fills since 13:40 UTC, many 429s on retry",
        "resolved",
        None,
        ticket_number(),
    )
    if a.paid_since is not None:
        add(
            "refund",
            incident + timedelta(days=2, hours=2),
            f"Service credit, incident of {_d(a.incident_day)} (elevated errors and latency)",
            "refunded",
            -2_000,
            f"CR-{a.incident_day:%Y%m%d}",
        )
    add(
        "support",
        midnight(a.anchor.date() - timedelta(days=9))
        + timedelta(hours=11, minutes=rng.randrange(60)),
        "Request: bias-history at 30-minute resolution for all segments",
        "pending",
        None,
        ticket_number(),
    )
    add(
        "support",
        midnight(a.anchor.date() - timedelta(days=2))
        + timedelta(hours=16, minutes=rng.randrange(60)),
        "Invoice address: please add our VAT ID for the Zürich office",
        "open",
        None,
        ticket_number(),
    )
    return _renumber(out, rng)


_TICKET = "ticket#"
_ID_PREFIX = {
    "payment": "pay",
    "invoice": "inv",
    "plan_change": "chg",
    "refund": "ref",
    "support": "tkt",
}


def _renumber(entries: list[HistoryEntry], rng: random.Random) -> list[HistoryEntry]:
    """Ids, invoice numbers (per year) and ticket numbers that grow with time, like real ones."""
    entries = sorted(entries, key=lambda e: (e.at, e.kind))
    per_kind: dict[str, int] = {}
    per_year: dict[int, int] = {}
    invoices: dict[str, str] = {}
    ticket = 10_400
    out = []
    for e in entries:
        per_kind[e.kind] = per_kind.get(e.kind, 0) + 1
        reference = e.reference
        if e.kind == "invoice" and reference is not None:
            per_year[e.at.year] = per_year.get(e.at.year, 0) + 1
            invoices[reference] = f"INV-{e.at.year}-{per_year[e.at.year]:04d}"
        if reference == _TICKET:
            ticket += 20 + rng.randrange(60)
            reference = f"TCK-{ticket}"
        elif reference in invoices:
            reference = invoices[reference]
        out.append(
            replace(e, id=f"{_ID_PREFIX[e.kind]}_{per_kind[e.kind]:05d}", reference=reference)
        )
    return out


def _filler(a: DemoAccount, count: int) -> list[HistoryEntry]:
    """Extra entries spread over the account's life (for benchmarks with huge histories)."""
    rng = random.Random(a.seed ^ 0xF111)
    span = max(1, int((a.anchor - a.signup_at).total_seconds()))
    base = a.signup_at
    kinds = ("invoice", "payment", "support")
    out = []
    for i in range(count):
        kind = kinds[i % 3]
        at = base + timedelta(seconds=rng.randrange(span))
        if kind == "support":
            description, status, amount = (
                f"Automated usage report #{i}, weekly summary",
                "resolved",
                None,
            )
        else:
            description, status, amount = "Usage top-up, 10,000 tokens", "paid", 2_900
        out.append(
            HistoryEntry(
                id=f"x{kind[:3]}_{i:07d}",
                at=at.astimezone(UTC),
                kind=kind,
                description=description,
                status=status,
                amount_cents=amount,
                currency=None if amount is None else "USD",
                reference=None if amount is None else f"TOP-{i:07d}",
            )
        )
    return out
