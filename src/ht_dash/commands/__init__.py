"""Subcommands of `ht-dash`; each module has `register(subparsers)` (see ht_dash.cli)."""
