"""The compiled kernels (``storyline.domain.assign.kernels``, switched on by
``kernels.use_compiled(True)``) against the portable Python/numpy code of the services they
stand in for, on random inputs full of ties: every result must be the same to the last bit
(compared as bytes, so even the sign of a zero counts), since assignments must not change.
Each test runs the services' own function twice, once each way."""

from __future__ import annotations

import math
import os
import random
import struct
import subprocess
import sys
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_clustering_fast_paths import _features as _features_of
from test_pipeline import STORIES, build_log, records
from test_stages import folded

from storyline.domain.assign import clustering_text, dedup, kernels
from storyline.domain.assign.clustering import Clusterer, ClusteringConfig
from storyline.domain.assign.clustering_text import Query, SparseVector, Vocabulary, term_counts
from storyline.settings import Settings, switch_kernels

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _portable_after() -> Iterator[None]:
    """The switch is process-wide: every test here leaves the portable default behind."""
    yield
    kernels.use_compiled(False)


def _both(fn: Callable[[], T]) -> tuple[T, T]:
    """``fn()`` with the portable code (the reference), then with the compiled kernels."""
    kernels.use_compiled(False)
    portable = fn()
    kernels.use_compiled(True)
    try:
        return portable, fn()
    finally:
        kernels.use_compiled(False)


def _compiled() -> kernels.Compiled:
    kernels.use_compiled(True)
    found = kernels.active()
    assert found is not None
    return found


# few distinct values, so that equal sums (ties) are common
_WEIGHTS = st.sampled_from([0.0, 0.125, 0.25, 0.5, 0.1, 0.2, 0.3, 1 / 3, 0.7, 1.0])


def _bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


_VECTOR = st.lists(st.tuples(st.integers(0, 30), st.floats(-1.0, 1.0, width=32)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.integers(0, 30), st.floats(-1.0, 1.0), max_size=20),
       st.lists(_VECTOR, min_size=1, max_size=8))
def test_dots_are_the_numpy_dots_to_the_bit(query: dict[int, float],
                                            vectors: list[list[tuple[int, float]]]) -> None:
    vocab = Vocabulary()
    for term in range(31):
        vocab.intern(f"t{term}")
    q = Query(np.array(sorted(query), dtype=np.int64),
              np.array([query[t] for t in sorted(query)], dtype=np.float64), vocab)
    sparse = [SparseVector(array("I", [t for t, _ in v]), array("f", [w for _, w in v]))
              for v in vectors]
    portable, compiled = _both(lambda: q.dots(sparse))
    assert _bits(compiled) == _bits(portable)
    assert not vocab.dense().any()  # the scratch array is left zeroed
    # and the uncompiled source of the kernel agrees with the compiled kernel (called
    # directly: Query.dots does not call it for an empty query or empty vectors)
    ids = np.frombuffer(b"".join(v.ids.tobytes() for v in sparse), dtype=np.uint32)
    weights = np.frombuffer(b"".join(v.weights.tobytes() for v in sparse), dtype=np.float32)
    lengths = np.array([len(v.ids) for v in sparse], dtype=np.int64)
    source = kernels._dots(q.ids, q.weights, vocab.dense(), ids, weights, lengths)
    direct = _compiled().dots(q.ids, q.weights, vocab.dense(), ids, weights, lengths)
    assert _bits(source.tolist()) == _bits(direct.tolist())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), max_size=6), max_size=10), st.data())
def test_tally_is_the_dict_tally_ranked(postings: list[list[int]], data: st.DataObject) -> None:
    weights = [data.draw(_WEIGHTS) for _ in postings]
    tally: dict[int, float] = {}
    for posting, weight in zip(postings, weights, strict=True):
        for seq in posting:
            tally[seq] = tally.get(seq, 0.0) + weight
    want = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
    seqs, sums = _compiled().tally(
        np.array([s for p in postings for s in p], dtype=np.int64),
        np.array([len(p) for p in postings], dtype=np.int64),
        np.array(weights, dtype=np.float64),
    )
    assert seqs.tolist() == [seq for seq, _ in want]
    assert _bits(sums.tolist()) == _bits([value for _, value in want])


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5), st.lists(st.tuples(st.integers(1, 12), st.integers(1, 12)), max_size=6),
       st.lists(st.lists(st.integers(1, 12), max_size=6), min_size=1, max_size=8),
       st.lists(st.lists(st.integers(1, 12), max_size=6), max_size=3),
       st.lists(st.integers(0, 12), max_size=4), st.data())
