"""The story summary: central sentences of the story, grouped by theme, each cited.

Extractive and deterministic. Per revision:

1. every article is analysed once (kept in the story's memo while it is in the window):
   lead sentence terms, eligibility, a few min-hash keys per sentence for finding
   near-identical sentences in other articles;
2. story weights: the fraction of the story's original articles whose lead mentions a term
   (a centroid over the leads, the most salient part of news copy), and which names more
   than one article shares;
3. candidates are the eligible lead sentences of the originals, scored by centrality to the
   centroid, position in the article, recency, shared names, figures and support from other
   articles; near-duplicates collapse into the best one;
4. paragraphs: the best remaining candidate seeds a paragraph, which takes the next best
   candidates that share its distinctive terms; a key phrase is built from the paragraph's
   own words;
5. every sentence cites its article and every other article holding a near-identical
   sentence (same numbers, same polarity, high token overlap), originals before copies.

Work per revision is linear in the number of articles with small constants (lead sentences
only, cached analyses); everything quadratic runs on a bounded candidate pool.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import math
import re
import weakref
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import reduce
from itertools import chain, compress, repeat
from operator import add, attrgetter, itemgetter, mul
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from storyline.domain.events import (
    Citation,
    CitedSentence,
    DatePrecision,
    SummaryParagraph,
    TimelineEntry,
)
from storyline.domain.extract.analysis import (
    _BAND_BITS,
    _BAND_MASK,
    _BANDS,
    _VERBS,
    Analysis,
    Plain,
    Sentence,
    Statement,
    _plain_terms,
    analysis_of,
    terms_of,
    tokens,
)
from storyline.domain.extract.temporal import find_dates
from storyline.domain.extract.text import Document, repair_mojibake, wordset
from storyline.domain.extract.timeline_text import sentence_date
from storyline.domain.facts import (
    ArticleFacts,
    CitedArticle,
    NameKind,
)
from storyline.domain.floats import log2_of, log_of_ratio, ordered_sum
from storyline.domain.page.tuning import PAGE
from storyline.domain.words import STOPWORDS

# The tuning (values and reasons in storyline.domain.page.tuning, hashed into the version)
POOL = PAGE.summary.pool
LEAD_BANDS = PAGE.summary.lead_bands
SUPPORT_RANKED = PAGE.summary.support_ranked
CANDIDATE_ARTICLES = PAGE.summary.candidate_articles
STORY_WINDOW = PAGE.summary.story_window
REDUNDANT = PAGE.summary.redundant
THEME_MIN = PAGE.summary.theme_min
SEED_OVERLAP = PAGE.summary.seed_overlap
SUPPORT_CONTAINMENT = PAGE.summary.support_containment
SUPPORT_JACCARD = PAGE.summary.support_jaccard
SUPPORT_RATIO = PAGE.summary.support_ratio
KEY_PHRASE_WORDS = PAGE.summary.key_phrase_words
LATEST_SPAN = dt.timedelta(hours=PAGE.summary.latest_span_hours)
POSITION_DECAY = PAGE.summary.position_decay
RECENCY_BONUS = PAGE.summary.recency_bonus
SHARED_NAME_BONUS = PAGE.summary.shared_name_bonus
SHARED_NAME_CAP = PAGE.summary.shared_name_cap
SUPPORT_BONUS = PAGE.summary.support_bonus
TEMPLATE_DAYS = PAGE.summary.template_days
ON_TIMELINE_JACCARD = PAGE.summary.on_timeline_jaccard
ON_TIMELINE_FACTOR = PAGE.summary.on_timeline_factor
NAME_FEATURE_WEIGHT = PAGE.summary.name_feature_weight
CENTRALITY_MIN_TERMS = PAGE.summary.centrality_min_terms
FIGURE_BONUS = PAGE.summary.figure_bonus
LABEL_MIN_WORDS = PAGE.summary.label_min_words
LABEL_NAME_MIN_CHARS = PAGE.summary.label_name_min_chars


# Story weights.


class _Counted:
    """A story memo's counts over its ids (``_Counts``) read as a ``Counter`` is by
    ``StoryWeights``: the same exact integers, a term never counted 0. Read through the
    counts object, whose arrays grow (``fit``) as titles and rows meet new words."""

    __slots__ = ("_counts", "_names")

    def __init__(self, counts: _Counts, names: bool) -> None:
        self._counts = counts
        self._names = names

    def get(self, key: str, default: int = 0) -> int:
        counts = self._counts
        found = (counts.name_ids if self._names else counts.term_ids).get(key)
        if found is None:
            return default
        count = int((counts.names if self._names else counts.df)[found])
        return count if count else default

    def items(self) -> list[tuple[str, int]]:
        """The keys counted, with their counts, in id order."""
        counts = self._counts
        ids, values = ((counts.name_ids, counts.names) if self._names
                       else (counts.term_ids, counts.df))
        return [(key, count) for key, i in ids.items() if (count := int(values[i]))]


CountTable = Counter[str] | _Counted


@dataclass(frozen=True, slots=True)
class StoryWeights:
    df: CountTable  # term -> original articles whose lead has it
    names: CountTable  # name key -> original articles that mention it
    size: int  # original articles

    def weight(self, term: str) -> float:
        """Share of the original articles whose lead has ``term``."""
        return self.df.get(term, 0) / self.size

    def shared(self, key: str) -> bool:
        return self.names.get(key, 0) > 1

    def centrality(self, terms: Sequence[str]) -> float:
        """Cosine-like closeness to the centroid (binary sentence vector): sum / sqrt(n)."""
        if not terms:
            return 0.0
        total = sum(map(self.df.get, terms, repeat(0)))  # ints
        return total / self.size / math.sqrt(max(len(terms), CENTRALITY_MIN_TERMS))


Analysed = tuple[CitedArticle, Analysis]
_first = itemgetter(0)
_second = itemgetter(1)  # an Analysed pair's analysis, for the memo keys (one pass of C)


def analysed(articles: Sequence[CitedArticle], memo: SummaryMemo | None = None,
             packed: Callable[[CitedArticle], Analysis | None] | None = None
             ) -> list[Analysed]:
    """The articles with their analyses: from the story's ``memo`` when given, which then
    keeps exactly these articles' analyses (the window), so the ones that slid out, were
    withdrawn or replaced by a correction are let go. Without a memo each is analysed
    afresh: the analyses a caller wants to keep are in the memo it holds, never in a table
    of the process. ``packed``: an article's analysis as the extract stage made it (the
    same as analysing its facts, and cheaper), or None; asked first for an article the
    memo lacks."""
    if memo is None:
        return [(a, analysis_of(a.facts)) for a in articles]
    known = memo.analyses
    out: list[Analysed] = []
    for article in articles:
        hit = known.get(article.uri)
        if hit is not None and hit[0] is article.facts:
            out.append((article, hit[1]))
            continue
        found = packed(article) if packed is not None else None
        analysis = found if found is not None else analysis_of(article.facts)
        known[article.uri] = (article.facts, analysis)
        out.append((article, analysis))
    if len(known) > len(out):
        memo.analyses = {a.uri: known[a.uri] for a in articles}
    return out


def originals(story: Sequence[Analysed], memo: SummaryMemo | None = None) -> list[Analysed]:
    """The articles of ``story`` that copy none (all of them when each is a copy). With
    the story's ``memo``, found once per window: the summary and the title ask five times."""
    if memo is not None and memo.window_originals is not None \
            and memo.window_originals[0] is story:
        return memo.window_originals[1]
    found = [p for p in story if p[0].copy_of is None] or list(story)
    if memo is not None:
        memo.window_originals = (story, found, None)
    return found


def by_time(story: Sequence[Analysed], memo: SummaryMemo | None = None) -> list[Analysed]:
    """The originals of ``story`` in order of publication, then of number (with the memo,
    sorted once per window: for the summary's candidates and for the title)."""
    found = originals(story, memo)
    kept = memo.window_originals if memo is not None else None
    if kept is not None and kept[0] is story and kept[2] is not None:
        return kept[2]
    # sorted by keys made in one pass of C each, not a lambda called for each pair: the
    # same stable sort of the same keys
    articles = list(map(itemgetter(0), found))
    keys = list(zip(map(attrgetter("published"), articles), map(attrgetter("n"), articles),
                    strict=True))
    ordered = list(map(found.__getitem__, sorted(range(len(found)), key=keys.__getitem__)))
    if memo is not None:
        memo.window_originals = (story, found, ordered)
    return ordered


K = TypeVar("K")


def _slide(old: tuple[K, ...], new: tuple[K, ...]) -> tuple[int, tuple[K, ...]] | None:
    """How ``new`` follows from ``old`` when the story only slid forward: (how many of the
    oldest items were dropped, the items appended), or None for any other change."""
    if not old or not new:
        return None
    try:
        dropped = old.index(new[0])
    except ValueError:
        return None
    kept = len(old) - dropped
    if len(new) < kept or new[:kept] != old[dropped:]:
        return None
    return dropped, new[kept:]


