"""Fault matrix, local config: bad TOML or values name the line or key; the CLI exits 2 cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ht_dash import cli
from ht_dash.api import ConfigError
from ht_dash.config import load_settings
from ht_dash.paths import config_file

pytestmark = pytest.mark.fault


def write_config(text: str | bytes):
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def config_error(text: str | bytes) -> ConfigError:
    write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return caught.value


def test_bad_toml_names_the_line_and_column():
    exc = config_error('clipboard = "osc52"\nbell = yes\n')
    assert exc.message.startswith(f"{config_file()} is not valid TOML: ")
    assert "(at line 2, column 8)" in exc.message
    assert exc.hint == "fix or delete the file"


def test_unterminated_string_names_its_line():
    exc = config_error('theme = "textual-dark\nbell = true\n')
    assert "line 1" in exc.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('clipboard = "xclip"', "'clipboard' must be one of auto, osc52, native, got 'xclip'"),
        ('bell = "maybe"', "'bell' must be true or false, got 'maybe'"),
        ("live_interval = 0.1", "'live_interval' must be between 1 and 60 seconds, got 0.1"),
        ('live_interval = "fast"', "'live_interval' must be a number, got 'fast'"),
        ("live_interval = true", "'live_interval' must be a number, got True"),
        ("live_interval = nan", "'live_interval' must be between 1 and 60 seconds, got nan"),
        ('source = "cloud"', "'source' must be one of auto, api, meter, got 'cloud'"),
        ("theme = 5", "'theme' must be a string, got 5"),
        (
            'base_url = "http://ht-api.coinmarketman.com/api/external"',
            "'base_url': refusing plain http:// to ht-api.coinmarketman.com: "
            "the token would travel unencrypted",
        ),
    ],
)
def test_bad_value_names_the_file_and_key(text, message):
    exc = config_error(text + "\n")
    assert exc.message == f"{config_file()}: {message}"


def test_unknown_key_is_named_with_the_known_ones():
    exc = config_error("refresh = 5\n")
    assert exc.message == f"{config_file()}: unknown setting 'refresh'"
    assert exc.hint == (
        "known settings: base_url, bell, billing_day, clipboard, keys, live_interval, meter_store,"
        " plan, request_deadline, source, theme"
    )


def test_a_table_where_a_value_belongs_is_an_unknown_setting():
    exc = config_error('[ui]\ntheme = "nord"\n')
    assert exc.message == f"{config_file()}: unknown setting 'ui'"


def test_config_that_is_not_utf8_is_reported():
    exc = config_error(b'theme = "\xff\xfe"\n')
    assert exc.message.startswith(f"cannot read {config_file()}: 'utf-8' codec can't decode")


def test_config_path_that_is_a_directory_is_reported():
    config_file().mkdir(parents=True)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.message.startswith(f"cannot read {config_file()}: ")


def test_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("HT_DASH_LIVE_INTERVAL", "soon")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.message == (
        "environment HT_DASH_LIVE_INTERVAL: 'live_interval' must be a number, got 'soon'"
    )


def test_good_config_still_loads():
    write_config('clipboard = "osc52"\nbell = false\nlive_interval = 5\n')
    settings = load_settings()
    assert (settings.clipboard, settings.bell, settings.live_interval) == ("osc52", False, 5.0)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize("argv", [[], ["--demo"], ["status"]])
def test_cli_exits_2_with_the_message_and_no_traceback(argv, capsys, monkeypatch):
    write_config("bell = yes\n")
    monkeypatch.setattr(
        "ht_dash.tui.app.run_app", lambda runtime: pytest.fail("the app must not start")
    )
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert lines[0].startswith(f"ht-dash: {config_file()} is not valid TOML: ")
    assert "(at line 1, column 8)" in lines[0]
    assert lines[1:] == ["  hint: fix or delete the file"]
    assert "Traceback" not in captured.err + captured.out


def test_installed_command_exits_2_without_a_traceback(isolated_home):
    write_config('live_interval = "fast"\n')
    result = subprocess.run(
        [sys.executable, "-m", "ht_dash"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HT_DASH_HOME": str(isolated_home)},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"ht-dash: {config_file()}: 'live_interval' must be a number, got 'fast'"
    ]
    assert result.stdout == ""
