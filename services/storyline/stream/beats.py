"""The stage processes' beats to their supervisor (``storyline worker``): a byte on a pipe
every second from a task of the event loop, so the supervisor can tell a process that hangs
(paused by SIGSTOP or a frozen VM, deadlocked, stuck in a call) from one that works, and kill
it: a hung stage does not exit, so it was never restarted, and held its state directory, its
stripes or partitions and the log's progress for ever (only ``storyline status`` said so).

The supervisor passes the pipe's write end and names it in the environment; a stage run
otherwise (its own container, a test) beats nowhere."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

BEAT_FD = "STORYLINE_SUPERVISOR_BEAT_FD"
EVERY = 1.0

T = TypeVar("T")


def beat_fd() -> int | None:
    raw = os.environ.get(BEAT_FD, "")
    return int(raw) if raw.isdigit() else None


def beat_now() -> None:
    """One beat from synchronous code that waits before the event loop runs (a fold waiting
    for the state directory's lock while its predecessor stops)."""
    fd = beat_fd()
    if fd is None:
        return
    with contextlib.suppress(OSError):  # full (the supervisor knows) or gone
        os.set_blocking(fd, False)
        os.write(fd, b".")


async def _beat(fd: int) -> None:
    while True:
        try:
            os.write(fd, b".")
        except BlockingIOError:
            pass  # the supervisor has not read the last ones: it knows we are alive
        except OSError:
            return  # the supervisor is gone (its end closed): nobody to tell
        await asyncio.sleep(EVERY)


async def beating(main: Coroutine[Any, Any, T]) -> T:
    """``await main`` while beating to the supervisor, if there is one."""
    fd = beat_fd()
    if fd is None:
        return await main
    os.set_blocking(fd, False)
    task = asyncio.create_task(_beat(fd))
    try:
        return await main
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
