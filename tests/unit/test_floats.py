"""Float arithmetic of the core gives the same bits on every machine and Python version
(storyline.domain.floats): sums left to right, logarithms from the C library, never numpy's
CPU-dispatched ``log`` or BLAS's ``dot``, nor the builtin ``sum`` of floats (compensated
from Python 3.12 on)."""

from __future__ import annotations

import ast
import decimal
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storyline.domain import floats
from storyline.domain.assign.clustering_text import SparseVector, Vocabulary, tfidf
from storyline.domain.floats import (
    log2_of,
    log_of,
    log_of_ratio,
    logs_of_counts,
    ordered_sum,
    squared_norm,
)

DOMAIN = Path(__file__).resolve().parents[2] / "services" / "storyline" / "domain"
# numpy calls whose float results depend on the CPU (SIMD dispatch, BLAS kernels) or that
# sum in an order of their own
UNSTABLE_NUMPY = frozenset({"log", "log1p", "log2", "log10", "exp", "expm1", "power", "dot",
                            "vdot", "inner", "matmul", "einsum", "sum", "mean", "linalg"})
# the C library's, whose last bit depends on the variant glibc picks for the CPU (FMA or not)
UNSTABLE_MATH = frozenset({"log", "log1p", "log2", "log10", "exp", "expm1", "pow", "sin",
                           "cos", "tan", "atan", "atan2", "sinh", "cosh", "tanh", "erf"})


def left_to_right(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def test_ordered_sum_adds_left_to_right_without_compensation() -> None:
    # a compensated sum (Python 3.12's builtin, math.fsum) gives 1.0 here
    assert ordered_sum([1e16, 1.0, -1e16]) == 0.0
    assert ordered_sum([0.1] * 10) == left_to_right([0.1] * 10) != 1.0
    assert ordered_sum([]) == 0 and isinstance(ordered_sum([]), int)


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=400))
def test_squared_norm_is_the_left_to_right_sum_of_squares(values: list[float]) -> None:
    array = np.array(values, dtype=np.float64)
    assert squared_norm(array) == left_to_right([v * v for v in values])


def decimal_log(n: int) -> float:
    return float(decimal.Context(prec=40).ln(decimal.Decimal(n)))


def test_logarithms_are_decimal_arithmetics_nearest_doubles() -> None:
    counts = np.arange(1, 20_000, dtype=np.int64)
    expected = [decimal_log(i) for i in range(1, 20_000)]
    assert logs_of_counts(counts).tolist() == expected
    # asked again, in another order, one at a time, after the table grew
    assert logs_of_counts(counts[::-7]).tolist() == expected[::-7]
    assert [log_of(i) for i in (1, 2, 277_862, 19_999)] == [
        0.0, decimal_log(2), decimal_log(277_862), expected[-1]]
    assert log_of_ratio(10, 4) == decimal_log(10) - decimal_log(4)
    assert log2_of(8) == decimal_log(8) / decimal_log(2)


def test_logarithms_from_prime_factors_are_decimal_arithmetics_doubles() -> None:
    """The fast path (the primes' logarithms summed as integers) gives decimal arithmetic's
    double for every count below 2^15 and for counts up to 10^9 of every shape: powers,
    products of small primes, large primes and products with one (made whole)."""
    rng = random.Random(7)
    counts = list(range(1, 1 << 15))
    counts += [rng.randrange(1 << 14, 10**9) for _ in range(3000)]
    counts += [2**k for k in range(1, 30)] + [3**k for k in range(1, 19)]
    counts += [2 * 3 * 5 * 7 * 11 * 13 * 17 * 19 * 23, 16_381 * 16_369, 2 * 1_000_003,
               127**4, 128 * 16_381, 999_983]
    assert [floats._ln(n) for n in counts] == [decimal_log(n) for n in counts]


