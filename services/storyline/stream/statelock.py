"""One owner at a time for a worker's state directory (the cold store, the snapshots).

The fold stage and the single-process worker rebuild their state in the same directory
(``storyline.stream.worker.state_dir``), and a new one starts by emptying the cold store. A
second owner beside a running one would delete the RocksDB files under it and fold the same
offsets into the same directory. That happens without anyone starting two on purpose: when
an operator SIGKILLs the stage supervisor, its fold process gets SIGTERM from the kernel and
finishes the record in hand (waiting for the broker, if it is away) while the restarted
supervisor already starts the next fold. So each owner holds an exclusive ``flock`` on a
file in the directory for its whole life; the kernel drops it when the process dies, even
by SIGKILL, and the next owner waits for that.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import IO

import structlog

from storyline.stream.beats import beat_now

log = structlog.get_logger("storyline.statelock")

LOCK_NAME = "owner.lock"


class StateLocked(TimeoutError):
    """Another process still owns the state directory after the timeout."""


def holder(directory: Path) -> str:
    """The pid the current owner wrote into the lock file ("" when unknown)."""
    try:
        return (directory / LOCK_NAME).read_text().strip()
    except OSError:
        return ""


def own_state(directory: Path, *, timeout: float | None = None, poll: float = 0.2
              ) -> IO[str]:
    """Take the state directory's lock, waiting while another process holds it (logged
    once, as ``state_lock_wait``, naming its pid); keep the returned file open for as long
    as the state is used. ``timeout`` None: wait for as long as it takes."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = (directory / LOCK_NAME).open("a+")
    started = time.monotonic()
    waited = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not waited:
                log.warning("state_lock_wait", directory=str(directory),
                            holder=holder(directory))
                waited = True
            beat_now()  # waiting is no hang: the supervisor must not kill it for that
            if timeout is not None and time.monotonic() - started >= timeout:
                handle.close()
                raise StateLocked(f"{directory} is still owned by pid "
                                  f"{holder(directory) or '?'} after {timeout:g} s") from None
            time.sleep(poll)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    if waited:
        log.info("state_lock_taken", directory=str(directory),
                 waited_s=round(time.monotonic() - started, 2))
    return handle
