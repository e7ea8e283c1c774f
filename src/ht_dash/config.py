"""Settings: defaults < config.toml (platformdirs config dir) < HT_DASH_* env vars < command line.

Secrets never live here: the token has its own storage (ht_dash.auth).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ht_dash.api.client import DEFAULT_DEADLINE_S
from ht_dash.api.contract import DEFAULT_BASE_URL
from ht_dash.api.errors import ConfigError

CLIPBOARD_MODES = ("auto", "osc52", "native")
SOURCES = ("auto", "api", "meter")
BILLING_DAY_RANGE = (1, 31)
LIVE_INTERVAL_RANGE = (1.0, 60.0)
REQUEST_DEADLINE_RANGE = (0.1, 600.0)
_RANGES = {"live_interval": LIVE_INTERVAL_RANGE, "request_deadline": REQUEST_DEADLINE_RANGE}


@dataclass(frozen=True, slots=True)
class KeySetting:
    """One remap from config.toml's [keys] table: `binding_id = "keys"` (comma-separated)."""

    binding_id: str
    keys: object  # as written: a string, or anything else (reported, ignored)
    line: int  # 1-based line in the file; 0 when it cannot be found


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """`history.kind = "k"` is a nested table in TOML: give its entries their dotted ids back."""
    items: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            items += _flatten(value, f"{name}.")
        else:
            items.append((name, value))
    return items


def _key_line(lines: list[str], binding_id: str) -> int:
    """The line in [keys] that sets `binding_id` (quoted, dotted or plain), 1-based; 0 if none."""
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("[keys")), 0)
    for number, line in enumerate(lines[start:], start + 1):
        left = line.split("=", 1)[0] if "=" in line else ""
        name = left.replace('"', "").replace("'", "").replace(" ", "").strip()
        if name and (name == binding_id or binding_id.endswith("." + name)):
            return number
    return 0


def _key_settings(table: Any, text: str, path: Path) -> tuple[KeySetting, ...]:
    if not isinstance(table, dict):
        raise ConfigError(
            f"{path}: 'keys' must be a table of binding id = \"keys\"",
            hint='for example:  [keys]  "requests.follow" = "F"',
        )
    lines = text.splitlines()
    return tuple(KeySetting(bid, keys, _key_line(lines, bid)) for bid, keys in _flatten(table))


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str = DEFAULT_BASE_URL
    clipboard: str = "auto"
    bell: bool = True
    live_interval: float = 2.0
    source: str = "auto"
    theme: str = "textual-dark"
    plan: str = ""  # the plan the user declared (`ht-dash plan set`); "" when not declared
    billing_day: int = 0  # day of the month a paid period starts; 0 when not declared
    request_deadline: float = DEFAULT_DEADLINE_S  # seconds for one whole request and its answer
    # Where the meter writes and `--source meter` reads: "" is meter.sqlite3 in the data
    # directory; a postgresql:// URL is a store shared by several meters (docs/meter.md).
    meter_store: str = ""
    # [keys] table: (binding id, keys, line in config.toml or 0), checked when the app starts
    keys: tuple[KeySetting, ...] = ()
    config_path: Path | None = None  # where the [keys] came from, for messages

    def __repr__(self) -> str:  # explicit: a store URL's password is never shown
        inner = ", ".join(f"{f.name}={self._shown(f.name)!r}" for f in fields(self))
        return f"Settings({inner})"

    def _shown(self, name: str) -> object:
        value = getattr(self, name)
        if name == "meter_store" and value:
            return redact_url(value) if "://" in value else value
        return value


_ENV = {
    "base_url": "HT_DASH_BASE_URL",
    "clipboard": "HT_DASH_CLIPBOARD",
    "bell": "HT_DASH_BELL",
    "live_interval": "HT_DASH_LIVE_INTERVAL",
    "source": "HT_DASH_SOURCE",
    "theme": "HT_DASH_THEME",
    "plan": "HT_DASH_PLAN",
    "billing_day": "HT_DASH_BILLING_DAY",
    "request_deadline": "HT_DASH_REQUEST_DEADLINE",
    "meter_store": "HT_DASH_METER_STORE",
}