@dataclass(slots=True, eq=False)
class SummaryMemo:
    """One story's centroid counts and lead index as of its last revision.

    The next revision sees the same window of articles plus the new one (minus the oldest
    once the window is full), so both are updated by that difference instead of rebuilt:
    a revision then costs the same whatever the story's size. Integer counts with zero
    entries removed, and index lists in story order, equal a rebuild exactly. Owned by the
    story's state, so stories never evict each other's memo."""

    index_key: tuple[tuple[Analysis, str], ...] = ()
    index: LeadIndex | None = None
    # uri -> (the facts object it was computed from, its analysis): the window's articles
    analyses: dict[str, tuple[ArticleFacts, Analysis]] = field(default_factory=dict)
    # The centroid counts again, as arrays over this story's term and name ids, for scoring
    # every candidate at once (see _Rows); updated by the same slide as the weights.
    counts: _Counts | None = None
    # id(analysis) -> (analysis, its rows over this memo's ids)
    rows: dict[int, tuple[Analysis, _Rows]] = field(default_factory=dict)
    # The window as positions in the sequence of analyses that entered it: a slide keeps
    # the positions of the analyses that stay; any other change starts a new epoch.
    window_key: tuple[Analysis, ...] = ()
    window_first: int = 0  # the position of window_key[0]
    epoch: int = 0
    # id(claim) -> (claim, epoch, positions checked up to, (position, supporting sentence)
    # of the articles supporting it, in order): a summary sentence's supporters in the
    # window, so that a revision checks it against the articles that joined only
    claims: dict[int, tuple[Sentence, int, int, list[tuple[int, int]]]] = field(
        default_factory=dict)
    # The window's min-hash keys and the positions of the articles holding each, packed
    # (see KeyIndex): a claim is checked against those only (an article without one of
    # its keys cannot support it). None: no article is in it yet (all are its tail).
    key_index: KeyIndex | None = None
    # Each lead sentence's support count, let go of when the joining or leaving articles
    # change one of its bands (_lead_index): a revision recounts only those.
    # id(sentence) -> (sentence, source, count).
    lead_support: dict[int, tuple[Sentence, str, int]] = field(default_factory=dict)
    # (source, a lead sentence's words' crc32) -> publication day -> how many of the
    # window's originals of that source lead with it that day (see _templates); updated by
    # the same slide as the lead index
    templates_key: tuple[tuple[Analysis, str, dt.date], ...] = ()
    templates: Templates | None = None
    # id(analysis) -> (analysis, headlines mode, the headline, its title options' rows over
    # this memo's ids): see storyline.domain.page.title
    title_rows: dict[int, tuple[Analysis, bool, str | None, TitleRows]] = field(
        default_factory=dict)
    title_flat: TitleFlat | None = None  # the options of the last revision's title, flat
    # (window, its originals, those in order of publication or None): asked by the summary
    # and the title of one revision, the window being the same list object (it holds the
    # window's pairs alive until the next revision's: the memo holds their analyses anyway)
    window_originals: tuple[Sequence[Analysed], list[Analysed], list[Analysed] | None] | None \
        = None
    # the rows of the candidates' recent originals, concatenated (see _scored_flat)
    scored_flat: ScoredFlat | None = None
    # the last revision's timeline entries' texts -> their terms (see _timeline_sets)
    timeline_sets: dict[str, frozenset[str]] = field(default_factory=dict)
    # id(sentence) -> (sentence, whether the timeline above says it): the candidates kept
    # by the last revision (see _on_timeline)
    on_timeline: dict[int, tuple[Sentence, bool]] = field(default_factory=dict)
    # id(sentence) -> (sentence, its terms, the keys (``_pool_key``) of the candidates it is
    # known not to repeat, of those it is known to repeat): the candidates asked by the last
    # revision (see _redundant_kept)
    redundancy: dict[int, Redundancy] = field(default_factory=dict)


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


Ids = npt.NDArray[np.int32]  # term and name ids, counts and sentence indices of _Rows


@dataclass(slots=True, eq=False)
class _Rows:
    """An article's eligible lead sentences over a story's ids, for scoring them in bulk:
    their term and name ids (flat, with each sentence's count), the per-sentence factors
    ``candidates`` multiplies in (computed with the same Python expressions), and the ids
    of the article's lead terms and names (what it adds to the centroid counts).

    Kept as two buffers, the integers (int32: ids and counts index and repeat, nothing
    sums them as int32) and the factors (float64, as computed), read as views: eleven
    arrays of their own weighed ~1.2 kB more an analysis in array headers alone."""

    sentences: tuple[Sentence, ...]
    ints: Ids  # terms, term_lengths, names, name_lengths, indexes, lead_terms, name_keys
    floats: FloatArray  # roots, positions, figures: a sentence's each
    cuts: tuple[int, int, int]  # where terms, names and lead_terms end in ``ints``

    @property
    def terms(self) -> Ids:
        return self.ints[:self.cuts[0]]

    @property
    def term_lengths(self) -> Ids:
        at = self.cuts[0]
        return self.ints[at:at + len(self.sentences)]

    @property
    def names(self) -> Ids:
        return self.ints[self.cuts[0] + len(self.sentences):self.cuts[1]]

    @property
    def name_lengths(self) -> Ids:
        at = self.cuts[1]
        return self.ints[at:at + len(self.sentences)]

    @property
    def indexes(self) -> Ids:
        at = self.cuts[1] + len(self.sentences)
        return self.ints[at:at + len(self.sentences)]

    @property
    def lead_terms(self) -> Ids:
        return self.ints[self.cuts[1] + 2 * len(self.sentences):self.cuts[2]]

    @property
    def name_keys(self) -> Ids:
        return self.ints[self.cuts[2]:]

    @property
    def roots(self) -> FloatArray:  # math.sqrt(max(len(terms), 6)), the centrality's denominator
        return self.floats[:len(self.sentences)]

    @property
    def positions(self) -> FloatArray:  # 1.0 / (1.0 + 0.12 * index)
        n = len(self.sentences)
        return self.floats[n:2 * n]

    @property
    def figures(self) -> FloatArray:  # 1.05 with a figure, else 1.0 (exact: x * 1.0 == x)
        return self.floats[2 * len(self.sentences):]


@dataclass(slots=True, eq=False)
class TitleRows:
    """An article's title options over a story's term ids, for scoring them in bulk as
    ``StoryWeights.centrality(terms) * factor``: the options' texts and sentences, their
    term ids (flat, with each option's count), ``math.sqrt(max(len(terms), 6))`` and their
    factors. Two buffers read as views, as ``_Rows``."""

    texts: tuple[str, ...]
    sentences: tuple[int, ...]
    ints: Ids  # the term ids, then each option's count of them
    floats: FloatArray  # the roots, then the factors

    @property
    def terms(self) -> Ids:
        return self.ints[:len(self.ints) - len(self.texts)]

    @property
    def term_lengths(self) -> Ids:
        return self.ints[len(self.ints) - len(self.texts):]

    @property
    def roots(self) -> FloatArray:
        return self.floats[:len(self.texts)]

    @property
    def factors(self) -> FloatArray:
        return self.floats[len(self.texts):]


@dataclass(slots=True, eq=False)
class TitleFlat:
    """The title options of a story's recent originals, concatenated in their order (see
    storyline.domain.page.title): kept from one revision to the next, so that a slide of the
    window cuts the oldest articles' options and appends the new one's."""

    key: tuple[tuple[Analysis, int], ...]  # (analysis, citation number) of each article
    headlines: bool
    per_article: list[int]  # options of each article
    published: IntArray  # each article's publication time, microseconds since the epoch
    terms: Ids
    term_lengths: Ids
    roots: FloatArray
    factors: FloatArray
    numbers: list[int]  # each option's citation number, sentence and text
    sentences: list[int]
    texts: list[str]


@dataclass(slots=True, eq=False)
class ScoredFlat:
    """The rows (``_Rows``) of the recent originals ``candidates`` scores, concatenated in
    their order: kept from one revision to the next, so that a slide of the recent
    originals cuts the oldest articles' rows and appends the new one's instead of
    concatenating a hundred articles' rows again. Over the ids of ``counts`` only."""

    key: tuple[Analysis, ...]  # the analysis of each article, in order
    counts: _Counts
    per_article: list[int]  # eligible lead sentences of each article
    sentences: list[Sentence]
    terms: Ids
    term_lengths: Ids
    names: Ids
    name_lengths: Ids
    roots: FloatArray
    positions: FloatArray
    figures: FloatArray
    indexes: Ids


@dataclass(slots=True, eq=False)
class _Counts:
    """Term and name ids of one story, and the window originals' counts over them (exact
    integers: ``StoryWeights.df`` and ``.names`` as arrays)."""

    term_ids: dict[str, int] = field(default_factory=dict)
    name_ids: dict[str, int] = field(default_factory=dict)
    df: IntArray = field(default_factory=lambda: np.zeros(256, dtype=np.int64))
    names: IntArray = field(default_factory=lambda: np.zeros(64, dtype=np.int64))
    key: tuple[Analysis, ...] = ()  # the originals counted, in story order

    def ids(self, table: dict[str, int], keys: Iterable[str]) -> list[int]:
        out = []
        for k in keys:
            found = table.get(k)
            if found is None:
                found = table[k] = len(table)
            out.append(found)
        return out

    def fit(self) -> None:
        """Grow the count arrays to cover every id given so far."""
        if len(self.term_ids) > len(self.df):
            self.df = np.concatenate([self.df, np.zeros(max(len(self.df), len(self.term_ids)),
                                                         dtype=np.int64)])
        if len(self.name_ids) > len(self.names):
            self.names = np.concatenate([self.names, np.zeros(
                max(len(self.names), len(self.name_ids)), dtype=np.int64)])


