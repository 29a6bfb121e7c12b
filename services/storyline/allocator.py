"""The C allocator's view of the process: glibc's heap statistics and giving freed heap back.

CPython takes objects of up to 512 bytes from its own arenas (pymalloc, 1 MiB each, given
back to the system when empty) and everything larger (lists' and dicts' item arrays, numpy
buffers, long strings and bytes) from glibc's ``malloc``. glibc keeps what is freed in the
middle of its main heap for reuse and returns only the top of it (``M_TRIM_THRESHOLD``), so
after the fold has thrown away many large short-lived buffers the freed memory stays resident
although nothing uses it. ``malloc_trim(0)`` releases the free pages inside the heap too
(``madvise(MADV_DONTNEED)``): the process gets smaller, no object moves, no output changes.

The worker and the fold stage trim every ``malloc_trim_every`` records (:class:`Trimmer`);
they and the page stage cap glibc's arenas at ``malloc_arena_max`` (:func:`limit_arenas`)
and fix the size from which a block is a mapping of its own at ``malloc_mmap_threshold``
(:func:`fix_mmap_threshold`), both at start (:func:`tune_malloc`).
Everything here is a no-op returning None off glibc (musl, macOS): the callers only ever
lose the saving, never behaviour; and nothing here touches an object, so no output changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time
from typing import Any

_MALLINFO_FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                    "uordblks", "fordblks", "keepcost")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO_FIELDS]


@functools.cache
def _libc() -> Any:
    path = ctypes.util.find_library("c")
    if path is None:
        return None
    try:
        libc = ctypes.CDLL(path)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None  # not glibc
    return libc


def mallinfo() -> dict[str, int] | None:
    """glibc's ``mallinfo2()`` in bytes (all arenas): ``arena`` the heap obtained with sbrk
    and in thread arenas, ``hblkhd`` the mmapped blocks, ``uordblks`` in use, ``fordblks``
    free but kept, ``keepcost`` the releasable top. None where there is no ``mallinfo2``
    (glibc before 2.33, other C libraries)."""
    libc = _libc()
    function = getattr(libc, "mallinfo2", None) if libc is not None else None
    if function is None:
        return None
    function.restype = _Mallinfo2
    info = function()
    return {name: int(getattr(info, name)) for name in _MALLINFO_FIELDS}


def trim() -> bool | None:
    """Give the free pages of glibc's heaps back to the system (``malloc_trim(0)``). True if
    memory was released, False if there was none to release, None off glibc."""
    libc = _libc()
    if libc is None:
        return None
    return bool(libc.malloc_trim(0))


# Records between two trims in the worker and the fold stage: a trim walks the free chunks of
# every arena (0.1-8 ms on a 500 MB fold, against ~45 ms to fold one record), so every 1,000
# records costs well under 0.1 % of the fold's CPU.
TRIM_EVERY = 1000

# mallopt's M_ARENA_MAX: glibc gives each thread that allocates an arena of its own (up to
# 8 per core), and an arena keeps its freed memory for its own thread. The worker folds on a
# pool thread, publishes on the event loop's, and RocksDB allocates on its background threads:
# two arenas serve them without the others' free memory lying idle per thread.
M_ARENA_MAX = -8
ARENA_MAX = 2

# mallopt's M_MMAP_THRESHOLD: glibc serves a request of at least this many bytes with a
# mapping of its own, unmapped when freed. Left to itself glibc raises the threshold to the
# size of each mapped block freed (up to 32 MiB), so once a long story has been frozen (its
# pickle and its packed bytes, megabytes each) such buffers come from the heap and leave
# holes between the live blocks there when freed: past the articles budget, where stories
# are frozen and thawed all the time, glibc's free memory went 29 -> 102 MB from 2 to 6x10^4
# articles (docs/benchmarks.md, session 39). Setting it fixes it (and turns the raising
# off); 128 KiB is glibc's own starting value.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


class Trimmer:
    """Calls :func:`trim` every ``every`` records (0: never); keeps the count and the time."""

    def __init__(self, every: int = TRIM_EVERY) -> None:
        self.every = every
        self.records = 0
        self.trims = 0
        self.seconds = 0.0

    def folded(self) -> bool | None:
        """Count one record; trim if it is the ``every``-th. None when no trim was due (or
        there is no glibc), else whether memory was released."""
        self.records += 1
        if self.every <= 0 or self.records % self.every:
            return None
        started = time.process_time()
        released = trim()
        self.seconds += time.process_time() - started
        self.trims += 1
        return released


def limit_arenas(count: int) -> bool | None:
    """At most ``count`` glibc arenas for the threads created from now on (0: glibc's
    default, nothing done). Called at a process's start, before its threads. True if glibc
    took it, None off glibc or for 0."""
    return _mallopt(M_ARENA_MAX, count)


def fix_mmap_threshold(size: int) -> bool | None:
    """Serve every request of at least ``size`` bytes with a mapping of its own, for good
    (0: glibc's default, a threshold that follows the blocks freed; nothing done). True if
    glibc took it, None off glibc or for 0."""
    return _mallopt(M_MMAP_THRESHOLD, size)


def tune_malloc(arena_max: int, mmap_threshold: int) -> None:
    """A process's glibc settings, at its start before its threads (see :func:`limit_arenas`
    and :func:`fix_mmap_threshold`)."""
    limit_arenas(arena_max)
    fix_mmap_threshold(mmap_threshold)


def _mallopt(option: int, value: int) -> bool | None:
    libc = _libc()
    if value <= 0 or libc is None or not hasattr(libc, "mallopt"):
        return None
    return bool(libc.mallopt(option, value))
