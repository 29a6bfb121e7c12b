"""Float arithmetic of the core gives the same bits on every machine and Python version
(storyline.domain.floats): sums left to right, logarithms from the C library, never numpy's
CPU-dispatched ``log`` or BLAS's ``dot``, nor the builtin ``sum`` of floats (compensated
from Python 3.12 on)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from storyline.domain.assign.clustering_text import SparseVector, Vocabulary, tfidf
from storyline.domain.floats import logs_of_counts, ordered_sum, squared_norm

DOMAIN = Path(__file__).resolve().parents[2] / "services" / "storyline" / "domain"
# numpy calls whose float results depend on the CPU (SIMD dispatch, BLAS kernels) or that
# sum in an order of their own
UNSTABLE_NUMPY = frozenset({"log", "log1p", "log2", "log10", "exp", "expm1", "power", "dot",
                            "vdot", "inner", "matmul", "einsum", "sum", "mean", "linalg"})


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


def test_logs_of_counts_are_the_c_librarys() -> None:
    counts = np.arange(1, 60_000, dtype=np.int64)
    expected = [math.log(i) for i in range(1, 60_000)]
    assert logs_of_counts(counts).tolist() == expected
    # asked again, in another order, after the table grew
    assert logs_of_counts(counts[::-7]).tolist() == expected[::-7]


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
    """What another machine computes too: each weight from math.log, the norm a sum of
    squares left to right (numpy's log and BLAS's dot give other last bits on other CPUs,
    and here differ from these for ~1 in 2,300 logs and 3 in 4 norms)."""
    vocab = Vocabulary()
    for _ in range(docs):
        vocab.docs += 1
    vocab.df = np.zeros(4096, dtype=np.int64)
    for tid in counts:
        vocab.df[tid] = (tid * 7919) % docs
    query = tfidf(counts, vocab)
    ids = sorted(counts)
    raw = [(1.0 + math.log(counts[t])) * (math.log(docs + 1) + 1.0 - math.log(int(vocab.df[t]) + 1))
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
        elif (isinstance(func, ast.Attribute) and func.attr in ("sum", "mean")
              and "# ints" not in lines[node.lineno - 1]):
            found.append((node.lineno, f".{func.attr}()"))
    return found


def test_the_guard_sees_what_it_guards_against() -> None:
    source = ("a = sum(x)\nb = sum(y)  # ints\nc = np.log(z)\nd = np.dot(p, q)\n"
              "e = arr.sum()\nf = arr.sum()  # ints\n")
    assert unstable_calls(source) == [(1, "sum"), (3, "np.log"), (4, "np.dot"), (5, ".sum()")]


def test_the_core_has_no_machine_dependent_float_arithmetic() -> None:
    found = {f"{path.relative_to(DOMAIN)}:{line} {call}"
             for path in sorted(DOMAIN.rglob("*.py"))
             for line, call in unstable_calls(path.read_text(encoding="utf-8"))}
    assert found == set()
