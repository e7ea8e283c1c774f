"""Screen 1: masked token, reveal, copy (OSC 52 + system tool), regenerate, logout."""

from __future__ import annotations

import os
import stat

import pytest
from textual.widgets import Static

from auth_harness import (
    KEYRING_KEY,
    SIZE,
    api_runtime,
    demo_app,
    notifications,
    screen_text,
    unwrapped,
)
from ht_dash.api.client import AccountClient
from ht_dash.api.errors import AuthError
from ht_dash.api.jwt import token_times
from ht_dash.auth import clipboard
from ht_dash.auth.clipboard import NativeCopy
from ht_dash.auth.storage import Where
from ht_dash.config import Settings
from ht_dash.feeds.registry import PROFILE, TOKEN
from ht_dash.tui.app import make_app
from ht_dash.tui.clipboard import REVEAL_HINT
from ht_dash.tui.screens.confirm import ConfirmScreen
from ht_dash.tui.screens.login import LoginScreen
from ht_dash.tui.screens.new_token import NewTokenScreen
from ht_dash.tui.screens.token import TokenScreen
from ui_harness import settled

NO_TOOL = NativeCopy(None, False, False, "no clipboard tool found")


@pytest.fixture
def native(monkeypatch):
    """Stands in for the system clipboard tool; records what it was given."""
    calls: list[str] = []
    result = {"value": NO_TOOL}

    async def fake(text: str, timeout: float = 2.0, *, env=None) -> NativeCopy:
        calls.append(text)
        return result["value"]

    monkeypatch.setattr(clipboard, "copy_native_async", fake)
    return calls, result


def shown(app, widget_id: str) -> str:
    return str(app.screen.query_one(f"#{widget_id}", Static).render())


async def test_token_is_masked_until_revealed_and_hidden_again():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        token = app.runtime.demo_backend.token
        assert isinstance(app.screen, TokenScreen)
        assert token.masked in shown(app, "token-value")
        assert token.reveal() not in unwrapped(app)

        await pilot.press("v")
        # On its own, unbordered: selecting it by hand copies no "│" (it wrapped in the card).
        assert shown(app, "token-revealed") == token.reveal()
        assert token.reveal() not in shown(app, "token-value")
        revealed = app.screen.query_one("#token-revealed", Static)
        assert revealed.styles.border_left[0] in ("", "none")
        assert revealed.region.x > app.screen.query_one("#token-card").region.x
        assert token.reveal() in unwrapped(app)

        await pilot.press("v")
        assert token.reveal() not in unwrapped(app)
        assert token.masked in shown(app, "token-value")


async def test_leaving_the_screen_hides_a_revealed_token():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("v", "2", "1")
        await settled(pilot)
        assert app.runtime.demo_backend.token.reveal() not in unwrapped(app)


async def test_issued_at_comes_from_the_jwt_and_storage_is_named():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        issued = token_times(app.token_state.token).issued_at
        details = shown(app, "token-details")
        assert f"Issued        {issued:%Y-%m-%d %H:%M} UTC (" in details
        assert "Expires       no expiry in the token" in details
        assert "Stored in     built-in demo backend (your keyring is not used)" in details
        activity = shown(app, "token-text")
        assert "Last used" in activity and app.feeds.state("token").data.token_id in activity


async def test_copy_sends_osc52_and_says_honestly_it_is_unverified(native):
    calls, _ = native
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("c")
        await settled(pilot)
        token = app.runtime.demo_backend.token.reveal()
        assert app.clipboard == token  # what App.copy_to_clipboard received (OSC 52)
        assert calls == [token]  # the system tool was tried too (setting: auto)
        expected = clipboard.CopyResult(True, NO_TOOL).message(REVEAL_HINT)
        assert expected.startswith("Sent to the terminal's clipboard (OSC 52) — if paste is empty")
        assert notifications(app)[-1] == f"Token sent: {expected}"
        assert list(app._notifications)[-1].severity == "warning"
        assert token not in screen_text(app)  # copying never shows it


async def test_copy_verified_by_the_system_tool_says_so(native):
    _, result = native
    result["value"] = NativeCopy("xclip", True, True, "")
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("c")
        await settled(pilot)
        assert notifications(app)[-1] == "Token copied: Copied to system clipboard (xclip)."
        assert list(app._notifications)[-1].severity == "information"


async def test_copy_setting_osc52_does_not_run_the_system_tool(native):
    calls, _ = native
    app = demo_app(settings=Settings(clipboard="osc52"))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("c")
        await settled(pilot)
        assert calls == []
        assert app.clipboard == app.runtime.demo_backend.token.reveal()


