"""The structures that keep a revision's cost flat in the size of the story must give exactly
what a from-scratch computation gives, over random sequences of joins, corrections,
withdrawals and merges: the timeline's kept ranking, the summary's counts and citations, the
page's article list, hash and change."""

from __future__ import annotations

import math
import pickle
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from storyline.domain.events import DatePrecision, TimelineEntry
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.extract.timeline_input import TimelineInput, _Statement
from storyline.domain.facts import ArticleFacts, CitedArticle, DateMention, TimeSpan
from storyline.domain.page import timeline as tl
from storyline.domain.page.timeline import TimelineIndex
from storyline.domain.page.timeline_select import rank_dates
from storyline.ingest.files import iter_file


def fold_extracted(state: object, article: object, *, duplicate_of: str | None) -> object:
    """``story.fold_article`` with what the extract stage carries, as the pipeline calls it."""
    from storyline.domain.page import story
    from storyline.domain.stages import LogPosition, extract

    extracted = extract(article, LogPosition("articles", 0, 0))  # type: ignore[arg-type]
    assert extracted.facts and extracted.timeline and extracted.summary
    return story.fold_article(state, extracted, extracted.facts,  # type: ignore[arg-type]
                              duplicate_of=duplicate_of, timeline=extracted.timeline,
                              summary=extracted.summary)

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "wire" / "articles.jsonl"

WORDS = [f"w{i}" for i in range(9)]
DAYS = [date(2010, 4, 18) + timedelta(days=i) for i in range(12)]


def _span(day: int, month: bool) -> TimeSpan:
    start = DAYS[day]
    if month:
        first = start.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return TimeSpan(start=first, end=last, precision=DatePrecision.MONTH)
    return TimeSpan(start=start, end=start, precision=DatePrecision.DAY)


# (day, month-precise, words, stated): a statement; its article's publication day decides
# whether it is a plan (dated after it)
statements = st.lists(
    st.tuples(st.integers(0, len(DAYS) - 1), st.booleans(),
              st.lists(st.sampled_from(WORDS), min_size=3, max_size=7, unique=True),
              st.booleans()),
    min_size=0, max_size=3)
# (statements, days mentioned, copy choice, publication day)
articles = st.tuples(statements, st.lists(st.integers(0, len(DAYS) - 1), max_size=3),
                     st.integers(0, 3), st.integers(0, len(DAYS) - 1))
# ("add", article), ("withdraw", k), ("correct", k, article)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), articles),
        st.tuples(st.just("withdraw"), st.integers(0, 50)),
        st.tuples(st.just("correct"), st.integers(0, 50), articles),
    ),
    min_size=1, max_size=30)


Spec = tuple[list[tuple[int, bool, list[str], bool]], list[int], int, int]


def _input(spec: Spec, uri: str) -> TimelineInput:
    stated, days, _, _ = spec
    return TimelineInput(
        days=tuple(dict.fromkeys(DAYS[d] for d in days)),
        statements=tuple(
            _Statement(sentence=i, statement=f"{uri} says {' '.join(words)}",
                       span=_span(day, month), stated=said, words=tuple(words), figures=())
            for i, (day, month, words, said) in enumerate(stated)),
    )


def _cited(n: int, uri: str, copy_of: int | None, spec: Spec, version: int = 1
           ) -> CitedArticle:
    # the days it mentions, as build_timeline's rank_dates reads them
    mentions = tuple(DateMention(span=_span(d, False), text="x", sentence=0, char_start=0,
                                 char_end=1, stated=True) for d in spec[1])
    facts = ArticleFacts(uri=uri, version=version, extractor_version="t", sentences=(),
                         dates=mentions, figures=(), names=())
    published = datetime.combine(DAYS[spec[3]], datetime.min.time(), tzinfo=UTC)
    return CitedArticle(n=n, uri=uri, version=version, source=f"s{n}", headline=None,
                        published=published, facts=facts, copy_of=copy_of)


