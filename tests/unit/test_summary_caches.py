"""The summary's speed caches must give exactly what the direct computations give."""

from __future__ import annotations

import datetime as dt
import math
import zlib
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.events import Citation, DatePrecision, TimelineEntry
from storyline.domain.extract import analysis as analysis_module
from storyline.domain.facts import ArticleFacts, CitedArticle, NameKind, NameMention
from storyline.domain.page import summary


def _direct_minhash(terms: tuple[str, ...]) -> tuple[int, ...]:
    encoded = [t.encode() for t in terms]
    mins = [min(zlib.crc32(e, seed) for e in encoded) for seed in analysis_module.MINHASH_SEEDS]
    return tuple((band << 64) | (mins[2 * band] << 32) | mins[2 * band + 1]
                 for band in range(len(analysis_module.MINHASH_SEEDS) // 2))


def test_minhash_keys_equal_direct_crc32() -> None:
    texts = ["Troops crossed the border at dawn on Friday, officials said.",
             "The rig burned for 36 hours before it sank into the Gulf.",
             "Troops crossed the border at dawn."]
    for text in texts * 2:  # the second pass is served from the term table
        terms = analysis_module.terms_of(text)
        assert analysis_module._minhash_keys(terms) == _direct_minhash(terms)
    analysis_module._TERM_HASHES.clear()
    terms = analysis_module.terms_of(texts[0])
    assert analysis_module._minhash_keys(terms) == _direct_minhash(terms)


def test_cached_support_equals_support() -> None:
    analysis = analysis_module._analyse(
        ("Rescuers pulled 12 miners alive from the flooded pit on Sunday.",
         "Rescuers pulled 12 miners alive from the flooded pit late Sunday.",
         "Rescuers did not pull 12 miners alive from the flooded pit."),
        (), frozenset())
    lead = analysis.lead
    assert len(lead) == 3
    statements = [analysis.statement(i) for i in range(analysis.sentence_count)]
    for claim in lead:
        for other in (*lead, *statements):
            for _ in range(2):
                assert summary._supports_cached(claim, other) == summary.supports(claim, other)


SENTENCES = (
    "Rescuers pulled 12 miners alive from the flooded pit on Sunday.",
    "Rescuers pulled 12 miners alive from the flooded pit late Sunday.",
    "Two more miners are still missing, the company said.",
    "Ok.",
    "Rescuers did not pull 12 miners alive from the flooded pit.",
    "The flooded pit had been closed for safety checks in 2009, the company said.",
    "Rescuers pulled 12 miners alive from the flooded pit on Sunday.",
)


def test_statements_built_on_demand_equal_the_direct_ones() -> None:
    analysis = analysis_module._analyse(SENTENCES, (), frozenset())
    for i, raw in enumerate(SENTENCES):
        words = tuple(analysis_module.tokens(raw))
        direct = analysis_module.Plain(
            analysis_module.terms_of(raw),
            frozenset(w.replace(",", "") for w in words if w[0].isdigit()),
            analysis_module._negated(words), words)
        assert analysis.sentence(i) == raw
        built = analysis.statement(i)
        assert built == direct
        assert analysis.statement(i) == built  # made anew, equal (not kept: see statement)


def test_band_arrays_find_what_a_key_index_finds() -> None:
    analysis = analysis_module._analyse(SENTENCES, (), frozenset())
    index: dict[int, list[int]] = {}
    for i, raw in enumerate(SENTENCES):
        terms = analysis_module.terms_of(raw)
        for key in (analysis_module._minhash_keys(terms) if len(terms) >= 3 else ()):
            index.setdefault(key, []).append(i)
    assert index, "the sentences have keys"
    for key, found in index.items():
        assert list(analysis.sentences_with(key)) == found
        other_band = key ^ (1 << 64) if key >> 64 < 3 else key - (1 << 64)
        assert list(analysis.sentences_with(other_band)) == index.get(other_band, [])
    assert list(analysis.sentences_with(12345)) == []


def test_remembered_supporting_sentences_equal_the_direct_search() -> None:
    claims = analysis_module._analyse(SENTENCES, (), frozenset()).lead
    others = [analysis_module._analyse(SENTENCES[k:] + SENTENCES[:k], (), frozenset())
              for k in range(len(SENTENCES))]

    def direct(claim: analysis_module.Sentence, analysis: analysis_module.Analysis) -> int | None:
        found = [i for key in claim.keys for i in analysis.sentences_with(key)
                 if summary.supports(claim, analysis.statement(i))]
        return min(found, default=None)

    for claim in claims:
        for other in others:
            for _ in range(2):  # the second time from the claim's memo
                assert summary._supporting_sentence(claim, other) == direct(claim, other)
    assert len({a.serial for a in others}) == len(others)


def _direct_label_options(members: list[summary.Candidate], idf: dict[str, float]
                          ) -> list[tuple[int, float, str]]:
    """``_label_options`` as it was before its phrases were cached per sentence."""
    term_sets = [frozenset(c.sentence.terms) for c in members]
    found: dict[str, tuple[int, float, str]] = {}
    for c in members:
        surfaces = sorted({form[0] for key in c.sentence.names
                           if (form := c.name_forms.get(key)) is not None
                           and form[1] is not NameKind.OTHER and len(form[0]) >= 3})
        text = c.sentence.text
        for start, end in summary._phrase_spans(text, surfaces):
            phrase = text[start:end]
            if len(phrase.split()) > summary.KEY_PHRASE_WORDS or phrase.lower() in found:
                continue
            terms = analysis_module._plain_terms(analysis_module.tokens(phrase))
            if not terms:
                continue
            weight = sum(idf.get(t, 0.0) * sum(1 for ts in term_sets if t in ts)
                         for t in terms) / len(members)
            having = sum(1 for ts in term_sets if ts.issuperset(terms))
            found[phrase.lower()] = (having, weight / math.sqrt(len(terms)), phrase)
    return sorted(found.values(), key=lambda o: (-o[0], -o[1], -len(o[2].split()), o[2]))


STRIKE = (
    ("The Transit Workers Union Local 12 rejected a tentative agreement with Halden Metro on "
     "Monday, union leaders said.",
     "Halden Metro said the tentative agreement offered a raise of 3 percent a year."),
    ("Members of Transit Workers Union Local 12 voted to end the strike after a tentative "
     "agreement was reached late on Wednesday.",
     "Metro trains and buses returned to the streets of Port Halden on Friday morning."),
    ("Marta Lindqvist, the union's president, said the strike would go on until the city "
     "council approved the new contract.",
     "The eight-day strike was the longest on the Halden Metro network since 2011."),
    ("About 81 percent of the union members who voted backed the deal, the union said.",
     "The Tentative Agreement was signed by both sides and keeps the drivers' pensions."),
    ("The Amalgamated Transit Union of Port Halden Bus Drivers backed the strike on Tuesday.",
     "Its drivers said the strike had cost them a week of pay but was worth it."),
)
NAMES = (
    NameMention(canonical="transit workers union local", display="Transit Workers Union Local",
                kind=NameKind.ORGANISATION, count=2, first_sentence=0),
    NameMention(canonical="halden metro", display="Halden Metro", kind=NameKind.ORGANISATION,
                count=2, first_sentence=0),
    NameMention(canonical="marta lindqvist", display="Marta Lindqvist", kind=NameKind.PERSON,
                count=1, first_sentence=0),
    NameMention(canonical="port halden", display="Port Halden", kind=NameKind.PLACE, count=1,
                first_sentence=1),
    NameMention(canonical="amalgamated transit union of port halden bus drivers",
                display="Amalgamated Transit Union of Port Halden Bus Drivers",
                kind=NameKind.ORGANISATION, count=1, first_sentence=0),
)


def test_label_options_from_cached_phrases_equal_the_direct_ones() -> None:
    t0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    articles = [CitedArticle(
        n=n, uri=f"urn:strike:{n}", version=1, source=f"Wire {n}", headline=None,
        published=t0 + dt.timedelta(days=n), facts=ArticleFacts(
            uri=f"urn:strike:{n}", version=1, extractor_version="test", sentences=sentences,
            dates=(), figures=(), names=NAMES))
        for n, sentences in enumerate(STRIKE, start=1)]
    story = summary.analysed(articles)
    pool = summary.candidates(story, summary.story_weights(summary.originals(story)))
    idf = summary._distinctive(pool)
    paragraphs = summary.group(pool, 4, 3, summary.latest_development(pool))
    assert paragraphs and summary.group(pool, 4, 3, summary.latest_development(pool), idf) == (
        paragraphs)
    summary._sentence_phrases.cache_clear()
    labels = 0
    for _ in range(2):  # the second time from the cache
        # the paragraphs, and the whole pool as one (every phrase, long names, the same
        # phrase written in other cases)
        for members in [*paragraphs, list(pool)]:
            members = sorted(members, key=lambda c: c.rank)
            options = summary._label_options(members, idf)
            assert options == _direct_label_options(members, idf)
            labels += bool(options)
    assert labels and summary._sentence_phrases.cache_info().hits > 0


def _rotations() -> list[analysis_module.Analysis]:
    """Articles that share sentences in part: every rotation of SENTENCES, and every other
    sentence of each."""
    out = []
    for k in range(len(SENTENCES)):
        rotated = SENTENCES[k:] + SENTENCES[:k]
        out.append(analysis_module._analyse(rotated, (), frozenset()))
        out.append(analysis_module._analyse(rotated[::2], (), frozenset()))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(1, 8)), min_size=1, max_size=12),
       st.sampled_from([0, 1, 3, summary.KEY_TAIL]))
