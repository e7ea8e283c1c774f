"""Shared plumbing of the scriptable commands: token lookup, retries, JSON/CSV/table output, errors.

Kept light on purpose: nothing here imports rich or textual at module level, so that
`ht-dash status --json` starts fast. Rich is imported only to draw a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from ht_dash.api.errors import (
    AuthError,
    HtError,
    NetworkError,
    RateLimited,
    Redirected,
    ServerError,
)
from ht_dash.commands import errors
from ht_dash.sanitize import spreadsheet_safe, terminal_safe

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ht_dash.api.secret import Secret
    from ht_dash.api.source import AccountSource
    from ht_dash.runtime import Runtime

T = TypeVar("T")

EXIT_CODES_HELP = """\
exit codes:
  0 ok                      3 authentication problem (no token, 401/403)
  1 unexpected error        4 network or server problem after retries, or a bad payload
  2 usage error             5 usage quota spent (402), or still rate-limited after retries
                            6 not available here (the API does not offer it, nothing recorded)"""
JSON_ERRORS_HELP = """
With --json, an error is also printed on stdout as {"error": {"type", "message", "hint",
"exit_code"}}. Schemas: docs/cli.md."""
OUTPUT_HELP = """
On a terminal tables fit its width; piped, each record is one line of tab-separated fields,
never wrapped or padded, without colour."""

# ---- token ---------------------------------------------------------------------------------------


def get_token(runtime: Runtime) -> Secret | None:
    """The token for this run, or None; never prompts. THE seam to token storage.

    `ht_dash.auth.resolve_token` decides (demo token under --demo, else env > keyring > file).
    A storage problem (locked keyring, unreadable file) with no token found is an AuthError.
    """
    if runtime.demo:  # what DemoTokenStore.load gives, without loading the token storage
        return runtime.demo_backend.token
    from ht_dash.auth import resolve_token

    resolved = resolve_token(runtime)
    if resolved.secret is None and resolved.problem is not None:
        problem = resolved.problem
        raise AuthError(f"no API token: {problem.message}", hint=problem.hint)
    if resolved.warnings and sys.stderr.isatty():
        for warning in resolved.warnings:
            print(f"ht-dash: warning: {terminal_safe(warning)}", file=sys.stderr)
    return resolved.secret


def open_source(runtime: Runtime) -> AccountSource:
    """The source for a command (API, demo or local meter); AuthError when there is no token."""
    if runtime.settings.source == "meter":  # the local meter needs no token; pass one if found
        try:
            return runtime.make_source(get_token(runtime))
        except AuthError:
            return runtime.make_source(None)
    token = get_token(runtime)
    if token is None:
        raise AuthError(
            "no API token found",
            hint="set HT_DASH_TOKEN or run `ht-dash login` (`ht-dash --demo status` needs none)",
        )
    return runtime.make_source(token)


def source_label(runtime: Runtime) -> str:
    if runtime.demo and runtime.settings.source != "meter":
        return "demo"
    return runtime.settings.source


# ---- retries -------------------------------------------------------------------------------------


@dataclass
class RetryPolicy:
    """Bounded retries for one-shot commands: 429 waits `retry_after`, 5xx/network back off.

    A 429 asking for more than `max_rate_wait` seconds is not waited for (exit 5 at once).
    `sleep` is injectable so tests never sleep.
    """

    attempts: int = 3
    backoff: Sequence[float] = (0.5, 1.5)
    max_rate_wait: float = 10.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)

    def delay(self, attempt: int) -> float:
        return self.backoff[min(attempt - 1, len(self.backoff) - 1)]

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return await fn()
            except Redirected:
                raise  # the same question gets the same redirect
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else self.delay(attempt)
                if wait > self.max_rate_wait:
                    raise
                if attempt == self.attempts:
                    exc.message = f"still rate-limited after {attempt} attempts: {exc.message}"
                    raise
            except (NetworkError, ServerError) as exc:
                if attempt == self.attempts:
                    exc.message = f"{exc.message} (gave up after {attempt} attempts)"
                    exc.hint = final_hint(exc)
                    raise
                wait = self.delay(attempt)
            await self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


def final_hint(exc: NetworkError | ServerError) -> str:
    """The hint once a command has stopped trying (the errors' own say the app will retry)."""
    if isinstance(exc, NetworkError):
        return "check your connection and the base URL (--base-url, HT_DASH_BASE_URL)"
    return "the service is having trouble; try again in a few minutes"


# Tests replace this with a RetryPolicy whose sleep records instead of sleeping.
RETRY = RetryPolicy()


async def retried(fn: Callable[[], Awaitable[T]]) -> T:
    """Run one API call under the current retry policy."""
    return await RETRY.call(fn)


# ---- charts --------------------------------------------------------------------------------------

SPARK_CHARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], top: float | None = None) -> str:
    """One character per value, scaled to `top` (default: the largest value)."""
    if not values:
        return ""
    top = max([top or 0.0, *values])
    if top <= 0:
        return SPARK_CHARS[0] * len(values)
    last = len(SPARK_CHARS) - 1
    return "".join(SPARK_CHARS[min(last, max(0, round(v / top * last)))] for v in values)


# ---- output --------------------------------------------------------------------------------------