def _scratch_entries(index: TimelineIndex, limit: int, articles: list[CitedArticle]
                     ) -> tuple[TimelineEntry, ...]:
    """``entries`` from scratch: the days ranked by build_timeline's ``rank_dates`` over the
    articles, each day's most salient event (every event scored), then the old ranking of
    the remaining events for what is left of the page."""
    summaries = [tl._summarise(event) for event in index._events]

    def key(i: int) -> tuple[float, date, str]:
        summary = summaries[i]
        span = summary.span
        mentions = len(index._day_sources.get(span.start, ())) \
            if span.start == span.end else 0
        salience = (summary.sources + 0.5 * math.log1p(mentions) + summary.centrality
                    + (0.5 if span.precision is DatePrecision.DAY else 0.0))
        return (-salience, span.start, index._events[i].entry_id)

    by_day: dict[date, list[int]] = {}
    for i, summary in enumerate(summaries):
        if summary.span.start == summary.span.end:
            by_day.setdefault(summary.span.start, []).append(i)
    picked: list[tuple[object, object]] = []
    chosen: set[int] = set()
    per_day: dict[date, int] = {}
    for day, _ in rank_dates(articles, None, None):
        if len(picked) >= limit:
            break
        if day in by_day:
            best = min(by_day[day], key=lambda i: (*key(i), i))
            chosen.add(best)
            per_day[day] = 1
            picked.append((index._events[best], summaries[best]))

    def pick(indexes: list[int], limit: int) -> list[tuple[object, object]]:
        scored = sorted((i for i in indexes if i not in chosen), key=key)  # stable
        out: list[tuple[object, object]] = []
        for i in scored:
            if len(out) >= limit:
                break
            day = key(i)[1]
            if i in chosen or per_day.get(day, 0) >= tl.PER_DAY:
                continue
            per_day[day] = per_day.get(day, 0) + 1
            chosen.add(i)
            out.append((index._events[i], summaries[i]))
        return out

    if len(picked) < limit:
        picked += pick(index._multi, limit - len(picked))
    if len(picked) < limit:
        picked += pick(list(range(len(index._events))), limit - len(picked))
    picked.sort(key=lambda p: (p[1].span.start, p[1].span.end, p[0].entry_id))  # type: ignore
    return tuple(
        TimelineEntry(
            entry_id=event.entry_id, date=summary.span.start, date_end=summary.span.end,
            date_precision=summary.span.precision, date_label=tl.date_label(summary.span),
            date_stated=summary.stated, text=summary.text, citations=tl._citations(summary),
            independent_sources=max(1, summary.sources), conflicts=summary.conflicts,
            planned=summary.planned)
        for event, summary in picked  # type: ignore[misc]
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, st.integers(1, 6))
def test_timeline_ranking_equals_scoring_every_event(ops: list[tuple[object, ...]],
                                                      limit: int) -> None:
    index = TimelineIndex()
    live: list[str] = []
    numbers: dict[str, int] = {}
    added: dict[str, CitedArticle] = {}  # in the index's order of addition
    next_n = 1
    for op in ops:
        if op[0] == "add":
            spec = op[1]
            uri = f"u{next_n}"
            copy_of = None
            if spec[2] <= 1 and live:  # type: ignore[index]
                # a copy: a third member from a source an event already has
                copy_of = numbers[live[-1 - spec[2]]] if len(live) > spec[2] else None  # type: ignore

            numbers[uri] = next_n
            added[uri] = _cited(next_n, uri, copy_of, spec)  # type: ignore[arg-type]
            index.add(added[uri], _input(spec, uri))  # type: ignore[arg-type]
            live.append(uri)
            next_n += 1
        elif live and op[0] == "withdraw":
            uri = live.pop(op[1] % len(live))  # type: ignore[operator]
            index.remove(uri)
            del added[uri]
        elif live and op[0] == "correct":
            uri = live[op[1] % len(live)]  # type: ignore[operator]
            del added[uri]
            added[uri] = _cited(numbers[uri], uri, None, op[2], version=2)  # type: ignore
            index.add(added[uri], _input(op[2], uri))  # type: ignore[arg-type]
        articles = list(added.values())
        # the page's day ranking, kept as articles come and go, is build_timeline's
        assert index.day_ranking() == rank_dates(articles, None, None)
        assert index.entries(limit) == _scratch_entries(index, limit, articles)
        # an entry whose event kept its summary (one of more than one statement) is the
        # last page's entry object again
        kept = {e.entry_id for e in index._events if e.summary is not None}
        assert all(a is b for a, b in zip(index.entries(limit), index.entries(limit),
                                          strict=True) if a.entry_id in kept)


# ---------------------------------------------------------------------------------------------
# The summary: the per-story memo (centroid counts as arrays, rows, window positions, claims'
# supporters) against a summary computed without any memo.

_SAMPLE: list[CitedArticle] = []


def _sample() -> list[CitedArticle]:
    if not _SAMPLE:
        for item in iter_file(SAMPLE):
            a = item.article
            assert a is not None
            _SAMPLE.append(CitedArticle(n=len(_SAMPLE) + 1, uri=a.uri, version=a.version,
                                        source=a.source, headline=a.headline,
                                        published=a.published, facts=extract_facts(a)))
    return _SAMPLE


