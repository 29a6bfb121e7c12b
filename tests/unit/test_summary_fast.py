"""The summary's fast paths must give exactly what the plain code they replaced gives.

Each plain version below is the code as it was before its fast path (kept here as the
oracle), compared on drawn inputs bit for bit: floats by ``==`` on values that went
through the same IEEE operations, so a reordered sum or a dropped factor shows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.extract.analysis import Analysis, Sentence
from storyline.domain.extract.analysis import _analyse as _analyse_text
from storyline.domain.floats import log_of_ratio
from storyline.domain.page import summary
from storyline.domain.page.summary import Candidate

# -- themes: _distinctive, _weighted, _share, group -------------------------------------------


def _plain_distinctive(pool: Sequence[Candidate]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for c in pool:
        df.update(c.sentence.terms)
        df.update(f"@{k}" for k in c.sentence.names)
    n = len(pool)
    return {t: log_of_ratio(n + 1, c) for t, c in df.items()}


def _plain_features(c: Candidate) -> tuple[str, ...]:
    return c.sentence.terms + tuple(f"@{k}" for k in c.sentence.names)


def _plain_weighted(c: Candidate, idf: dict[str, float]
                    ) -> tuple[tuple[tuple[str, float], ...], float]:
    pairs: list[tuple[str, float]] = []
    total = 0.0
    for f in _plain_features(c):
        w = idf.get(f, 0.0) * (summary.NAME_FEATURE_WEIGHT if f.startswith("@") else 1.0)
        total += w
        pairs.append((f, w))
    return tuple(pairs), total


def _plain_share(weighted: tuple[tuple[tuple[str, float], ...], float], theme: set[str]
                 ) -> float:
    pairs, total = weighted
    covered = 0.0
    for f, w in pairs:
        if f in theme:
            covered += w
    return covered / total if total else 0.0


def _plain_group(pool: Sequence[Candidate], max_paragraphs: int, per_paragraph: int,
                 lead: Sequence[Candidate] = ()) -> list[list[Candidate]]:
    idf = _plain_distinctive(pool)
    weighted = {id(c): _plain_weighted(c, idf) for c in pool}
    remaining = list(pool)
    paragraphs: list[list[Candidate]] = []
    covered: set[str] = set()
    if lead and max_paragraphs > 0:
        members = list(lead[:per_paragraph])
        for c in members:
            remaining.remove(c)
            covered.update(_plain_features(c))
        paragraphs.append(members)
    while remaining and len(paragraphs) < max_paragraphs:
        seed = next((c for c in remaining
                     if _plain_share(weighted[id(c)], covered) < summary.SEED_OVERLAP),
                    remaining[0])
        remaining.remove(seed)
        members = [seed]
        theme = set(_plain_features(seed))
        for c in list(remaining):
            if len(members) >= per_paragraph:
                break
            if _plain_share(weighted[id(c)], theme) >= summary.THEME_MIN:
                members.append(c)
                theme.update(_plain_features(c))
                remaining.remove(c)
        while len(members) < per_paragraph:
            following = {(m.article.n, m.sentence.index + 1) for m in members}
            nxt = next((c for c in remaining
                        if (c.article.n, c.sentence.index) in following), None)
            if nxt is None:
                break
            members.append(nxt)
            theme.update(_plain_features(nxt))
            remaining.remove(nxt)
        paragraphs.append(members)
        covered |= theme
    return paragraphs


def _sentence(index: int, terms: Sequence[str], names: Sequence[str]) -> Sentence:
    return Sentence(index=index, text=" ".join(terms), terms=tuple(sorted(set(terms))),
                    numbers=frozenset(), negated=False, eligible=True,
                    names=tuple(sorted(set(names))), has_figure=False, keys=())


_TERMS = st.lists(st.sampled_from("abcdefghijkl"), max_size=8)
_NAMES = st.lists(st.sampled_from(["x", "y", "z", "a"]), max_size=3)  # "a": also a term
_POOLS = st.lists(st.tuples(st.integers(1, 6), st.integers(0, 3), _TERMS, _NAMES),
                  max_size=24)


def _pool(drawn: list[tuple[int, int, list[str], list[str]]]) -> list[Candidate]:
    return [Candidate(_sentence(index, terms, names),
                      SimpleNamespace(n=n),  # type: ignore[arg-type]  # group reads .n only
                      1.0, rank, {})
            for rank, (n, index, terms, names) in enumerate(drawn)]


@given(_POOLS, st.sets(st.sampled_from([*"abcdefghijkl", "@x", "@y", "@a"])))
@settings(max_examples=300, deadline=None)
def test_theme_weights_and_shares_equal_the_plain_ones(
        drawn: list[tuple[int, int, list[str], list[str]]], theme: set[str]) -> None:
    pool = _pool(drawn)
    features = summary._pool_features(pool)
    idf = summary._distinctive(pool, features)
    plain_idf = _plain_distinctive(pool)
    assert idf == plain_idf and list(idf) == list(plain_idf)  # values and order
    assert summary._distinctive(pool) == plain_idf
    for c in pool:
        fast = summary._weighted(c, idf, features[id(c)])
        plain = _plain_weighted(c, plain_idf)
        assert fast == (tuple(f for f, _ in plain[0]), tuple(w for _, w in plain[0]),
                        plain[1])
        assert summary._weighted(c, idf) == fast
        assert summary._share(fast, theme) == _plain_share(plain, theme)


@given(_POOLS, st.integers(0, 4), st.integers(1, 3), st.integers(0, 4))
@settings(max_examples=300, deadline=None)
def test_paragraphs_equal_the_plain_grouping(
        drawn: list[tuple[int, int, list[str], list[str]]], max_paragraphs: int,
        per_paragraph: int, lead: int) -> None:
    pool = _pool(drawn)
    lead_members = pool[:lead]
    plain = _plain_group(pool, max_paragraphs, per_paragraph, lead_members)
    assert summary.group(pool, max_paragraphs, per_paragraph, lead_members) == plain
    features = summary._pool_features(pool)
    idf = summary._distinctive(pool, features)
    assert summary.group(pool, max_paragraphs, per_paragraph, lead_members, idf,
                         features) == plain


def test_weights_add_in_feature_order() -> None:
    # three weights whose sum depends on the order of the additions: a fast path that adds
    # them in another order (or compensates, as the builtin sum does from Python 3.12) fails
    c = _pool([(1, 0, ["a", "b", "c"], [])])[0]
    idf = {"a": 1e16, "b": 1.0, "c": -1e16}
    _, weights, total = summary._weighted(c, idf)
    assert weights == (1e16, 1.0, -1e16)
    assert total == (0.0 + 1e16 + 1.0) + -1e16 == 0.0
    assert summary._share(summary._weighted(c, {"a": 1e16, "b": 1.0, "c": 1.0}), {"a", "b"}
                          ) == ((0.0 + 1e16) + 1.0) / ((0.0 + 1e16 + 1.0) + 1.0)
    assert not math.isnan(total)


# -- the redundancy of candidates: _redundant_kept ---------------------------------------------


def _plain_redundant(terms: frozenset[str], chosen: Sequence[frozenset[str]]) -> bool:
    for other in chosen:
        common = len(terms & other)
        union = len(terms) + len(other) - common
        if union and common / union >= summary.REDUNDANT:
            return True
    return False


@given(st.lists(st.lists(st.sampled_from("abcdefg"), max_size=5), min_size=1, max_size=12),
       st.lists(st.lists(st.integers(0, 11), max_size=14), min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_redundancy_kept_across_revisions_equals_a_pass_over_the_chosen(
        universe: list[list[str]], revisions: list[list[int]]) -> None:
    """Revisions asking about the same sentences in changing orders, with the answers
    kept from one to the next as ``candidates`` keeps them: every answer is what a pass
    over the chosen term sets gives, and the memo holds the last revision's only."""
    sentences = [_sentence(i, terms, ()) for i, terms in enumerate(universe)]
    known: dict[int, summary.Redundancy] = {}
    for order in revisions:
        asked: dict[int, summary.Redundancy] = {}
        chosen: dict[summary.PoolKey, frozenset[str]] = {}
        chosen_once: set[frozenset[str]] = set()
        for i in order:
            s = sentences[i % len(sentences)]
            terms = frozenset(s.terms)
            plain = _plain_redundant(terms, list(chosen.values()))
            entry = summary._redundancy_entry(s, known, asked)
            assert entry[1] == terms
            assert summary._redundant_kept(entry, chosen, chosen_once) == plain
            if not plain:
                chosen[(7 << 32) | s.index] = terms
                chosen_once.add(terms)
        known = asked
        assert set(known) <= {id(sentences[i % len(sentences)]) for i in order}