def _rows(analysis: Analysis, memo: SummaryMemo, counts: _Counts) -> _Rows:
    hit = memo.rows.get(id(analysis))
    if hit is not None and hit[0] is analysis:
        return hit[1]
    sentences = tuple(s for s in analysis.lead if s.eligible)
    term_ids: list[int] = []
    name_ids: list[int] = []
    for s in sentences:
        term_ids += counts.ids(counts.term_ids, s.terms)
        name_ids += counts.ids(counts.name_ids, s.names)
    term_lengths = [len(s.terms) for s in sentences]
    name_lengths = [len(s.names) for s in sentences]
    indexes = [s.index for s in sentences]
    lead_terms = counts.ids(counts.term_ids, analysis.lead_terms)
    name_keys = counts.ids(counts.name_ids, analysis.name_keys)
    terms_end = len(term_ids)
    names_end = terms_end + len(sentences) + len(name_ids)
    lead_end = names_end + 2 * len(sentences) + len(lead_terms)
    rows = _Rows(
        sentences=sentences,
        ints=np.array(term_ids + term_lengths + name_ids + name_lengths + indexes + lead_terms
                      + name_keys, dtype=np.int32),
        floats=np.array([math.sqrt(max(len(s.terms), CENTRALITY_MIN_TERMS)) for s in sentences]
                        + [1.0 / (1.0 + POSITION_DECAY * s.index) for s in sentences]
                        + [FIGURE_BONUS if s.has_figure else 1.0 for s in sentences],
                        dtype=np.float64),
        cuts=(terms_end, names_end, lead_end),
    )
    counts.fit()
    memo.rows[id(analysis)] = (analysis, rows)
    return rows


Counts = _Counts


def centroid_counts(originals_: Sequence[Analysed], memo: SummaryMemo) -> Counts:
    """The memo's term and name ids with the counts of ``originals_`` (the weights' own
    articles) over them: ``story_weights(originals_, memo).df`` and ``.names`` as arrays."""
    return _counts(originals_, memo)


def _counts(originals_: Sequence[Analysed], memo: SummaryMemo) -> _Counts:
    """The memo's ids with the counts over ``originals_`` (the weights' articles), updated
    by the slide when the story only slid forward, else recounted."""
    key = tuple(map(_second, originals_))
    _renumber_when_sparse(memo)
    counts = memo.counts
    if counts is None:
        counts = memo.counts = _Counts()
    if key == counts.key:
        return counts
    slid = _slide(counts.key, key)
    if slid is None:
        counts.df[:] = 0
        counts.names[:] = 0
        added: tuple[Analysis, ...] = key
    else:
        dropped, added = slid
        for analysis in counts.key[:dropped]:
            rows = _rows(analysis, memo, counts)
            counts.df[rows.lead_terms] -= 1  # distinct ids: one decrement each
            counts.names[rows.name_keys] -= 1
    for analysis in added:
        rows = _rows(analysis, memo, counts)
        counts.df[rows.lead_terms] += 1
        counts.names[rows.name_keys] += 1
    counts.key = key
    _let_go_of_left(memo)
    return counts


# A story's term and name ids are handed out as its window meets new words and never taken
# back, so over a long story's life they outgrow the window's vocabulary many times (13,115
# ids for 6,300 counted at 1,664 articles of the synthetic log): past this many, and past
# COUNTS_SPARSE times the ids the window's originals count, the memo numbers them afresh.
COUNTS_MIN_IDS = 16384
COUNTS_SPARSE = 3


def _renumber_when_sparse(memo: SummaryMemo) -> None:
    """Let go of the memo's ids, and of everything made over them (rows, title rows, the
    flat title options), when most of them no longer count anything: the next revision
    numbers the window's words afresh, as a memo made anew (after a thaw) does. The ids are
    positions only; no sum, order or tie depends on them, so the output is the same."""
    counts = memo.counts
    if counts is None:
        return
    ids = len(counts.term_ids) + len(counts.name_ids)
    if ids <= COUNTS_MIN_IDS:
        return
    counted = int(np.count_nonzero(counts.df)) + int(np.count_nonzero(counts.names))
    if ids <= COUNTS_SPARSE * counted:
        return
    memo.counts = None
    memo.rows = {}
    memo.title_rows = {}
    memo.title_flat = None
    memo.scored_flat = None


# Rows of articles that left the window, kept at most this many past the window's size
# before they are let go: an entry holds its analysis, so a looser bound (it was twice the
# window) kept up to a window's worth of dead analyses alive in every story in play.
ROWS_SLACK = 16


def _let_go_of_left(memo: SummaryMemo) -> None:
    """Drop the rows and title rows of analyses no longer in the memo's window (every row
    is made again, identically, should its article come back: the memo's ids only grow)."""
    if (len(memo.rows) <= len(memo.analyses) + ROWS_SLACK
            and len(memo.title_rows) <= len(memo.analyses) + ROWS_SLACK):
        return
    live = {id(analysis) for _, analysis in memo.analyses.values()}
    if memo.counts is not None:
        live.update(id(analysis) for analysis in memo.counts.key)
    memo.rows = {k: v for k, v in memo.rows.items() if k in live}
    memo.title_rows = {k: v for k, v in memo.title_rows.items() if k in live}


def _joined(arrays: list[npt.NDArray[Any]], dtype: type[Any]) -> npt.NDArray[Any]:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)


def _scored_flat(recent: Sequence[Analysed], counts: _Counts, memo: SummaryMemo
                 ) -> ScoredFlat:
    """The rows of ``recent`` concatenated: the memo's, cut and extended when the recent
    originals only slid forward (over the same ids), else made anew."""
    key = tuple(map(_second, recent))
    kept = memo.scored_flat
    slid = None
    if kept is not None and kept.counts is counts:
        if kept.key == key:
            return kept
        slid = _slide(kept.key, key)
    start = 0 if slid is None else len(recent) - len(slid[1])
    parts = [_rows(analysis, memo, counts) for _, analysis in recent[start:]]
    per_article = [len(r.sentences) for r in parts]
    sentences = [s for r in parts for s in r.sentences]
    arrays: list[list[npt.NDArray[Any]]] = [
        [r.terms for r in parts], [r.term_lengths for r in parts], [r.names for r in parts],
        [r.name_lengths for r in parts], [r.roots for r in parts], [r.positions for r in parts],
        [r.figures for r in parts], [r.indexes for r in parts]]
    if kept is not None and slid is not None:
        dropped = slid[0]
        cut = sum(kept.per_article[:dropped])  # ints; sentences of the articles that left
        cut_terms = int(kept.term_lengths[:cut].sum())  # ints
        cut_names = int(kept.name_lengths[:cut].sum())  # ints
        per_article = kept.per_article[dropped:] + per_article
        sentences = kept.sentences[cut:] + sentences
        rests: tuple[npt.NDArray[Any], ...] = (
            kept.terms[cut_terms:], kept.term_lengths[cut:], kept.names[cut_names:],
            kept.name_lengths[cut:], kept.roots[cut:], kept.positions[cut:],
            kept.figures[cut:], kept.indexes[cut:])
        for held, rest in zip(arrays, rests, strict=True):
            held.insert(0, rest)
    flat = memo.scored_flat = ScoredFlat(
        key=key, counts=counts, per_article=per_article, sentences=sentences,
        terms=_joined(arrays[0], np.int32), term_lengths=_joined(arrays[1], np.int32),
        names=_joined(arrays[2], np.int32), name_lengths=_joined(arrays[3], np.int32),
        roots=_joined(arrays[4], np.float64), positions=_joined(arrays[5], np.float64),
        figures=_joined(arrays[6], np.float64), indexes=_joined(arrays[7], np.int32))
    return flat


def _scored(recent: Sequence[Analysed], rank: dict[str, float], size: int,
            counts: _Counts, memo: SummaryMemo) -> Iterator[tuple[float, Sentence, Analysed]]:
    """The eligible lead sentences of ``recent`` with their cheap scores, best first, as
    far as the caller reads: what scoring each with ``StoryWeights.centrality`` and the
    factors in ``candidates`` gives, bit for bit (the same IEEE operations in the same
    order, elementwise; the integer sums exact), in the order of (-score, article number,
    sentence index). Read through iterators of C (a generator's frame resumed for each of
    the ~220 sentences a revision reads was a sixth of ``candidates``' own time)."""
    flat = _scored_flat(recent, counts, memo)
    total = len(flat.sentences)
    if not total:
        return iter(())
    per_article = np.array(flat.per_article, dtype=np.int64)
    seq = np.arange(total, dtype=np.int64)
    owners = np.repeat(seq, flat.term_lengths)
    sums = np.bincount(owners, weights=counts.df[flat.terms].astype(np.float64),
                       minlength=total)
    name_owners = np.repeat(seq, flat.name_lengths)
    shared = np.bincount(name_owners,
                         weights=(counts.names[flat.names] > 1).astype(np.float64),
                         minlength=total)
    recency = np.repeat(np.array([rank[a.uri] for a, _ in recent], dtype=np.float64),
                        per_article)
    score = sums / size
    score = score / flat.roots
    score = score * flat.positions
    score = score * (1.0 + RECENCY_BONUS * recency)
    score = score * (1.0 + SHARED_NAME_BONUS * np.minimum(shared, SHARED_NAME_CAP))
    score = score * flat.figures
    numbers = np.repeat(np.array([a.n for a, _ in recent], dtype=np.int64), per_article)
    order = np.lexsort((flat.indexes, numbers, -score))
    article_of = np.repeat(np.arange(len(recent), dtype=np.int64), per_article)[order]
    return zip(score[order].tolist(), map(flat.sentences.__getitem__, order.tolist()),
               map(recent.__getitem__, article_of.tolist()), strict=True)