story_ops = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.integers(0, 10_000), st.booleans()),
        st.tuples(st.just("withdraw"), st.integers(0, 10_000)),
        st.tuples(st.just("correct"), st.integers(0, 10_000)),
        st.tuples(st.just("merge"), st.lists(st.integers(0, 10_000), min_size=1, max_size=4)),
    ),
    min_size=1, max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(story_ops, st.sampled_from([3, 6, 1000]), st.sampled_from([2, 120]))
def test_summary_memo_equals_a_summary_without_memo(ops: list[tuple[object, ...]],
                                                    window: int, recent: int) -> None:
    from storyline.domain.page import summary, title

    old_window = (summary.STORY_WINDOW, title.STORY_WINDOW, summary.CANDIDATE_ARTICLES)
    summary.STORY_WINDOW = title.STORY_WINDOW = window
    # a few recent originals: they slide, and lose one in the middle, inside the window
    summary.CANDIDATE_ARTICLES = recent
    try:
        pool = _sample()
        memo = summary.SummaryMemo()
        story: list[CitedArticle] = []
        next_n = 1
        previous: str | None = None

        def new(k: int, copy: bool) -> CitedArticle:
            nonlocal next_n
            base = pool[k % len(pool)]
            copy_of = story[-1].n if copy and story and story[-1].copy_of is None else None
            made = replace(base, n=next_n, uri=f"{base.uri}#{next_n}", copy_of=copy_of,
                           facts=base.facts.model_copy())
            next_n += 1
            return made

        for op in ops:
            if op[0] == "join":
                story.append(new(op[1], op[2]))  # type: ignore[arg-type]
            elif op[0] == "merge":
                story.extend(new(k, False) for k in op[1])  # type: ignore[union-attr]
            elif story and op[0] == "withdraw":
                story.pop(op[1] % len(story))  # type: ignore[operator]
            elif story and op[0] == "correct":
                i = op[1] % len(story)  # type: ignore[operator]
                story[i] = replace(story[i], version=2, facts=story[i].facts.model_copy())
            if not story:
                continue
            with_memo = summary.summarise(story, (), memo=memo)
            assert with_memo == summary.summarise(story, ())
            chosen = title.choose_title(story, previous, memo=memo)
            assert chosen == title.choose_title(story, previous)
            previous = chosen
            # the counts kept as arrays are the weights' counters, counted afresh
            weights = summary.story_weights(summary.originals(summary.analysed(
                story[-window:])))
            counts = memo.counts
            assert counts is not None
            assert {t: int(counts.df[i]) for t, i in counts.term_ids.items()
                    if counts.df[i]} == dict(weights.df)
            assert {k: int(counts.names[i]) for k, i in counts.name_ids.items()
                    if counts.names[i]} == dict(weights.names)
            _check_scored_flat(summary, story[-window:], memo)
    finally:
        summary.STORY_WINDOW, title.STORY_WINDOW, summary.CANDIDATE_ARTICLES = old_window


_FLAT_ARRAYS = ("terms", "term_lengths", "names", "name_lengths", "roots", "positions",
                "figures", "indexes")


def _check_scored_flat(summary: ModuleType, window: list[CitedArticle],
                       memo: object) -> None:
    """The candidates' rows the memo kept (cut and extended as the recent originals slid)
    are the rows of the revision's recent originals concatenated anew."""
    kept = memo.scored_flat  # type: ignore[attr-defined]
    if kept is None:
        return
    story = summary.analysed(window, memo)
    by_time = sorted(summary.originals(story), key=lambda p: (p[0].published, p[0].n))
    recent = by_time[-summary.CANDIDATE_ARTICLES:]
    memo.scored_flat = None  # type: ignore[attr-defined]
    fresh = summary._scored_flat(recent, memo.counts, memo)  # type: ignore[attr-defined]
    memo.scored_flat = kept  # type: ignore[attr-defined]
    assert kept.key == fresh.key
    assert kept.per_article == fresh.per_article
    assert kept.sentences == fresh.sentences
    for name in _FLAT_ARRAYS:
        assert np.array_equal(getattr(kept, name), getattr(fresh, name)), name


# ---------------------------------------------------------------------------------------------
# The page: the list, dates and count extended for an appended article, the entry digests
# reused, the change made without a pass over the list.

