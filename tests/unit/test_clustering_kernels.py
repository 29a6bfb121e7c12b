"""The compiled kernels (``storyline.domain.kernels``) against the numpy and dict code they
replaced, on random inputs full of ties: every result must be the same to the last bit
(compared as bytes, so even the sign of a zero counts), since assignments must not change."""

from __future__ import annotations

import random
import struct
import zlib
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_clustering_fast_paths import _candidates_by_loop
from test_clustering_fast_paths import _features as _features_of

from storyline.domain import clustering_text, dedup, kernels
from storyline.domain.clustering import Clusterer, ClusteringConfig
from storyline.domain.clustering_text import Query, SparseVector, Vocabulary, term_counts

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


# -- the text kernels (the extract stage's clustering_features) ---------------------------

_ODD = "aZbsu09-- \n\t'’.,ΣσςİıKßﬁéÉŉ\u0307\u00a0\u2028\x1c\x85?"
_TEXT = st.text(alphabet=st.sampled_from(_ODD) | st.characters(), max_size=120)
_WORDS = st.lists(st.sampled_from(["bank", "banks", "us", "bus", "buses", "crisis", "the",
                                   "-x-", "well-known", "yourselves", "Mr.", "a", "ss", "9z",
                                   "sss", "usss", "İx", "--", "says", "news", "ß", "ﬁns"]),
                  max_size=60).map(" ".join)


def _term_counts_by_counter(text: str) -> dict[str, int]:
    """``term_counts`` as it was before the kernel: words split in C, counted with a
    ``Counter``, one ``_normalise`` per distinct word."""
    counts: dict[str, int] = {}
    runs = text.lower().encode("ascii", "replace").translate(clustering_text._RUNS)
    for run, n in Counter(runs.decode("ascii").split()).items():
        word = run.strip("-") if run[0] == "-" or run[-1] == "-" else run
        term = clustering_text._normalise(word)
        if term is not None:
            counts[term] = counts.get(term, 0) + n
    return counts


@settings(max_examples=500, deadline=None)
@given(_TEXT | _WORDS)
def test_term_counts_are_those_of_the_counter_loop(text: str) -> None:
    assert list(term_counts(text).items()) == list(_term_counts_by_counter(text).items())


def test_every_stop_word_and_its_plural_form() -> None:
    for word in sorted(clustering_text.STOPWORDS):
        for text in (word, word + "s", "-" + word + "-", word.upper() + " x" + word):
            assert list(term_counts(text).items()) == list(_term_counts_by_counter(text).items())


def test_term_counts_of_a_long_text_with_many_distinct_terms() -> None:
    rng = random.Random(11)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz-") for _ in range(rng.randint(1, 14)))
             for _ in range(3000)]
    text = " ".join(rng.choice(words) for _ in range(20_000))
    assert list(term_counts(text).items()) == list(_term_counts_by_counter(text).items())


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _shingles_by_numpy(text: str) -> np.ndarray:
    """``dedup.shingles`` as it was before the kernel (zlib's CRC-32, numpy's uint64)."""
    words = dedup._opening_words(text)
    if not words:
        return np.zeros(0, dtype=np.uint32)
    h = np.fromiter(map(zlib.crc32, words), dtype=np.uint64, count=len(words))
    if len(words) >= 4:
        n = len(words) - 4 + 1
        acc = h[:n].copy()
        for i in range(1, 4):
            acc = acc * _MIX + h[i : i + n]
        h = acc
    h = (h ^ (h >> np.uint64(29))) * _MIX
    return np.unique((h >> np.uint64(32)).astype(np.uint32))


@settings(max_examples=500, deadline=None)
@given(_TEXT | _WORDS)
def test_shingles_are_those_of_zlib_and_numpy(text: str) -> None:
    got, want = dedup.shingles(text), _shingles_by_numpy(text)
    assert got.dtype == want.dtype == np.uint32
    assert got.tobytes() == want.tobytes()


def test_shingles_of_long_texts_and_every_byte() -> None:
    rng = random.Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .-'\u00e9"
    for n in (0, 1, 3, 4, 5, 399, 400, 401, 2000):
        text = " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
                        for _ in range(n))
        assert dedup.shingles(text).tobytes() == _shingles_by_numpy(text).tobytes()
    every = "".join(map(chr, range(256)))
    assert dedup.shingles(every).tobytes() == _shingles_by_numpy(every).tobytes()


def _top_by_lexsort(ids: np.ndarray, values: np.ndarray, k: int) -> tuple[bytes, bytes]:
    """``SparseVector.top_arrays`` as it was (numpy's lexsort)."""
    if len(ids) > k:
        keep = np.argpartition(-values, k - 1)[:k]
        ids, values = ids[keep], values[keep]
    order = np.lexsort((ids, -values))
    ids, values = ids[order], values[order]
    norm = float(np.sqrt(np.dot(values, values))) or 1.0
    return ids.astype(np.uint32).tobytes(), (values / norm).astype(np.float32).tobytes()


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.integers(0, 10_000), _WEIGHTS | st.floats(0.0, 5.0), max_size=60),
       st.integers(1, 70))
def test_top_arrays_keep_the_lexsort_order_and_numpys_selection(
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
    ids, values = centroid.merged_arrays(scale, vector)
    assert ids.dtype == np.int64 and values.dtype == np.float64
    assert (ids.tolist(), _bits(values.tolist())) == _merged_by_dict(centroid, scale, vector)


def test_warm_compiles_the_types_the_clusterer_passes() -> None:
    """``kernels.warm`` (run by scripts/setup.sh) compiles each kernel for the argument
    types of the clusterer's calls: after it, placing articles compiles nothing more."""
    kernels.warm()
    everything = (kernels.dots, kernels.merged, kernels.tally, kernels.terms, kernels.shingles)
    compiled = [list(kernel.signatures) for kernel in everything]
    c = Clusterer()
    for i, body in enumerate(["Oil spill spreads in the gulf as BP caps the well",
                              "BP caps the well in the gulf; the oil spill spreads",
                              "Flu cases rise in Mexico City as schools close"]):
        c.place(f"urn:w:{i}", _features_of(body))
    assert [list(kernel.signatures) for kernel in everything] == compiled
