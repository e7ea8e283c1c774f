"""The core never imports Textual: the client, demo, token storage, meter and CLI commands are
usable from scripts and tests without a screen (STYLE.md: harlequin's import contract)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import importlib, pkgutil, sys
import ht_dash
core = ["ht_dash." + m for m in (
    "cli", "runtime", "config", "paths", "clock", "logs",
)]
for package in ("api", "demo", "auth", "meter", "commands", "insights", "feeds", "sources"):
    mod = importlib.import_module("ht_dash." + package)
    core.append(mod.__name__)
    core += [f"{mod.__name__}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)]
for name in core:
    importlib.import_module(name)
print(len(core), sorted(m for m in sys.modules if m.split(".")[0] == "textual"))
"""


def test_no_core_module_imports_textual():
    done = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, check=True
    )
    count, loaded = done.stdout.split(" ", 1)
    assert int(count) > 40  # every module of those packages was imported
    assert loaded.strip() == "[]"