def test_candidates_with_aliases_dead_stories_and_ties_are_the_loop(
    cut: int, merges: list[tuple[int, int]], term_lists: list[list[int]],
    name_lists: list[list[int]], emptied: list[int], data: st.DataObject,
) -> None:
    """The ranked walk that stops past the cut gives what the full dict pass gave: stories
    absorbed into others (even into a story past the cut), stories emptied by withdrawals,
    sums tied at the cut."""
    c = Clusterer(ClusteringConfig(max_candidates=cut, query_names=3))
    stories = [c._found(f"urn:{n}", 0.0) for n in range(12)]  # seqs 1..12
    for story in stories:
        story.size = 1
    for a, b in merges:
        survivor, absorbed = c._live(stories[a - 1].id), c._live(stories[b - 1].id)
        if survivor is not absorbed:
            older, younger = sorted((survivor, absorbed), key=lambda s: s.seq)
            c._absorb(older, younger)
    for seq in emptied:
        if seq in c._stories:
            c._stories[seq].size = 0
    for t, posting in enumerate(term_lists):
        if posting:
            c._term_postings[str(t)] = posting
    names: dict[int, float] = {}
    for n, posting in enumerate(name_lists):
        names[n] = data.draw(_WEIGHTS)
        if posting:
            c._name_postings[str(n)] = posting
    weights = {t: data.draw(st.sampled_from([0.125, 0.25, 0.5])) for t in range(len(term_lists))}
    query = SparseVector.top(weights, len(weights))
    portable, compiled = _both(lambda: [s.seq for s in c._candidates(query, names)])
    assert compiled == portable


def test_query_dots_with_the_kernel_keep_the_binary_search_result() -> None:
    vocab = Vocabulary()
    for term in "abcdefgh":
        vocab.intern(term)
    query = Query(np.array([1, 3, 5], dtype=np.int64), np.array([0.5, 0.25, 0.125]), vocab)
    plain = Query(query.ids, query.weights)  # no vocabulary: numpy's binary search
    vectors = [SparseVector.top({1: 2.0, 2: 1.0, 5: 1.0}, 3), SparseVector.empty(),
               SparseVector.top({3: 1.0, 7: 3.0}, 2)]
    portable, compiled = _both(lambda: query.dots(vectors))
    assert _bits(compiled) == _bits(portable) == _bits(plain.dots(vectors))
    assert not vocab.dense().any()


# -- the text kernels (the extract stage's clustering_features) ---------------------------

_ODD = "aZbsu09-- \n\t'’.,ΣσςİıKßﬁéÉŉ\u0307\u00a0\u2028\x1c\x85?"
_TEXT = st.text(alphabet=st.sampled_from(_ODD) | st.characters(), max_size=120)
_WORDS = st.lists(st.sampled_from(["bank", "banks", "us", "bus", "buses", "crisis", "the",
                                   "-x-", "well-known", "yourselves", "Mr.", "a", "ss", "9z",
                                   "sss", "usss", "İx", "--", "says", "news", "ß", "ﬁns"]),
                  max_size=60).map(" ".join)


def _term_counts_both(text: str) -> None:
    portable, compiled = _both(lambda: list(term_counts(text).items()))
    assert compiled == portable


@settings(max_examples=500, deadline=None)
@given(_TEXT | _WORDS)
def test_term_counts_are_those_of_the_counter_loop(text: str) -> None:
    _term_counts_both(text)


def test_every_stop_word_and_its_plural_form() -> None:
    for word in sorted(clustering_text.STOPWORDS):
        for text in (word, word + "s", "-" + word + "-", word.upper() + " x" + word):
            _term_counts_both(text)


