"""Compiled loops of the clusterer's hot path (numba, ``cache=True``): an opt-in
accelerator, off by default.

By default the clusterer runs its portable Python/numpy code (a dict tally in
``Clusterer._candidates``, ``clustering_text.term_counts``, ``dedup.shingles``,
``SparseVector.merged_arrays``, ``Query.dots``) and nothing here imports numba.
``use_compiled(True)`` (the edges call it from the setting ``STORYLINE_COMPILED_KERNELS``)
imports numba, compiles the kernels below or loads them from their cache beside this
module, and switches the whole process to them; ``use_compiled(False)`` switches back.
numba is an optional dependency (the ``compiled`` extra). The kernels cut assignment CPU
by a quarter to a third but cost ~130 MB of RSS a process (numba and LLVM), +1.2-1.5 s of
start-up, and 12-14 CPU s of compilation on a cold cache (docs/clustering.md, "Cost").

Each kernel is written as a plain Python function over numpy arrays and compiled by
``Compiled``.
What a kernel computes is bit for bit what the portable code it stands in for computes:
the same float64 products, the sums in the same order (numba keeps IEEE order without
``fastmath``, which is never set here), no transcendental function (the logarithms are
``domain.floats``', outside the kernels) and no BLAS call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

F = TypeVar("F", bound=Callable[..., Any])

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def _dots(query_ids: I64, query_weights: F64, dense: F64, ids: npt.NDArray[np.uint32],
          weights: npt.NDArray[np.float32], lengths: I64) -> F64:
    """The dot product of the query (``query_ids`` -> ``query_weights``) with each of the
    vectors laid end to end in ``ids`` / ``weights`` (``lengths`` each), as ``Query.dots``
    computes it: each product ``dense[id] * float64(weight)``, one running sum over all the
    products (numpy's ``cumsum``), each dot the difference of the running sum at the
    vector's end and at its start. ``dense`` is a zeroed scratch array indexed by term id;
    it is left zeroed."""
    for i in range(len(query_ids)):
        dense[query_ids[i]] = query_weights[i]
    out = np.empty(len(lengths), dtype=np.float64)
    running = 0.0  # sums[j]: the running sum before product j, 0.0 before the first
    at = 0
    for v in range(len(lengths)):
        start = running
        for j in range(at, at + lengths[v]):
            product = dense[ids[j]] * np.float64(weights[j])
            running = product if j == 0 else running + product  # cumsum[0] is a[0]
        out[v] = running - start
        at += lengths[v]
    for i in range(len(query_ids)):
        dense[query_ids[i]] = 0.0
    return out


def _tally(seqs: I64, lengths: I64, weights: F64) -> tuple[I64, F64]:
    """The candidate tally: each posting list (``lengths`` each, laid end to end in
    ``seqs``) adds its ``weights`` entry to every story in it, each story's sum taken in
    the order of the lists (from 0.0, as ``tally.get(seq, 0.0) + weight``). Returns the
    stories and their sums ranked by sum descending, then story ascending."""
    n = len(seqs)
    spread = np.empty(n, dtype=np.float64)
    at = 0
    for p in range(len(lengths)):
        for j in range(at, at + lengths[p]):
            spread[j] = weights[p]
        at += lengths[p]
    order = np.argsort(seqs, kind="mergesort")  # stable: a story's entries in list order
    stories = np.empty(n, dtype=np.int64)
    sums = np.empty(n, dtype=np.float64)
    count = 0
    j = 0
    while j < n:
        seq = seqs[order[j]]
        total = 0.0
        while j < n and seqs[order[j]] == seq:
            total = total + spread[order[j]]
            j += 1
        stories[count] = seq
        sums[count] = total
        count += 1
    stories, sums = stories[:count], sums[:count]
    # stories ascending: a stable sort by sum descending keeps them ascending within ties
    ranked = np.argsort(-sums, kind="mergesort")
    return stories[ranked], sums[ranked]


def _merged(ids: npt.NDArray[np.uint32], weights: npt.NDArray[np.float32], scale: float,
            more: npt.NDArray[np.uint32], added: npt.NDArray[np.float32]) -> tuple[I64, F64]:
    """``SparseVector.merged_arrays``: ``float64(weights) * scale`` by ``ids``, each of
    ``more``'s weights added to its id's (one sum per id: ids are distinct), the ids not
    there appended in ``more``'s order."""
    n, m = len(ids), len(more)
    out_ids = np.empty(n + m, dtype=np.int64)
    out = np.empty(n + m, dtype=np.float64)
    for i in range(n):
        out_ids[i] = ids[i]
        out[i] = np.float64(weights[i]) * scale
    count = n
    if n == 0:
        for j in range(m):
            out_ids[j] = more[j]
            out[j] = np.float64(added[j])
        return out_ids[:m], out[:m]
    order = np.argsort(ids)
    sorted_ids = ids[order]
    for j in range(m):
        at = np.searchsorted(sorted_ids, more[j])
        if at < n and sorted_ids[at] == more[j]:
            out[order[at]] += np.float64(added[j])
        else:
            out_ids[count] = more[j]
            out[count] = np.float64(added[j])
            count += 1
    return out_ids[:count], out[:count]


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_SPACE = 32
_HYPHEN = 45


def word_code(word: bytes) -> int:
    """A word of at most 12 bytes of a-z and "-" as a number, one to one: 5 bits a byte,
    a-z as 1-26, "-" as 27 (no byte is 0, so lengths cannot collide)."""
    code = 0
    for byte in word:
        code = code * 32 + (byte - 96 if byte != _HYPHEN else 27)
    return code


def _terms(runs: npt.NDArray[np.uint8], stop_codes: I64) -> tuple[npt.NDArray[np.uint8], I64]:
    """``clustering_text.term_counts`` on ``runs``, the lowercased text as ASCII with every
    byte but a-z and "-" a space: each run between spaces without its leading and trailing
    hyphens is a word; a word of fewer than 2 letters or in the stop-words (``stop_codes``:
    their sorted ``word_code``) is no term, one of more than 4 letters ending in "s" but not
    "ss" or "us" loses the "s". Returns the distinct terms in order of first use, separated
    by spaces, and their counts."""
    n = len(runs)
    size = 64
    while size < n:
        size *= 2
    table = np.full(size, -1, dtype=np.int64)  # open addressing: slot -> term index
    starts = np.empty(n // 2 + 1, dtype=np.int64)
    lengths = np.empty(n // 2 + 1, dtype=np.int64)
    counts = np.empty(n // 2 + 1, dtype=np.int64)
    hashes = np.empty(n // 2 + 1, dtype=np.uint64)
    terms = 0
    total = 0  # bytes of the terms
    i = 0
    while i < n:
        if runs[i] == _SPACE:
            i += 1
            continue
        start = i
        while i < n and runs[i] != _SPACE:
            i += 1
        end = i
        while start < end and runs[start] == _HYPHEN:
            start += 1
        while end > start and runs[end - 1] == _HYPHEN:
            end -= 1
        length = end - start
        if length < 2:
            continue
        if length <= 12:
            code = np.int64(0)
            for j in range(start, end):
                byte = runs[j]
                code = code * 32 + (np.int64(byte) - 96 if byte != _HYPHEN else np.int64(27))
            stop = np.searchsorted(stop_codes, code)
            if stop < len(stop_codes) and stop_codes[stop] == code:
                continue
        if length > 4 and runs[end - 1] == 115 and runs[end - 2] != 115 and runs[end - 2] != 117:
            end -= 1  # "s", not after "s" or "u"
            length -= 1
        h = _FNV_OFFSET
        for j in range(start, end):
            h = (h ^ np.uint64(runs[j])) * _FNV_PRIME
        slot = np.int64(h & np.uint64(size - 1))
        while True:
            k = table[slot]
            if k < 0:
                table[slot] = terms
                starts[terms] = start
                lengths[terms] = length
                counts[terms] = 1
                hashes[terms] = h
                terms += 1
                total += length
                break
            if hashes[k] == h and lengths[k] == length:
                same = True
                other = starts[k]
                for j in range(length):
                    if runs[other + j] != runs[start + j]:
                        same = False
                        break
                if same:
                    counts[k] += 1
                    break
            slot = np.int64((slot + 1) & (size - 1))
    out = np.empty(total + terms, dtype=np.uint8)
    at = 0
    for k in range(terms):
        for j in range(lengths[k]):
            out[at] = runs[starts[k] + j]
            at += 1
        out[at] = _SPACE
        at += 1
    return out, counts[:terms]


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _shingles(words: npt.NDArray[np.uint8], max_words: int, window: int,
              crc_table: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """``dedup.shingles`` on ``words``, the lowercased text as ASCII with every byte but a-z
    and 0-9 a space: the CRC-32 of each of the first ``max_words`` words, mixed over
    ``window`` words at a time (each hash times the mixing constant plus the next word's,
    wrapping at 2^64), finalised, its top 32 bits; sorted, unique."""
    n = len(words)
    crcs = np.empty(min(n // 2 + 1, max_words), dtype=np.uint64)
    count = 0
    i = 0
    while i < n and count < max_words:
        if words[i] == _SPACE:
            i += 1
            continue
        crc = np.uint32(0xFFFFFFFF)
        while i < n and words[i] != _SPACE:
            crc = crc_table[(crc ^ np.uint32(words[i])) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
            i += 1
        crcs[count] = np.uint64(crc ^ np.uint32(0xFFFFFFFF))
        count += 1
    if count == 0:
        return np.zeros(0, dtype=np.uint32)
    if count >= window:
        m = count - window + 1
        h = crcs[:m].copy()
        for shift in range(1, window):
            for j in range(m):
                h[j] = h[j] * _MIX + crcs[j + shift]
    else:
        h = crcs[:count].copy()
    top = np.empty(len(h), dtype=np.uint32)
    for j in range(len(h)):
        x = (h[j] ^ (h[j] >> np.uint64(29))) * _MIX
        top[j] = np.uint32(x >> np.uint64(32))
    top.sort()
    keep = 1
    for j in range(1, len(top)):
        if top[j] != top[keep - 1]:
            top[keep] = top[j]
            keep += 1
    return top[:keep].copy()


def crc32_table() -> npt.NDArray[np.uint32]:
    """The table of the CRC-32 of zlib (reflected polynomial 0xEDB88320)."""
    table = np.empty(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table[i] = c
    return table


class Compiled:
    """The kernels compiled by numba (or loaded from their cache): built by
    ``use_compiled(True)``, the only place numba is imported."""

    def __init__(self) -> None:
        import numba  # the optional dependency: only when the kernels are switched on

        def jit(fn: F) -> F:
            return cast(F, numba.njit(cache=True, nogil=True)(fn))

        self.dots = jit(_dots)
        self.merged = jit(_merged)
        self.tally = jit(_tally)
        self.terms = jit(_terms)
        self.shingles = jit(_shingles)

    def warm(self) -> None:
        """Compile every kernel for the argument types the clusterer passes (or load them
        from the cache)."""
        u32, f32 = np.zeros(1, dtype=np.uint32), np.zeros(1, dtype=np.float32)
        i64, f64 = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.float64)
        # (Query.dots reads the vectors from one bytes object each: read-only arrays)
        self.dots(i64, f64, np.zeros(2, dtype=np.float64),
                  np.frombuffer(u32.tobytes(), dtype=np.uint32),
                  np.frombuffer(f32.tobytes(), dtype=np.float32), i64 + 1)
        self.merged(u32, f32, 1.0, u32 + 1, f32)
        self.tally(i64, i64 + 1, f64)
        self.terms(np.frombuffer(b"banks of -the- river", dtype=np.uint8), i64)
        self.shingles(np.frombuffer(b"one two three four five", dtype=np.uint8), 400, 4,
                      crc32_table())


_built: Compiled | None = None  # compiled once a process: switching back keeps them
_active: Compiled | None = None


def use_compiled(on: bool) -> None:
    """Switch the whole process to the compiled kernels (``True``: imports numba, which
    must be installed, and compiles or loads them) or back to the portable code. Outputs
    are the same either way, to the last bit."""
    global _built, _active
    if on and _built is None:
        if not available():
            raise RuntimeError("the compiled kernels need numba: install the `compiled` extra "
                               "(pip install 'storyline[compiled]') or switch them off "
                               "(STORYLINE_COMPILED_KERNELS=false)")
        _built = Compiled()
    _active = _built if on else None


def active() -> Compiled | None:
    """The compiled kernels when switched on, else ``None`` (the portable code runs)."""
    return _active


def available() -> bool:
    """Whether numba is installed (the ``compiled`` extra), without importing it."""
    import importlib.util

    return importlib.util.find_spec("numba") is not None


def warm() -> None:
    """Switch the compiled kernels on and compile each for the argument types the
    clusterer passes (or load them from the cache): what ``scripts/setup.sh`` runs once
    after installing when numba is there, so that the first start of a worker with
    ``STORYLINE_COMPILED_KERNELS=true`` does not spend its first articles compiling."""
    use_compiled(True)
    assert _active is not None
    _active.warm()