def coerce(key: str, value: Any, origin: str) -> Any:
    """`value` for setting `key` (from `origin`: a file, the environment, an option), checked."""
    default = getattr(Settings(), key)
    where = f"{origin}: '{key}'"
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        ):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if isinstance(default, int) and not isinstance(default, float):
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        low, high = BILLING_DAY_RANGE
        if number is None or not low <= number <= high:
            raise ConfigError(f"{where} must be a day of the month ({low}-{high}), got {value!r}")
        return number
    if isinstance(default, float):
        if isinstance(value, bool):  # TOML `true` would otherwise pass as 1.0
            raise ConfigError(f"{where} must be a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a number, got {value!r}") from None
        low, high = _RANGES[key]
        if not low <= number <= high:  # also refuses NaN
            raise ConfigError(
                f"{where} must be between {low:g} and {high:g} seconds, got {number:g}"
            )
        return number
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, got {value!r}")
    if key == "clipboard" and value not in CLIPBOARD_MODES:
        raise ConfigError(f"{where} must be one of {', '.join(CLIPBOARD_MODES)}, got {value!r}")
    if key == "source" and value not in SOURCES:
        raise ConfigError(f"{where} must be one of {', '.join(SOURCES)}, got {value!r}")
    if key == "plan" and value:
        from ht_dash.api.plans import PLANS, plan_by_id

        plan = plan_by_id(value)
        if plan is None:
            known = ", ".join(p.id for p in PLANS)
            raise ConfigError(f"{where}: unknown plan {value!r}", hint=f"known plans: {known}")
        return plan.id
    if key == "base_url":
        from ht_dash.api.client import check_base_url

        try:
            return check_base_url(value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None
    return value


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read config.toml (if any) then the environment. Raises ConfigError naming the line or key."""
    from ht_dash.paths import config_file

    env = os.environ if env is None else env
    path = path or config_file()
    values: dict[str, Any] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if text:
        import tomllib  # only with a config file: every command starts here

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{path} is not valid TOML: {exc}", hint="fix or delete the file"
            ) from None
        known = {f.name for f in fields(Settings)} - {"config_path"}
        for key, value in data.items():
            if key == "keys":
                values["keys"] = _key_settings(value, text, path)
                values["config_path"] = path
                continue
            if key not in known:
                raise ConfigError(
                    f"{path}: unknown setting '{key}'",
                    hint=f"known settings: {', '.join(sorted(known))}",
                )
            values[key] = coerce(key, value, str(path))
    for key, name in _ENV.items():
        if name in env and env[name] != "":
            values[key] = coerce(key, env[name], f"environment {name}")
    return replace(Settings(), **values)


PASSWORD_PARAMS = ("password",)  # query parameters of a database URL that hold a secret


def redact_url(url: str) -> str:
    """The URL with any password (in the user part or the query) replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostinfo}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() in PASSWORD_PARAMS else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def save_settings(values: dict[str, Any], path: Path | None = None) -> Path:
    """Set top-level keys in config.toml, keeping every other line as it is; returns the path.

    Values are validated like the file's own; a value of None removes the key.
    """
    from ht_dash.paths import config_file

    path = path or config_file()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    todo = dict(values)
    out: list[str] = []
    in_table = False
    for line in lines:
        stripped = line.strip()
        in_table = in_table or stripped.startswith("[")
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else None
        if not in_table and key in todo:
            value = todo.pop(key)
            if value is not None:
                out.append(f"{key} = {_toml_value(coerce(key, value, str(path)))}")
            continue
        out.append(line)
    added = [
        f"{key} = {_toml_value(coerce(key, value, str(path)))}"
        for key, value in todo.items()
        if value is not None
    ]
    first_table = next((i for i, line in enumerate(out) if line.strip().startswith("[")), len(out))
    out[first_table:first_table] = added
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
