"""`storyline schemas check` reads the checkout's schemas/ wherever it is run from, and says
a missing directory is missing (it said "out of date", naming every schema)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from storyline import cli
from storyline.commands import schemas

ROOT = Path(__file__).resolve().parents[2]


def test_check_outside_the_checkout_reads_the_checkouts_schemas(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services")}
    done = subprocess.run([sys.executable, "-m", "storyline.cli", "schemas", "check"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    count = len(schemas.generated())
    assert done.stdout == f"{count} schemas up to date in {ROOT / 'schemas'}\n"
    assert not (tmp_path / "schemas").exists()


def test_a_missing_directory_is_reported_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schemas", "check", "--dir", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err == (
        f"storyline schemas: {tmp_path / 'none'} is missing (--dir DIR names another; "
        "`storyline schemas write` makes it)\n")


def test_missing_and_changed_files_are_told_apart(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schemas", "write", "--dir", str(tmp_path)]) == 0
    first, second, *_ = sorted(schemas.generated())
    (tmp_path / first).unlink()
    (tmp_path / second).write_text("{}")
    capsys.readouterr()
    assert cli.main(["schemas", "check", "--dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"schemas missing from {tmp_path} (run `storyline schemas write`): {first}",
        f"schemas out of date in {tmp_path} (run `storyline schemas write`): {second}"]
