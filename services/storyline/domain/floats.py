"""Float arithmetic that gives the same bits whatever machine or Python runs it.

A revision is a pure function of the log, and a replay on another machine must make it byte
for byte (docs/revisions.md). Four everyday float operations do not promise that:

* numpy picks its code by the CPU: on one with AVX-512 (this machine) ``np.log`` differs
  from its AVX2 code in the last bit now and then, and ``np.argpartition`` leaves other
  tied elements in front;
* ``np.dot`` of two float vectors is OpenBLAS's kernel for the CPU at hand, each summing in
  its own order (three in four dot products of 5-400 terms differ in the last bit from a
  sum left to right);
* the builtin ``sum`` of floats adds left to right up to Python 3.11 and compensates its
  rounding from 3.12 on;
* the C library's ``log`` itself: glibc runs one variant on CPUs with FMA and another
  without (a virtual machine may hide FMA), and their last bits differ now and then.

One last bit is enough to move a score across a threshold or a tie. So the domain sums
floats left to right (``ordered_sum``, ``squared_norm``: IEEE additions in a fixed order
give the same bits on every machine) and takes the logarithms it needs, all of counts or of
ratios of counts, from a table made with decimal arithmetic (``log_of``, ``log_of_ratio``,
``logs_of_counts``): the double nearest to decimal arithmetic's 40 digits, mostly read off
the sum of the count's prime factors' logarithms in integer arithmetic, which proves when it
is that double (``_ln``). A test keeps ``sum``, numpy's and ``math``'s transcendental functions
and numpy's reductions out of the domain but where a sum is of integers (marked ``# ints``).
"""

from __future__ import annotations

import decimal
import math
import threading
from array import array
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
_DECIMAL = decimal.Context(prec=40)  # a context of its own, never the thread's
_LOG_CHUNK = 1024  # logarithms made at a time (~3 ms, from the prime factors)
_DENSE = 1 << 14  # counts below this are read from a table, those above from a memo
_MEMO_CAP = 1 << 16
# ln(i) at index i < _DENSE (index 0 is never read), as a list for one at a time and as an
# array for gathers, grown on demand; ln(n) of larger counts in a memo, made when asked (a
# process restarted with 10^5 documents in its vocabularies asks for ln(10^5) first: a
# table up to there would be 2 s of decimal arithmetic before its first placement). A pure
# function's memory: what it holds does not depend on what was asked before, nor on the
# machine (libmpdec's integer arithmetic, then the nearest double), where the C library's
# ``log`` is not: glibc's variant for CPUs with FMA and its plain one differ in the last bit
# for ~1 integer in 10^6 here, its ``log1p`` for ~37.
_LOGS: list[float] = [math.nan]
_LOG_ARRAY: F64 = np.array(_LOGS, dtype=np.float64)
_MEMO: dict[int, float] = {}


def _ln_exact(n: int) -> float:
    """ln(n) as this module defines it: decimal arithmetic's 40 digits, then the nearest
    double."""
    return float(_DECIMAL.ln(decimal.Decimal(n)))


# ln(n) from its prime factors: the sum of the primes' logarithms as integers in units of
# 2^-200 (an integer addition a factor, where ``Context.ln`` takes ~45 µs), each prime's made
# once from ``Context.ln``. A count with a prime factor above _DENSE is made whole, as before.
_SMALL_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67,
                 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127)
_UNIT_BITS = 200
_UNITS = 1 << _UNIT_BITS
_UNITS_FLOAT = float(_UNITS)  # a power of two: doubles scale by it exactly
_EXACT = decimal.Context(prec=120)  # a 40-digit logarithm times 2^200 (61 digits), exactly
_PRIME_LOGS: dict[int, int] = {}


def _smallest_factors() -> array[int]:
    """The smallest prime factor of each n < _DENSE (a sieve; 0 and 1 for 0 and 1)."""
    spf = np.arange(_DENSE, dtype=np.uint16)
    for p in range(2, math.isqrt(_DENSE - 1) + 1):
        if spf[p] == p:
            multiples = spf[p * p :: p]
            multiples[multiples > p] = p  # ascending p: a smaller factor already set stays
    return array("H", spf.tobytes())


