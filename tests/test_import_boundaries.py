"""The floors of the house hold (docs/architecture.md): the import-linter contracts written in
pyproject.toml, no import circle anywhere in src/, the TUI reached only lazily from the CLI entry,
and a core that never loads Textual (STYLE.md: harlequin's import contracts)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_the_import_contracts_in_pyproject_are_kept():
    done = run_python(
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Contracts: [4-9] kept, 0 broken\.", done.stdout), done.stdout


def import_circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Groups of modules that reach each other through imports (Tarjan's strongly connected
    components with more than one module, or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        imported = graph.find_modules_directly_imported_by(module)
        for other in imported:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                group.append(other)
                if other == module:
                    break
            if len(group) > 1 or module in imported:
                circles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return circles


def test_no_import_circles_anywhere_in_src():
    # Imports inside functions count (a lazy import still ties two modules together); imports
    # under TYPE_CHECKING do not, they never run. No exceptions.
    graph = grimp.build_graph("ht_dash", cache_dir=None, exclude_type_checking_imports=True)
    assert len(graph.modules) > 80
    assert import_circles(graph) == []


def test_the_circle_check_sees_a_circle():
    graph = grimp.ImportGraph()
    for importer, imported in (("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w")):
        graph.add_import(importer=importer, imported=imported)
    assert import_circles(graph) == [["a.x", "a.y", "a.z"]]


def test_the_cli_entry_imports_the_tui_only_when_the_dashboard_opens():
    done = run_python(
        "import sys; import ht_dash.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('ht_dash.tui', 'textual'))))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


CORE = """
import importlib, pkgutil, sys
import ht_dash
core = ["ht_dash." + m for m in (
    "cli", "runtime", "config", "paths", "clock", "logs", "sanitize",
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
    # Also catches what the static contracts cannot see: importlib.import_module by name.
    done = run_python(CORE)
    assert done.returncode == 0, done.stderr
    count, loaded = done.stdout.split(" ", 1)
    assert int(count) > 40  # every module of those packages was imported
    assert loaded.strip() == "[]"
