"""Clipboard: the OSC 52 sequence, system tools with read-back, timeouts, honest messages."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from ht_dash.auth import clipboard
from ht_dash.auth.clipboard import CopyResult, NativeCopy, copy_native, copy_text, osc52_sequence

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.clipboard-sentinel"

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fake tools are shell scripts")


def tool(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def wayland(tmp_path):
    """A fake wl-copy / wl-paste pair sharing a file; env of a local Wayland session."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    board = tmp_path / "board"
    tool(bin_dir, "wl-copy", f'cat > "{board}"')
    tool(bin_dir, "wl-paste", f'cat "{board}"')
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "WAYLAND_DISPLAY": "wayland-0"}, bin_dir, board


def test_osc52_sequence_is_base64_of_the_text_with_bel():
    sequence = osc52_sequence(TOKEN)
    assert sequence.startswith("\x1b]52;c;") and sequence.endswith("\x07")
    assert base64.b64decode(sequence[7:-1]).decode() == TOKEN


def test_native_copy_is_verified_by_reading_back(wayland):
    env, _, board = wayland
    result = copy_native(TOKEN, 2.0, env=env, platform="linux")
    assert result == NativeCopy("wl-copy", True, True, "")
    assert board.read_text() == TOKEN


def test_native_copy_not_matching_on_read_back_is_not_verified(wayland):
    env, bin_dir, _ = wayland
    tool(bin_dir, "wl-paste", "echo something-else")
    result = copy_native(TOKEN, 2.0, env=env, platform="linux")
    assert not result.verified
    assert "does not hold the token" in result.detail


def test_native_copy_that_hangs_times_out(wayland):
    env, bin_dir, _ = wayland
    tool(bin_dir, "wl-copy", "exec sleep 30")
    result = copy_native(TOKEN, 0.3, env=env, platform="linux")
    assert not result.ok
    assert "did not finish within 0.3 s" in result.detail


def test_forking_copy_tool_does_not_block(wayland):
    """wl-copy/xclip leave a child serving the clipboard with stdout open: never wait on it."""
    env, bin_dir, board = wayland
    tool(bin_dir, "wl-copy", f'cat > "{board}"; (sleep 30 &) ; exit 0')
    result = copy_native(TOKEN, 2.0, env=env, platform="linux")
    assert result.verified


def test_no_native_copy_over_ssh(wayland):
    env, _, board = wayland
    result = copy_native(
        TOKEN, 2.0, env={**env, "SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, platform="linux"
    )
    assert not result.ok and "SSH" in result.detail
    assert not board.exists()


def test_x_tools_skipped_without_display(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool(bin_dir, "xsel", "exec sleep 30")  # xsel stalls without a display: never run it then
    result = copy_native(TOKEN, 0.3, env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, platform="linux")
    assert result.detail.startswith("no clipboard tool found")


def test_messages_are_honest():
    verified = CopyResult(True, NativeCopy("wl-copy", True, True, ""))
    assert verified.message() == "Copied to system clipboard (wl-copy)."
    assert verified.severity == "information"

    osc_only = CopyResult(True, NativeCopy(None, False, False, "this is an SSH session"))
    text = osc_only.message()
    assert text.startswith("Sent to the terminal's clipboard (OSC 52)")
    assert "tmux may block it" in text and "reveal key" in text
    assert "system clipboard" not in text
    assert osc_only.severity == "warning"

    nothing = CopyResult(False, NativeCopy(None, False, False, "no clipboard tool found"))
    assert nothing.message().startswith("Could not copy the token: no clipboard tool found")
    assert nothing.severity == "error"


def test_copy_text_follows_the_setting(wayland):
    env, _, board = wayland
    sent: list[str] = []

    def writer(seq: str) -> bool:
        sent.append(seq)
        return True

    osc = copy_text(TOKEN, "osc52", writer, env=env)
    assert osc.osc52_sent and osc.native is None and not board.exists()
    assert sent == [osc52_sequence(TOKEN)]

    native = copy_text(TOKEN, "native", writer, env=env)
    assert not native.osc52_sent and native.verified and len(sent) == 1

    both = copy_text(TOKEN, "auto", writer, env=env)
    assert both.osc52_sent and both.verified


def test_in_tmux_plain_osc52_is_used(monkeypatch):
    """tmux with `set-clipboard on` turns plain OSC 52 into a paste buffer; no DCS wrapping."""
    assert clipboard.in_tmux({"TMUX": "/tmp/tmux-0/default,1,0"})
    assert "\x1bPtmux" not in osc52_sequence(TOKEN)
