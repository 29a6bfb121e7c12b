"""One owner at a time for a worker's state directory (storyline.stream.statelock): a fold
started while the previous one is still stopping (its supervisor SIGKILLed, it got SIGTERM)
waits for it instead of emptying the cold store under it."""

from __future__ import annotations

import fcntl
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from storyline.settings import Settings
from storyline.stream import fold_stage
from storyline.stream.statelock import LOCK_NAME, StateLocked, own_state
from storyline.stream.worker import state_dir

HOLD = """
import fcntl, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


def _holder(directory: Path) -> subprocess.Popen[str]:
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(directory / LOCK_NAME)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def _held(directory: Path) -> bool:
    with (directory / LOCK_NAME).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_the_lock_waits_for_its_holder_and_is_free_once_it_is_killed(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    try:
        with pytest.raises(StateLocked):
            own_state(tmp_path, timeout=0.5)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with own_state(tmp_path, timeout=5.0) as handle:
        assert _held(tmp_path)
        assert (tmp_path / LOCK_NAME).read_text().strip().isdigit()
        handle.close()
    assert not _held(tmp_path)


def test_a_fold_waits_for_the_previous_owner_before_it_touches_the_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path)
    directory = state_dir(settings)
    built: list[bool] = []  # whether the lock was held (by this process) when it was built

    class Fold:
        def __init__(self, _settings: Settings, *, pages: bool = True) -> None:
            built.append(_held(directory))

        async def run(self) -> None:
            return None

    monkeypatch.setattr(fold_stage, "FoldStage", Fold)
    holder = _holder(directory)
    thread = threading.Thread(target=fold_stage.run_fold, args=(settings,), daemon=True)
    try:
        thread.start()
        time.sleep(1.0)
        assert built == [], "the fold built its state while another process owned it"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    thread.join(timeout=10)
    assert built == [True]
