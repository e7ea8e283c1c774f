"""ht-dash: a terminal dashboard for HyperTracker API accounts."""

import sys

__version__ = "0.1.0"

# `import httpx` also imports httpx's own command-line client (click, rich, pygments) whenever
# click happens to be installed; ht-dash never uses it, and `status --json` should not pay for it.
# A None entry makes that optional import fail at once, as it does without click.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