def story_weights(story: Sequence[Analysed], memo: SummaryMemo | None = None) -> StoryWeights:
    """Centroid weights over the given (original) articles. With the story's ``memo``, its
    counts over its ids (``_counts``, updated by the slide) read as the weights: counters
    of their own, kept beside them, held the same integers again (~1.3 kB an analysis)."""
    if memo is None:
        return _story_weights(story)
    counts = _counts(story, memo)
    return StoryWeights(df=_Counted(counts, names=False), names=_Counted(counts, names=True),
                        size=max(len(story), 1))


def _story_weights(story: Sequence[Analysed]) -> StoryWeights:
    df: Counter[str] = Counter()
    names: Counter[str] = Counter()
    for _, analysis in story:
        df.update(analysis.lead_terms)
        names.update(analysis.name_keys)
    return StoryWeights(df=df, names=names, size=max(len(story), 1))


# ---------------------------------------------------------------------------------------------
# Support: which articles hold a sentence saying the same thing.


def supports(claim: Statement, other: Statement) -> bool:
    """Whether ``other`` states ``claim``: every number of the claim, the same polarity, most
    of its content terms, and near-identical wording (word-sequence similarity, so shared
    vocabulary in another order, "the rig burns" for "a controlled burn", does not count)."""
    if not claim.terms or other.negated != claim.negated or not claim.numbers <= other.numbers:
        return False
    terms = set(claim.terms)
    common = len(terms.intersection(other.terms))
    union = len(terms) + len(other.terms) - common
    if common < SUPPORT_CONTAINMENT * len(terms) or common < SUPPORT_JACCARD * union:
        return False
    if claim.words == other.words:
        return True
    matcher = difflib.SequenceMatcher(None, claim.words, other.words, autojunk=False)
    return matcher.ratio() >= SUPPORT_RATIO


def _supports_cached(claim: Sentence, other: Statement) -> bool:
    """``supports``, remembered on the claim: every revision asks again about the same lead
    sentences, and difflib is the dearest step. The entry holds ``other`` by a weak
    reference, which keeps its id from being taken for another statement's while it lives
    and, unlike a strong one, makes no reference cycle: two lead sentences that are each
    other's claim would otherwise hold each other, and their articles' analyses with them,
    until a full collection of the garbage collector, which a frozen heap never makes."""
    memo = claim.support
    if memo is None:
        memo = {}
        object.__setattr__(claim, "support", memo)  # a cache, not part of the value
    key = id(other)
    found = memo.get(key)
    if found is not None and found[0]() is other:
        return found[1]
    result = supports(claim, other)
    memo[key] = (weakref.ref(other), result)
    return result


def _supporting_sentence(claim: Sentence, analysis: Analysis) -> int | None:
    """The first sentence of an article that supports ``claim``, or None; remembered on the
    claim (every revision asks again about the same summary sentences and window)."""
    memo = claim.found
    if memo is None:
        memo = {}
        object.__setattr__(claim, "found", memo)  # a cache, not part of the value
    serial = analysis.serial
    if serial in memo:
        return memo[serial]
    seen: set[int] = set()
    best: int | None = None
    for key in claim.keys:
        for i in analysis.sentences_with(key):
            if i in seen:
                continue
            seen.add(i)
            # not _supports_cached: this claim asks this article once (memo), so an
            # answer kept on the claim by the statement would never be read again (the
            # statement itself is kept a while: other claims ask it, _statement)
            if ((best is None or i < best) and _may_hold_numbers(claim, analysis, i)
                    and supports(claim, _statement(analysis, i))):
                best = i
    memo[serial] = best
    return best


def _may_hold_numbers(claim: Sentence, analysis: Analysis, i: int) -> bool:
    """False when sentence ``i`` of ``analysis`` cannot hold every number of ``claim``,
    which ``supports`` requires: told from its text, without making its statement (most
    checks of a claim with a number end here: 19 in 20 on timeline17-dev).

    Exact: a statement's numbers are its tokens that open with a digit, commas taken out;
    a token is a run of [a-z0-9.,] of ``text.lower()`` with "’" made "'" and "'s " made " "
    (``tokens``), none of which changes a character inside such a run, so each token is a
    substring of ``text.lower()`` and each number one of it with its commas taken out. A
    number of the claim found nowhere in that is in none of the sentence's numbers. A
    statement already kept is read instead (no text to scan)."""
    numbers = claim.numbers
    if not numbers or (analysis.serial, i) in _statements:
        return True
    text = analysis.sentence(i).lower().replace(",", "")
    return all(map(text.__contains__, numbers))


# Statements of window sentences that support checks built, by (analysis serial, sentence
# index): unique in the process (an analysis unpickled gets a serial of its own), so an
# entry is that sentence's statement for good. Emptied when full: pure values, so that
# changes nothing but speed. ~0.65 kB a statement (its words are interned, shared with the
# analyses), ~1.3 MB full.
STATEMENTS_CACHE = 2048
_statements: dict[tuple[int, int], Plain] = {}


def _statement(analysis: Analysis, i: int) -> Plain:
    """``analysis.statement(i)``, kept a while: a claim asks an article once (its
    ``found``), but the summary's other claims ask the same article's sentences again,
    within a revision and over the next ones (7 in 10 of the statements a fold of
    timeline17-dev built had been built before, most of them ~10 revisions earlier), and
    each was made anew (unpacking the article's sentences, tokenising and stemming one).
    Process-wide but bounded, as the label phrases' cache is: a story's memo would hold
    them in every story in play (the reason the analysis no longer keeps them)."""
    key = (analysis.serial, i)
    found = _statements.get(key)
    if found is None:
        if len(_statements) >= STATEMENTS_CACHE:
            _statements.clear()
        found = _statements[key] = analysis.statement(i)
    return found


# Articles that joined the window after its key index was made and are asked their own band
# arrays (a bisect a key) until there are more than this many; then the index is made
# again over the whole window (~1 ms for 240 articles, so every KEY_TAIL revisions).
KEY_TAIL = 16


@dataclass(slots=True, eq=False)
class KeyIndex:
    """The min-hash keys of the window's articles at positions ``start`` to ``end``
    (exclusive), packed: per LSH band, every key ascending (ties by position) and the
    position of the article holding it, less ``start``. It was a dict from key to
    positions: an entry, an int key and an int or a list of positions a key, ~7 kB an
    analysis and the largest part of a memo, all of it small objects freed and made again
    at every slide, memo drop and refill (what fragments pymalloc's arenas); here ~10 bytes
    a key in eight buffers a story. Positions before the window are never asked (a claim
    is checked from the window's first position on), so an index is not cut when the
    window slides; the articles after ``end`` are asked directly (``_holds_any``)."""

    start: int
    end: int
    keys: tuple[array[int], ...]  # per band: the keys' values ascending
    offsets: tuple[array[int], ...]  # per band: each key's position less ``start``

    def holding(self, key: int, since: int) -> list[int]:
        """The positions from ``since`` on (in the index) of the articles with ``key``."""
        band = key >> _BAND_BITS
        values = self.keys[band]
        value = key & _BAND_MASK
        lo = bisect_left(values, value)
        hi = bisect_right(values, value, lo)
        if lo == hi:
            return []
        start, low = self.start, since - self.start
        return [start + o for o in self.offsets[band][lo:hi] if o >= low]


def _key_index(story: Sequence[Analysed], first: int) -> KeyIndex:
    """The key index of the window ``story`` whose first position is ``first``."""
    counts = [[len(analysis.band_keys[band]) for _, analysis in story] for band in range(_BANDS)]
    code = "H" if len(story) <= 0xFFFF else "I"
    at = np.arange(len(story), dtype=np.uint16 if code == "H" else np.uint32)
    keys: list[array[int]] = []
    offsets: list[array[int]] = []
    for band in range(_BANDS):
        values = np.frombuffer(b"".join(analysis.band_keys[band].tobytes()
                                        for _, analysis in story), dtype=np.uint64)
        owners = np.repeat(at, counts[band])
        order = np.argsort(values, kind="stable")  # ties keep the window's order
        band_keys, band_offsets = array("Q"), array(code)
        band_keys.frombytes(values[order].tobytes())
        band_offsets.frombytes(owners[order].tobytes())
        keys.append(band_keys)
        offsets.append(band_offsets)
    return KeyIndex(start=first, end=first + len(story), keys=tuple(keys),
                    offsets=tuple(offsets))


def _holds_any(analysis: Analysis, keys: Iterable[int]) -> bool:
    """Whether a sentence of ``analysis`` has one of the min-hash ``keys``."""
    for key in keys:
        values = analysis.band_keys[key >> _BAND_BITS]
        value = key & _BAND_MASK
        i = bisect_left(values, value)
        if i < len(values) and values[i] == value:
            return True
    return False


def _sharing(keys: Sequence[int], since: int, story: Sequence[Analysed], memo: SummaryMemo
             ) -> set[int]:
    """The positions from ``since`` on of the articles of ``story`` (the memo's window)
    with a sentence holding one of ``keys``: from the key index, and for the articles
    that joined after it was made, from their own band arrays."""
    found: set[int] = set()
    index = memo.key_index
    tail = since
    if index is not None:
        if since < index.end:
            for key in keys:
                found.update(index.holding(key, since))
        tail = max(since, index.end)
    first = memo.window_first
    for position in range(tail, first + len(story)):
        if _holds_any(story[position - first][1], keys):
            found.add(position)
    return found


