"""The compiled kernels (``storyline.domain.kernels``) against the numpy and dict code they
replaced, on random inputs full of ties: every result must be the same to the last bit
(compared as bytes, so even the sign of a zero counts), since assignments must not change."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_clustering_fast_paths import _candidates_by_loop

from storyline.domain import kernels
from storyline.domain.clustering import Clusterer, ClusteringConfig
from storyline.domain.clustering_text import Query, SparseVector, Vocabulary

# few distinct values, so that equal sums (ties) are common
_WEIGHTS = st.sampled_from([0.0, 0.125, 0.25, 0.5, 0.1, 0.2, 0.3, 1 / 3, 0.7, 1.0])


def _bits(values: list[float]) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


def _dots_by_numpy(query_ids: np.ndarray, query_weights: np.ndarray, size: int,
                   ids: np.ndarray, weights: np.ndarray, lengths: np.ndarray) -> list[float]:
    """``Query.dots`` as it was in numpy: scatter, gather, multiply, one cumsum."""
    dense = np.zeros(size, dtype=np.float64)
    dense[query_ids] = query_weights
    contrib = dense[ids] * weights
    ends = np.cumsum(lengths)
    sums = np.concatenate(([0.0], np.cumsum(contrib)))
    out: list[float] = (sums[ends] - sums[ends - lengths]).tolist()
    return out


_VECTOR = st.lists(st.tuples(st.integers(0, 30), st.floats(-1.0, 1.0, width=32)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.integers(0, 30), st.floats(-1.0, 1.0), max_size=20),
       st.lists(_VECTOR, min_size=1, max_size=8))
def test_dots_are_the_numpy_dots_to_the_bit(query: dict[int, float],
                                            vectors: list[list[tuple[int, float]]]) -> None:
    query_ids = np.array(sorted(query), dtype=np.int64)
    query_weights = np.array([query[t] for t in sorted(query)], dtype=np.float64)
    lengths = np.array([len(v) for v in vectors], dtype=np.int64)
    ids = np.array([t for v in vectors for t, _ in v], dtype=np.uint32)
    weights = np.array([w for v in vectors for _, w in v], dtype=np.float32)
    dense = np.zeros(31, dtype=np.float64)
    got = kernels.dots(query_ids, query_weights, dense, ids, weights, lengths).tolist()
    want = _dots_by_numpy(query_ids, query_weights, 31, ids, weights, lengths)
    assert _bits(got) == _bits(want)
    assert not dense.any()  # the scratch array is left zeroed
    # and the uncompiled reference agrees with the compiled kernel
    reference = kernels.dots.py_func(query_ids, query_weights, dense, ids, weights, lengths)
    assert _bits(reference.tolist()) == _bits(got)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), max_size=6), max_size=10), st.data())
def test_tally_is_the_dict_tally_ranked(postings: list[list[int]], data: st.DataObject) -> None:
    weights = [data.draw(_WEIGHTS) for _ in postings]
    tally: dict[int, float] = {}
    for posting, weight in zip(postings, weights, strict=True):
        for seq in posting:
            tally[seq] = tally.get(seq, 0.0) + weight
    want = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
    seqs, sums = kernels.tally(
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
    got = [s.seq for s in c._candidates(query, names)]
    assert got == [s.seq for s in _candidates_by_loop(c, query, names)]


def test_query_dots_use_the_kernel_and_keep_the_binary_search_result() -> None:
    vocab = Vocabulary()
    for term in "abcdefgh":
        vocab.intern(term)
    query = Query(np.array([1, 3, 5], dtype=np.int64), np.array([0.5, 0.25, 0.125]), vocab)
    plain = Query(query.ids, query.weights)  # no vocabulary: numpy's binary search
    vectors = [SparseVector.top({1: 2.0, 2: 1.0, 5: 1.0}, 3), SparseVector.empty(),
               SparseVector.top({3: 1.0, 7: 3.0}, 2)]
    assert _bits(query.dots(vectors)) == _bits(plain.dots(vectors))
    assert not vocab.dense().any()
