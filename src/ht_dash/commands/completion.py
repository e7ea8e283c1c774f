"""`ht-dash completion bash|zsh|fish`: print the shell's completion script (argcomplete).

The script asks `ht-dash` itself for candidates at each TAB (argcomplete's protocol: the shell sets
`_ARGCOMPLETE` and the program answers from its argparse parser), so subcommands, options and
`choices` such as timeframes stay in step with the parser; plan ids are added here. argcomplete is
imported only on this path and when a shell asks for candidates: start-up is unchanged.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ht_dash.runtime import Runtime

SHELLS = ("bash", "zsh", "fish")
PROG = "ht-dash"
# Options and positionals that take a plan id, by their argparse `dest`.
PLAN_DESTS = frozenset({"plan", "plan_id"})

WHERE = """\
where to put it:
  bash  ht-dash completion bash > ~/.local/share/bash-completion/completions/ht-dash
  zsh   ht-dash completion zsh > "${fpath[1]}/_ht-dash"   (or any directory in $fpath)
  fish  ht-dash completion fish > ~/.config/fish/completions/ht-dash.fish
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print the completion script for SHELL on standard output. It completes "
        "subcommands, options, plan ids and timeframes.",
        epilog=WHERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.set_defaults(handler=run)


def script(shell: str) -> str:
    import argcomplete

    return argcomplete.shellcode([PROG], shell=shell)


def run(args: argparse.Namespace, runtime: Runtime | None = None) -> int:
    print(script(args.shell), end="")
    return 0


def plan_ids(**_: object) -> list[str]:
    from ht_dash.api.plans import PLANS

    return [plan.id for plan in PLANS]


def attach_completers(parser: argparse.ArgumentParser) -> None:
    """Give every action that takes a plan id argcomplete's `completer` (recursively)."""
    for action in parser._actions:
        if action.dest in PLAN_DESTS and action.choices is None:
            action.completer = plan_ids  # type: ignore[attr-defined]
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                attach_completers(sub)


def complete(parser: argparse.ArgumentParser) -> None:
    """Answer a shell's completion request and exit (argcomplete does nothing without one)."""
    import argcomplete

    attach_completers(parser)
    argcomplete.autocomplete(parser)
