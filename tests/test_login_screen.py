"""The login screen: first run, paste, validation before storing, keyring choices."""

from __future__ import annotations

import os
import stat

import pytest
from textual import events
from textual.widgets import Input, RadioSet, Static

from auth_harness import KEYRING_KEY, SIZE, api_runtime, notifications
from ht_dash.auth.storage import Where
from ht_dash.tui.app import make_app
from ht_dash.tui.screens.login import LoginScreen, parse_token
from ht_dash.tui.screens.token import TokenScreen
from ui_harness import quiet, wait_until


def shown(app, widget_id: str) -> str:
    return str(app.screen.query_one(f"#{widget_id}", Static).render())


async def paste(pilot, text: str) -> None:
    """As a terminal delivers a paste (bracketed paste), into the focused token input."""
    field = pilot.app.screen.query_one("#token-input", Input)
    assert field.has_focus
    field.post_message(events.Paste(text))
    await pilot.pause()


def idle(app) -> bool:
    """`quiet` (no check or keyring probe in flight, the dashboard's feeds answered) on the login
    screen with its keyring checked, or on the dashboard."""
    if not quiet(app):
        return False
    if isinstance(app.screen, TokenScreen):
        return True
    return isinstance(app.screen, LoginScreen) and "Checking" not in shown(app, "keyring-status")


async def settled(pilot) -> None:
    await wait_until(pilot, lambda: idle(pilot.app), what="the login check, probe or first polls")


async def log_in(pilot, text: str) -> None:
    await paste(pilot, text)
    await pilot.press("enter")  # the check's worker exists once the key is handled
    await settled(pilot)


def first_run():
    runtime = api_runtime()
    return runtime, make_app(runtime, live=False)


async def test_without_a_token_the_app_opens_on_the_login_screen_with_a_masked_input():
    runtime, app = first_run()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert isinstance(app.screen, LoginScreen)
        field = app.screen.query_one("#token-input", Input)
        assert field.password
        token = runtime.demo_backend.token.reveal()
        await paste(pilot, token)
        assert field.value == token
        assert "It will be stored in the OS keyring" in shown(app, "keyring-status")


async def test_login_validates_then_stores_in_the_keyring_and_opens_the_dashboard(memory_keyring):
    runtime, app = first_run()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        token = runtime.demo_backend.token
        await log_in(pilot, f"Bearer {token.reveal()}\n")
        assert memory_keyring.entries[KEYRING_KEY] == token.reveal()
        assert app.token_state.token == token and app.token_state.location.where is Where.KEYRING
        assert isinstance(app.screen, TokenScreen)
        assert app.feeds.state("profile").data is not None
        profile = app.feeds.state("profile").data
        assert any(f"Logged in as {profile.name}" in n for n in notifications(app))