def add_format_options(parser: argparse.ArgumentParser, *, csv_too: bool = False) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--json", action="store_true", help="print one JSON object (schema: docs/cli.md)"
    )
    if csv_too:
        group.add_argument("--csv", action="store_true", help="print CSV with a header row")


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    *,
    help: str,
    description: str,
    has_json: bool = True,
    exit_codes: str = EXIT_CODES_HELP,
) -> argparse.ArgumentParser:
    """A command's parser; its help ends with the exit codes (and JSON errors if it has --json)."""
    epilog = exit_codes + (JSON_ERRORS_HELP + OUTPUT_HELP if has_json else "")
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def output_format(args: argparse.Namespace) -> str:
    if getattr(args, "json", False):
        return "json"
    if getattr(args, "csv", False):
        return "csv"
    return "table"


_C1 = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def write_json(document: Any, out: TextIO | None = None) -> None:
    """JSON escapes C0 controls; DEL and C1 (which it may write raw) are escaped here too."""
    out = out or sys.stdout
    out.write(json.dumps(document, indent=2, ensure_ascii=False).translate(_C1))
    out.write("\n")
    out.flush()


def write_csv(
    header: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO | None = None
) -> None:
    """RFC 4180 quoting, UTF-8, LF line ends; None becomes an empty cell; text cells are
    terminal-safe and never start a spreadsheet formula."""
    import csv

    out = out or sys.stdout
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else spreadsheet_safe(cell) for cell in row])
    out.flush()


def make_console() -> Console:
    """A rich console for tables; rich itself honours NO_COLOR and plain (non-TTY) output.

    Every string it draws passes `terminal_safe` (rich strips BEL and CR, not ESC) and is never
    read as markup. Piped, a printed line is never wrapped (tables go through `print_table`).
    """
    from rich.console import Console

    class SafeConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(terminal_safe(text, multiline=True), **kwargs)

    console = SafeConsole(highlight=False, markup=False)
    console.soft_wrap = not console.is_terminal
    return console


def print_table(console: Console, table: Table) -> None:
    """On a terminal the table fits its width. Piped, as gh does: one record per line, fields
    separated by tabs, no title, header, borders, padding or colour."""
    if console.is_terminal:
        console.print(table)
        return
    for line in table_records(table):
        console.file.write("\t".join(line) + "\n")
    console.file.flush()


def table_records(table: Table) -> list[list[str]]:
    """The table's rows as plain, terminal-safe fields (tabs and line breaks become spaces)."""
    from rich.text import Text

    def plain(cell: object) -> str:
        text = cell.plain if isinstance(cell, Text) else str(cell)
        return " ".join(terminal_safe(text.replace("\t", " "), multiline=True).split())

    cells = [list(column.cells) for column in table.columns]
    return [[plain(column[row]) for column in cells] for row in range(table.row_count)]


def print_note(console: Console, text: str) -> None:
    """A remark about a table (not a record): under it on a terminal, on stderr when piped."""
    if console.is_terminal:
        console.print(text)
    else:
        print(terminal_safe(text, multiline=True), file=sys.stderr)


def report_error(exc: BaseException, *, as_json: bool, debug: bool = False) -> int:
    """Print the error (stderr, plus a JSON error on stdout with --json); return the exit code."""
    if isinstance(exc, HtError):
        code = errors.error_exit_code(exc)
        errors.print_error(exc)
        hint = None
    else:  # one line and the file with the traceback; never a traceback on the terminal
        from ht_dash.logs import record_crash

        code = errors.EXIT_ERROR
        hint = errors.unexpected_hint(record_crash(exc), debug=debug)
        print(f"ht-dash: {errors.unexpected_message(exc)}", file=sys.stderr)
        print(f"  hint: {hint}", file=sys.stderr)
    if as_json:
        try:
            write_json(errors.error_document(exc, code, hint=hint))
        except BrokenPipeError:
            silence_stdout()
    return code


def silence_stdout() -> None:
    """After a broken pipe (`| head`), point stdout at /dev/null so Python's exit flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run_command(
    args: argparse.Namespace,
    runtime: Runtime,
    fetch: Callable[[AccountSource], Awaitable[T]],
    *,
    to_json: Callable[[T], Any],
    to_table: Callable[[T, Console], None],
    to_csv: Callable[[T], tuple[Sequence[str], Iterable[Sequence[Any]]]] | None = None,
) -> int:
    """Fetch with retries, then print in the format asked for. Returns the exit code."""
    fmt = output_format(args)

    origins: dict[str, Any] = {}

    async def fetch_and_close() -> T:
        source = open_source(runtime)
        try:
            return await fetch(source)
        finally:
            origins.update(getattr(source, "origins", {}))  # `auto`: who answered what
            await source.aclose()

    try:
        data = asyncio.run(fetch_and_close())
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        return report_error(exc, as_json=fmt == "json", debug=runtime.debug)
    try:
        if fmt == "json":
            document = to_json(data)
            if isinstance(document, dict):
                document = {"source": source_label(runtime), **document}
                if origins:
                    document["origins"] = {k: v.as_json() for k, v in origins.items()}
            write_json(document)
        elif fmt == "csv" and to_csv is not None:
            header, rows = to_csv(data)
            write_csv(header, rows)
        else:
            console = make_console()
            to_table(data, console)
            for origin in origins.values():
                note = f" ({origin.note})" if origin.note else ""
                console.print(f"{origin.label[0].upper()}{origin.label[1:]}{note}", style="dim")
    except BrokenPipeError:
        silence_stdout()
    return errors.EXIT_OK
