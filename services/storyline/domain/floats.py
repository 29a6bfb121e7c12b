"""Float arithmetic that gives the same bits whatever machine or Python runs it.

A revision is a pure function of the log, and a replay on another machine must make it byte
for byte (docs/revisions.md). Three everyday float operations do not promise that:

* ``np.log`` picks an implementation of numpy's own by the CPU (an AVX-512 one here), which
  differs from the C library's ``log`` in the last bit for about one input in 2,300 of the
  idf arguments the clusterer takes: another machine gets the other bits;
* ``np.dot`` of two float vectors is OpenBLAS's kernel for the CPU at hand, each summing in
  its own order (three in four dot products of 5-400 terms differ in the last bit from a
  sum left to right);
* the builtin ``sum`` of floats adds left to right up to Python 3.11 and compensates its
  rounding from 3.12 on.

One last bit is enough to move a score across a threshold or a tie. So the domain sums
floats left to right (``ordered_sum``, ``squared_norm``: IEEE additions in a fixed order
give the same bits on every machine) and takes logarithms from ``math.log``, never from
numpy (``logs_of_counts``). A test keeps ``sum``, ``np.log``, ``np.dot`` and friends out
of the domain but where a sum is of integers (marked ``# ints``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def ordered_sum(values: Iterable[float]) -> float:
    """The sum left to right from 0, as Python 3.11's builtin ``sum`` adds floats (an
    empty sum is the int 0, as there)."""
    total: float = 0
    for value in values:
        total += value
    return total


def squared_norm(values: F64) -> float:
    """The sum of the squares of ``values`` left to right (numpy's cumulative sum is one
    running addition), 0.0 when there are none."""
    if len(values) == 0:
        return 0.0
    return float(np.cumsum(values * values)[-1])


_LOCK = threading.Lock()
# math.log(i) at index i (index 0 is never read); grown on demand. A pure function's table:
# what it holds does not depend on what was asked before.
_LOGS: F64 = np.array([math.nan, 0.0], dtype=np.float64)


def logs_of_counts(counts: npt.NDArray[np.int64]) -> F64:
    """``math.log`` of each count (each ≥ 1), as one gather from a table of the C library's
    logarithms."""
    global _LOGS
    if len(counts) == 0:
        return np.zeros(0, dtype=np.float64)
    if int(counts.min()) < 1:
        raise ValueError("a count to take the logarithm of is below 1")
    table = _LOGS
    needed = int(counts.max()) + 1
    if needed > len(table):
        with _LOCK:
            table = _LOGS
            if needed > len(table):
                size = max(needed, 2 * len(table))
                more = np.fromiter((math.log(i) for i in range(len(table), size)),
                                   dtype=np.float64, count=size - len(table))
                table = _LOGS = np.concatenate((table, more))
    return table[counts]