def test_term_counts_of_a_long_text_with_many_distinct_terms() -> None:
    rng = random.Random(11)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz-") for _ in range(rng.randint(1, 14)))
             for _ in range(3000)]
    text = " ".join(rng.choice(words) for _ in range(20_000))
    _term_counts_both(text)


def _shingles_both(text: str) -> None:
    portable, compiled = _both(lambda: dedup.shingles(text))
    assert compiled.dtype == portable.dtype == np.uint32
    assert compiled.tobytes() == portable.tobytes()


@settings(max_examples=500, deadline=None)
@given(_TEXT | _WORDS)
def test_shingles_are_those_of_zlib_and_numpy(text: str) -> None:
    _shingles_both(text)


def test_shingles_of_long_texts_and_every_byte() -> None:
    rng = random.Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .-'\u00e9"
    for n in (0, 1, 3, 4, 5, 399, 400, 401, 2000):
        text = " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
                        for _ in range(n))
        _shingles_both(text)
    every = "".join(map(chr, range(256)))
    _shingles_both(every)


def _top_by_lexsort(ids: np.ndarray, values: np.ndarray, k: int) -> tuple[bytes, bytes]:
    """``SparseVector.top_arrays`` by a full sort: the first ``k`` by (weight desc, id asc),
    normalised by the square root of their squares summed left to right."""
    order = np.lexsort((ids, -values))[:k]
    ids, values = ids[order], values[order]
    squares = 0.0
    for v in values.tolist():
        squares += v * v
    norm = math.sqrt(squares) or 1.0
    return ids.astype(np.uint32).tobytes(), (values / norm).astype(np.float32).tobytes()


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.integers(0, 10_000), _WEIGHTS | st.floats(0.0, 5.0), max_size=60),
       st.integers(1, 70))
def test_top_arrays_keep_the_first_by_weight_then_id(
    weights: dict[int, float], k: int
) -> None:
    ids = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
    values = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
    top = SparseVector.top_arrays(ids, values, k)
    if not weights:
        assert len(top.ids) == 0
        return
    assert (top.ids.tobytes(), top.weights.tobytes()) == _top_by_lexsort(ids, values, k)


def _merged_by_dict(centroid: SparseVector, scale: float, other: SparseVector
                    ) -> tuple[list[int], list[bytes]]:
    """What ``merged_arrays`` stands for: the dict ``_join`` once built."""
    merged = {t: w * scale for t, w in zip(centroid.ids, centroid.weights, strict=True)}
    for t, w in zip(other.ids, other.weights, strict=True):
        merged[t] = merged.get(t, 0.0) + w
    return list(merged), _bits(list(merged.values()))


_SPARSE = st.dictionaries(st.integers(0, 60), st.sampled_from([0.5, 1.0, 0.25, 2.0, 0.1, 3.0]),
                          max_size=25)


@settings(max_examples=400, deadline=None)
@given(_SPARSE, _SPARSE, st.sampled_from([0.0, 1.0, 2.0, 3.0, 7.0, 199.0, 200.0]),
       st.integers(1, 30), st.integers(1, 30))
def test_merged_arrays_are_the_dict_sums_in_the_dict_order(
    a: dict[int, float], b: dict[int, float], scale: float, ka: int, kb: int
) -> None:
    centroid, vector = SparseVector.top(a, ka), SparseVector.top(b, kb)
    portable, compiled = _both(lambda: centroid.merged_arrays(scale, vector))
    for ids, values in (portable, compiled):
        assert ids.dtype == np.int64 and values.dtype == np.float64
        assert (ids.tolist(), _bits(values.tolist())) == _merged_by_dict(centroid, scale, vector)


def test_warm_compiles_the_types_the_clusterer_passes() -> None:
    """``kernels.warm`` (run by scripts/setup.sh) compiles each kernel for the argument
    types of the clusterer's calls: after it, placing articles compiles nothing more."""
    kernels.warm()
    k = _compiled()
    everything = (k.dots, k.merged, k.tally, k.terms, k.shingles)
    compiled = [list(kernel.signatures) for kernel in everything]  # type: ignore[attr-defined]
    c = Clusterer()
    for i, body in enumerate(["Oil spill spreads in the gulf as BP caps the well",
                              "BP caps the well in the gulf; the oil spill spreads",
                              "Flu cases rise in Mexico City as schools close"]):
        c.place(f"urn:w:{i}", _features_of(body))
    assert [list(kernel.signatures) for kernel in everything] == compiled  # type: ignore[attr-defined]


