"""The clusterer's faster paths against the plain loops they replaced (issue 10): the name
part of the score, the vocabulary's batch interning and the batch posting; and the candidate
ranking (with merged stories at the cut) against its reference loop. Each must give the
loops' results exactly (values, order, ties), since assignments must not change."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_clustering import article, facts, replay, step

from storyline.domain.assign import clustering, clustering_text
from storyline.domain.assign.clustering import (
    Clusterer,
    ClusteringConfig,
    _Story,
    clustering_features,
)
from storyline.domain.assign.clustering_text import Query, SparseVector, Vocabulary
from storyline.domain.coldstore import MemoryColdStore, SpilledMap
from storyline.domain.contracts import ClusteringFeatures
from storyline.domain.floats import log_of, log_of_ratio

# small caps, so that posting lists are trimmed and the candidate cut is reached with ties
TIGHT = ClusteringConfig(posting_cap=2, max_candidates=2, query_terms=6, query_names=2)


def _candidates_by_loop(c: Clusterer, query: SparseVector, names: dict[int, float]
                        ) -> list[_Story]:
    """``Clusterer._candidates`` written out (a numpy tally was tried and was slower)."""
    cfg = c.config
    tally: dict[int, float] = {}
    postings = c._term_postings.get_many(list(map(str, query.ids)))
    for posting, weight in zip(postings, query.weights, strict=True):
        for seq in posting or ():
            tally[seq] = tally.get(seq, 0.0) + weight
    top_names = sorted(names.items(), key=lambda item: (-item[1], item[0]))[: cfg.query_names]
    for posting in c._name_postings.get_many([str(nid) for nid, _ in top_names]):
        for seq in posting or ():
            tally[seq] = tally.get(seq, 0.0) + 0.5
    found: dict[int, float] = {}
    for seq, value in tally.items():
        while seq in c._merged_into:
            seq = c._merged_into[seq]
        story = c._stories.get(seq)
        if story is None or story.size == 0:
            continue
        if value > found.get(seq, -1.0):
            found[seq] = value
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return [c._stories[seq] for seq, _ in ranked[: cfg.max_candidates]]


def _name_score_by_loop(c: Clusterer, story: _Story, names: dict[int, float]) -> float:
    """The name part of ``_score`` as the pass over all the article's names it was."""
    score = 0.0
    floor = c.config.core_share * story.weight
    for nid, weight in names.items():
        carried = story.names.get(nid, 0.0)
        if carried >= floor and carried > 0:
            score += weight * min(1.0, carried / max(story.weight, 1.0))
    return score


def _features(body: str, *names: str) -> ClusteringFeatures:
    a = article("urn:probe", body)
    return clustering_features(a, facts(a, *names))




@settings(max_examples=40, deadline=None)
@given(st.lists(step, min_size=1, max_size=25), st.booleans())
def test_candidates_and_name_scores_are_the_loops(
    steps: list[tuple[str, list[str], list[str], int]], tight: bool,
) -> None:
    c = Clusterer(TIGHT if tight else ClusteringConfig())
    replay(steps, c)
    for _, sentences, names, _ in steps:
        features = _features("\n".join(sentences), *names)
        query, article_names = c._represent(features, count_df=False)
        top = SparseVector.top_arrays(query.ids, query.weights, c.config.query_terms)
        got = c._candidates(top, article_names)
        assert [s.seq for s in got] == [s.seq for s in _candidates_by_loop(c, top, article_names)]
        position = {nid: i for i, nid in enumerate(article_names)}
        for story in c._stories.values():
            # exactly the same float: the same additions in the same order
            assert c._name_score(story, article_names, position) == _name_score_by_loop(
                c, story, article_names)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from([f"t{i}" for i in range(12)]), unique=True),
                max_size=8),
       st.integers(min_value=1, max_value=6))
def test_intern_all_hands_out_the_ids_of_one_by_one(batches: list[list[str]], keep: int) -> None:
    batched, single = Vocabulary(), Vocabulary()
    for vocabulary in (batched, single):  # bounded: some terms are found by fingerprint
        vocabulary.ids.bound(keep)
    for terms in batches:
        assert batched.intern_all(terms) == [single.intern(t) for t in terms]
    assert batched.size == single.size


