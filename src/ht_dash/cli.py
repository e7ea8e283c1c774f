"""Command line: `ht-dash [global options] [command]`. Without a command it opens the dashboard.

Subcommands live in `ht_dash.commands.<name>`; each module has `register(subparsers)` that adds
its parser and sets `handler=` to a function `(args, runtime) -> int`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

from ht_dash import __version__
from ht_dash.api.errors import HtError
from ht_dash.commands import errors
from ht_dash.commands.errors import (  # noqa: F401 - main()'s exit codes, for its callers
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_QUOTA,
    EXIT_USAGE,
)

# Modules in ht_dash.commands that add subcommands, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "status",
    "usage",
    "metrics",
    "billing",
    "history",
    "watch",
    "auth",
    "meter",
    "plan",
    "run",
    "completion",
)
# Subcommands not named after their module. A command line imports only the module its command
# needs (the dashboard: none); --help, and anything unclear, imports them all.
COMMAND_ALIASES: dict[str, str] = {"login": "auth", "logout": "auth", "token": "auth"}
GLOBAL_FLAGS = frozenset({"--demo", "--debug"})
# Each takes a value.
GLOBAL_OPTIONS = frozenset(
    {"--base-url", "--source", "--store", "--request-deadline", "--demo-seed"}
)

EPILOG = """\
token (first found wins):
  1. HT_DASH_TOKEN or HYPERTRACKER_API_TOKEN environment variable (never saved)
  2. the OS keyring (service "ht-dash", one entry per API host)
  3. a plain-text file, only if you chose it with `ht-dash login --insecure-storage`
  With --demo the embedded demo backend supplies its own token; your keyring is never touched.

settings (later wins):
  defaults < config.toml in the config directory < HT_DASH_* environment variables < options
  config.toml keys: base_url, clipboard (auto|osc52|native), bell (true|false),
  live_interval (1-60 s), source (auto|api|meter), theme, plan, billing_day (1-31),
  request_deadline (s, default 20), meter_store; theme: else the last one picked in the
  app's command palette (remembered in the data directory)
  environment: HT_DASH_BASE_URL, HT_DASH_CLIPBOARD, HT_DASH_BELL, HT_DASH_LIVE_INTERVAL,
  HT_DASH_SOURCE, HT_DASH_THEME, HT_DASH_PLAN, HT_DASH_BILLING_DAY, HT_DASH_REQUEST_DEADLINE,
  HT_DASH_METER_STORE,
  HT_DASH_HOME (keep all files under one directory)

exit codes: 0 ok, 1 unexpected error, 2 usage error, 3 authentication problem,
  4 network or server problem, 5 quota spent or still rate-limited, 6 not available here
"""


def command_modules_for(argv: list[str]) -> tuple[str, ...]:
    """The modules of ht_dash.commands that parsing `argv` needs: the one its command names,
    none without a command (the dashboard), all of them for help or anything else unclear."""
    words = iter(argv)
    for word in words:
        if word in GLOBAL_OPTIONS:
            next(words, None)
        elif word in GLOBAL_FLAGS or word.split("=", 1)[0] in GLOBAL_OPTIONS:
            continue
        elif word.startswith("-"):  # --help, --version, an abbreviation: argparse decides
            return COMMAND_MODULES
        else:
            module = COMMAND_ALIASES.get(word, word)
            return (module,) if module in COMMAND_MODULES else COMMAND_MODULES
    return ()


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the command line, with only the subcommands it can need."""
    parser = argparse.ArgumentParser(
        prog="ht-dash",
        description="Terminal dashboard for HyperTracker API accounts.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ht-dash {__version__}")
    add_global_options(parser, default=None)
    subparsers = parser.add_subparsers(dest="command", metavar="command")
    for name in COMMAND_MODULES if argv is None else command_modules_for(argv):
        importlib.import_module(f"ht_dash.commands.{name}").register(subparsers)
    # `ht-dash status --demo` works like `ht-dash --demo status`: every command (and action)
    # accepts the global options too; given nowhere, the top level's defaults stand.
    for command in _command_parsers(parser):
        taken = frozenset(command._option_string_actions)
        group = command.add_argument_group("global options (also accepted before the command)")
        add_global_options(group, default=argparse.SUPPRESS, taken=taken)
        if "--version" not in taken:
            group.add_argument("--version", action="version", version=f"ht-dash {__version__}")
    return parser


