"""Unpickling a large state without the cyclic garbage collector in the way.

A story's state or a snapshot's pipeline unpickles into hundreds of thousands of container
objects and makes no garbage. The collector runs on allocation counts, so during such a load
it scans the growing young generations, and now and then the whole heap, over and over, for
nothing: thawing a 2,632-article story took 1.57 CPU s with the collector on and 0.37 s with
it paused, in a worker holding ~580 MB of other objects (docs/benchmarks.md, restart).
"""

from __future__ import annotations

import gc
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off for the block (as it was before, after it). Process-wide:
    for short loads only, where nothing else in the process needs a collection."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def unpickled(data: bytes) -> Any:
    """``pickle.loads`` with the collector paused; only for bytes this code wrote itself."""
    with collector_paused():
        return pickle.loads(data)
