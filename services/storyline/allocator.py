"""The C allocator's view of the process: glibc's heap statistics and giving freed heap back.

CPython takes objects of up to 512 bytes from its own arenas (pymalloc, 1 MiB each, given
back to the system when empty) and everything larger (lists' and dicts' item arrays, numpy
buffers, long strings and bytes) from glibc's ``malloc``. glibc keeps what is freed in the
middle of its main heap for reuse and returns only the top of it (``M_TRIM_THRESHOLD``), so
after the fold has thrown away many large short-lived buffers the freed memory stays resident
although nothing uses it. ``malloc_trim(0)`` releases the free pages inside the heap too
(``madvise(MADV_DONTNEED)``): the process gets smaller, no object moves, no output changes.

Everything here is a no-op returning None off glibc (musl, macOS): the callers only ever
lose the saving, never behaviour.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
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