# -- statements kept for support checks: _statement --------------------------------------------

_TEXTS = ("Rescuers pulled 12 miners alive from the flooded pit on Sunday.",
          "Two more miners are still missing, the company said.",
          "Rescuers did not pull 12 miners alive from the flooded pit.",
          "The flooded pit had been closed for safety checks in 2009.")


def test_kept_statements_equal_the_ones_made_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every statement the cache gives is the one its analysis makes, through fills and
    emptyings of the table, for articles whose sentence i differ (the key must name the
    article, not only the sentence)."""
    analyses = [_analyse(_TEXTS[k:] + _TEXTS[:k]) for k in range(len(_TEXTS))]
    for cap in (3, 5, summary.STATEMENTS_CACHE):
        monkeypatch.setattr(summary, "STATEMENTS_CACHE", cap)
        summary._statements.clear()
        for _ in range(3):
            for analysis in analyses:
                for i in range(analysis.sentence_count):
                    assert summary._statement(analysis, i) == analysis.statement(i)
                    assert len(summary._statements) <= cap
    summary._statements.clear()


def _analyse(texts: tuple[str, ...]) -> Analysis:
    return _analyse_text(texts, (), frozenset())


# -- the cheap scores: _scored, _support_factor --------------------------------------------------


def _plain_scored(recent: Sequence[summary.Analysed], rank: dict[str, float],
                  weights: summary.StoryWeights
                  ) -> list[tuple[float, Sentence, summary.Analysed]]:
    """Every eligible lead sentence scored one at a time with the Python expressions the
    arrays stand for, sorted by (-score, article number, sentence index)."""
    out = []
    for pair in recent:
        article, analysis = pair
        for s in analysis.lead:
            if not s.eligible:
                continue
            shared = float(sum(1 for k in s.names if weights.shared(k)))  # ints
            score = weights.centrality(s.terms)
            score = score * (1.0 / (1.0 + summary.POSITION_DECAY * s.index))
            score = score * (1.0 + summary.RECENCY_BONUS * rank[article.uri])
            score = score * (1.0 + summary.SHARED_NAME_BONUS * min(shared,
                                                                   summary.SHARED_NAME_CAP))
            score = score * (summary.FIGURE_BONUS if s.has_figure else 1.0)
            out.append((score, s, pair))
    out.sort(key=lambda x: (-x[0], x[2][0].n, x[1].index))
    return out


def test_cheap_scores_equal_scoring_each_sentence() -> None:
    """``_scored`` over a story growing one article a revision (its flat rows cut and
    extended by the slides) gives what scoring each sentence alone gives, bit for bit and
    in the same order."""
    import datetime as dt

    from test_summary_caches import NAMES, STRIKE

    from storyline.domain.facts import ArticleFacts, CitedArticle

    t0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    texts = [sentences for _ in range(3) for sentences in STRIKE]
    articles = [CitedArticle(
        n=n, uri=f"urn:strike:{n}", version=1, source=f"Wire {n % 4}", headline=None,
        published=t0 + dt.timedelta(hours=7 * n), facts=ArticleFacts(
            uri=f"urn:strike:{n}", version=1, extractor_version="test", sentences=sentences,
            dates=(), figures=(), names=NAMES))
        for n, sentences in enumerate(texts, start=1)]
    memo = summary.SummaryMemo()
    compared = 0
    for end in range(1, len(articles) + 1):
        story = summary.analysed(articles[:end], memo)
        originals = summary.originals(story, memo)
        assert tuple(map(summary._second, originals)) == tuple(a for _, a in originals)
        weights = summary.story_weights(originals, memo)
        in_order = summary.by_time(story, memo)
        recent = in_order[-summary.CANDIDATE_ARTICLES:]
        rank = {a.uri: i / max(len(in_order) - 1, 1) for i, (a, _) in enumerate(in_order)}
        counts = summary._counts(originals, memo)
        fast = list(summary._scored(recent, rank, weights.size, counts, memo))
        assert fast == _plain_scored(recent, rank, weights)
        compared += len(fast)
    assert compared > 100


def test_support_factors_equal_the_direct_expression() -> None:
    from storyline.domain.floats import log2_of

    for support in [*range(64), 1000, 3]:
        assert summary._support_factor(support) == 1.0 + summary.SUPPORT_BONUS * log2_of(
            1 + support)


# -- templates and support read inline in candidates ---------------------------------------------

_LEADS = (
    "Members of the transit union voted to end the eight-day strike on Wednesday night.",
    "Halden Metro said trains and buses would run again from Friday morning.",
    "About 81 percent of the union members who voted backed the new contract.",
    "The union's president said the deal keeps the drivers' pensions for ten years.",
)
_FURNITURE = "Read more stories about the Halden transit strike on our website."


def test_candidates_with_the_memo_equal_the_plain_ones() -> None:
    """A story growing one article a revision: its candidates with the memo (templates and
    support read inline, from the memo's counts) equal those made afresh without one
    (``is_template`` and ``_lead_support`` called), revision by revision. One source leads
    with its page furniture every day (a template once it has TEMPLATE_DAYS days, and not
    before), and the sources copy each other's leads (support)."""
    import datetime as dt

    from storyline.domain.facts import ArticleFacts, CitedArticle

    t0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    articles = []
    for n in range(1, 15):
        source = n % 3
        lead = _LEADS[n % len(_LEADS)]
        sentences = ((_FURNITURE, lead) if source == 0
                     else (lead, _LEADS[(n + source) % len(_LEADS)], f"It was day {n}."))
        articles.append(CitedArticle(
            n=n, uri=f"urn:t:{n}", version=1, source=f"Wire {source}", headline=None,
            published=t0 + dt.timedelta(hours=11 * n), facts=ArticleFacts(
                uri=f"urn:t:{n}", version=1, extractor_version="test", sentences=sentences,
                dates=(), figures=(), names=())))
    memo = summary.SummaryMemo()
    templates_seen = supported_seen = 0
    for end in range(1, len(articles) + 1):
        story = summary.analysed(articles[:end], memo)
        weights = summary.story_weights(summary.originals(story, memo), memo)
        kept = summary.candidates(story, weights, (), memo)
        plain_story = summary.analysed(articles[:end])
        plain = summary.candidates(plain_story, summary.story_weights(
            summary.originals(plain_story)), ())
        assert [(c.sentence.text, c.article.n, c.score, c.rank) for c in kept] == [
            (c.sentence.text, c.article.n, c.score, c.rank) for c in plain]
        # best first by Candidate.sort_key, ranked in that order (the candidates are made
        # once sorted)
        assert [c.sort_key for c in kept] == sorted(c.sort_key for c in kept)
        assert [c.rank for c in kept] == list(range(len(kept)))
        assert all(c.name_forms is an.name_forms for c in kept for a, an in story
                   if a is c.article)
        templates = summary._templates(story, memo)
        templates_seen += any(summary.is_template(s, a.source, templates)
                              for a, an in story for s in an.lead)
        supported_seen += any(count for _, _, count in memo.lead_support.values())
    assert templates_seen and supported_seen  # both paths met


# -- the originals in time order: by_time ----------------------------------------------------------


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 30), st.booleans()),
                min_size=1, max_size=20))
