"""CSV export of support and billing history. No Textual: the screen and the CLI can both use it.

A file written here reads back into the same entries (`read_history_csv`): amounts are decimal
strings in the currency's major unit, instants ISO 8601 UTC, text kept as-is (commas, quotes,
newlines and any Unicode survive, as the csv module quotes them) except that a cell a spreadsheet
would run as a formula (`=`, `+`, `-`, `@` first) is written with a leading `'`.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ht_dash.api.models import HistoryEntry
from ht_dash.insights.format import iso
from ht_dash.sanitize import from_spreadsheet, spreadsheet_safe

HISTORY_CSV_COLUMNS = (
    "date",
    "kind",
    "description",
    "status",
    "amount",
    "currency",
    "reference",
    "id",
)

# ISO 4217 minor-unit exponents that are not 2.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


class ExportError(Exception):
    """The file could not be written; the message says where and why."""


def currency_exponent(currency: str | None) -> int:
    return _EXPONENTS.get((currency or "").upper(), 2)


def amount_text(cents: int | None, currency: str | None) -> str:
    """Minor units as a plain decimal: 39900 USD -> "399.00", -1250 -> "-12.50", None -> ""."""
    if cents is None:
        return ""
    exponent = currency_exponent(currency)
    return f"{Decimal(cents).scaleb(-exponent):.{exponent}f}"


def parse_amount(text: str, currency: str | None) -> int | None:
    if not text.strip():
        return None
    try:
        value = Decimal(text.strip()).scaleb(currency_exponent(currency))
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if value != value.to_integral_value():
        raise ValueError(f"amount {text!r} has more decimals than {currency or 'its currency'}")
    return int(value)


def history_csv_rows(entries: Iterable[HistoryEntry]) -> Iterator[list[str]]:
    """The header, then one row per entry."""
    yield list(HISTORY_CSV_COLUMNS)
    for e in entries:
        yield [
            iso(e.at),
            *map(spreadsheet_safe, (e.kind, e.description, e.status)),
            amount_text(e.amount_cents, e.currency),
            *map(spreadsheet_safe, (e.currency or "", e.reference or "", e.id)),
        ]


def write_history_csv(entries: Iterable[HistoryEntry], path: Path) -> int:
    """Write the entries to `path` atomically (never a half-written file); returns the count."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ht-dash-export-", suffix=".csv", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    count = -1  # the header
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            for row in history_csv_rows(entries):
                writer.writerow(row)
                count += 1
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def read_history_csv(path: Path) -> list[HistoryEntry]:
    """Read a file written by `write_history_csv` back into entries."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(HISTORY_CSV_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(sorted(missing))}")
        entries = []
        for row in reader:
            row = {name: from_spreadsheet(value or "") for name, value in row.items()}
            currency = row["currency"] or None
            at = datetime.fromisoformat(row["date"])
            entries.append(
                HistoryEntry(
                    id=row["id"],
                    at=at if at.tzinfo else at.replace(tzinfo=UTC),
                    kind=row["kind"],
                    description=row["description"],
                    status=row["status"],
                    amount_cents=parse_amount(row["amount"], currency),
                    currency=currency,
                    reference=row["reference"] or None,
                )
            )
        return entries


def default_export_path(directory: Path, now: datetime, kind: str | None = None) -> Path:
    """ht-dash-history[-kind]-20261125-140300.csv in `directory`."""
    suffix = f"-{kind}" if kind else ""
    return Path(directory) / f"ht-dash-history{suffix}-{now.astimezone(UTC):%Y%m%d-%H%M%S}.csv"


def resolve_export_path(typed: str, default: Path) -> Path:
    """What the user typed: empty -> default; a directory -> default name in it; `~` expanded."""
    text = typed.strip()
    if not text:
        return default
    path = Path(text).expanduser()
    if path.is_dir() or text.endswith(("/", os.sep)):
        return path / default.name
    if not path.suffix:
        path = path.with_suffix(".csv")
    return path
