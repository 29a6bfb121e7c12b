"""`storyline --help` and every sub-command's help read as plain text in a terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storyline.cli import COMMANDS, main, plain

SERVICES = Path(__file__).resolve().parents[2] / "services"
MARKUP = re.compile(r"``|:[a-z]+:`|`[^`\s][^`]*`")
NESTED = [["kafka", "up"], ["kafka", "status"], ["topics", "apply"], ["story", "show"],
          ["story", "list"], ["eval", "timeline"], ["eval", "clustering"], ["keys", "new"]]


def help_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_plain_strips_restructuredtext() -> None:
    assert plain("The ``storyline`` command") == "The storyline command"
    assert plain("see :mod:`storyline.read` and `x`") == "see storyline.read and x"
    assert plain("no markup; don't touch it") == "no markup; don't touch it"


@pytest.mark.parametrize("argv", [[], *[[name] for name in COMMANDS], *NESTED],
                         ids=lambda argv: " ".join(argv) or "storyline")
def test_help_has_no_markup(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(argv, capsys)
    assert text.startswith("usage: storyline")
    assert "``" not in text
    assert MARKUP.search(text) is None, text


def test_top_level_help_as_a_user_runs_it() -> None:
    env = {**os.environ, "PYTHONPATH": str(SERVICES)}
    done = subprocess.run([sys.executable, "-m", "storyline.cli", "--help"], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert "The storyline command: one sub-command per operator task." in done.stdout
    assert "``" not in done.stdout