def _window(story: Sequence[Analysed], memo: SummaryMemo) -> None:
    """Bring the memo's window positions (see SummaryMemo) up to ``story``."""
    key = tuple(map(_second, story))
    if key == memo.window_key:
        return
    slid = _slide(memo.window_key, key)
    if slid is None:
        memo.epoch += 1
        memo.window_first += len(memo.window_key)
        memo.claims = {}
        memo.key_index = None
    else:
        memo.window_first += slid[0]
    memo.window_key = key
    index = memo.key_index
    indexed = memo.window_first if index is None else index.end
    if memo.window_first + len(key) - indexed > KEY_TAIL:
        memo.key_index = _key_index(story, memo.window_first)
    if len(memo.claims) > 4 * POOL:
        memo.claims = {}


def _supporters(claim: Sentence, story: Sequence[Analysed], memo: SummaryMemo
                ) -> list[tuple[int, int]]:
    """(position in the window, supporting sentence) of every article of ``story`` (the
    memo's window) holding a sentence that supports ``claim``, in story order: what
    ``_supporting_sentence`` gives for each, asked only of the articles that joined since
    the claim was last looked at."""
    first = memo.window_first
    end = first + len(story)
    entry = memo.claims.get(id(claim))
    if entry is None or entry[0] is not claim or entry[1] != memo.epoch:
        checked, found = first, []
    else:
        checked, found = max(entry[2], first), entry[3]
        if found and found[0][0] < first:  # the oldest slid out of the window
            found = [f for f in found if f[0] >= first]
    # the articles that joined since, among those sharing a key with the claim: what a
    # pass over every position from ``checked`` finds, as only those can support it
    for position in sorted(_sharing(claim.keys, checked, story, memo)):
        i = _supporting_sentence(claim, story[position - first][1])
        if i is not None:
            found.append((position, i))
    memo.claims[id(claim)] = (claim, memo.epoch, end, found)
    return [(position - first, i) for position, i in found]


def citations_for(
    claim: Sentence,
    origin: CitedArticle,
    story: Sequence[Analysed],
    copy_of: dict[int, int | None] | None = None,
    memo: SummaryMemo | None = None,
) -> tuple[Citation, ...]:
    """The origin and every other article holding a near-identical sentence; each original
    before its copies, otherwise by citation number. With the story's ``memo``, ``story``
    must be the window it last saw (``_window``)."""
    found = [Citation(n=origin.n, uri=origin.uri, version=origin.version, sentence=claim.index)]
    if memo is not None:
        for k, i in _supporters(claim, story, memo):
            article = story[k][0]
            if article.uri != origin.uri:
                found.append(Citation(n=article.n, uri=article.uri, version=article.version,
                                      sentence=i))
    else:
        for article, analysis in story:
            if article.uri == origin.uri:
                continue
            j = _supporting_sentence(claim, analysis)
            if j is not None:
                found.append(Citation(n=article.n, uri=article.uri, version=article.version,
                                      sentence=j))
    if copy_of is None:
        copy_of = {a.n: a.copy_of for a, _ in story}

    def order(c: Citation) -> tuple[int, int, int]:
        group = copy_of.get(c.n)
        return (group if group is not None else c.n, 0 if group is None else 1, c.n)

    return tuple(sorted(found, key=order))


# ---------------------------------------------------------------------------------------------
# Candidates.


@dataclass(frozen=True, slots=True)
class Candidate:
    sentence: Sentence
    article: CitedArticle
    score: float
    rank: int  # position in the pool, the explicit tie-break everywhere below
    name_forms: dict[str, tuple[str, NameKind]]  # of the sentence's article (its analysis)

    @property
    def sort_key(self) -> tuple[float, int, int]:
        return (-self.score, self.article.n, self.sentence.index)


def _similar_to_any(terms: frozenset[str], others: Sequence[frozenset[str]],
                    threshold: float) -> bool:
    """Whether ``terms`` has a Jaccard (shared over all distinct terms) of at least
    ``threshold`` (> 0) with any of ``others``; a loop of its own because it runs for every
    pair of a revision's candidates."""
    n = len(terms)
    for other in others:
        common = len(terms & other)
        union = n + len(other) - common
        if union and common / union >= threshold:
            return True
    return False


# A lead sentence, for good: its analysis's serial (unique in the process) and its index
# (a lead sentence's, far below 2^32), as one int: a key hashes as itself.
PoolKey = int
# (sentence, its terms as a set, the keys of the candidates it is known not to repeat, of
# those it is known to repeat)
Redundancy = tuple[Sentence, frozenset[str], set[PoolKey], set[PoolKey]]


def _pool_key(analysis: Analysis, s: Sentence) -> PoolKey:
    return (analysis.serial << 32) | s.index


def _redundancy_entry(s: Sentence, known: dict[int, Redundancy],
                      asked: dict[int, Redundancy]) -> Redundancy:
    """What the last revision learnt about the redundancy of ``s`` (``known``), or a new
    entry; ``asked`` gets it, for the next revision."""
    entry = known.get(id(s))
    if entry is None or entry[0] is not s:
        entry = (s, frozenset(s.terms), set(), set())
    asked[id(s)] = entry
    return entry


def _redundant_kept(entry: Redundancy, chosen: dict[PoolKey, frozenset[str]],
                    chosen_once: set[frozenset[str]]) -> bool:
    """Whether the sentence of ``entry`` (``_redundancy_entry``) has a Jaccard of at least
    REDUNDANT with any of ``chosen`` (``chosen_once``: the same sets, for lookup: a copy leads
    with its original's very terms, four in five of the redundant candidates of a long story,
    and an equal non-empty set has a Jaccard of 1), asking only the chosen candidates not
    answered before: the entry keeps what earlier questions learnt (the candidates it repeats
    and those it does not; a pair's answer is its two term sets', which never change), over this
    revision and the next. The pool changes by a few candidates a revision, so most of a
    candidate's comparisons (29 a question, nearly all of them "no") were the last revision's
    again. Whether any of the chosen repeats it does not depend on the order they are asked in.
    Keys (``_pool_key``) are never reused, as an id can be once its sentence is gone. The
    entry's term set is made once, and hashed once."""
    _, terms, apart, alike = entry
    if terms and terms in chosen_once:
        return True
    if alike and not alike.isdisjoint(chosen):
        return True
    n = len(terms)
    for key in chosen.keys() - apart:
        other = chosen[key]
        common = len(terms & other)
        union = n + len(other) - common
        if union and common / union >= REDUNDANT:
            alike.add(key)
            return True
        apart.add(key)
    return False


def _timeline_sets(timeline: Sequence[TimelineEntry], memo: SummaryMemo | None
                   ) -> list[frozenset[str]]:
    """The terms of each timeline entry's text, as sets; kept in ``memo`` by text for the
    entries of the last revision (the page's timeline changes by an entry or two, and in a
    long story seldom at all), and with them the answers of :func:`_on_timeline`."""
    known = memo.timeline_sets if memo is not None else {}
    sets = {e.text: known.get(e.text) or frozenset(terms_of(e.text)) for e in timeline}
    if memo is not None:
        if list(sets) != list(known):
            memo.on_timeline = {}
        memo.timeline_sets = sets
    return [sets[e.text] for e in timeline]


def _on_timeline(s: Sentence, terms: frozenset[str], timeline_sets: list[frozenset[str]],
                 known: dict[int, tuple[Sentence, bool]],
                 asked: dict[int, tuple[Sentence, bool]]) -> bool:
    """Whether the sentence ``s`` of ``terms`` says what a timeline entry says (a Jaccard
    of at least ON_TIMELINE_JACCARD): ``known``, the answers of the last revision (while
    the timeline's texts stay); ``asked`` gets this one."""
    found = known.get(id(s))
    answer = (found[1] if found is not None and found[0] is s
              else _similar_to_any(terms, timeline_sets, ON_TIMELINE_JACCARD))
    asked[id(s)] = (s, answer)
    return answer


LeadEntry = tuple[str, Sentence]  # (source, lead sentence)
# A band held by one lead sentence (most bands) keeps its entry, not a list of one: the list
# weighed ~90 bytes a band, two bands a lead sentence, in every window analysis.
LeadIndex = dict[int, LeadEntry | list[LeadEntry]]


def _entries(held: LeadEntry | list[LeadEntry] | None) -> Sequence[LeadEntry]:
    """A band's entries in the lead index, in story order."""
    if held is None:
        return ()
    return (held,) if isinstance(held, tuple) else held


def _lead_index(story: Sequence[Analysed], memo: SummaryMemo | None = None) -> LeadIndex:
    """LSH band -> (source, lead sentence) over the story, in story order; like the weights,
    updated by the difference when the story only slid forward. The support counts kept in
    ``memo`` of the sentences in a band that changed are let go (see _lead_support_kept)."""
    key = tuple((analysis, article.source) for article, analysis in story)
    index: LeadIndex = {}
    new = key
    changed: set[int] = set()
    if memo is not None:
        if memo.index is not None and key == memo.index_key:
            return memo.index
        slid = _slide(memo.index_key, key) if memo.index is not None else None
        if slid is None:
            memo.lead_support = {}
        else:
            dropped, new = slid
            assert memo.index is not None
            index = memo.index
            for analysis, _source in memo.index_key[:dropped]:
                # the oldest articles' entries are at the front of their band lists
                for s in analysis.lead:
                    memo.lead_support.pop(id(s), None)
                    for band in s.keys[:LEAD_BANDS]:
                        entries = index[band]
                        if isinstance(entries, tuple):
                            del index[band]
                            continue
                        del entries[0]
                        if len(entries) == 1:
                            index[band] = entries[0]
                        changed.add(band)
    for analysis, source in new:
        for s in analysis.lead:
            entry = (source, s)
            for band in s.keys[:LEAD_BANDS]:
                held = index.get(band)
                if held is None:
                    index[band] = entry
                elif isinstance(held, tuple):
                    index[band] = [held, entry]
                else:
                    held.append(entry)
                changed.add(band)
    if memo is not None:
        support = memo.lead_support
        if support:
            for band in changed:
                for _source, s in _entries(index.get(band)):
                    support.pop(id(s), None)
        memo.index_key, memo.index = key, index
    return index


