"""Keys the user changed: config.toml's [keys] table checked against every binding, as a keymap.

Every `Binding` has an id (posting's model); `[keys]` maps ids to keys, e.g.
`"requests.follow" = "F"` or `refresh = "f5,ctrl+r"`. A remap is ignored, and reported once at
start with the file and line, when its id is unknown, when a key is one a terminal cannot send
(or ctrl+c), or when it takes a key another binding on the same screen (or everywhere) uses.
What is left goes to Textual's `App.set_keymap`, so the footer shows the user's keys; the help
screen and the palette ask `key_display()`.
"""

from __future__ import annotations

import importlib
import pkgutil
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from textual.binding import Binding
from textual.keys import _character_to_key, format_key
from textual.screen import Screen

from ht_dash.config import KeySetting

RESERVED = {"ctrl+c": "ctrl+c interrupts programs in a terminal"}
MODIFIERS = {"ctrl", "shift", "alt"}
NAMED_KEYS = {
    *(f"f{n}" for n in range(1, 25)),
    *("up", "down", "left", "right", "home", "end", "pageup", "pagedown", "insert", "delete"),
    *("tab", "enter", "escape", "backspace", "space"),
}
# ctrl+ these characters reach an application as control codes; ctrl+digit or ctrl+comma do not.
CTRL_CHARACTERS = set(string.ascii_lowercase) | {
    "at",
    "left_square_bracket",
    "backslash",
    "right_square_bracket",
    "circumflex_accent",
    "underscore",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Bindings that are active together: the app's, or one screen's (with the app's under it)."""

    name: str
    bindings: tuple[Binding, ...]


def normalize(key: str) -> str:
    key = key.strip()
    if len(key) == 1:
        return _character_to_key(key)
    *mods, base = key.split("+")
    base = _character_to_key(base) if len(base) == 1 else base
    return "+".join([*(m.lower() for m in mods), base])


def key_problem(key: str) -> str | None:
    """Why a terminal cannot deliver `key` to ht-dash (or should not), or None when it can."""
    key = normalize(key)
    if not key:
        return "an empty key"
    if key in RESERVED:
        return RESERVED[key]
    *mods, base = key.split("+")
    unknown = set(mods) - MODIFIERS
    if unknown:
        return f"'{key}': terminals do not send {'/'.join(sorted(unknown))}"
    if base in NAMED_KEYS:
        return None
    character = len(base) == 1 or format_key(base) != base or base in CTRL_CHARACTERS
    if not character:
        return f"'{key}' is not a key name"
    if "ctrl" in mods and base not in CTRL_CHARACTERS:
        return f"'{key}': terminals cannot send ctrl with that key"
    if "shift" in mods:
        return f"'{key}': write the shifted character itself (e.g. 'F' for shift+f)"
    return None


def _screen_classes() -> list[type[Screen]]:
    """Every screen class of ht-dash (importing its screen modules)."""
    import ht_dash.tui.screens as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    found: list[type[Screen]] = []
    pending = list(Screen.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("ht_dash."):
            found.append(cls)
    return sorted(found, key=lambda c: c.__qualname__)


def _bindings(items: Iterable[object]) -> tuple[Binding, ...]:
    return tuple(b for b in items if isinstance(b, Binding))


def scopes(app_bindings: Iterable[object]) -> list[Scope]:
    app = _bindings(app_bindings)
    found = [Scope("everywhere", app)]
    for cls in _screen_classes():
        own = _bindings(getattr(cls, "BINDINGS", ()))
        if own:
            found.append(Scope(cls.__name__, app + own))
    return found


def _keys_of(binding: Binding) -> list[str]:
    return [normalize(k) for k in binding.key.split(",")]


def _conflict(binding_id: str, wanted: dict[str, list[str]], all_scopes: list[Scope]) -> str | None:
    """How a remap collides with another binding active at the same time, or None."""
    for scope in all_scopes:
        if not any(b.id == binding_id for b in scope.bindings):
            continue
        for other in scope.bindings:
            if other.id == binding_id:
                continue
            clash = set(wanted[binding_id]) & set(wanted.get(other.id or "", _keys_of(other)))
            if clash:
                name = other.id or other.action
                return f"on {format_key(min(clash))} conflicts with '{name}' ({scope.name})"
    return None


def resolve(
    settings: Sequence[KeySetting], app_bindings: Iterable[object], path: Path | None
) -> tuple[dict[str, str], list[str]]:
    """(keymap for `App.set_keymap`, problems to report). A rejected remap keeps the default."""
    where = str(path) if path else "config.toml"
    all_scopes = scopes(app_bindings)
    by_id = {b.id: b for scope in all_scopes for b in scope.bindings if b.id}
    problems: list[str] = []
    wanted: dict[str, list[str]] = {}
    lines: dict[str, int] = {}
    for setting in settings:
        at = f"{where}, line {setting.line}" if setting.line else where
        lines[setting.binding_id] = setting.line
        if setting.binding_id not in by_id:
            problems.append(f"{at}: unknown key binding id '{setting.binding_id}' — ignored")
            continue
        if not isinstance(setting.keys, str):
            problems.append(f"{at}: keys for '{setting.binding_id}' must be a string — ignored")
            continue
        keys = [normalize(k) for k in setting.keys.split(",") if k.strip()]
        bad = next((p for k in keys if (p := key_problem(k)) is not None), None)
        if bad is not None or not keys:
            problems.append(f"{at}: '{setting.binding_id}': {bad or 'no key'} — ignored")
            continue
        wanted[setting.binding_id] = keys
    # Conflicts: after the remaps, two bindings of one scope may not share a key.
    for binding_id in list(wanted):
        conflict = _conflict(binding_id, wanted, all_scopes)
        if conflict is not None:
            line = lines.get(binding_id, 0)
            at = f"{where}, line {line}" if line else where
            problems.append(f"{at}: '{binding_id}' {conflict} — ignored")
            del wanted[binding_id]
    return {bid: ",".join(keys) for bid, keys in wanted.items()}, problems


def key_display(keymap: Mapping[str, str], binding: Binding) -> str:
    """The key a user presses for `binding`, as help and palette show it."""
    keys = keymap.get(binding.id or "") if binding.id else None
    if keys:
        return ", ".join(format_key(k) for k in keys.split(","))
    if binding.key_display:
        return binding.key_display
    return ", ".join(format_key(k) for k in binding.key.split(","))


def key_for(keymap: Mapping[str, str], bindings: Iterable[object], binding_id: str) -> str:
    """The key shown for the binding `binding_id` among `bindings` (remapped or not)."""
    return key_display(keymap, next(b for b in _bindings(bindings) if b.id == binding_id))
