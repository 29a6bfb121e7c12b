"""Compiled loops of the clusterer's hot path (numba, ``cache=True``).

Each kernel is written as a plain Python function over numpy arrays (kept as ``.py_func``,
the reference the tests compare with) and compiled once per machine: the machine code is
cached beside this module, so a restarted worker loads it instead of compiling again.

What a kernel computes is bit for bit what the numpy or dict code it replaces computed:
the same float64 products, the sums in the same order (numba keeps IEEE order without
``fastmath``, which is never set here), no transcendental function (``log``, ``exp`` stay
in numpy, whose implementations may differ from libm's in the last bit) and no BLAS call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

F = TypeVar("F", bound=Callable[..., Any])

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def _jit(fn: F) -> F:
    return cast(F, numba.njit(cache=True, nogil=True)(fn))


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


dots = _jit(_dots)
tally = _jit(_tally)