# (source, print) -> the days (ordinals) originals of that source led with it -> how many:
# one day's count as one int, ordinal << DAY_SHIFT | count (most prints are one article's),
# a dict only for two days or more (a dict of one weighed ~230 bytes a lead sentence)
Templates = dict[tuple[str, int], int | dict[int, int]]
DAY_SHIFT = 32


def _print(s: Sentence) -> int:
    """A lead sentence's words (lower case, punctuation out) as a crc32: the same sentence
    word for word, whatever its punctuation and case. Kept on the sentence."""
    found = s.lead_print
    if found is None:
        found = zlib.crc32(" ".join(s.words).encode())
        object.__setattr__(s, "lead_print", found)
    return found


def _lead_prints(analysis: Analysis) -> list[int]:
    """The distinct prints of an article's lead sentences, in sentence order."""
    return list(dict.fromkeys(_print(s) for s in analysis.lead))


def _count_prints(index: Templates, analysis: Analysis, source: str, day: dt.date,
                  step: int) -> None:
    """Count the lead sentences of ``analysis`` (an original of ``source`` published on
    ``day``) in (``step`` 1) or out (-1: one counted in before)."""
    ordinal = day.toordinal()
    for key in _lead_prints(analysis):
        held = index.get((source, key))
        if held is None:
            index[(source, key)] = (ordinal << DAY_SHIFT) | step
            continue
        if isinstance(held, int):
            if held >> DAY_SHIFT != ordinal:  # a second day
                index[(source, key)] = {held >> DAY_SHIFT: held & _COUNT_MASK, ordinal: step}
                continue
            left = (held & _COUNT_MASK) + step
            if left:
                index[(source, key)] = (ordinal << DAY_SHIFT) | left
            else:
                del index[(source, key)]
            continue
        left = held.get(ordinal, 0) + step
        if left:
            held[ordinal] = left
        else:
            del held[ordinal]
            if len(held) == 1:
                ((only, count),) = held.items()
                index[(source, key)] = (only << DAY_SHIFT) | count


_COUNT_MASK = (1 << DAY_SHIFT) - 1


def _templates(story: Sequence[Analysed], memo: SummaryMemo | None = None) -> Templates:
    """(source, print) -> day -> how many of the story's originals of that source published
    that day lead with that sentence. Like the lead index, updated by the difference when
    the originals only slid forward: a revision costs the joining and leaving articles'
    lead sentences, whatever the story's size."""
    key = tuple((analysis, article.source, article.published.date())
                for article, analysis in story if article.copy_of is None)
    index: Templates = {}
    new = key
    if memo is not None:
        if memo.templates is not None and key == memo.templates_key:
            return memo.templates
        slid = _slide(memo.templates_key, key) if memo.templates is not None else None
        if slid is not None:
            dropped, new = slid
            assert memo.templates is not None
            index = memo.templates
            for analysis, source, day in memo.templates_key[:dropped]:
                _count_prints(index, analysis, source, day, -1)
    for analysis, source, day in new:
        _count_prints(index, analysis, source, day, 1)
    if memo is not None:
        memo.templates_key, memo.templates = key, index
    return index


def is_template(s: Sentence, source: str, templates: Templates) -> bool:
    """Whether originals of ``source`` published on TEMPLATE_DAYS different days or more all
    lead with ``s``, word for word: the source's page furniture (a "related stories" line
    on every page, a standing caption), which no report repeats from day to day; a wire
    story other sources carry is theirs, not this source's, and counts for none."""
    held = templates.get((source, _print(s)))
    days = 0 if held is None else 1 if isinstance(held, int) else len(held)
    return days >= TEMPLATE_DAYS


def _lead_support_kept(s: Sentence, source: str, lead_index: LeadIndex, memo: SummaryMemo
                       ) -> int:
    """``_lead_support``, kept in the memo until one of the sentence's bands changes (its
    count depends on nothing else; ``_lead_index`` lets go of it then)."""
    found = memo.lead_support.get(id(s))
    if found is not None and found[0] is s and found[1] == source:
        return found[2]
    count = _lead_support(s, source, lead_index)
    memo.lead_support[id(s)] = (s, source, count)
    return count


def _lead_support(s: Sentence, source: str, lead_index: LeadIndex) -> int:
    sources: set[str] = set()
    for key in s.keys[:LEAD_BANDS]:
        for other_source, other in _entries(lead_index.get(key)):
            if (other_source != source and other_source not in sources
                    and _supports_cached(s, other)):
                sources.add(other_source)
    return len(sources)


@functools.lru_cache(maxsize=256)
def _support_factor(support: int) -> float:
    """A candidate's factor for the other sources that support it: the same few small
    counts every revision, their logarithms each taken once."""
    return 1.0 + SUPPORT_BONUS * log2_of(1 + support)


def candidates(
    story: Sequence[Analysed],
    weights: StoryWeights,
    timeline: Sequence[TimelineEntry] = (),
    memo: SummaryMemo | None = None,
) -> list[Candidate]:
    """The eligible lead sentences of the most recent originals, best first, near-duplicates
    collapsed, at most ``POOL``."""
    in_order = by_time(story, memo)
    recent = in_order[-CANDIDATE_ARTICLES:]
    # the recency of an article is its rank in time among all the window's originals; only
    # the recent ones' are read (a uri's last rank, as a map over all of them would keep)
    offset = len(in_order) - len(recent)
    recency = {a.uri: (offset + i) / max(len(in_order) - 1, 1)
               for i, (a, _) in enumerate(recent)}
    # Lead-sentence index for support counting: how many other sources lead with the same
    # statement (verified: same numbers and polarity, not just similar words).
    lead_index = _lead_index(story, memo)
    templates = _templates(story, memo)
    timeline_sets = _timeline_sets(timeline, memo)

    # The cheap features, for every eligible lead sentence at once (see _scored): the
    # centrality, then position, recency, shared names and figures, in that order.
    kept = memo is not None
    if memo is None:  # ids and counts for this call only, from the weights themselves
        memo = SummaryMemo()
        counts = memo.counts = _Counts()
        df, names = list(weights.df.items()), list(weights.names.items())
        term_ids = counts.ids(counts.term_ids, [term for term, _ in df])
        name_ids = counts.ids(counts.name_ids, [key for key, _ in names])
        counts.fit()
        counts.df[term_ids] = [count for _, count in df]
        counts.names[name_ids] = [count for _, count in names]
    else:  # the weights' own articles, counted along with them
        counts = _counts(originals(story, memo), memo)
    # Support from other sources is the costly feature: only the best SUPPORT_RANKED by the
    # cheap ones get it, and they are ranked again with it. A source's page furniture is no
    # candidate (is_template): asked of each sentence only as the ranking reaches it.
    # With the memo, ``is_template`` and ``_lead_support_kept`` are read inline for the
    # ~220 sentences a revision reaches (their prints and counts are nearly all kept): the
    # same lookups without two calls a sentence; the functions when one is not kept.
    supported: list[tuple[tuple[float, int, int], Sentence, Analysed, float]] = []
    held_support = memo.lead_support if kept else {}
    templates_get = templates.get
    for score, s, pair in _scored(recent, recency, weights.size, counts, memo):
        if len(supported) >= SUPPORT_RANKED:
            break
        article = pair[0]
        source = article.source
        if kept:
            printed = s.lead_print
            held = templates_get((source, printed if printed is not None else _print(s)))
            if held is not None and (1 if isinstance(held, int) else len(held)
                                     ) >= TEMPLATE_DAYS:
                continue
            found = held_support.get(id(s))
            support = (found[2] if found is not None and found[0] is s and found[1] == source
                       else _lead_support_kept(s, source, lead_index, memo))
        else:
            if is_template(s, source, templates):
                continue
            support = _lead_support(s, source, lead_index)
        score *= _support_factor(support)
        supported.append(((-score, article.n, s.index), s, pair, score))
    supported.sort(key=lambda x: x[0])
    scored = supported

    # Term sets built once, not once per comparison; terms are distinct, so the Jaccard
    # is the one _jaccard gives.
    # (sort key, sentence, article, score, name forms): made candidates once sorted (a
    # frozen dataclass is made field by field; the first ones' ranks were never read)
    chosen: list[tuple[tuple[float, int, int], Sentence, CitedArticle, float,
                       dict[str, tuple[str, NameKind]]]] = []
    chosen_sets: dict[PoolKey, frozenset[str]] = {}
    chosen_once: set[frozenset[str]] = set()
    known = memo.on_timeline
    asked: dict[int, tuple[Sentence, bool]] = {}
    known_apart = memo.redundancy
    asked_apart: dict[int, Redundancy] = {}
    for _, s, (article, analysis), score in scored:
        entry = _redundancy_entry(s, known_apart, asked_apart)
        if _redundant_kept(entry, chosen_sets, chosen_once):
            continue
        terms = entry[1]
        if _on_timeline(s, terms, timeline_sets, known, asked):
            score *= ON_TIMELINE_FACTOR  # the page already shows it as a dated entry
        chosen.append(((-score, article.n, s.index), s, article, score, analysis.name_forms))
        chosen_sets[_pool_key(analysis, s)] = terms
        chosen_once.add(terms)
        if len(chosen) >= POOL:
            break
    memo.on_timeline = asked  # the kept candidates' only: the next revision asks again
    memo.redundancy = asked_apart  # the candidates asked this time only, likewise
    chosen.sort(key=_first)  # Candidate.sort_key's values
    return [Candidate(s, article, score, i, name_forms)
            for i, (_, s, article, score, name_forms) in enumerate(chosen)]


