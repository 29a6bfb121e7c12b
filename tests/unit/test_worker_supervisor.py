"""The staged worker's supervisor (storyline.commands.worker): a stage process whose
supervisor is already gone when it starts leaves at once, rather than run with no one to
stop it (the kernel's death signal only covers a parent that dies after it was set)."""

from __future__ import annotations

import argparse
import functools
import json
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


# A stage that records each start in a file, exits with 3 the first ``dies`` times it runs,
# then waits to be stopped.
_FLAKY = """
import pathlib, sys, time
log = pathlib.Path(sys.argv[1])
runs = len(log.read_text().splitlines()) if log.exists() else 0
with log.open("a") as f:
    f.write("start\\n")
if runs < int(sys.argv[2]):
    sys.exit(3)
time.sleep(120)
"""

_SUPERVISOR = """
import sys
from storyline.commands import worker
flaky = [sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]]
steady = [sys.executable, "-c", sys.argv[1], sys.argv[4], "0"]
sys.exit(worker._supervise([flaky, steady], stop_seconds=10, pauses=(0.0, 0.3),
                           reset=60.0, crash_loop=int(sys.argv[5])))
"""


def _starts(path: os.PathLike[str]) -> int:
    try:
        with open(path) as f:
            return len(f.read().splitlines())
    except FileNotFoundError:
        return 0


def _run_supervisor(tmp_path: os.PathLike[str], dies: int, crash_loop: int
                    ) -> tuple[subprocess.Popen[bytes], str, str]:
    flaky, steady = os.path.join(tmp_path, "flaky"), os.path.join(tmp_path, "steady")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen([sys.executable, "-c", _SUPERVISOR, _FLAKY, flaky, str(dies),
                                steady, str(crash_loop)], env=env, stderr=subprocess.PIPE)
    return process, flaky, steady