def _post_by_loop(c: Clusterer, postings: SpilledMap[list[int]], key: str, seq: int) -> None:
    """``Clusterer._post`` of one key, as it was."""
    posting = postings.get(key)
    if posting is None:
        postings[key] = [seq]
        return
    if posting[-1] == seq:
        return
    posting.append(seq)
    postings[key] = posting
    cap = c.config.posting_cap
    if len(posting) > 2 * cap:
        kept: list[int] = []
        seen: set[int] = set()
        for s in reversed(posting):
            if s not in seen:
                seen.add(s)
                kept.append(s)
                if len(kept) == cap:
                    break
        kept.reverse()
        postings[key] = kept


class _AskedMap(SpilledMap[list[int]]):
    """A spilled map that records the keys it is asked for."""

    def __init__(self, prefix: str, keep: int) -> None:
        super().__init__(prefix, keep)
        self.asked: list[str] = []

    def get_many(self, keys: Sequence[str], hold: bool = False) -> list[list[int] | None]:
        self.asked += keys
        return super().get_many(keys, hold)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 9), unique=True),
                          st.integers(min_value=1, max_value=5)), max_size=30),
       st.integers(min_value=1, max_value=5))
def test_batch_posting_is_posting_one_by_one(posts: list[tuple[list[int], int]], keep: int
                                             ) -> None:
    """Also for the ids handed out for the article being posted (from ``new_from`` on:
    here, those above every id posted before), which are posted without a look-up."""
    c = Clusterer(TIGHT)
    stores = MemoryColdStore(), MemoryColdStore()
    batched = _AskedMap("p:", keep)
    single: SpilledMap[list[int]] = SpilledMap("p:", keep)
    batched.attach(stores[0])
    single.attach(stores[1])
    posted: set[int] = set()
    for ids, seq in posts:
        new_from = max(posted, default=-1) + 1
        batched.asked = []
        c._post(batched, ids, new_from, seq)
        assert batched.asked == [str(i) for i in ids if i < new_from]
        for key in map(str, ids):
            _post_by_loop(c, single, key, seq)
        posted.update(ids)
    for key in map(str, range(10)):
        assert batched.get(key) == single.get(key)
    assert batched._recent == single._recent  # same entries held, in the same write order


def test_a_merged_story_past_the_cut_still_counts_at_its_survivor() -> None:
    """Ties at the last candidate place are broken by the *survivor's* sequence: a story
    absorbed into the oldest one, posted after two younger stories with the same tally, puts
    its survivor first."""
    c = Clusterer(ClusteringConfig(max_candidates=2))
    stories = [c._found(f"urn:{n}", 0.0) for n in range(4)]  # seqs 1..4
    for story in stories:
        story.size = 1
    c._absorb(stories[0], stories[3])  # 4 lives on as 1
    c._term_postings["7"] = [2, 3, 4]
    query = SparseVector.top({7: 1.0}, 1)
    got = [s.seq for s in c._candidates(query, {})]
    assert got == [s.seq for s in _candidates_by_loop(c, query, {})] == [1, 2]


# -- one sort for the article's query terms and its own vector (session 29) ----------------

_terms_with_weights = st.lists(
    st.tuples(st.integers(0, 5_000),
              st.one_of(st.integers(1, 4).map(float),  # ties, at the cut too
                        st.floats(1e-6, 50.0, allow_nan=False))),
    min_size=0, max_size=400, unique_by=lambda pair: pair[0])


def _arrays(pairs: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([i for i, _ in pairs], dtype=np.int64),
            np.array([w for _, w in pairs], dtype=np.float64))


def _same(a: SparseVector, b: SparseVector) -> bool:
    return bytes(a.ids) == bytes(b.ids) and bytes(a.weights) == bytes(b.weights)


@settings(max_examples=200, deadline=None)
@given(_terms_with_weights, st.lists(st.integers(0, 450), min_size=1, max_size=3))
def test_top_prefixes_are_top_arrays(pairs: list[tuple[int, float]], ks: list[int]) -> None:
    ids, values = _arrays(pairs)
    got = SparseVector.top_prefixes(ids, values, ks)
    assert all(_same(g, SparseVector.top_arrays(ids, values, k))
               for g, k in zip(got, ks, strict=True))
    query = Query(np.sort(ids), values[np.argsort(ids)])
    first = query.tops(*ks[:1])
    assert [bytes(v.weights) for v in query.tops(*ks)] == [
        bytes(SparseVector.top_arrays(query.ids, query.weights, k).weights) for k in ks]
    assert query.tops(*ks[:1])[0] is first[0]  # kept


