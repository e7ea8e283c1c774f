"""Where ht-dash keeps files: platformdirs, or all under $HT_DASH_HOME if set (tests, portable)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "ht-dash"


def _home() -> Path | None:
    home = os.environ.get("HT_DASH_HOME")
    return Path(home) if home else None


def config_dir() -> Path:
    if home := _home():
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    if home := _home():
        return home / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    if home := _home():
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    if home := _home():
        return home / "log"
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def export_dir() -> Path:
    """Where CSV exports go by default: the directory ht-dash was started in, as a command's
    output would (the export dialog shows the whole path and lets the user change it)."""
    if home := _home():
        return home / "exports"
    return Path.cwd()


def config_file() -> Path:
    return config_dir() / "config.toml"
