"""The theme: the `theme` setting, or the one last picked in the palette (remembered on disk).

config.toml's `theme` and HT_DASH_THEME win when they name one; otherwise the last theme picked
in the command palette comes back at the next start. The file holds only the theme's name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from ht_dash.config import Settings

DEFAULT_THEME = Settings().theme


def remembered_path() -> Path:
    from ht_dash.paths import data_dir

    return data_dir() / "theme"


def initial_theme(settings: Settings, available: Iterable[str]) -> str:
    available = set(available)
    wanted = settings.theme
    if wanted == DEFAULT_THEME:  # not chosen in config or env: the palette's last pick
        with contextlib.suppress(OSError, UnicodeDecodeError):
            wanted = remembered_path().read_text(encoding="utf-8").strip() or wanted
    return wanted if wanted in available else DEFAULT_THEME


def remember(theme: str) -> None:
    """Keep the theme picked in the palette for the next start (quietly: it is a nicety)."""
    path = remembered_path()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(theme + "\n", encoding="utf-8")