@settings(max_examples=200, deadline=None)
@given(_terms_with_weights, st.integers(0, 450))
def test_sorting_all_terms_finds_the_first_k_as_top_k(pairs: list[tuple[int, float]], k: int,
                                                     ) -> None:
    """``_first`` sorts every term up to ``_SORT_ALL`` of them, else partitions first."""
    ids, values = _arrays(pairs)
    if k == 0 or len(ids) == 0:
        return
    sorted_all = clustering_text._first(ids, values, k)
    saved = clustering_text._SORT_ALL
    clustering_text._SORT_ALL = 0
    try:
        partitioned = clustering_text._first(ids, values, k)
    finally:
        clustering_text._SORT_ALL = saved
    assert sorted_all[0].tolist() == partitioned[0].tolist()
    assert sorted_all[1].tolist() == partitioned[1].tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(step, min_size=1, max_size=20))
def test_name_weights_are_the_logarithms_one_by_one(
    steps: list[tuple[str, list[str], list[str], int]],
) -> None:
    c = Clusterer()
    replay(steps, c)
    for _, sentences, names, _ in steps:
        features = _features("\n".join(sentences), *names)
        _, weights = c._represent(features, count_df=True)
        docs = c._names.docs + 1
        nids = c._names.intern_all(features.names.canonical)
        counts: dict[int, int] = {}
        for nid, count in zip(nids, features.names.count, strict=True):
            counts[nid] = counts.get(nid, 0) + count
        assert weights == {
            n: (1.0 + log_of(k)) * (log_of_ratio(docs, int(c._names.df[n]) + 1) + 1.0)
            for n, k in counts.items()}
        assert list(weights) == list(counts)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from([f"t{i}" for i in range(12)])), max_size=8))
def test_intern_all_unbounded_adds_new_terms_as_one_by_one(batches: list[list[str]]) -> None:
    """Unbounded (no cold store), the new terms of a batch (repeated ones too, as a name can
    be) are added at once, in order of first use."""
    batched, single = Vocabulary(), Vocabulary()
    batched.df = single.df = np.zeros(2, dtype=np.int64)  # grown on the way
    for terms in batches:
        assert batched.intern_all(terms) == [single.intern(t) for t in terms]
        assert (batched.size, batched.strings, len(batched.df)) == (
            single.size, single.strings, len(single.df))
        assert list(batched.ids._recent.items()) == list(single.ids._recent.items())


@given(st.dictionaries(st.integers(0, 50), st.one_of(st.integers(0, 3).map(float),
                                                     st.floats(0.0, 10.0)), max_size=40),
       st.integers(0, 45))
def test_heaviest_is_the_sort_by_weight_then_id(weights: dict[int, float], k: int) -> None:
    assert clustering._heaviest(weights, k) == sorted(
        weights.items(), key=lambda item: (-item[1], item[0]))[:k]


@settings(max_examples=40, deadline=None)
@given(st.lists(step, min_size=1, max_size=25), st.booleans())
def test_the_identity_rule_with_the_shared_names_is_the_rule(
    steps: list[tuple[str, list[str], list[str], int]], tight: bool,
) -> None:
    c = Clusterer(TIGHT if tight else ClusteringConfig(widespread_min=1))
    replay(steps, c)
    for _, sentences, names, _ in steps:
        features = _features("\n".join(sentences), *names)
        _, article_names = c._represent(features, count_df=False)
        position = {nid: i for i, nid in enumerate(article_names)}
        for story in c._stories.values():
            shared = article_names.keys() & story.names.keys()
            for lead in (-1, *article_names):
                assert c._identity_refusal(story, article_names, lead, shared) == \
                    c._identity_refusal(story, article_names, lead)
            assert c._name_score(story, article_names, position, shared) == \
                c._name_score(story, article_names, position)
