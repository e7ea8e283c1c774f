"""Copying the token: through the terminal (OSC 52) and, on a local session, the system tool.

OSC 52 asks the terminal to set its clipboard, so it works over SSH; whether it lands is up to the
terminal (some ask first, some refuse) and nothing reports back. Inside tmux the plain sequence is
right: with `set -g set-clipboard on` tmux stores it in a paste buffer and forwards it to the outer
terminal; with the default `external` tmux ignores it. (Wrapping it in tmux's DCS passthrough would
need `allow-passthrough on` and would skip tmux's buffer, so ht-dash does not.)

The system tools are tried only when the session is local (no SSH_CONNECTION / SSH_TTY), each
with a timeout: wl-copy and xclip fork a process that keeps serving the clipboard, so their
output is never waited on, and xsel stalls without a display. Where a paste tool exists the copy
is read back, and only then does ht-dash say "copied to system clipboard".
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

OSC52_MAX_BYTES = 74_994  # xterm's documented limit on the payload of one OSC 52 sequence
DEFAULT_TIMEOUT = 2.0


def osc52_sequence(text: str, *, selection: str = "c") -> str:
    """`ESC ] 52 ; c ; <base64> BEL`: sets the terminal's clipboard to `text`."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    if len(payload) > OSC52_MAX_BYTES:
        raise ValueError("text too long for OSC 52")
    return f"\x1b]52;{selection};{payload}\x07"