async def test_a_rejected_token_is_reported_and_nothing_is_stored(memory_keyring):
    runtime, app = first_run()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await log_in(pilot, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.wrongwrongwrong")
        assert isinstance(app.screen, LoginScreen)
        status = shown(app, "login-status")
        assert "The API rejected this token (401)" in status
        assert "Nothing was stored" in status
        assert memory_keyring.entries == {}
        assert app.token_state.token is None
        assert not app.token_state.store.file_path.exists()


async def test_a_server_error_says_to_try_again_and_promises_no_retry(memory_keyring):
    runtime, app = first_run()
    runtime.demo_backend.set_fault("/account/", 503)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await log_in(pilot, runtime.demo_backend.token.reveal())
        status = shown(app, "login-status")
        assert "Nothing was stored" in status
        # the login screen tried once: it must not say "ht-dash will retry" and then wait forever
        assert "will retry" not in status and "press Enter to try again" in status
        assert memory_keyring.entries == {}


async def test_a_network_failure_is_reported_and_nothing_is_stored(memory_keyring):
    runtime, app = first_run()
    runtime.gateway.down = True
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await log_in(pilot, runtime.demo_backend.token.reveal())
        status = shown(app, "login-status")
        assert "Could not reach the API" in status and "Nothing was stored" in status
        assert memory_keyring.entries == {}
        # the connection comes back: Enter again logs in
        runtime.gateway.down = False
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(app.screen, TokenScreen)
        assert memory_keyring.entries[KEYRING_KEY] == runtime.demo_backend.token.reveal()


@pytest.mark.parametrize("text", ["", "two words", "eyJhbG…oKjg"])
def test_what_is_not_a_token_is_refused_before_any_request(text):
    with pytest.raises(ValueError):
        parse_token(text)


async def test_a_masked_token_pasted_by_mistake_is_explained(memory_keyring):
    runtime, app = first_run()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await log_in(pilot, runtime.demo_backend.token.masked)
        assert "masked form" in shown(app, "login-status")
        assert runtime.demo_backend.requests_served == 0


async def test_without_a_keyring_it_explains_and_stores_nothing_unless_chosen(fail_keyring):
    runtime, app = first_run()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        status = shown(app, "keyring-status")
        assert "No OS keyring is available" in status and "Secret Service" in status
        choice = app.screen.query_one("#storage-choice", RadioSet)
        assert choice.display and choice.pressed_button.id == "store-session"

        token = runtime.demo_backend.token
        await log_in(pilot, token.reveal())
        assert isinstance(app.screen, TokenScreen)
        assert app.token_state.token == token and app.token_state.location is None
        assert not app.token_state.store.file_path.exists()
        assert any("export HT_DASH_TOKEN" in n for n in notifications(app))


async def test_without_a_keyring_the_plain_text_file_is_the_users_choice(fail_keyring):
    runtime, app = first_run()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.click("#store-file")
        await pilot.pause()
        app.screen.query_one("#token-input", Input).focus()
        await pilot.pause()
        token = runtime.demo_backend.token.reveal()
        await log_in(pilot, token)
        path = app.token_state.store.file_path
        assert path.read_text().strip() == token
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert app.token_state.location.insecure
        assert "Stored in plain text" in shown(app, "token-warning")


async def test_a_keyring_that_drops_writes_offers_the_choices_after_validation(null_keyring):
    runtime, app = first_run()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert "null backend" in shown(app, "keyring-status")
        assert app.screen.query_one("#storage-choice", RadioSet).display


async def test_a_keyring_write_failure_after_validation_keeps_the_token_and_offers_choices(
    refusing_keyring,
):
    runtime, app = first_run()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        token = runtime.demo_backend.token.reveal()
        await log_in(pilot, token)
        assert isinstance(app.screen, LoginScreen)
        assert "The token works" in shown(app, "login-status")
        assert "failed while storing the token" in shown(app, "keyring-status")
        served = runtime.demo_backend.requests_served
        await pilot.press("enter")  # default choice: this session only; no second API check
        await settled(pilot)
        assert isinstance(app.screen, TokenScreen)
        assert app.token_state.token.reveal() == token and app.token_state.location is None
        assert runtime.demo_backend.requests_served > served  # the dashboard's own polls


async def test_escape_on_the_first_run_quits_and_navigation_keys_do_not_get_around():
    runtime, app = first_run()
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        app.screen.query_one("#login-submit").focus()
        await pilot.press("2", "r")
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Go to Metrics" not in titles and "Log in" in titles
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_code == 0
    assert runtime.demo_backend.requests_served == 0


async def test_a_401_while_polling_opens_the_login_screen_and_a_new_token_resumes(memory_keyring):
    runtime = api_runtime()
    backend = runtime.demo_backend
    memory_keyring.entries[KEYRING_KEY] = backend.token.reveal()
    app = make_app(runtime, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        backend.set_fault("/account/", 401, times=1)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        await settled(pilot)
        assert "Paste a valid token to resume polling" in shown(app, "login-reason")
        await pilot.press("escape")  # back to the dashboard and its last data
        await wait_until(pilot, lambda: isinstance(app.screen, TokenScreen))
        assert app.feeds.scheduler.auth_failed is not None

        app.open_login("test")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        await settled(pilot)
        await log_in(pilot, backend.token.reveal())
        assert isinstance(app.screen, TokenScreen)
        assert app.feeds.scheduler.auth_failed is None
        assert app.feeds.state("token").error is None


def test_login_screen_without_keyring_snapshot(
    snap_compare, fail_keyring, monkeypatch, isolated_home
):
    # what depends on the machine: the reason keyring gives, and the file's path (~/…)
    monkeypatch.setattr(
        "ht_dash.auth.storage._why_no_keyring", lambda: "Secret Service: no D-Bus session"
    )
    monkeypatch.setenv("HOME", str(isolated_home.parent))

    async def run_before(pilot) -> None:
        await settled(pilot)

    assert snap_compare(first_run()[1], terminal_size=SIZE, run_before=run_before)


async def test_a_keyring_that_never_answers_is_explained_and_the_screen_stays_usable(
    hanging_keyring,
):
    runtime, app = first_run()  # reading the token at start gave up after the (cut) timeout
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert isinstance(app.screen, LoginScreen)
        status = shown(app, "keyring-status")
        assert "has not answered" in status and "Unlock it" in status
        assert app.screen.query_one("#storage-choice", RadioSet).display
        token = runtime.demo_backend.token
        await log_in(pilot, token.reveal())  # this session only, the default choice
        assert isinstance(app.screen, TokenScreen) and app.token_state.token == token


async def test_a_candidate_token_is_checked_with_its_own_client_not_the_polling_one(
    memory_keyring,
):
    runtime = api_runtime()
    backend = runtime.demo_backend
    memory_keyring.entries[KEYRING_KEY] = backend.token.reveal()
    app = make_app(runtime, live=False)
    given = []
    set_token = app.feeds.source.set_token
    app.feeds.source.set_token = lambda token: (given.append(token), set_token(token))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        app.open_login("test")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        await settled(pilot)
        await log_in(pilot, "not-the-right-token-123456")
        assert "The API rejected this token" in shown(app, "login-status")
        assert given == []  # the shared client never held the rejected candidate
        await log_in(pilot, backend.token.reveal())
        assert isinstance(app.screen, TokenScreen)
        assert given == [backend.token]  # only the accepted token reaches it