@settings(max_examples=200, deadline=None)
def test_originals_in_time_order_equal_a_sort_by_a_key_function(
        drawn: list[tuple[int, int, bool]]) -> None:
    """Publication ties, number ties (the same article twice) and copies: the order (and
    the stable order of full ties) is the one sorting the pairs by (published, n) gives."""
    import datetime as dt

    t0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    story = [(SimpleNamespace(published=t0 + dt.timedelta(hours=hours), n=n,
                              copy_of=1 if copy else None), object())
             for hours, n, copy in drawn]
    found = summary.originals(story)  # type: ignore[arg-type]
    plain = sorted(found, key=lambda p: (p[0].published, p[0].n))
    fast = summary.by_time(story)  # type: ignore[arg-type]
    assert [id(p) for p in fast] == [id(p) for p in plain]


# -- support checks told from the text: _may_hold_numbers --------------------------------------

_TEXT = st.lists(st.sampled_from([*"ab1209,.’'s -", "\u0130", "S", "'s ", "’s ", "1,000"]),
                max_size=20).map("".join)


@given(st.lists(_TEXT, min_size=1, max_size=4), st.sets(st.sampled_from(
    ["12", "1000", "2009", "1.5", "9th", "0"]), max_size=2))
@settings(max_examples=400, deadline=None)
def test_the_numbers_told_from_the_text_never_drop_a_sentence_that_holds_them(
        texts: list[str], extra: set[str]) -> None:
    """A claim whose numbers a sentence's statement holds (all of them, or some of them) is
    never turned away by the text; one turned away holds not all of them."""
    analysis = _analyse(tuple(texts))
    summary._statements.clear()
    for i in range(analysis.sentence_count):
        numbers = analysis.statement(i).numbers
        for claim_numbers in (numbers, frozenset(list(numbers)[:1]), numbers | extra):
            claim = Sentence(index=0, text="", terms=("x",), numbers=frozenset(claim_numbers),
                             negated=False, eligible=True, names=(), has_figure=False, keys=())
            may = summary._may_hold_numbers(claim, analysis, i)
            assert may or not claim.numbers <= numbers
            if claim.numbers <= numbers:
                assert may
    summary._statements.clear()


def test_the_numbers_told_from_the_text_turn_away_a_sentence_without_them() -> None:
    analysis = _analyse(("Rescuers pulled 1,200 miners out by 9 p.m.",
                         "Rescuers pulled miners out."))
    summary._statements.clear()
    claim = analysis.lead[0]
    assert claim.numbers == {"1200", "9"}
    assert summary._may_hold_numbers(claim, analysis, 0)
    assert not summary._may_hold_numbers(claim, analysis, 1)
