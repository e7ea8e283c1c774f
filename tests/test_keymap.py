"""[keys] in config.toml: remaps by binding id, honoured in the footer, help and palette; bad ones
reported once with the file and line, the default kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from ht_dash.clock import FixedClock
from ht_dash.config import KeySetting, load_settings
from ht_dash.runtime import Runtime
from ht_dash.tui.app import HtDashApp, make_app
from ht_dash.tui.keymap import key_problem, resolve
from ht_dash.tui.screens.requests import RequestsScreen

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
CONFIG = """\
bell = false

[keys]
"requests.follow" = "F"
refresh = "f5"
nosuch = "z"
history.sort = "ctrl+c"
pause = "s"
"history.kind" = "super+k"
"""


def test_keys_table_is_read_with_dotted_ids_and_lines(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    settings = load_settings(path, env={})
    assert settings.bell is False
    found = {k.binding_id: (k.keys, k.line) for k in settings.keys}
    assert found["requests.follow"] == ("F", 4)
    assert found["history.sort"] == ("ctrl+c", 7)


def test_bad_remaps_are_reported_with_file_and_line_and_dropped(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    keymap, problems = resolve(load_settings(path, env={}).keys, HtDashApp.BINDINGS, path)
    assert keymap == {"requests.follow": "F", "refresh": "f5"}
    text = "\n".join(problems)
    assert f"{path}, line 6: unknown key binding id 'nosuch'" in text
    assert f"{path}, line 7: 'history.sort': ctrl+c" in text
    assert f"{path}, line 8: 'pause' on s conflicts with" in text
    assert f"{path}, line 9: 'history.kind'" in text and "super" in text
    assert len(problems) == 4


def test_keys_a_terminal_cannot_send_are_refused():
    assert key_problem("ctrl+c") is not None
    assert key_problem("ctrl+1") is not None
    assert key_problem("hyper+x") is not None
    assert key_problem("shift+f") is not None
    assert key_problem("nonsense") is not None
    for fine in ("F", "f5", "ctrl+r", "?", "slash", "pagedown", "ctrl+up", "alt+x"):
        assert key_problem(fine) is None, fine


def test_two_remaps_onto_one_key_conflict():
    settings = (KeySetting("refresh", "y", 1), KeySetting("pause", "y", 2))
    keymap, problems = resolve(settings, HtDashApp.BINDINGS, None)
    assert keymap == {} and len(problems) == 2


async def test_a_remap_is_honoured_in_the_footer_help_and_palette_and_works(isolated_home):
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[keys]\n"requests.follow" = "F"\nrefresh = "f5"\nnosuch = "z"\n')
    runtime = Runtime(settings=load_settings(), demo=True, clock=FixedClock(NOW), demo_seed=7)
    app = make_app(runtime, live=False)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await pilot.press("7")
        screen = app.screen
        assert isinstance(screen, RequestsScreen)
        await pilot.pause()
        footer = {k.description: k.key for k in screen.query_one(Footer).query(FooterKey)}
        assert footer["Follow"] == "F" and footer["Refresh"] == "f5"
        await pilot.press("f")  # the default key no longer toggles
        assert screen.request_log.following
        await pilot.press("F")
        assert not screen.request_log.following
        assert any("nosuch" in n.message for n in app._notifications)
        commands = {c.title: c.help for c in app.get_system_commands(screen)}
        assert commands["Refresh"].endswith("(f5)")
        from ht_dash.tui.screens.help import HelpScreen

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        # the remapped key and its id on one line, as in config.toml
        assert re.search(r"^  F +Follow +requests\.follow$", app.screen.text, re.MULTILINE)


async def test_remapped_live_interval_keys_show_in_the_palette_and_on_screen_4(isolated_home):
    from textual.widgets import Static

    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[keys]\n"limits.faster" = "]"\n"limits.slower" = "["\npause = "space"\n')
    runtime = Runtime(settings=load_settings(), demo=True, clock=FixedClock(NOW), demo_seed=7)
    app = make_app(runtime, live=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert commands["Live refresh faster"].endswith("(])")
        assert commands["Live refresh slower"].endswith("([)")
        status = str(app.screen.query_one("#live-status", Static).render())
        assert "]/[ change · space pause" in status, status
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.feeds.live_interval < 2
