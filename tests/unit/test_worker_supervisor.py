"""The staged worker's supervisor (storyline.commands.worker): a stage process whose
supervisor is already gone when it starts leaves at once, rather than run with no one to
stop it (the kernel's death signal only covers a parent that dies after it was set)."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time

import pytest

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


def test_a_stage_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    # A stage hung in its shutdown must not keep the supervisor (and the fold's state lock)
    # for ever: it gets stop_seconds after SIGTERM, then SIGKILL; a stage that stops in time
    # keeps its own exit code.
    hung = subprocess.Popen([sys.executable, "-c",
                             "import signal, time; signal.signal(signal.SIGTERM, "
                             "signal.SIG_IGN); print('up', flush=True); time.sleep(60)"],
                            stdout=subprocess.PIPE)
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert hung.stdout is not None and hung.stdout.readline().strip() == b"up"
        for child in (hung, polite):
            child.send_signal(signal.SIGTERM)
        started = time.monotonic()
        codes = worker._stopped([hung, polite], stop_seconds=1.0)
        assert codes == [-signal.SIGKILL, -signal.SIGTERM]
        assert 0.9 < time.monotonic() - started < 15
    finally:
        for child in (hung, polite):
            if child.poll() is None:
                child.kill()
                child.wait()


def test_stage_processes_do_not_inherit_a_fixed_stage_port(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("STORYLINE_STAGE_METRICS_PORT", "9470")
    monkeypatch.setenv("STORYLINE_BOOTSTRAP_SERVERS", "localhost:1")
    env = worker._children_env()
    assert "STORYLINE_STAGE_METRICS_PORT" not in env
    assert env["STORYLINE_BOOTSTRAP_SERVERS"] == "localhost:1"