def test_a_claims_supporters_from_the_key_index_equal_a_pass_over_the_window(
        windows: list[tuple[int, int]], tail: int) -> None:
    """The memo's packed min-hash key index, kept across slides (made again over the whole
    window once more than KEY_TAIL articles joined after it) and made anew on any other
    change, finds every article of the window that supports a claim, in window order: what
    asking each article finds. (Windows of 1-8 articles: with KEY_TAIL at its default the
    index is never made, hence the smaller tails drawn.)"""
    kept = summary.KEY_TAIL
    summary.KEY_TAIL = tail
    try:
        _supporters_equal_a_pass(windows)
    finally:
        summary.KEY_TAIL = kept


def _supporters_equal_a_pass(windows: list[tuple[int, int]]) -> None:
    articles = _rotations()
    claims = analysis_module._analyse(SENTENCES, (), frozenset()).lead
    memo = summary.SummaryMemo()
    start = 0
    for step, size in windows:
        # mostly slides forward (the window's usual change), sometimes a jump back
        start = (start + step) % len(articles) if step < 12 else step - 12
        story = [(None, a) for a in articles[start:start + size]]
        if not story:
            continue
        summary._window(story, memo)  # type: ignore[arg-type]
        rebuilt: dict[int, list[int]] = {}
        for k, (_, a) in enumerate(story):
            for key in a.minhash_keys():
                rebuilt.setdefault(key, []).append(memo.window_first + k)
        # every key's positions from the window's first on, from the packed index and its
        # tail, equal a pass over the window; the index covers all but KEY_TAIL at most
        for key, positions in rebuilt.items():
            found = summary._sharing((key,), memo.window_first, story, memo)  # type: ignore[arg-type]
            assert sorted(found) == positions
            later = positions[len(positions) // 2]  # and from a later position on
            assert sorted(summary._sharing((key,), later, story, memo)  # type: ignore[arg-type]
                          ) == [p for p in positions if p >= later]
        index = memo.key_index
        indexed = memo.window_first if index is None else index.end
        assert memo.window_first + len(story) - indexed <= summary.KEY_TAIL
        for claim in claims:
            direct = [(k, i) for k, (_, a) in enumerate(story)
                      if (i := summary._supporting_sentence(claim, a)) is not None]
            assert summary._supporters(claim, story, memo) == direct  # type: ignore[arg-type]


_TERM_SETS = st.lists(st.frozensets(st.sampled_from("abcdefgh"), max_size=6), max_size=8)


def _jaccard_at_least(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    union = a | b
    return bool(union) and len(a & b) / len(union) >= threshold


@given(terms=st.frozensets(st.sampled_from("abcdefgh"), max_size=6), chosen=_TERM_SETS)
@settings(max_examples=300, deadline=None)
def test_redundancy_with_the_chosen_sets_lookup_equals_a_pass_over_the_pool(
        terms: frozenset[str], chosen: list[frozenset[str]]) -> None:
    direct = any(_jaccard_at_least(terms, other, summary.REDUNDANT) for other in chosen)
    assert summary._redundant_kept(_fresh_entry(terms), dict(enumerate(chosen)),
                                   set(chosen)) == direct
    assert summary._similar_to_any(terms, chosen, summary.ON_TIMELINE_JACCARD) == any(
        _jaccard_at_least(terms, other, summary.ON_TIMELINE_JACCARD) for other in chosen)


def test_an_empty_sentence_is_not_redundant_with_another_empty_one() -> None:
    # the lookup must not call two empty term sets the same statement (no Jaccard)
    assert not summary._redundant_kept(_fresh_entry(frozenset()), {0: frozenset()},
                                       {frozenset()})


def _fresh_entry(terms: frozenset[str]) -> summary.Redundancy:
    """A redundancy entry that has learnt nothing yet (its sentence is not read)."""
    return cast(summary.Redundancy, (None, terms, set(), set()))


def test_the_timeline_sets_kept_by_text_follow_the_timeline() -> None:
    memo = summary.SummaryMemo()
    texts = ["Rescuers pulled 12 miners alive on Sunday.", "The pit flooded on Friday."]
    entries = [_entry(text) for text in texts]
    assert summary._timeline_sets(entries, memo) == [
        frozenset(analysis_module.terms_of(t)) for t in texts]
    changed = [_entry("Two more miners are still missing."), entries[1]]
    assert summary._timeline_sets(changed, memo) == [
        frozenset(analysis_module.terms_of(e.text)) for e in changed]
    assert set(memo.timeline_sets) == {e.text for e in changed}  # the old text let go


def _entry(text: str) -> TimelineEntry:
    day = dt.date(2026, 3, 8)
    return TimelineEntry(entry_id=f"e{zlib.crc32(text.encode())}", date=day, date_end=day,
                         date_precision=DatePrecision.DAY, date_label="Mar 8, 2026",
                         date_stated=True, text=text,
                         citations=(Citation(n=1, uri="u1", version=1, sentence=0),),
                         independent_sources=1)


def test_on_timeline_answers_kept_in_the_memo_follow_the_timeline() -> None:
    memo = summary.SummaryMemo()
    claim = analysis_module._analyse(
        ("Rescuers pulled 12 miners alive from the pit on Sunday.",), (), frozenset()).lead[0]
    terms = frozenset(claim.terms)
    timelines = [["Rescuers pulled 12 miners alive from the pit on Sunday.",
                  "The pit flooded on Friday."],
                 ["The pit flooded on Friday."],
                 ["The pit flooded on Friday.",
                  "Rescuers pulled 12 miners alive from the pit on Sunday."]]
    answers = []
    for texts in timelines:
        sets = summary._timeline_sets([_entry(t) for t in texts], memo)
        direct = summary._similar_to_any(terms, sets, summary.ON_TIMELINE_JACCARD)
        for _ in range(2):  # the second answer comes from the last revision's
            asked: dict[int, tuple[analysis_module.Sentence, bool]] = {}
            assert summary._on_timeline(claim, terms, sets, memo.on_timeline, asked) == direct
            memo.on_timeline = asked
        answers.append(direct)
    assert answers == [True, False, True]


@given(st.lists(st.lists(st.sampled_from(["fire", "rig", "gulf", "oil", "36", "sank", "crew",
                                          "coast", "guard", "well"]),
                         min_size=1, max_size=7, unique=True), max_size=9),
       st.integers(1, 12))
@settings(max_examples=200, deadline=None)
def test_an_articles_keys_made_at_once_equal_each_sentences_own(
        term_lists: list[list[str]], table_size: int) -> None:
    saved = analysis_module.TERM_HASHES_SIZE
    analysis_module.TERM_HASHES_SIZE = table_size  # the table emptied between calls too
    try:
        keyed = [tuple(terms) for terms in term_lists]
        at = [3 * i + 1 for i in range(len(keyed))]
        mins = analysis_module._minhash_mins(keyed) if keyed else None
        keys = analysis_module._keys_of(mins) if mins is not None else []
        assert keys == [_direct_minhash(terms) for terms in keyed]
        band_keys, band_sentences = analysis_module._band_arrays(mins, at)
        for band in range(len(analysis_module.MINHASH_SEEDS) // 2):
            expected = sorted((key[band] & ((1 << 64) - 1), i)
                              for key, i in zip(keys, at, strict=True))
            assert len(band_keys[band]) == len(band_sentences[band])
            assert list(zip(band_keys[band], band_sentences[band], strict=True)) == expected
    finally:
        analysis_module.TERM_HASHES_SIZE = saved


def _cited(n: int, source: str) -> CitedArticle:
    """An article of ``source`` (what the lead index reads of it, besides its analysis)."""
    return CitedArticle(
        n=n, uri=f"urn:rot:{n}", version=1, source=source, headline=None,
        published=dt.datetime(2026, 3, 2, tzinfo=dt.UTC) + dt.timedelta(hours=n),
        facts=ArticleFacts(uri=f"urn:rot:{n}", version=1, extractor_version="test",
                           sentences=SENTENCES, dates=(), figures=(), names=()))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(1, 8)), min_size=1, max_size=12))