def _prime_log(p: int) -> int:
    """ln(p) in units of 2^-200: the 40-digit ``Context.ln``, scaled exactly, rounded."""
    scaled = _EXACT.multiply(_DECIMAL.ln(decimal.Decimal(p)), decimal.Decimal(_UNITS))
    return int(scaled.to_integral_value(context=_EXACT))


def _ln_units(n: int) -> tuple[int, int] | None:
    """ln(n), n ≥ 2, in units of 2^-200 as the sum of its prime factors' logarithms, and how
    many were added; None when a factor is above _DENSE (or, for n above _DENSE, none of the
    small primes divides it)."""
    spf = _SMALLEST_FACTOR
    total = terms = 0
    while n > 1:
        if n < _DENSE:
            p = spf[n]
        else:
            for p in _SMALL_PRIMES:
                if n % p == 0:
                    break
            else:
                return None
        found = _PRIME_LOGS.get(p)
        if found is None:
            found = _PRIME_LOGS[p] = _prime_log(p)
        total += found
        terms += 1
        n //= p
    return total, terms


def _ln(n: int) -> float:
    """``_ln_exact(n)``, from the prime factors where it can (~2 µs).

    The sum is within ``error`` of ln(n) (each prime's 40 digits are off by at most half a
    unit of their 40th digit, its scaling by half a unit of 2^-200), and ``_ln_exact``'s 40
    digits too. When no midpoint between two doubles lies within ``error`` of the sum, ln(n),
    the sum and those 40 digits all round to the same double; otherwise (about once in 10^22)
    ``_ln_exact`` makes it. Integer arithmetic throughout, so the check is exact, and it only
    ever decides how the value is made, never what it is."""
    found = _ln_units(n) if n >= 2 else None
    if found is not None:
        total, terms = found
        error = (terms + 1) * (total // 10**39 + 1)
        y = total / _UNITS  # int / int: the double nearest to the quotient
        off = total - int(y * _UNITS_FLOAT)
        up = int((math.nextafter(y, math.inf) - y) * _UNITS_FLOAT)
        down = int((y - math.nextafter(y, -math.inf)) * _UNITS_FLOAT)
        if 2 * (off + error) < up and 2 * (error - off) < down:
            return y
    return _ln_exact(n)


_SMALLEST_FACTOR: array[int] = _smallest_factors()


def _grow(needed: int) -> None:
    global _LOG_ARRAY  # replaced whole, after the list has grown
    with _LOCK:
        have = len(_LOGS)
        if needed <= have:
            return
        size = min(max(needed, have + _LOG_CHUNK), _DENSE)
        _LOGS.extend(_ln(i) for i in range(have, size))
        _LOG_ARRAY = np.array(_LOGS, dtype=np.float64)


def log_of(n: int) -> float:
    """The natural logarithm of the integer ``n`` ≥ 1, the same double on every machine."""
    if n < len(_LOGS):
        if n < 1:
            raise ValueError(f"no logarithm of {n} here: the counts are at least 1")
        return _LOGS[n]
    if n < _DENSE:
        _grow(n + 1)
        return _LOGS[n]
    found = _MEMO.get(n)
    if found is None:
        if len(_MEMO) >= _MEMO_CAP:
            _MEMO.clear()
        found = _MEMO[n] = _ln(n)
    return found


def log2_of(n: int) -> float:
    """The base-2 logarithm of the integer ``n`` ≥ 1, from ``log_of``."""
    return log_of(n) / log_of(2)


def log_of_ratio(numerator: int, denominator: int) -> float:
    """ln(numerator / denominator) of two counts, as the difference of their logarithms."""
    return log_of(numerator) - log_of(denominator)


def logs_of_counts(counts: npt.NDArray[np.int64]) -> F64:
    """``log_of`` each count (each ≥ 1): one gather from the table, and the memo's few."""
    if len(counts) == 0:
        return np.zeros(0, dtype=np.float64)
    if int(counts.min()) < 1:
        raise ValueError("a count to take the logarithm of is below 1")
    top = int(counts.max())
    if top >= len(_LOGS):
        _grow(min(top + 1, _DENSE))
    if top < _DENSE:
        return _LOG_ARRAY[counts]
    large = counts >= _DENSE
    out = _LOG_ARRAY[np.where(large, 1, counts)]
    out[large] = [log_of(n) for n in counts[large].tolist()]
    return out
