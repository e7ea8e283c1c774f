"""Shared plumbing for the benchmark: children in a pseudo-terminal, their rusage, result files.

Every measured program runs as its own process so one figure cannot disturb another, and TUIs run
on a real pty with Textual's real driver (its headless driver skips writing frames, so it would
hide the cost of painting). The child reports what only it can know (when it painted, CPU over a
window) in a JSON file; the parent adds what only the parent can know (wall time from spawn, peak
RSS from wait4).
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PYTHON = sys.executable
TERM_SIZE = (120, 40)  # columns, rows: the same for every TUI measured


class ProbeError(Exception):
    """A child could not produce its figure: the message says why (shown as n/a)."""


@dataclass
class ChildRun:
    wall_s: float  # from just before spawn to exit
    started_at: float  # time.time() just before spawn
    peak_rss_mib: float
    cpu_s: float  # user + system of the child
    returncode: int
    result: dict  # what the child wrote to its --out file ({} if nothing)
    output_tail: str  # the last printable text the child wrote (for error messages)


def child_env(home: Path) -> dict[str, str]:
    """The environment of every child: bytecode cached (as an installed package has it), the
    developer's config, cache and keyring files out of the way, a fixed terminal type."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "ht-dash-bench-pycache")
    env["HT_DASH_HOME"] = str(home)
    env["TERM"] = "xterm-256color"
    env["COLORTERM"] = "truecolor"
    for name in ("HT_DASH_TOKEN", "HYPERTRACKER_API_TOKEN", "TEXTUAL", "NO_COLOR"):
        env.pop(name, None)
    env.pop("HT_DASH_LIVE_INTERVAL", None)
    return env


def _wait4(proc: subprocess.Popen, timeout: float) -> tuple[int, os.struct_rusage]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise ProbeError(f"timed out after {timeout:.0f} s")
        time.sleep(0.002)


def _printable_tail(raw: bytes, limit: int = 400) -> str:
    import re

    text = raw.decode("utf-8", "replace")
    text = re.sub(r"\x1b\[[0-9;?<>=$]*[A-Za-z~]|\x1b[P\]].*?(\x07|\x1b\\)|\x1b.", "", text)
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    return " | ".join(lines)[-limit:]


def run_child(
    argv: list[str],
    env: dict[str, str],
    *,
    pty: bool,
    timeout: float = 120.0,
    stdin_data: bytes | None = None,
) -> ChildRun:
    """Run argv to completion; `argv` may contain "{out}", replaced by a result-file path."""
    with tempfile.TemporaryDirectory(prefix="ht-dash-bench-") as tmp:
        out = Path(tmp) / "result.json"
        argv = [a.replace("{out}", str(out)) for a in argv]
        captured = bytearray()
        reader: threading.Thread | None = None
        if pty:
            master, slave = os.openpty()
            cols, rows = TERM_SIZE
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            env = {**env, "COLUMNS": str(cols), "LINES": str(rows)}
            started = time.time()
            proc = subprocess.Popen(
                argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
            )
            os.close(slave)

            def drain() -> None:  # a terminal that never reads would block the child
                while True:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    captured.extend(chunk[-8192:])
                    del captured[:-16384]

            reader = threading.Thread(target=drain, daemon=True)
            reader.start()
        else:
            started = time.time()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
            )
            if stdin_data is not None:
                proc.stdin.write(stdin_data)
                proc.stdin.close()
        try:
            code, usage = _wait4(proc, timeout)
        finally:
            if pty:
                os.close(master)
                reader.join(1)
        ended = time.time()
        if not pty:
            captured.extend(proc.stderr.read()[-8192:])
            proc.stderr.close()
        result = json.loads(out.read_text()) if out.exists() else {}
    return ChildRun(
        wall_s=ended - started,
        started_at=started,
        peak_rss_mib=usage.ru_maxrss / 1024,
        cpu_s=usage.ru_utime + usage.ru_stime,
        returncode=code,
        result=result,
        output_tail=_printable_tail(bytes(captured)),
    )


def checked(run: ChildRun, what: str) -> dict:
    """The child's result, or a ProbeError saying why there is none."""
    if run.result.get("error"):
        raise ProbeError(f"{what}: {run.result['error']}")
    if not run.result:
        tail = f": {run.output_tail}" if run.output_tail else ""
        raise ProbeError(f"{what} exited {run.returncode} without a result{tail}")
    return run.result


def write_result(path: str, **values: object) -> None:
    Path(path).write_text(json.dumps(values))
