"""The running app typed as `HtDashApp` for screens and widgets, without importing the app module
(which imports the screens): `app = typed_app()` in place of `textual.getters.app(HtDashApp)`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast, overload

from textual.message_pump import MessagePump

if TYPE_CHECKING:
    from ht_dash.tui.app import HtDashApp

# Textual's own lookup (the active app, else the node's ancestors), read once.
_find_app = MessagePump.app.fget  # type: ignore[attr-defined]


class typed_app:  # noqa: N801 - used like textual.getters.app, a lower-case descriptor
    @overload
    def __get__(self, obj: None, obj_type: Any) -> typed_app: ...
    @overload
    def __get__(self, obj: MessagePump, obj_type: Any) -> HtDashApp: ...

    def __get__(self, obj: MessagePump | None, obj_type: Any) -> HtDashApp | typed_app:
        if obj is None:
            return self
        return cast("HtDashApp", _find_app(obj))