def test_kept_lead_support_counts_equal_a_recount_at_every_window(
        windows: list[tuple[int, int]]) -> None:
    """The memo's support counts, let go of when a band of theirs changes, equal a count
    over the lead index at every window: slides forward (the usual change) and jumps."""
    articles = [(_cited(k + 1, f"outlet {k % 3}"), a) for k, a in enumerate(_rotations())]
    memo = summary.SummaryMemo()
    start = 0
    for step, size in windows:
        start = (start + step) % len(articles) if step < 12 else step - 12
        story = articles[start:start + size]
        if not story:
            continue
        index = summary._lead_index(story, memo)
        for article, analysis in story:
            for s in analysis.lead:
                expected = summary._lead_support(s, article.source, index)
                assert summary._lead_support_kept(s, article.source, index, memo) == expected


def test_sentences_unpacked_for_support_checks_are_each_analysis_own() -> None:
    """``Analysis.sentence`` keeps the last UNPACKED_KEPT analyses' sentences by serial: asked
    in turns over more analyses than it keeps, each answer is the analysis's own sentence."""
    kept = analysis_module.UNPACKED_KEPT
    analyses = [analysis_module._analyse((f"Story {i} opened on day {i}.",
                                          f"Officials counted {i} boats."), (), frozenset())
                for i in range(kept + 3)]
    for _ in range(2):
        for i, analysis in enumerate(analyses):
            assert analysis.sentence(1) == f"Officials counted {i} boats."
            assert analysis.sentence(0) == f"Story {i} opened on day {i}."
    assert len(analysis_module._unpacked) == kept
    newest = analyses[-1]
    assert next(reversed(analysis_module._unpacked)) == newest.serial
