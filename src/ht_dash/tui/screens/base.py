"""What every dashboard screen shares: the nav bar, the footer, its feeds and their panels."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen

from ht_dash.feeds.registry import FeedSpec
from ht_dash.feeds.scheduler import FeedState
from ht_dash.tui import notices
from ht_dash.tui.screens import SCREENS
from ht_dash.tui.typed_app import typed_app
from ht_dash.tui.widgets.footer import DashFooter
from ht_dash.tui.widgets.nav import NavBar
from ht_dash.tui.widgets.panel import DataPanel


class FeedUpdated(Message):
    def __init__(self, state: FeedState) -> None:
        super().__init__()
        self.state = state


class DashScreen(Screen):
    """A screen fed by some of the scheduler's feeds; subclasses render one feed at a time."""

    MODE: ClassVar[str] = ""  # its mode name, from the `SCREENS` table
    FEEDS: ClassVar[tuple[FeedSpec, ...]] = ()  # from ht_dash.feeds.registry
    # feed name -> id of the DataPanel that shows its freshness
    PANELS: ClassVar[dict[str, str]] = {}
    FEED_NAMES: ClassVar[frozenset[str]] = frozenset()  # set from FEEDS
    # limit alerts ("rate", "quota") this screen's gauges already state: no toast over them here
    GAUGES: ClassVar[frozenset[str]] = frozenset()

    app = typed_app()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.FEED_NAMES = frozenset(spec.name for spec in cls.FEEDS)
        cls.MODE = next((mode for mode, *_, name in SCREENS if name == cls.__name__), cls.MODE)

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield DashFooter()

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rendered: dict[str, object] = {}  # feed kind -> the data object last rendered

    def on_screen_resume(self) -> None:
        notices.leave_screen(self.app, self.MODE)  # another screen's toasts stay there
        self._rendered.clear()  # back on view: render again, time-relative texts have moved
        self.app.feeds.show(self.FEEDS)
        for spec in self.FEEDS:
            self.show_feed(self.app.feeds.state(spec))
        self.query_one(NavBar).refresh_context()

    def on_feed_updated(self, message: FeedUpdated) -> None:
        if message.state.kind in self.FEED_NAMES:
            self.show_feed(message.state)
            if self.app.live:
                # Every age text moves on with the data, in the same frame; the app then skips its
                # next 1 s tick, which would only draw a second frame (screen 4 polls each second).
                self.tick()

    def show_feed(self, state: FeedState) -> None:
        if (panel_id := self.PANELS.get(state.kind)) is not None:
            origin = self.app.feeds.origin_of(state)
            self.query_one(f"#{panel_id}", DataPanel).show_state(
                state, self.app.clock.now(), origin
            )
        # A poll starting re-reports the data on view: rendering it again is wasted work.
        if state.data is not None and not (
            state.loading and state.data is self._rendered.get(state.kind)
        ):
            self._rendered[state.kind] = state.data
            self.render_data(state.kind, state.data)

    def tick(self) -> None:
        """Once a second while shown: age texts move on."""
        now = self.app.clock.now()
        for kind, panel_id in self.PANELS.items():
            state = self.app.feeds.state(kind)
            origin = self.app.feeds.origin_of(state)
            self.query_one(f"#{panel_id}", DataPanel).show_state(state, now, origin)

    def render_data(self, kind: str, data: object) -> None:
        raise NotImplementedError