_NO_NUMBA = """
import sys
from storyline.domain.assign import kernels
from storyline.domain.assign.clustering import Clusterer
from storyline.domain.assign.dedup import shingles
from test_clustering_fast_paths import _features
c = Clusterer()
for i, body in enumerate(["Oil spill spreads in the gulf as BP caps the well",
                          "BP caps the well in the gulf; the oil spill spreads"]):
    c.place(f"urn:d:{i}", _features(body))
shingles("one two three four five")
assert kernels.active() is None
assert "numba" not in sys.modules and "llvmlite" not in sys.modules, "numba imported"
kernels.use_compiled(True)
assert "numba" in sys.modules
print("ok")
"""


def test_the_default_does_not_import_numba() -> None:
    """Importing the clusterer and placing articles with the default (portable) code never
    imports numba: its ~130 MB and start-up are paid only when switched on."""
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, *sys.path])}
    done = subprocess.run([sys.executable, "-c", _NO_NUMBA], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_clusterer_places_the_same_either_way() -> None:
    """A few articles (a copy, joins, new stories) through a fresh clusterer each way."""
    bodies = ["Oil spill spreads in the gulf as BP caps the well",
              "BP caps the well in the gulf; the oil spill spreads",
              "Flu cases rise in Mexico City as schools close",
              "Schools close in Mexico City as flu cases rise again",
              "Oil spill spreads in the gulf as BP caps the well"]

    def fold() -> list[object]:
        c = Clusterer(ClusteringConfig())
        return [c.place(f"urn:p:{i}", _features_of(body)) for i, body in enumerate(bodies)]

    portable, compiled = _both(fold)
    assert compiled == portable


def test_the_setting_switches_the_path_and_a_fold_gives_the_same_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``STORYLINE_COMPILED_KERNELS`` (off by default) is what the entry points hand to
    ``switch_kernels``: a log of articles (copies, corrections, a withdrawal) folded each
    way gives the same events, byte for byte."""
    monkeypatch.delenv("STORYLINE_COMPILED_KERNELS", raising=False)
    assert Settings().compiled_kernels is False
    entries = [("flood", 0, "new"), ("flood", 1, "new"), ("flood", 1, "copy"),
               ("flood", 2, "new"), ("flood", 0, "correction"), ("flood", 3, "new"),
               ("flood", 5, "withdrawal"), ("flood", 4, "new")]
    entries += [(story, n, "new") for n in range(4) for story in sorted(STORIES)
                if story != "flood"]
    log = records(build_log(entries))
    out: dict[str, list[bytes | str]] = {}
    for flag in ("false", "true"):
        monkeypatch.setenv("STORYLINE_COMPILED_KERNELS", flag)
        settings = Settings()
        switch_kernels(settings)
        assert (kernels.active() is not None) is settings.compiled_kernels is (flag == "true")
        out[flag] = folded(log)
    assert out["false"] and all(isinstance(e, bytes) for e in out["false"])
    assert out["true"] == out["false"]


def test_switching_on_without_numba_says_what_to_install(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setattr(kernels, "_built", None)
    monkeypatch.setattr(kernels, "available", lambda: False)
    with pytest.raises(RuntimeError, match=r"storyline\[compiled\]"):
        kernels.use_compiled(True)
    assert kernels.active() is None
    kernels.use_compiled(False)  # switching off needs nothing


def test_switching_says_which_path_runs() -> None:
    # an operator comparing throughput or memory must see which code a process runs
    from structlog.testing import capture_logs

    from storyline.domain.assign import kernels as kernels_module
    from storyline.settings import Settings, switch_kernels

    try:
        with capture_logs() as logs:
            switch_kernels(Settings(compiled_kernels=False))
        assert [(e["event"], e["compiled"]) for e in logs] == [("clustering_kernels", False)]
        assert kernels_module.active() is None
    finally:
        kernels_module.use_compiled(False)