def is_remote_session(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any(env.get(name) for name in ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"))


def in_tmux(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("TMUX"))


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    copy: tuple[str, ...]
    paste: tuple[str, ...] | None  # None: no way to read back, the copy cannot be verified


def _is_wsl() -> bool:
    try:
        with open("/proc/version", encoding="utf-8") as f:
            return "microsoft" in f.read().lower()
    except OSError:
        return False


def native_tools(env: Mapping[str, str] | None = None, platform: str | None = None) -> list[Tool]:
    """The clipboard tools worth trying here, best first, among those installed."""
    env = os.environ if env is None else env
    platform = platform or sys.platform
    candidates: list[Tool] = []
    if platform == "darwin":
        candidates.append(Tool("pbcopy", ("pbcopy",), ("pbpaste",)))
    elif platform == "win32":
        candidates.append(Tool("clip.exe", ("clip.exe",), None))
    else:
        if env.get("WAYLAND_DISPLAY"):
            candidates.append(Tool("wl-copy", ("wl-copy",), ("wl-paste", "--no-newline")))
        if env.get("DISPLAY"):
            candidates.append(
                Tool(
                    "xclip",
                    ("xclip", "-selection", "clipboard"),
                    ("xclip", "-selection", "clipboard", "-o"),
                )
            )
            candidates.append(
                Tool(
                    "xsel", ("xsel", "--clipboard", "--input"), ("xsel", "--clipboard", "--output")
                )
            )
        if _is_wsl():
            candidates.append(Tool("clip.exe", ("clip.exe",), None))
    return [tool for tool in candidates if shutil.which(tool.copy[0], path=env.get("PATH"))]


@dataclass(frozen=True, slots=True)
class NativeCopy:
    """What the system tool did. `verified` only when reading back gave exactly the text."""

    tool: str | None
    ok: bool
    verified: bool
    detail: str  # why it was skipped or failed; empty on success


def _run(argv: tuple[str, ...], text: str | None, timeout: float, env: Mapping[str, str]) -> str:
    """Run one tool. When copying, output goes to /dev/null: a forked server keeps pipes open."""
    resolved = shutil.which(argv[0], path=env.get("PATH")) or argv[0]
    if text is not None:
        subprocess.run(
            (resolved, *argv[1:]),
            input=text.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=True,
            env=dict(env),
            start_new_session=True,
        )
        return ""
    done = subprocess.run(
        (resolved, *argv[1:]),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=True,
        env=dict(env),
    )
    return done.stdout.decode("utf-8", errors="replace")


def copy_native(
    text: str,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
) -> NativeCopy:
    """Copy with the first system tool that works, then read it back when possible. Never raises."""
    env = dict(os.environ if env is None else env)
    if is_remote_session(env):
        return NativeCopy(
            None, False, False, "this is an SSH session: the system clipboard here is not yours"
        )
    tools = native_tools(env, platform)
    if not tools:
        return NativeCopy(
            None, False, False, "no clipboard tool found (pbcopy, wl-copy, xclip, xsel, clip.exe)"
        )
    failures: list[str] = []
    for tool in tools:
        try:
            _run(tool.copy, text, timeout, env)
        except subprocess.TimeoutExpired:
            failures.append(f"{tool.name} did not finish within {timeout:g} s")
            continue
        except subprocess.CalledProcessError as exc:
            failures.append(f"{tool.name} failed (exit {exc.returncode})")
            continue
        except OSError as exc:
            failures.append(f"{tool.name} could not run ({exc.strerror or type(exc).__name__})")
            continue
        if tool.paste is None:
            return NativeCopy(tool.name, True, False, f"{tool.name} cannot be read back to check")
        try:
            pasted = _run(tool.paste, None, timeout, env)
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError, OSError):
            return NativeCopy(tool.name, True, False, f"reading back with {tool.paste[0]} failed")
        if pasted == text or pasted.rstrip("\r\n") == text:
            return NativeCopy(tool.name, True, True, "")
        failures.append(f"{tool.name} ran but the clipboard does not hold the token")
    return NativeCopy(None, False, False, "; ".join(failures))


async def copy_native_async(
    text: str, timeout: float = DEFAULT_TIMEOUT, *, env: Mapping[str, str] | None = None
) -> NativeCopy:
    return await asyncio.to_thread(copy_native, text, timeout, env=env)


def plan(mode: str) -> tuple[bool, bool]:
    """(send OSC 52, try the system tool) for the `clipboard` setting: auto | osc52 | native."""
    if mode == "osc52":
        return True, False
    if mode == "native":
        return False, True
    return True, True


@dataclass(frozen=True, slots=True)
class CopyResult:
    osc52_sent: bool
    native: NativeCopy | None  # None when the system tool was not tried

    @property
    def verified(self) -> bool:
        return self.native is not None and self.native.verified

    @property
    def anything_sent(self) -> bool:
        return self.osc52_sent or (self.native is not None and self.native.ok)

    def message(self, reveal_hint: str = "press the reveal key to select it by hand") -> str:
        """The honest one-line report for the user."""
        if self.verified:
            return f"Copied to system clipboard ({self.native.tool})."
        if self.osc52_sent:
            text = (
                "Sent to the terminal's clipboard (OSC 52) — if paste is empty, your terminal or "
                f"tmux may block it; {reveal_hint}."
            )
            if self.native is not None and self.native.ok:
                text += f" Also given to {self.native.tool} (not verified)."
            return text
        if self.native is not None and self.native.ok:
            return (
                f"Given to {self.native.tool}, but it could not be checked; "
                f"{reveal_hint} if paste is empty."
            )
        reason = self.native.detail if self.native is not None else "nothing was tried"
        return f"Could not copy the token: {reason}; {reveal_hint}."

    @property
    def severity(self) -> str:
        """'information' if verified, 'warning' if unconfirmed, 'error' if nothing was sent."""
        if self.verified:
            return "information"
        return "warning" if self.anything_sent else "error"


def copy_text(
    text: str,
    mode: str,
    write_terminal: Callable[[str], bool] | None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> CopyResult:
    """Copy as the setting says; `write_terminal(sequence)` emits OSC 52, returns whether it could.

    The app passes a writer that goes through Textual's driver (or uses `App.copy_to_clipboard`
    and calls `copy_native` itself, in a worker); the CLI writes to the controlling terminal.
    """
    use_osc52, use_native = plan(mode)
    sent = False
    if use_osc52 and write_terminal is not None:
        try:
            sent = bool(write_terminal(osc52_sequence(text)))
        except (OSError, ValueError):
            sent = False
    native = copy_native(text, timeout, env=env) if use_native else None
    return CopyResult(sent, native)


def write_to_tty(sequence: str) -> bool:
    """Write an escape sequence to the controlling terminal (not to a redirected stdout)."""
    try:
        with open("/dev/tty", "w", encoding="ascii") as tty:
            tty.write(sequence)
            tty.flush()
        return True
    except OSError:
        pass
    if sys.stderr.isatty():
        sys.stderr.write(sequence)
        sys.stderr.flush()
        return True
    return False