# ("join", item, copy of the k-th latest article or 0: none), ("merge", [(item, copy)]),
# ("revive", k): a later version of a withdrawn article. Copies of copies and copies of an
# article whose original was withdrawn are grouped under the first of them (listed_groups).
fold_ops = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.integers(0, 10_000), st.integers(0, 4)),
        st.tuples(st.just("withdraw"), st.integers(0, 10_000)),
        st.tuples(st.just("correct"), st.integers(0, 10_000)),
        st.tuples(st.just("revive"), st.integers(0, 10_000)),
        st.tuples(st.just("merge"), st.lists(st.tuples(st.integers(0, 10_000),
                                                       st.integers(0, 2)),
                                             min_size=1, max_size=3)),
    ),
    min_size=1, max_size=24)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fold_ops)
# a copy of a copy whose original was withdrawn (the copy listed in its place), then the
# original back with a copy of its own
@example([("join", 0, 0), ("join", 1, 1), ("withdraw", 0), ("join", 2, 1), ("revive", 0),
          ("join", 3, 3), ("join", 4, 0), ("join", 5, 2)])
def test_pages_of_the_fold_equal_a_recount(ops: list[tuple[object, ...]]) -> None:
    from storyline.domain import pages
    from storyline.domain.events import ArticleReceived, Cause, PubStatus
    from storyline.domain.page import story, summary, title

    items = [item.article for item in iter_file(SAMPLE)]
    state = story.StoryState(story_id="s")
    serial = 0
    offset = 0

    def received(k: int, version: int = 1, uri: str | None = None) -> ArticleReceived:
        nonlocal serial
        base = items[k % len(items)]
        assert base is not None
        serial += 1
        return base.model_copy(update={"uri": uri or f"{base.uri}#{serial}",
                                       "version": version,
                                       "source": f"{base.source}{serial % 3}"})

    previous_title: str | None = None
    for op in ops:
        change: story.Change | None = None
        live = list(state.articles)
        if op[0] == "join":
            article = received(op[1])  # type: ignore[arg-type]
            back = op[2]
            dup = live[-back] if back and len(live) >= back else None  # type: ignore
            change = fold_extracted(state, article, duplicate_of=dup)
        elif op[0] == "merge":
            other = story.StoryState(story_id=f"o{serial}")
            for k, back in op[1]:  # type: ignore[union-attr]
                article = received(k)
                theirs = list(other.articles)
                dup = theirs[-back] if back and len(theirs) >= back else None
                fold_extracted(other, article, duplicate_of=dup)
            change = story.absorb(state, other)
        elif live and op[0] == "withdraw":
            uri = live[op[1] % len(live)]  # type: ignore[operator]
            known = state.articles[uri]
            gone = received(0, known.version, uri).model_copy(
                update={"pubstatus": PubStatus.WITHDRAWN})
            change = story.withdraw_article(state, gone)
        elif live and op[0] == "correct":
            uri = live[op[1] % len(live)]  # type: ignore[operator]
            article = received(op[1], state.articles[uri].version + 1, uri)  # type: ignore
            change = fold_extracted(state, article, duplicate_of=None)
        elif state.withdrawn and op[0] == "revive":
            gone_uris = list(state.withdrawn)
            uri = gone_uris[op[1] % len(gone_uris)]  # type: ignore[operator]
            article = received(op[1], state.withdrawn[uri].version + 1, uri)  # type: ignore
            change = fold_extracted(state, article, duplicate_of=None)
        if change is None:
            continue
        offset += 1
        before = state.last
        update = story.build_revision(
            state, change, pipeline_version="test",
            cause=Cause(article_uri="u", article_version=1, topic="t", partition=0,
                        offset=offset))
        page = state.last
        assert page is not None
        cited = list(state.articles.values())
        listed = story.listed_groups(cited)
        assert page.articles == story._related_articles(listed, {}, None)
        if cited:
            assert page.independent_count == len(listed)
            assert page.published_first == min(a.published for a in cited)
            assert page.published_last == max(a.published for a in cited)
        # the timeline entries kept from the last page are the ones made anew (a pickled
        # index keeps none of them)
        assert page.timeline == pickle.loads(pickle.dumps(state.timeline)).entries(
            story.TIMELINE_LIMIT)
        # the summary and the title the memo (its window's originals and their order in
        # time, shared by the two) helped make are those made without it
        if cited:
            assert page.summary == summary.summarise(cited, page.timeline)
            assert page.title == title.choose_title(cited, previous_title)
        previous_title = page.title
        pages._LISTS.clear()
        pages._TIMELINE_JSON.clear()
        assert page.content_hash == pages.page_hash(page)  # every digest and entry anew
        assert pages.apply_changes(before, update) == page
