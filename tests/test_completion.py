"""`ht-dash completion SHELL`: the scripts, and real bash completing with them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ht_dash.cli import main

BIN = Path(sys.executable).parent


def bash_candidates(tmp_path: Path, line: str) -> list[str]:
    """Run real bash with the generated script and complete `line` as if TAB were pressed."""
    script = tmp_path / "ht-dash.bash"
    script.write_text(
        subprocess.run(
            [BIN / "ht-dash", "completion", "bash"], capture_output=True, text=True, check=True
        ).stdout
    )
    words = line.split(" ")
    driver = f"""
source {script}
COMP_LINE={line!r}
COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({" ".join(repr(w) for w in words)})
COMP_CWORD={len(words) - 1}
_python_argcomplete ht-dash
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HT_DASH_HOME": str(tmp_path / "home"),
    }
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", driver],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [c.strip() for c in result.stdout.splitlines() if c.strip()]


needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


@needs_bash
def test_bash_completes_st_to_status(tmp_path):
    assert bash_candidates(tmp_path, "ht-dash st") == ["status"]


@needs_bash
def test_bash_completes_timeframes_and_plan_ids(tmp_path):
    timeframes = bash_candidates(tmp_path, "ht-dash usage --timeframe ")
    assert {"today", "week", "month", "30d", "90d"} <= set(timeframes)
    assert "surge" in bash_candidates(tmp_path, "ht-dash meter --plan s")


@needs_bash
def test_bash_completes_options_of_a_subcommand(tmp_path):
    assert "--json" in bash_candidates(tmp_path, "ht-dash status --j")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_naming_the_command(shell, capsys):
    assert main(["completion", shell]) == 0
    out = capsys.readouterr().out
    assert "ht-dash" in out and "_ARGCOMPLETE" in out


def test_an_unknown_shell_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["completion", "powershell"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_dashboard_start_does_not_import_argcomplete():
    code = "import sys; from ht_dash.cli import build_parser; build_parser([]);"
    code += "print('argcomplete' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