def test_a_sum_near_a_midpoint_between_doubles_is_made_whole(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """When the sum of the factors' logarithms lies within its error bound of a midpoint
    between two doubles, the value is made by decimal arithmetic, not rounded from the sum."""
    monkeypatch.setattr(floats, "_PRIME_LOGS", {})
    exact = decimal_log(6)
    up = math.nextafter(exact, math.inf)
    midpoint_units = (int(exact * floats._UNITS_FLOAT) + int(up * floats._UNITS_FLOAT)) // 2
    log_2 = floats._prime_log(2)
    calls: list[int] = []

    def made_whole(n: int) -> float:
        calls.append(n)
        return exact

    monkeypatch.setattr(floats, "_ln_exact", made_whole)
    for nudge in (0, 1, -1, 5):  # the sum at the midpoint, or within the error of it
        floats._PRIME_LOGS.update({2: log_2, 3: midpoint_units - log_2 + nudge})
        assert floats._ln(6) == exact
    assert calls == [6, 6, 6, 6]
    # far from any midpoint: the sum's own double, decimal arithmetic not asked
    floats._PRIME_LOGS[3] = floats._prime_log(3)
    assert floats._ln(6) == exact and calls == [6, 6, 6, 6]


def test_the_c_librarys_log_is_not_what_the_core_uses() -> None:
    """glibc's log with and without FMA differ for 277,862 (measured here with
    GLIBC_TUNABLES masking FMA): the table's value is the one decimal arithmetic gives."""
    assert log_of(277_862) == decimal_log(277_862)


def test_a_count_below_one_is_refused() -> None:
    try:
        logs_of_counts(np.array([3, 0], dtype=np.int64))
    except ValueError:
        return
    raise AssertionError("a zero count was given a logarithm")


@given(st.dictionaries(st.integers(0, 3000), st.integers(1, 40), min_size=1, max_size=300),
       st.integers(1, 5000))
def test_tfidf_weights_are_libm_logs_over_a_left_to_right_norm(
        counts: dict[int, int], docs: int) -> None:
    """What another machine computes too: each weight from the decimal logarithms, the norm
    a sum of squares left to right (numpy's log and BLAS's dot give other last bits on
    other CPUs, and here differ from these for ~1 in 2,300 logs and 3 in 4 norms)."""
    vocab = Vocabulary()
    for _ in range(docs):
        vocab.docs += 1
    vocab.df = np.zeros(4096, dtype=np.int64)
    for tid in counts:
        vocab.df[tid] = (tid * 7919) % docs
    query = tfidf(counts, vocab)
    ids = sorted(counts)
    raw = [(1.0 + decimal_log(counts[t])) * (decimal_log(docs + 1) + 1.0
                                             - decimal_log(int(vocab.df[t]) + 1))
           for t in ids]
    norm = math.sqrt(left_to_right([w * w for w in raw])) or 1.0
    assert query.ids.tolist() == ids
    assert query.weights.tolist() == [w / norm for w in raw]


def test_top_vectors_are_normalised_by_a_left_to_right_norm() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        values = rng.random(int(rng.integers(2, 300)))
        ids = np.arange(len(values), dtype=np.int64)
        vector = SparseVector.top_arrays(ids, values, 1000)
        order = np.lexsort((ids, -values))
        norm = math.sqrt(left_to_right([float(v) ** 2 for v in values[order]]))
        expected = (values[order] / norm).astype(np.float32).tolist()
        assert list(vector.weights) == expected


def unstable_calls(source: str) -> list[tuple[int, str]]:
    """(line, call) of each builtin ``sum`` not marked ``# ints`` and each CPU-dependent
    numpy call in ``source``."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "sum":
            if "# ints" not in lines[node.lineno - 1]:
                found.append((node.lineno, "sum"))
        elif (isinstance(func, ast.Attribute) and func.attr in UNSTABLE_NUMPY
              and isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy")):
            found.append((node.lineno, f"np.{func.attr}"))
        elif (isinstance(func, ast.Attribute) and func.attr in UNSTABLE_MATH
              and isinstance(func.value, ast.Name) and func.value.id == "math"):
            found.append((node.lineno, f"math.{func.attr}"))
        elif (isinstance(func, ast.Attribute) and func.attr in ("sum", "mean")
              and "# ints" not in lines[node.lineno - 1]):
            found.append((node.lineno, f".{func.attr}()"))
    return found


def test_the_guard_sees_what_it_guards_against() -> None:
    source = ("a = sum(x)\nb = sum(y)  # ints\nc = np.log(z)\nd = np.dot(p, q)\n"
              "e = arr.sum()\nf = arr.sum()  # ints\ng = math.log1p(h)\n")
    assert unstable_calls(source) == [(1, "sum"), (3, "np.log"), (4, "np.dot"), (5, ".sum()"),
                                      (7, "math.log1p")]


def test_the_core_has_no_machine_dependent_float_arithmetic() -> None:
    found = {f"{path.relative_to(DOMAIN)}:{line} {call}"
             for path in sorted(DOMAIN.rglob("*.py"))
             for line, call in unstable_calls(path.read_text(encoding="utf-8"))}
    assert found == set()


# -- what numpy decides by the CPU ---------------------------------------------------------

TOP_TERMS_SCRIPT = """
import hashlib
import numpy as np
from storyline.domain.assign.clustering_text import SparseVector, tfidf, Vocabulary
rng = np.random.default_rng(11)
digest = hashlib.sha256()
for _ in range(3000):
    n = int(rng.integers(10, 500))
    values = rng.integers(1, 6, n).astype(np.float64)  # ties at the cut, as real weights have
    ids = rng.permutation(n).astype(np.int64)
    vector = SparseVector.top_arrays(ids, values, int(rng.integers(1, n)))
    digest.update(bytes(vector.ids) + bytes(vector.weights))
vocab = Vocabulary()
vocab.docs = 5000
vocab.df = rng.integers(0, 5000, 4096).astype(np.int64)
for _ in range(300):
    counts = {int(t): int(c) for t, c in zip(rng.choice(4096, 200, replace=False),
                                             rng.integers(1, 30, 200))}
    digest.update(tfidf(counts, vocab).weights.tobytes())
print(digest.hexdigest())
"""


def numpy_run(env: dict[str, str]) -> str:
    services = Path(__file__).resolve().parents[2] / "services"
    result = subprocess.run([sys.executable, "-c", TOP_TERMS_SCRIPT], check=True,
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(services), **env})
    return result.stdout.strip()


def test_vectors_do_not_depend_on_numpys_cpu_specific_code() -> None:
    """On a CPU with AVX-512, numpy runs its own partition and logarithm there; switched off,
    it runs the code an AVX2 or an SSE4 CPU gets. The clusterer's vectors (which terms a vector
    keeps when weights tie at the cut, the tf-idf weights) must be the same both ways: they
    were not (argpartition kept other tied terms, np.log gave other last bits), and a
    replay of timeline17-dev made other revisions with numpy's AVX-512 code off."""
    from numpy._core._multiarray_umath import __cpu_features__

    present = [f for f in ("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR")
               if __cpu_features__.get(f)]
    if not present:
        pytest.skip("this CPU has no AVX2: numpy already runs the code other CPUs run")
    as_it_runs = numpy_run({})
    assert as_it_runs == numpy_run({"NPY_DISABLE_CPU_FEATURES": " ".join(present)})
    # and with glibc's plain variants, as on a CPU (or a virtual one) without FMA
    assert as_it_runs == numpy_run(
        {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2_Usable,-FMA_Usable,-AVX2,-FMA"})


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 5)), min_size=1,
                max_size=300, unique_by=lambda pair: pair[0]),
       st.integers(1, 320))
def test_top_terms_are_the_first_by_weight_then_id(pairs: list[tuple[int, int]],
                                                   k: int) -> None:
    ids = np.array([i for i, _ in pairs], dtype=np.int64)
    values = np.array([float(w) for _, w in pairs], dtype=np.float64)
    vector = SparseVector.top_arrays(ids, values, k)
    expected = sorted(pairs, key=lambda pair: (-pair[1], pair[0]))[:k]
    assert list(vector.ids) == [i for i, _ in expected]
