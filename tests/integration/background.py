"""A `storyline` command run in the background by a test, its log read as it grows."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path, cwd: Path
            ) -> Iterator[Callable[[], str]]:
    """Run ``command`` with its output into ``log``; yields what the log holds so far (a
    function); at exit the process gets SIGTERM and is waited for."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
        try:
            yield lambda: log.read_text(errors="replace")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def poll(done: Callable[[], bool], seconds: float, every: float = 0.5) -> bool:
    """Whether ``done()`` came true within ``seconds``, asked every ``every`` seconds."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True