# ---------------------------------------------------------------------------------------------
# Paragraphs and key phrases.


def _distinctive(pool: Sequence[Candidate],
                 features: dict[int, tuple[str, ...]] | None = None) -> dict[str, float]:
    """Inside the pool, terms most candidates share separate no themes: idf over the pool.
    ``features``: ``_pool_features(pool)`` when the caller has it.

    Counted in one pass over the features, and each count's logarithm taken once (a pool
    of 60 has ~600 distinct features but at most 60 distinct counts): the same
    ``log_of_ratio`` values, the same keys in the same order."""
    if features is None:
        features = _pool_features(pool)
    df = Counter(chain.from_iterable(features[id(c)] for c in pool))
    if not df:
        return {}
    n = len(pool)
    logs = _idf_logs(n + 1, max(df.values()))
    return dict(zip(df.keys(), map(logs.__getitem__, df.values()), strict=True))


@functools.lru_cache(maxsize=256)
def _idf_logs(numerator: int, top: int) -> tuple[float, ...]:
    """``log_of_ratio(numerator, c)`` at index c for every count c from 1 to ``top``
    (index 0 unused): a pool's idf table, the same few for every revision."""
    return (math.nan, *(log_of_ratio(numerator, c) for c in range(1, top + 1)))


@functools.lru_cache(maxsize=8192)
def _name_feature(key: str) -> str:
    """A name's feature: its key marked as a name (one string a name, not one a use)."""
    return f"@{key}"


def _features(c: Candidate) -> tuple[str, ...]:
    return c.sentence.terms + tuple(map(_name_feature, c.sentence.names))


def _pool_features(pool: Sequence[Candidate]) -> dict[int, tuple[str, ...]]:
    """Each candidate's features, by identity: ``_distinctive`` and ``group`` read them
    for every candidate, and the themes again as they grow."""
    return {id(c): _features(c) for c in pool}


# (features, their weights, the total weight): the features as a tuple of their own and the
# weights as another, so that a share is one pass of C (``_share``)
Weighted = tuple[tuple[str, ...], tuple[float, ...], float]


def _weighted(c: Candidate, idf: dict[str, float], features: tuple[str, ...] | None = None
              ) -> Weighted:
    """A candidate's features with their idf weights (names count double) and their
    total, summed in feature order (``reduce`` adds left to right from 0.0, as a loop of
    ``total += w`` does). The names are the features after the terms, the only ones marked
    "@" (a term is made of letters and digits), so the weights are the terms' idf, then
    the names' times NAME_FEATURE_WEIGHT: what multiplying every feature by 1.0 or by
    that gives (x * 1.0 == x)."""
    if features is None:
        features = _features(c)
    get = idf.get
    terms = len(c.sentence.terms)
    weights = (*map(get, features[:terms], repeat(0.0)),
               *map(mul, map(get, features[terms:], repeat(0.0)),
                    repeat(NAME_FEATURE_WEIGHT)))
    return features, weights, reduce(add, weights, 0.0)


def _share(weighted: Weighted, theme: set[str]) -> float:
    """Share of a candidate's distinctive weight that ``theme`` covers: the weights of the
    covered features added left to right from 0.0, as a loop over them does."""
    features, weights, total = weighted
    if not total:
        return 0.0
    return reduce(add, compress(weights, map(theme.__contains__, features)), 0.0) / total


def group(pool: Sequence[Candidate], max_paragraphs: int, per_paragraph: int,
          lead: Sequence[Candidate] = (), idf: dict[str, float] | None = None,
          features: dict[int, tuple[str, ...]] | None = None) -> list[list[Candidate]]:
    """Paragraphs by theme, each seed first and its members best first. ``lead``: the
    candidates of the latest development (``latest_development``), which make the first
    paragraph whatever their themes (its best ``per_paragraph``). ``idf``:
    ``_distinctive(pool)`` and ``features`` ``_pool_features(pool)`` when the caller has
    them."""
    if features is None:
        features = _pool_features(pool)
    if idf is None:
        idf = _distinctive(pool, features)
    # weights once per candidate, not once per question: keyed by identity, only looked up
    weighted = {id(c): _weighted(c, idf, features[id(c)]) for c in pool}
    # The candidates not placed yet, in pool order, by identity: taking one out is one
    # deletion, where a list's ``remove`` compared it (dataclass equality, field by field)
    # with every candidate before it. The same as that list: a pool's candidates are
    # distinct (``candidates`` numbers them, ``rank``), so the first equal to one is itself.
    remaining = {id(c): c for c in pool}
    paragraphs: list[list[Candidate]] = []
    covered: set[str] = set()
    if lead and max_paragraphs > 0:
        members = list(lead[:per_paragraph])
        for c in members:
            del remaining[id(c)]
            covered.update(features[id(c)])
        paragraphs.append(members)
    while remaining and len(paragraphs) < max_paragraphs:
        # The next theme opens with the best candidate that is mostly about something the
        # earlier paragraphs did not cover; the best one overall when none is.
        seed = next((c for c in remaining.values()
                     if _share(weighted[id(c)], covered) < SEED_OVERLAP),
                    next(iter(remaining.values())))
        del remaining[id(seed)]
        members = [seed]
        theme = set(features[id(seed)])
        for c in list(remaining.values()):
            if len(members) >= per_paragraph:
                break
            if _share(weighted[id(c)], theme) >= THEME_MIN:
                members.append(c)
                theme.update(features[id(c)])
                del remaining[id(c)]
        _add_next_sentences(members, remaining, per_paragraph, theme, features)
        paragraphs.append(members)
        covered |= theme
    return paragraphs


def _add_next_sentences(members: list[Candidate], remaining: dict[int, Candidate],
                        per_paragraph: int, theme: set[str],
                        features: dict[int, tuple[str, ...]]) -> None:
    """Room left in a paragraph goes to the pool's candidates that follow one of its
    sentences in the same article: a report's next sentence goes on about what the one
    before it said ("... reached a tentative agreement late on Wednesday." "The deal gives
    workers a 4.5 percent raise ..."), whatever words they share."""
    while len(members) < per_paragraph:
        following = {(m.article.n, m.sentence.index + 1) for m in members}
        c = next((c for c in remaining.values()
                  if (c.article.n, c.sentence.index) in following), None)
        if c is None:
            return
        members.append(c)
        theme.update(features[id(c)])
        del remaining[id(c)]


def latest_development(pool: Sequence[Candidate]) -> list[Candidate]:
    """The candidates (best first, as ``pool`` is) of the originals published within
    ``LATEST_SPAN`` of the newest original that has one: what the story's newest reports
    add."""
    if not pool:
        return []
    newest = max(c.article.published for c in pool)
    return [c for c in pool if c.article.published >= newest - LATEST_SPAN]


@functools.lru_cache(maxsize=4096)
def _reported_day(text: str, published: dt.date) -> dt.date:
    """The day of what ``text`` reports (pure, so cached): the day the sentence gives its
    own event (``sentence_date``: not a date of something else, such as "since April 20"),
    when that is not after the article's publication day; the publication day for an event
    without a day (a month or a year more often dates the background: "charges that he
    assaulted her last month") or one announced for later."""
    mentions = [m for m in find_dates(Document((text,)), published)
                if m.span.precision is DatePrecision.DAY]
    chosen = sentence_date(mentions, text, published)
    if chosen is None or chosen.span.end > published:
        return published
    return chosen.span.start


def _day_of(days: tuple[tuple[dt.date, dt.date], ...], published: dt.date) -> dt.date:
    """``_reported_day`` from the sentence's ``days``: ``sentence_date`` over them is the
    first not after ``published`` (all are day-precise, in text order), else the first (a
    plan, so ``published``)."""
    for start, end in days:
        if start <= published:
            return start if end <= published else published
    return published


def reported_day(s: Sentence, published: dt.date) -> dt.date:
    """The day of what lead sentence ``s`` of an article published on ``published``
    reports: from its ``days``, else by scanning its text (``_reported_day``)."""
    if s.days is not None:
        return _day_of(s.days, published)
    return _reported_day(s.text, published)


def fact_time(c: Candidate) -> tuple[dt.date, dt.datetime, int, int]:
    """When a summary sentence's fact happened, as a sort key: its day (``reported_day``),
    then the article's publication, its number and the sentence's index."""
    published = c.article.published
    return (reported_day(c.sentence, published.date()), published, c.article.n,
            c.sentence.index)