# The options of every run: (flag, argparse keywords). Each is accepted before or after the command.
GLOBAL_ARGUMENTS: tuple[tuple[str, dict], ...] = (
    ("--demo", {"action": "store_true",
                "help": "use the embedded simulated backend (no account needed)"}),
    ("--demo-seed", {"type": int, "metavar": "N",
                     "help": "which demo account --demo shows (default: the same one every run)"}),
    ("--base-url", {"metavar": "URL", "help": "account API base URL (default: the public API)"}),
    ("--source", {"choices": ("auto", "api", "meter"),
                  "help": "where data comes from: auto (the API, else the local meter, else your "
                  "declared plan; default), api, or meter"}),
    ("--request-deadline", {"metavar": "S", "help": "seconds one API request may take in all, "
                            "answer included (default: 20)"}),
    ("--store", {"metavar": "URL", "help": "the meter store --source meter reads: a "
                 "postgresql://user@host/db URL shared by several meters (password from PGPASSWORD "
                 "or ~/.pgpass) or a SQLite file (default: meter_store, else the local meter's "
                 "file)"}),
    ("--debug", {"action": "store_true",
                 "help": "write a redacted debug log to the log directory"}),
)  # fmt: skip


def add_global_options(parser, *, default, taken: frozenset[str] = frozenset()) -> None:
    """The options of every run; `default` is None at the top, SUPPRESS after a command (whose
    own options of the same name, in `taken`, win: `meter --store` is the meter's)."""
    for flag, keywords in GLOBAL_ARGUMENTS:
        if flag in taken:
            continue
        if default is not None or keywords.get("action") != "store_true":
            keywords = {**keywords, "default": default}
        parser.add_argument(flag, **keywords)


def _command_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below `parser`: its commands, their actions, and so on."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found += [child, *_command_parsers(child)]
    return found


def make_runtime(args: argparse.Namespace):
    from dataclasses import replace

    from ht_dash.api.client import check_base_url
    from ht_dash.config import coerce, load_settings
    from ht_dash.runtime import Runtime

    settings = load_settings()
    overrides = {}
    if args.base_url:
        overrides["base_url"] = args.base_url
    if args.source:
        overrides["source"] = args.source
    if args.request_deadline is not None:
        overrides["request_deadline"] = coerce(
            "request_deadline", args.request_deadline, "option --request-deadline"
        )
    if args.store:
        overrides["meter_store"] = args.store
    settings = replace(settings, **overrides)
    check_base_url(settings.base_url)
    return Runtime(settings=settings, demo=args.demo, debug=args.debug, demo_seed=args.demo_seed)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "_ARGCOMPLETE" in os.environ:  # a shell asking for TAB candidates: answer and exit
        from ht_dash.commands.completion import complete

        complete(build_parser())
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        runtime = make_runtime(args)
        from ht_dash.logs import setup_logging

        if (log_path := setup_logging(runtime.debug)) is not None:
            print(f"ht-dash: writing a redacted debug log to {log_path}", file=sys.stderr)
        handler = getattr(args, "handler", None)
        if handler is not None:
            return handler(args, runtime)
        # Start-up makes many objects and next to no garbage: the collector's passes over them
        # cost ~13 ms before the first paint. Paused until then (HtDashApp.on_mount resumes it).
        gc.disable()
        try:
            from ht_dash.tui.app import run_app

            return run_app(runtime)
        finally:
            gc.enable()
    except HtError as exc:
        errors.print_error(exc)
        if getattr(args, "json", False):  # scripts asked for JSON: errors are JSON too
            from ht_dash.commands._common import write_json

            write_json(errors.error_document(exc, errors.error_exit_code(exc)))
        return errors.error_exit_code(exc)
    except KeyboardInterrupt:
        return errors.EXIT_OK
    except Exception as exc:  # a bug: one line and the crash report's path, never a traceback
        from ht_dash.commands._common import report_error

        return report_error(exc, as_json=getattr(args, "json", False), debug=args.debug)
