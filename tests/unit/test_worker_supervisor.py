"""The staged worker's supervisor (storyline.commands.worker): a stage process whose
supervisor is already gone when it starts leaves at once, rather than run with no one to
stop it (the kernel's death signal only covers a parent that dies after it was set)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

from storyline.commands import worker


def test_a_stage_whose_supervisor_is_gone_before_it_starts_leaves() -> None:
    not_the_parent = functools.partial(worker._own_session, os.getpid() + 10_000_000)
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             preexec_fn=not_the_parent)
    try:
        assert child.wait(timeout=20) == 1
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert time.monotonic() - started < 20


def test_a_stage_of_a_live_supervisor_runs() -> None:
    own = functools.partial(worker._own_session, os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "print('ran')"], preexec_fn=own,
                             stdout=subprocess.PIPE, text=True)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0 and out.strip() == "ran"