async def test_regenerate_asks_first_and_cancel_changes_nothing():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        before = app.token_state.token
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        message = shown(app, "confirm-message")
        assert "The current token stops working at once" in message
        assert "will get 401" in message
        await pilot.press("enter")  # the focused button is Cancel
        await settled(pilot)
        assert isinstance(app.screen, TokenScreen)
        assert app.token_state.token == before == app.runtime.demo_backend.token


async def test_regenerate_in_demo_switches_the_app_to_the_new_token():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        backend = app.runtime.demo_backend
        old, old_id = app.token_state.token, app.feeds.state("token").data.token_id
        await pilot.press("g", "y")
        await settled(pilot)

        assert app.token_state.token == backend.token != old
        # the old token is dead at the demo backend
        with pytest.raises(AuthError):
            async with AccountClient(
                app.runtime.base_url, old, transport=backend.transport()
            ) as client:
                await client.profile()
        # and the app goes on working with the new one
        info = app.feeds.state("token").data
        assert info.token_id != old_id and info.masked == backend.token.masked
        app.feeds.refresh([PROFILE, TOKEN])
        await settled(pilot)
        assert app.feeds.scheduler.auth_failed is None
        assert app.feeds.state("profile").error is None
        assert backend.token.masked in shown(app, "token-value")
        assert not isinstance(app.screen, NewTokenScreen)
        assert any(n.startswith("Token regenerated: New token") for n in notifications(app))


async def test_regenerate_with_a_keyring_that_refuses_writes_shows_the_new_token(
    refusing_keyring,
):
    runtime = api_runtime()
    backend = runtime.demo_backend
    refusing_keyring.entries[KEYRING_KEY] = backend.token.reveal()
    app = make_app(runtime, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert app.token_state.location.where is Where.KEYRING
        await pilot.press("g", "y")
        await settled(pilot)

        assert isinstance(app.screen, NewTokenScreen)
        new = backend.token.reveal()
        assert new in shown(app, "new-token-value")  # the one copy, in full
        assert "could not be stored" in shown(app, "new-token-why")
        assert app.token_state.token.reveal() == new and app.token_state.location is None
        assert refusing_keyring.entries[KEYRING_KEY] != new  # the refused write did not land

        await pilot.press("c")
        await settled(pilot)
        assert app.clipboard == new

        await pilot.press("f")  # the user's explicit choice: the plain-text file
        await settled(pilot)
        path = app.token_state.store.file_path
        assert path.read_text().strip() == new
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert app.token_state.location.insecure

        await pilot.press("escape")
        await settled(pilot)
        assert isinstance(app.screen, TokenScreen)
        assert "Stored in plain text" in shown(app, "token-warning")


async def test_a_failing_copy_in_the_new_token_dialog_keeps_the_app_and_the_token(
    refusing_keyring, monkeypatch
):
    """A crash would end the app and print a traceback whose locals hold the revealed token."""
    runtime = api_runtime()
    refusing_keyring.entries[KEYRING_KEY] = runtime.demo_backend.token.reveal()

    async def broken(text: str, timeout: float = 2.0, *, env=None) -> NativeCopy:
        raise RuntimeError("clipboard tool exploded")

    monkeypatch.setattr(clipboard, "copy_native_async", broken)
    app = make_app(runtime, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("g", "y")
        await settled(pilot)
        assert isinstance(app.screen, NewTokenScreen)
        await pilot.press("c")
        await settled(pilot)
        assert app.is_running and isinstance(app.screen, NewTokenScreen)
        assert app.return_code is None and not app._exit_renderables


async def test_logout_removes_the_stored_token_and_asks_for_a_new_one(memory_keyring):
    runtime = api_runtime()
    memory_keyring.entries[KEYRING_KEY] = runtime.demo_backend.token.reveal()
    app = make_app(runtime, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert "OS keyring" in shown(app, "token-details")
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settled(pilot)
        assert KEYRING_KEY not in memory_keyring.entries
        assert app.token_state.token is None
        assert isinstance(app.screen, LoginScreen)
        assert any("Removed the token from the OS keyring" in n for n in notifications(app))


async def test_palette_lists_the_token_actions():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Token: reveal / hide", "Token: copy", "Token: regenerate", "Token: log out"):
            assert title in titles


def test_token_screen_snapshot(snap_compare):
    async def run_before(pilot) -> None:
        await settled(pilot)

    assert snap_compare(demo_app(), terminal_size=SIZE, run_before=run_before)


async def test_regenerate_waits_out_a_429_hold_instead_of_sending():
    from ht_dash.api.errors import RateLimited

    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        backend = app.runtime.demo_backend
        before = backend.token
        app.feeds.scheduler.observe(RateLimited("Too many requests", retry_after=60))
        await pilot.press("g", "y")
        await settled(pilot)
        assert backend.token == before == app.token_state.token  # nothing was regenerated
        failed = [n for n in notifications(app) if n.startswith("Regenerate failed: Rate-limited")]
        assert failed and "retry in 60 s" in failed[0]
