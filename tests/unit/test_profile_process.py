"""``benchmarks/profile_process.py`` sums py-spy's samples of every thread of a stage
process, and finds the process by its stage."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from script_module import script_module

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "profile_process.py"

# py-spy's raw format: the thread, then the frames outermost first, then the count
_FOLD = "thread (2): fold;fold_facts (storyline/stream/facts.py:181)"
_PAGE = "fold (storyline/domain/pipeline.py:519)"
RAW = "\n".join([
    "thread (1): MainThread;run (asyncio/base_events.py:607);_run_once (asyncio/x.py:1) 5",
    f"{_FOLD};{_PAGE};validate_json (pydantic/main.py:847) 3",
    f"{_FOLD};{_PAGE} 2",
    "thread (2): fold;fold_facts (storyline/stream/facts.py:172);"
    "_read (storyline/stream/facts.py:197);f (x.py:1);f (x.py:1) 10",
    "thread (1): MainThread;run (asyncio/base_events.py:607);select (selectors.py:468) 4",
    "thread (3): ops;_worker (concurrent/futures/thread.py:81) 6",
    "not a sample line",
])


def test_samples_are_summed_by_thread_function_and_our_innermost_line() -> None:
    profile = script_module("benchmarks_profile_process", SCRIPT).summed(RAW.splitlines())
    assert profile.samples == 20
    assert profile.waiting == 10  # a selector's poll, a pool thread's wait for work
    assert profile.threads == {"thread (1): MainThread": 5, "thread (2): fold": 15}
    # a function is counted once per stack, however deep it recurses
    assert profile.cumulative["f (x.py:1)"] == 10
    assert profile.cumulative["fold (storyline/domain/pipeline.py:519)"] == 5
    assert profile.own["validate_json (pydantic/main.py:847)"] == 3
    assert profile.own["fold (storyline/domain/pipeline.py:519)"] == 2
    # a library's or C's samples go to the line of ours that called it; none for asyncio's
    assert profile.ours == {"fold (storyline/domain/pipeline.py:519)": 5,
                            "_read (storyline/stream/facts.py:197)": 10}
    assert profile.ranked(top=1)["threads"] == [("thread (2): fold", 15, 75.0)]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_the_stage_process_is_found_by_its_command_line() -> None:
    bench = script_module("benchmarks_profile_process", SCRIPT)
    stage = f"test-{os.getpid()}"  # a stage no other process of the machine runs
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)",
                              "--stage", stage])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert bench.stage_pid(stage) == child.pid
                break
            except SystemExit:  # not yet exec'd with its argv
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with pytest.raises(SystemExit, match="0 processes run --stage none-such"):
            bench.stage_pid("none-such")
    finally:
        child.kill()
        child.wait()