def arrange(paragraphs: list[list[Candidate]], lead: Sequence[Candidate]
            ) -> list[list[Candidate]]:
    """The order a reader expects: the paragraph of the latest development (``lead``) first,
    led by its best sentence, or by the sentence its report puts before that one (a report
    opens with its news: "Metro trains and buses returned ... after workers voted to accept
    the new contract" before "About 81 percent of union members who voted backed the deal"),
    the rest in time order of their facts; then the background paragraphs in time order of
    their earliest fact, each in time order."""
    first: list[list[Candidate]] = []
    background: list[list[Candidate]] = []
    for members in paragraphs:
        if lead and not first and members[0] is lead[0]:
            best = members[0]
            leader = min((m for m in members if m.article.n == best.article.n),
                         key=lambda m: m.sentence.index)
            first.append([leader, *sorted((m for m in members if m is not leader),
                                          key=fact_time)])
        else:
            background.append(sorted(members, key=fact_time))
    background.sort(key=lambda members: fact_time(members[0]))
    return first + background


# A label is a phrase the paragraph's sentences use, as they spell it: a name of the
# article's facts, or a noun phrase opened by a determiner ("a [tentative agreement]", "the
# [SmartHeat recall]") and running up to the next function word, verb or punctuation.
_DETERMINERS = wordset("the a an its their his her our this these those another each")
_PHRASE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
# Verbs with no -ed or -s ending to give them away ("the Aldwater burst its banks").
_PHRASE_VERBS = _VERBS | wordset(
    """burst cut shut spread cost hurt quit cast rose fell hit split bid beat bet dealt drew
    fought forced ordered remain remains continue continues plan plans hope hopes give
    gives""")
# Adverbs that end a phrase ("a tentative agreement late on Wednesday").
_PHRASE_ADVERBS = wordset("late early again soon ahead alone abroad overnight home")
# After an -s word these say it was a verb ("the river rises to", "the firm recalls the").
_OBJECT_OPENERS = wordset("the a an its their his her to that")
PHRASE_RUN = PAGE.summary.phrase_run
_POSSESSIVE = re.compile(r"(?:['’]s|s['’])$", re.IGNORECASE)


def _after_a_noun(word: str) -> bool:
    """Whether a lower-case ``word`` after a one-word name says the name is a noun: a
    function word ("Egypt and"), or a verb ("the Aldwater burst its banks", "BP agreed"),
    where a noun would make the name an adjective ("Liberian president")."""
    return word in STOPWORDS or word in _PHRASE_VERBS or word.endswith("ed")


def _phrase_spans(text: str, surfaces: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of the label phrases of ``text``: every occurrence of a name in
    ``surfaces`` (with a code or number that completes it: "Local 12", "SmartHeat P3";
    not a one-word name used as an adjective: "French court") and every noun phrase of at
    least two words opened by a determiner."""
    spans: list[tuple[int, int]] = []
    toks = list(_PHRASE_TOKEN.finditer(text))
    for surface in surfaces:
        for m in re.finditer(rf"(?<![\w-]){re.escape(surface)}(?![\w-])", text):
            end = m.end()
            code = re.match(r" (?=[A-Za-z]*\d)[A-Z0-9][A-Za-z0-9-]*\b", text[end:])
            if code is not None:
                end += code.end()
            elif " " not in surface and (next_word := re.match(r" ([a-z]+)", text[end:])
                                         ) and not _after_a_noun(next_word.group(1)):
                continue  # used as an adjective: "Liberian president"
            spans.append((m.start(), end))
    for i, tok in enumerate(toks):
        if tok.group().lower() not in _DETERMINERS:
            continue
        run: list[re.Match[str]] = []
        prev_end = tok.end()
        for nxt in toks[i + 1:i + 1 + PHRASE_RUN]:
            low = nxt.group().lower()
            if (text[prev_end:nxt.start()] != " " or low in STOPWORDS or low in _PHRASE_VERBS
                    or low.endswith("ly") or low.isdigit() or low in _DETERMINERS
                    or low in _PHRASE_ADVERBS or (run and low.endswith("ed"))):
                break  # (after a noun, an -ed word is its verb: "the river [flooded]")
            run.append(nxt)
            prev_end = nxt.end()
        while run:  # the head of a noun phrase is no verb
            last = run[-1].group().lower()
            after = text[run[-1].end():].split(" ", 2)
            following = after[1].lower() if len(after) > 1 and after[0] == "" else ""
            if last.endswith("ed") or _POSSESSIVE.search(last) is not None or (
                    last.endswith("s") and not last.endswith(("ss", "us", "is"))
                    and following in _OBJECT_OPENERS and len(run) > 1):
                run.pop()  # (a possessive is no head: "a probation officer's [report]")
            else:
                break
        if run and _POSSESSIVE.search(run[0].group()) is not None:
            run.pop(0)  # the determiner was the possessor's: "this year's [NBA finals]"
        if len(run) >= LABEL_MIN_WORDS:
            spans.append((run[0].start(), run[-1].end()))
    return spans


PHRASES_CACHE = 2048  # sentences whose label phrases are kept (a few per story in play)


@functools.lru_cache(maxsize=PHRASES_CACHE)
def _sentence_phrases(text: str, surfaces: tuple[str, ...]
                      ) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """The label phrases of a sentence (``_phrase_spans``) that can be labels (at most
    ``KEY_PHRASE_WORDS`` words, some content term), in order, as (lower case, as written,
    terms). Pure, so cached: a paragraph's sentences stay over many revisions, and the
    phrases were found again for each (``_label_options``)."""
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for start, end in _phrase_spans(text, surfaces):
        phrase = text[start:end]
        if len(phrase.split()) > KEY_PHRASE_WORDS:
            continue
        terms = _plain_terms(tokens(phrase))
        if terms:
            out.append((phrase.lower(), phrase, terms))
    return tuple(out)


def _label_options(members: Sequence[Candidate], idf: dict[str, float]
                   ) -> list[tuple[int, float, str]]:
    """(sentences, score, phrase) of every phrase the paragraph's sentences use, best first:
    in more of the paragraph's sentences (every term of the phrase there), then by score:
    the distinctive weight (idf inside the pool) of its terms, each by the share of the
    paragraph's sentences that have it, over the square root of its term count."""
    term_sets = [frozenset(c.sentence.terms) for c in members]
    # how many of the sentences have each term: what counting the sets that hold it gives
    # (a sentence's terms are distinct), counted once, not once a phrase's term
    having_term = Counter(chain.from_iterable(term_sets))
    found: dict[str, tuple[int, float, str]] = {}
    for c in members:
        surfaces = tuple(sorted({form[0] for key in c.sentence.names
                                 if (form := c.name_forms.get(key)) is not None
                                 and form[1] is not NameKind.OTHER
                                 and len(form[0]) >= LABEL_NAME_MIN_CHARS}))
        for low, phrase, terms in _sentence_phrases(c.sentence.text, surfaces):
            if low in found:
                continue
            weight = ordered_sum(idf.get(t, 0.0) * having_term[t] for t in terms
                                 ) / len(members)
            having = sum(1 for ts in term_sets if ts.issuperset(terms))  # ints
            found[low] = (having, weight / math.sqrt(len(terms)), phrase)
    return sorted(found.values(), key=lambda o: (-o[0], -o[1], -len(o[2].split()), o[2]))


def key_phrase(members: Sequence[Candidate], idf: dict[str, float],
               used: frozenset[str] = frozenset()) -> str:
    """The paragraph's label: its best phrase (``_label_options``) as written, first letter
    raised, that no earlier paragraph used (``used``, lower case); empty when there is
    none."""
    for _, score, phrase in _label_options(members, idf):
        if score > 0 and phrase.lower() not in used:
            return phrase[0].upper() + phrase[1:]
    return ""


# ---------------------------------------------------------------------------------------------
# Entry point.


def summarise(
    articles: Sequence[CitedArticle],
    timeline: Sequence[TimelineEntry],
    *,
    max_paragraphs: int = PAGE.summary.max_paragraphs,
    sentences_per_paragraph: int = PAGE.summary.sentences_per_paragraph,
    memo: SummaryMemo | None = None,
    window: Sequence[Analysed] | None = None,
) -> tuple[SummaryParagraph, ...]:
    """The summary of a story: up to ``max_paragraphs`` themed paragraphs of cited sentences.
    ``window``: ``analysed(articles[-STORY_WINDOW:], memo)`` when the caller has it."""
    if not articles or max_paragraphs <= 0 or sentences_per_paragraph <= 0:
        return ()
    articles = articles[-STORY_WINDOW:]
    story = analysed(articles, memo) if window is None else window
    weights = story_weights(originals(story, memo), memo)
    pool = candidates(story, weights, timeline, memo)
    copy_of = {a.n: a.copy_of for a in articles}
    if memo is not None:
        _window(story, memo)
    paragraphs: list[SummaryParagraph] = []
    used: set[str] = set()
    lead = latest_development(pool)
    features = _pool_features(pool)
    idf = _distinctive(pool, features)
    for members in arrange(group(pool, max_paragraphs, sentences_per_paragraph, lead, idf,
                                 features), lead):
        phrase = key_phrase(sorted(members, key=lambda c: c.rank), idf, frozenset(used))
        used.add(phrase.lower())
        paragraphs.append(
            SummaryParagraph(
                key_phrase=repair_mojibake(phrase),
                sentences=tuple(
                    CitedSentence(
                        text=repair_mojibake(c.sentence.shown or c.sentence.text),
                        citations=citations_for(c.sentence, c.article, story, copy_of,
                                                memo),
                    )
                    for c in members
                ),
            )
        )
    return tuple(paragraphs)
