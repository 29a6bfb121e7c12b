"""Where a running Storyline process spends its CPU, every thread: py-spy's samples, summed.

cProfile sees only the thread it runs in. A stage process runs its fold on a thread of its
own beside the event loop's (Kafka I/O, commits, snapshots), so a profile of either alone
says nothing of how the process's core is shared. py-spy reads the stacks of every thread
of another process from outside, at its own rate, without slowing the code it samples;
a thread blocked (waiting for a record, a socket or the GIL) is not sampled, and a sample
whose innermost frame is a wait (a selector's poll, a queue's get) is counted apart, so
the shares are of the time each thread ran.

    .venv/bin/pip install -c constraints.txt -e '.[profile]'   # py-spy, once
    PYTHONPATH=services .venv/bin/python benchmarks/profile_process.py --stage fold \
        [--seconds 25] [--rate 200] [--top 40] [--json]
    ... --pid PID                                # any process instead of a stage's

``--stage S`` finds the process whose command line has ``--stage S`` (``storyline worker``
runs one per stage; ``page`` matches every page process: give ``--pid`` then). Printed: the
samples of each thread; the functions by cumulative share (a function counted once per
stack, recursion included), by own share (the innermost frame), and by the innermost
``storyline`` frame (a call into a library or C charged to the line of ours that made it).
py-spy needs the right to trace the process (root, or ``ptrace_scope`` 0).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

OURS = "storyline/"
# Innermost frames that wait (a selector's poll, a queue's or a lock's wait): py-spy, told
# not to stop the process (``--nonblocking``), samples some of them as running
WAITS = ("(selectors.py:", "(threading.py:", "(queue.py:", "(concurrent/futures/thread.py:")


@dataclass
class Profile:
    """The summed samples of py-spy's raw (folded) output."""

    samples: int = 0
    waiting: int = 0  # samples in WAITS, apart from every share
    threads: Counter[str] = field(default_factory=Counter)
    cumulative: Counter[str] = field(default_factory=Counter)
    own: Counter[str] = field(default_factory=Counter)
    ours: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> float:
        return round(100.0 * count / self.samples, 1) if self.samples else 0.0

    def ranked(self, top: int) -> dict[str, list[tuple[str, int, float]]]:
        """Each view's ``top`` rows: (name, samples, share of the running samples)."""
        views = {"threads": self.threads, "cumulative": self.cumulative, "own": self.own,
                 "ours": self.ours}
        return {view: [(name, n, self.share(n)) for name, n in counter.most_common(top)]
                for view, counter in views.items()}


def summed(lines: Iterable[str]) -> Profile:
    """Sum py-spy's ``--format raw`` lines: ``thread;frame;...;innermost count``, outermost
    first (with ``--threads`` the first frame names the thread)."""
    profile = Profile()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if any(wait in frames[-1] for wait in WAITS):
            profile.waiting += n
            continue
        profile.samples += n
        profile.threads[frames[0]] += n
        profile.own[frames[-1]] += n
        for frame in set(frames[1:]):
            profile.cumulative[frame] += n
        mine = next((f for f in reversed(frames[1:]) if OURS in f), None)
        if mine is not None:
            profile.ours[mine] += n
    return profile


def stage_pid(stage: str) -> int:
    """The process whose command line has ``--stage stage`` (exactly one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if any(a == "--stage" and b == stage for a, b in itertools.pairwise(words)):
            found.append(int(entry.name))
    if len(found) != 1:
        raise SystemExit(f"{len(found)} processes run --stage {stage} ({found}): give --pid")
    return found[0]


def py_spy() -> str:
    here = Path(sys.executable).parent / "py-spy"
    found = str(here) if here.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is not installed: "
                         ".venv/bin/pip install -c constraints.txt -e '.[profile]'")
    return found


def record(pid: int, seconds: int, rate: int) -> Profile:
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "samples.txt"
        subprocess.run([py_spy(), "record", "--pid", str(pid), "--duration", str(seconds),
                        "--rate", str(rate), "--format", "raw", "--threads", "--nonblocking",
                        "--output", str(out)], check=True, stdout=subprocess.DEVNULL)
        with out.open() as lines:
            return summed(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--pid", type=int)
    which.add_argument("--stage", help="extract, fold, assign or page")
    parser.add_argument("--seconds", type=int, default=25)
    parser.add_argument("--rate", type=int, default=200, help="samples a second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pid = args.pid if args.pid is not None else stage_pid(args.stage)
    profile = record(pid, args.seconds, args.rate)
    views = profile.ranked(args.top)
    if args.json:
        print(json.dumps({"pid": pid, "samples": profile.samples, "waiting": profile.waiting,
                          **views}, indent=1))
        return 0
    print(f"pid {pid}: {profile.samples} samples at {args.rate}/s over {args.seconds} s "
          f"(a thread is sampled only while it runs; {profile.waiting} more in waits)")
    for view, rows in views.items():
        print(f"-- {view}")
        for name, n, share in rows:
            print(f"{n:7d} {share:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
