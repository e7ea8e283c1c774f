"""Leak test for the app: a sentinel token goes through every screen and every error path.

It must appear in no file under HT_DASH_HOME, in no error or notification text, in no log record,
in no snapshot file, and never on screen unless the user revealed it.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

from textual import events
from textual.widgets import Input

from auth_harness import (
    AT,
    KEYRING_KEY,
    SIZE,
    api_runtime,
    jwt_like,
    screen_text,
    unwrapped,
)
from ht_dash.auth import clipboard
from ht_dash.auth.clipboard import NativeCopy
from ht_dash.tui.app import make_app
from ht_dash.tui.screens.login import LoginScreen
from ht_dash.tui.screens.token import TokenScreen
from ui_harness import settled, wait_until

MARK = "SNTNLq7Xw"  # only in the token's signature: never in its masked form
SENTINEL = jwt_like(MARK, AT - timedelta(days=30))
SNAPSHOTS = Path(__file__).parent
# a whole JWT, or the header every HyperTracker/demo token starts with (only shown when revealed)
FULL_TOKEN = re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}|eyJhbGciOiJIUzI1NiIsInR5cCI6")


class Witness:
    """Collects every text the app produced that could carry the token."""

    def __init__(self, app) -> None:
        self.app = app
        self.texts: list[str] = []

    def look(self, revealed: bool = False) -> None:
        app = self.app
        on_screen = screen_text(app) + "\n" + unwrapped(app)
        if not revealed:
            assert MARK not in on_screen, f"token on screen ({type(app.screen).__name__})"
        for feed in app.feeds.scheduler.feeds.values():
            if (error := feed.state.error) is not None:
                self.texts += [str(error), repr(error), error.hint, error.title]
        for worker in app.workers:
            if worker.error is not None:
                self.texts += [str(worker.error), repr(worker.error)]
        self.texts += [f"{n.title} {n.message}" for n in app._notifications]

    def assert_clean(self) -> None:
        leaked = [text for text in self.texts if MARK in text]
        assert not leaked, leaked


async def visit_every_screen(pilot, witness: Witness, refresh: bool = False) -> None:
    for key in "123456":
        await pilot.press(key)
        if refresh:
            await pilot.press("r")
        await settled(pilot)
        witness.look()


async def test_a_sentinel_token_leaks_nowhere(memory_keyring, isolated_home, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)

    async def no_system_clipboard(text, timeout=2.0, *, env=None):
        return NativeCopy(None, False, False, "no clipboard tool found")

    monkeypatch.setattr(clipboard, "copy_native_async", no_system_clipboard)
    runtime = api_runtime(SENTINEL)
    backend, gateway = runtime.demo_backend, runtime.gateway
    memory_keyring.entries[KEYRING_KEY] = SENTINEL
    app = make_app(runtime, live=False)
    witness = Witness(app)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert app.token_state.token.reveal() == SENTINEL  # read from the keyring
        await visit_every_screen(pilot, witness)
        assert app.feeds.state("history").data is not None  # the screens really had data

        # the token screen: copy never shows it; reveal does (and proves the screen check works)
        await pilot.press("1", "c")
        await settled(pilot)
        assert app.clipboard == SENTINEL
        witness.look()
        await pilot.press("v")
        witness.look(revealed=True)
        assert SENTINEL in unwrapped(app)
        await pilot.press("v")
        witness.look()

        # a server error, then the network down, on every screen
        backend.set_fault("/account/", 500)
        await visit_every_screen(pilot, witness, refresh=True)
        backend.clear_faults()
        gateway.down = True
        await visit_every_screen(pilot, witness, refresh=True)
        gateway.down = False

        # 401: the login screen; the sentinel pasted (masked) is rejected, then accepted
        backend.set_fault("/account/", 401)
        await pilot.press("1", "r")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        await settled(pilot)
        witness.look()
        field = app.screen.query_one("#token-input", Input)
        field.post_message(events.Paste(SENTINEL))
        await pilot.press("enter")
        await settled(pilot)
        assert "rejected" in str(app.screen.query_one("#login-status").render())
        witness.look()
        backend.clear_faults()
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(app.screen, TokenScreen)
        assert memory_keyring.entries[KEYRING_KEY] == SENTINEL
        await visit_every_screen(pilot, witness, refresh=True)
        assert MARK not in app.export_screenshot()

    witness.assert_clean()
    assert MARK not in caplog.text
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert MARK.encode() not in path.read_bytes(), f"token written to {path}"
    assert any(isolated_home.rglob("*")), "the app wrote nothing: the file check would be empty"


def test_no_snapshot_file_holds_a_token():
    files = [p for p in SNAPSHOTS.glob("**/__snapshots__/**/*") if p.is_file()]
    assert files, "no snapshots found: the check would be empty"
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert MARK not in text, path
        found = FULL_TOKEN.search(text)
        assert found is None, f"{path} holds what looks like a whole token"