def _wait_for(check: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_stage_that_dies_is_started_again_alone(tmp_path: os.PathLike[str]) -> None:
    """The fold or an extract stripe killed (OOM, SIGKILL): only it starts again, the
    others run on, and SIGTERM still stops everything with exit code 0."""
    process, flaky, steady = _run_supervisor(tmp_path, dies=2, crash_loop=6)
    try:
        assert _wait_for(lambda: _starts(flaky) == 3 and _starts(steady) == 1)
        time.sleep(1.0)  # the third run of the flaky stage stays up; nothing else restarts
        assert (_starts(flaky), _starts(steady)) == (3, 1)
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    said = process.stderr.read().decode()
    assert said.count("exited with 3: started again in") == 2


def test_a_stage_that_keeps_dying_stops_the_set(tmp_path: os.PathLike[str]) -> None:
    """A crash loop (a bad setting no restart fixes) ends the supervisor, non-zero, and
    stops the stages that were running."""
    process, flaky, steady = _run_supervisor(tmp_path, dies=100, crash_loop=4)
    try:
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code != 0
    assert _starts(flaky) == 4 and _starts(steady) == 1
    assert process.stderr is not None
    assert "4 times in a row" in process.stderr.read().decode()


def test_the_restart_pauses_are_a_setting_whose_default_is_the_supervisors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """STORYLINE_STAGE_RESTART_PAUSES: by default the pauses the supervisor always had."""
    from pydantic import ValidationError

    from storyline.settings import Settings

    assert Settings().restart_pauses == worker.RESTART_PAUSES
    monkeypatch.setenv("STORYLINE_STAGE_RESTART_PAUSES", "0, 0.5")
    assert Settings().restart_pauses == (0.0, 0.5)
    for wrong in ("", "1,,2", "-1", "soon", "inf"):
        monkeypatch.setenv("STORYLINE_STAGE_RESTART_PAUSES", wrong)
        with pytest.raises(ValidationError, match="seconds, comma-separated"):
            Settings()


@pytest.mark.parametrize(("stripes", "asked", "cores", "want"), [
    (2, None, 2, 1),   # two cores: the fold takes one, one process runs both stripes
    (2, None, 1, 1),
    (2, None, 4, 2),   # a core for each stripe and the fold
    (4, None, 3, 2),
    (2, 2, 2, 2),      # asked for: as asked, whatever the cores
    (3, 1, 8, 1),
])
def test_extract_processes_leave_the_fold_a_core(stripes: int, asked: int | None, cores: int,
                                                 want: int) -> None:
    assert worker.extract_processes(stripes, asked, cores) == want


@pytest.mark.parametrize("asked", [0, 3])
def test_more_extract_processes_than_stripes_is_refused(asked: int) -> None:
    with pytest.raises(SystemExit, match="1 to 2"):
        worker.extract_processes(2, asked, 8)


@pytest.mark.parametrize(("stripes", "processes"), [(1, 1), (2, 1), (2, 2), (5, 2), (6, 4)])
def test_each_stripe_runs_in_exactly_one_extract_process(stripes: int, processes: int
                                                         ) -> None:
    given = [[int(a) for a in worker._stripe_args(stripes, processes, k)[1::2]]
             for k in range(processes)]
    assert all(given), given  # no process without a stripe
    assert sorted(i for own in given for i in own) == list(range(stripes))


_SLIM_SUPERVISOR = r"""
import argparse, json, signal, sys, threading, os
from storyline.commands import worker

plan_out, started = sys.argv[1], sys.argv[2]
stage = [sys.executable, "-c",
         f"open({started!r}, 'a').write('ran\\n'); import time; time.sleep(30)"]
planner = ("import json, sys; open(%r, 'w').write(json.dumps(sys.argv[1:])); "
           "print(json.dumps({'commands': [%r], 'stop_seconds': 10}))" % (plan_out, stage))
worker._command_prefix = lambda: [sys.executable, "-c", planner]
args = argparse.Namespace(single=False, stage=None, stripe=None, plan=False, processes=1,
                          page_processes=None)
threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
code = worker.run(args)
heavy = sorted(m for m in ("pydantic", "pydantic_settings", "aiokafka", "structlog", "numpy")
               if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}))
"""


def test_the_supervisor_plans_in_a_child_and_holds_only_the_standard_library(
        tmp_path: os.PathLike[str]) -> None:
    """`storyline worker` lives as long as its stages: the settings and Kafka lookups that
    make its plan run in a short-lived `--plan` child, so the supervisor itself never
    imports pydantic, aiokafka, structlog or numpy (~48 MB of RSS before, ~13 MB now)."""
    plan_out, started = f"{tmp_path}/plan.json", f"{tmp_path}/started"
    done = subprocess.run([sys.executable, "-c", _SLIM_SUPERVISOR, plan_out, started],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}, done.stderr
    # the planner was asked with the supervisor's own arguments, and --plan
    with open(plan_out) as planned:
        assert json.load(planned) == ["worker", "--processes", "1", "--plan"]
    with open(started) as ran:
        assert ran.read() == "ran\n"  # the planned stage was started, once


def test_a_failed_plan_is_the_supervisors_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. the facts topic is missing: the planner said why on stderr and exited 1
    monkeypatch.setattr(worker, "_command_prefix",
                        lambda: [sys.executable, "-c", "import sys; sys.exit(3)"])
    args = argparse.Namespace(single=False, stage="all", stripe=None, plan=False,
                              processes=None, page_processes=2)
    assert worker.run(args) == 3


@pytest.mark.parametrize("flags", [{"single": True}, {"stage": "fold"},
                                   {"stage": "extract", "stripe": [0]}])
def test_plan_is_only_for_the_supervisor(flags: dict[str, object]) -> None:
    args = argparse.Namespace(**{"single": False, "stage": None, "stripe": None, "plan": True,
                                 "processes": None, "page_processes": None, **flags})
    with pytest.raises(SystemExit, match="--plan"):
        worker.run(args)


def test_facts_of_another_layout_are_a_refusal_in_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    # a fold or assign process meeting a facts record of another stripe count (partitions
    # added to the topic) is the cluster's state to mend, not a fault of the program: before,
    # a traceback and exit 1 at every restart
    from storyline.stream.stripes import MisplacedRecord

    def fold() -> None:
        raise MisplacedRecord("source offset 3 arrived in partition 1; with 3 stripes it "
                              "belongs in 0")

    assert worker._refusing(fold) == 2
    # (the critical log line comes first when an earlier test has set the JSON logs up)
    assert capsys.readouterr().err.splitlines()[-1].startswith(
        "error: source offset 3 arrived in partition 1")


def test_a_stripe_beyond_the_stripes_is_said_in_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # the extract StatefulSet scaled to 3 replicas with --stripes 2: pod 2 runs --stripe 2;
    # before, a ValueError traceback at every restart
    from storyline.cli import main

    monkeypatch.setenv("STORYLINE_WORKER_METRICS_PORT", "0")
    with pytest.raises(SystemExit) as stopped:
        main(["worker", "--stage", "extract", "--stripe", "2", "--stripes", "2"])
    assert str(stopped.value.code).startswith("stripe 2 of 2: the stripes are 0 to 1")


# A stage that records its pid in a file, then beats to its supervisor while it waits
# (storyline.stream.beats, as the extract, fold, assign and page stages do).
_BEATING = """
import asyncio, os, pathlib, sys
with pathlib.Path(sys.argv[1]).open("a") as f:
    f.write(f"{os.getpid()}\\n")
from storyline.stream.beats import beating
asyncio.run(beating(asyncio.sleep(120)))
"""

_WATCHING = """
import sys
from storyline.commands import worker
stages = [[sys.executable, "-c", sys.argv[1], path] for path in sys.argv[2:4]]
sys.exit(worker._supervise(stages, stop_seconds=10, pauses=(0.0,), reset=60.0,
                           crash_loop=6, hang_seconds=3.0))
"""


def test_a_stage_that_hangs_is_killed_and_started_again(tmp_path: os.PathLike[str]) -> None:
    """A stage process paused (SIGSTOP, a frozen VM) or deadlocked does not exit: it used
    to be left as it was, holding its state and the log's progress for good
    (/tmp/faults/zombie_fold.sh: the fold stopped 75 s, nothing restarted it). The
    supervisor hears each stage's event loop beat; one silent for ``hang_seconds`` is
    killed and started again, the others run on."""
    hung, steady = os.path.join(tmp_path, "hung"), os.path.join(tmp_path, "steady")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen([sys.executable, "-c", _WATCHING, _BEATING, hung, steady],
                               env=env, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: _starts(hung) == 1 and _starts(steady) == 1)
        time.sleep(5.0)  # longer than hang_seconds: beating stages are left alone
        assert (_starts(hung), _starts(steady)) == (1, 1)
        with open(hung) as f:
            first = int(f.read().split()[0])
        os.kill(first, signal.SIGSTOP)
        assert _wait_for(lambda: _starts(hung) == 2, timeout=20.0)
        assert _starts(steady) == 1 and process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    said = process.stderr.read().decode()
    assert f"stage process {first}" in said and "hangs; killed (SIGKILL)" in said, said
