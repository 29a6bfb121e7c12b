"""``bench_latency.py``'s ``stage_cpu`` reads the CPU each process of the worker's tree
used, by its stage: what tells a slow run's code from its host (docs/benchmarks.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from script_module import script_module

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_latency.py"

# a child that burns CPU, then waits to be read; "--stage fold" as a stage process's argv
_BUSY = ("import sys, time\n"
         "end = time.process_time() + 0.3\n"
         "while time.process_time() < end: pass\n"
         "print('busy', flush=True)\n"
         "time.sleep(30)\n")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_stage_cpu_counts_each_stage_process_of_the_tree() -> None:
    bench = script_module("benchmarks_latency", SCRIPT)
    before = bench.stage_cpu(os.getpid())
    children = [subprocess.Popen([sys.executable, "-c", _BUSY, "--stage", "fold"],
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "busy\n"
        after = bench.stage_cpu(os.getpid())
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert before is not None and after is not None
    assert "supervisor" in after  # the root
    assert after["fold"] >= 0.25 and after["fold2"] >= 0.25  # two of a stage, numbered
    spent = bench._spent(before, after, 10)
    assert spent["fold"]["cpu_s"] >= 0.25
    assert spent["fold"]["ms_per_article"] == pytest.approx(
        1000 * spent["fold"]["cpu_s"] / 10, abs=0.01)
