"""The story's display title.

Headlines, when the sources give them: the one closest to the story's centroid (the share of
articles whose lead uses each of its terms). Timeline17 items have none, so the title is
then derived: the most central short opening clause of a lead sentence, trimmed to a
headline's length.

The title follows the story's *lead development*: the originals published within
``LEAD_SPAN`` of the newest one. The title is the best option of those articles among the
ones that score at least ``LEAD_FLOOR`` of the best option of the whole window (so a stray
article does not name the story); when none does, the best of the window. A title is
sticky: the previous one stays while it is still an option of the lead development and
scores at least ``KEEP`` of the best, so one more article of the same development does not
rename the story. It is re-chosen when the lead development moves on (the articles it came
from are no longer the latest), and when a correction or a withdrawal takes its words away
(no current article offers it any more). Ties are broken by citation number, sentence and
text: the same articles always give the same title.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from storyline.domain.extract.analysis import (
    ANAPHORIC,
    Analysis,
    is_boilerplate,
    strip_dateline,
    terms_of,
)
from storyline.domain.extract.text import finite_like, repair_mojibake, wordset
from storyline.domain.facts import CitedArticle
from storyline.domain.page.summary import (
    STORY_WINDOW,
    Analysed,
    Counts,
    StoryWeights,
    SummaryMemo,
    TitleFlat,
    TitleRows,
    _slide,
    analysed,
    by_time,
    centroid_counts,
    originals,
    story_weights,
)
from storyline.domain.page.tuning import PAGE

# The tuning (values and reasons in storyline.domain.page.tuning, hashed into the version)
MAX_CHARS = PAGE.title.max_chars
MIN_WORDS = PAGE.title.min_words
KEEP = PAGE.title.keep
LEAD_SPAN = dt.timedelta(hours=PAGE.title.lead_span_hours)
LEAD_FLOOR = PAGE.title.lead_floor
TITLE_ARTICLES = PAGE.title.title_articles
LEAD_SENTENCES = PAGE.title.lead_sentences
CUT_FACTOR = PAGE.title.cut_factor
HEADLINE_SHARE = PAGE.title.headline_share
# the title's options are scored as the summary's sentences are
CENTRALITY_MIN_TERMS = PAGE.summary.centrality_min_terms
# Where a long sentence can be cut and still read as a headline.
_CLAUSE_END = re.compile(r",|;| -+ | – | — |: | \(| which | who | after | as | while ")
_OUTLET_PREFIX = re.compile(r"^[A-Z][\w .&'-]{1,30}: (?=[A-Z])")


def _clean(text: str) -> str:
    text = " ".join(repair_mojibake(text).split()).strip(" .;:,-")
    return text


def trim(text: str, limit: int = MAX_CHARS) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    text = _clean(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + "…"


def _headline_like(sentence: str) -> tuple[str, float] | None:
    """The opening clause of a lead sentence when it is short enough to be a title."""
    text = _clean(strip_dateline(sentence))
    if is_boilerplate(text) or text.endswith("?") or not text[:1].isupper():
        return None
    first = text.split(" ", 1)[0].lower().strip(",")
    # Anaphora, bylines, captions ("Apr. 21: ..."), transcripts ("CARL AZUZ, ANCHOR: ...").
    if (first in ANAPHORIC or first in _SUBORDINATORS or first == "by"
            or any(c in text for c in ":|\\") or _POINTS_BACK_INSIDE.search(text)):
        return None
    factor = 1.0
    if len(text) > MAX_CHARS:
        factor = CUT_FACTOR
        cut = None
        for m in _CLAUSE_END.finditer(text):
            if m.start() > MAX_CHARS:
                break
            if len(text[: m.start()].split()) >= MIN_WORDS:
                cut = m.start()
        if cut is None:
            return None
        text = _clean(text[:cut])
    if len(text.split()) < MIN_WORDS or text.startswith(("\"", "“", "'")):
        return None
    if factor != 1.0 and not _has_verb(text):
        # cut before its verb: "Michael Jackson's former doctor, Conrad Murray" (", has been
        # sentenced ..."), "BP to cut production amid ... spill Analysts expect"
        return None
    return text, factor


# A title is a main clause: one that opens with a subordinator ("If a resistant strain ...
# starts circulating it would be a concern") states a condition, not the news.
_SUBORDINATORS = wordset("if unless although though whereas because once until while when "
                         "whenever")
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z][a-z'’]*")
# A plural demonstrative points back to what its sentence's reader has just read ("... has
# made these challenges even more severe"), wherever it stands: a title is read first.
_POINTS_BACK_INSIDE = re.compile(r"\b(?:these|those)\b", re.IGNORECASE)


def _has_verb(text: str) -> bool:
    """Whether ``text`` has a lower-case word that can be a finite verb (an auxiliary, a
    common irregular past, an -s or -ed form; not a possessive): a headline has one."""
    return any(finite_like(w) and not w.endswith(("'s", "’s", "ss", "us", "is"))
               for w in _LOWER_WORD.findall(text))


def score(title: str, weights: StoryWeights) -> float:
    return weights.centrality(terms_of(title))


Option = tuple[str, tuple[str, ...], int, float]  # text, terms, sentence (-1: headline), factor


def _options(article: CitedArticle, analysis: Analysis, headlines: bool) -> tuple[Option, ...]:
    """An article's title options, kept on its analysis (so they live as long as the story
    keeps the analysis) with the headline they were made from."""
    found = analysis.title_options.get(headlines)
    if found is not None and found[0] == article.headline:
        return found[1]
    options: list[Option] = []
    if headlines:
        if article.headline and article.headline.strip():
            text = trim(_OUTLET_PREFIX.sub("", article.headline))
            options.append((text, terms_of(text), -1, 1.0))
    else:
        if analysis.glued_headline:
            like = _headline_like(analysis.glued_headline)
            if like is not None and like[1] == 1.0:
                options.append((like[0], terms_of(like[0]), -1, 1.0))
        for s in analysis.lead[:LEAD_SENTENCES]:
            like = _headline_like(s.text)
            if like is not None:
                options.append((like[0], terms_of(like[0]), s.index, like[1]))
    result = tuple(options)
    analysis.title_options[headlines] = (article.headline, result)
    return result


def _candidates(story: Sequence[Analysed]
                ) -> list[tuple[Option, int, dt.datetime, bool]]:
    """Title options of the recent originals with their citation numbers, publication times
    and whether they belong to the lead development: their headlines when most have one,
    else their title-like lead clauses."""
    recent, headlines, lead_from = _recent(story)
    if lead_from is None:
        return []
    return [(o, a.n, a.published, a.published >= lead_from) for a, x in recent
            for o in _options(a, x, headlines)]


def _order(c: tuple[float, str, int, int, bool, dt.datetime]) -> tuple[float, int, int, str]:
    """Options best first: by score, then citation number, sentence and text."""
    return (-c[0], c[2], c[3], c[1])


def _recent(story: Sequence[Analysed], memo: SummaryMemo | None = None
            ) -> tuple[list[Analysed], bool, dt.datetime | None]:
    """The recent originals in order of publication, whether their headlines are the
    options, and the publication time from which an article belongs to the lead
    development."""
    recent = by_time(story, memo)[-TITLE_ARTICLES:]
    if not recent:
        return recent, False, None
    with_headline = sum(1 for a, _ in recent if a.headline and a.headline.strip())  # ints
    headlines = with_headline >= HEADLINE_SHARE * len(recent)
    return recent, headlines, recent[-1][0].published - LEAD_SPAN


def _title_rows(article: CitedArticle, analysis: Analysis, headlines: bool,
                memo: SummaryMemo, counts: Counts) -> TitleRows:
    hit = memo.title_rows.get(id(analysis))
    if (hit is not None and hit[0] is analysis and hit[1] == headlines
            and hit[2] == article.headline):
        return hit[3]
    options = _options(article, analysis, headlines)
    term_ids: list[int] = []
    for _, terms, _, _ in options:
        term_ids += counts.ids(counts.term_ids, terms)
    counts.fit()
    rows = TitleRows(
        texts=tuple(o[0] for o in options),
        sentences=tuple(o[2] for o in options),
        ints=np.array(term_ids + [len(o[1]) for o in options], dtype=np.int32),
        floats=np.array([math.sqrt(max(len(o[1]), CENTRALITY_MIN_TERMS)) for o in options]
                        + [o[3] for o in options], dtype=np.float64),
    )
    memo.title_rows[id(analysis)] = (analysis, headlines, article.headline, rows)
    return rows


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_LEAD_SPAN_US = LEAD_SPAN // _MICROSECOND


def _flat(recent: Sequence[Analysed], headlines: bool, memo: SummaryMemo, counts: Counts
          ) -> TitleFlat:
    """The options of ``recent`` concatenated (the memo's, cut and extended when the recent
    articles only slid forward)."""
    key = tuple((analysis, article.n) for article, analysis in recent)
    kept = memo.title_flat
    slid = None
    if kept is not None and kept.headlines == headlines:
        if kept.key == key:
            return kept
        slid = _slide(kept.key, key)
    start = 0
    if kept is not None and slid is not None:
        dropped, added = slid
        start = len(recent) - len(added)
    parts = [_title_rows(a, x, headlines, memo, counts) for a, x in recent[start:]]
    new_counts = [len(r.texts) for r in parts]
    new_published = np.array([(a.published - _EPOCH) // _MICROSECOND for a, _ in recent[start:]],
                             dtype=np.int64)
    numbers = [a.n for (a, _), c in zip(recent[start:], new_counts, strict=True)
               for _ in range(c)]
    sentences = [i for r in parts for i in r.sentences]
    texts = [t for r in parts for t in r.texts]
    terms = [r.terms for r in parts]
    term_lengths = [r.term_lengths for r in parts]
    roots = [r.roots for r in parts]
    factors = [r.factors for r in parts]
    per_article = new_counts
    published = new_published
    if kept is not None and slid is not None:
        cut = sum(kept.per_article[:dropped])  # ints; options of the articles that left
        cut_terms = int(kept.term_lengths[:cut].sum())  # ints
        per_article = kept.per_article[dropped:] + new_counts
        published = np.concatenate([kept.published[dropped:], new_published])
        numbers = kept.numbers[cut:] + numbers
        sentences = kept.sentences[cut:] + sentences
        texts = kept.texts[cut:] + texts
        terms.insert(0, kept.terms[cut_terms:])
        term_lengths.insert(0, kept.term_lengths[cut:])
        roots.insert(0, kept.roots[cut:])
        factors.insert(0, kept.factors[cut:])
    flat = memo.title_flat = TitleFlat(
        key=key, headlines=headlines, per_article=per_article, published=published,
        terms=_joined(terms, np.int32), term_lengths=_joined(term_lengths, np.int32),
        roots=_joined(roots, np.float64), factors=_joined(factors, np.float64),
        numbers=numbers, sentences=sentences, texts=texts)
    return flat


def _joined(arrays: list[npt.NDArray[Any]], dtype: type[Any]) -> npt.NDArray[Any]:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)


def _choose_kept(story: Sequence[Analysed], previous: str | None, weights: StoryWeights,
                 memo: SummaryMemo) -> str | None:
    """What ``choose_title`` chooses from ``story`` (None: no option), every option scored
    at once over the memo's counts: the same IEEE operations as ``weights.centrality(terms)
    * factor`` (integer sums, exact), and the same order (-score, number, sentence, text)."""
    recent, headlines, lead_from = _recent(story, memo)
    if lead_from is None:
        return None
    counts = centroid_counts(originals(story, memo), memo)
    flat = _flat(recent, headlines, memo, counts)
    total = len(flat.texts)
    if not total:
        return None
    owners = np.repeat(np.arange(total, dtype=np.int64), flat.term_lengths)
    sums = np.bincount(owners, weights=counts.df[flat.terms].astype(np.float64),
                       minlength=total)
    scores = sums / weights.size
    scores = scores / flat.roots
    scores = scores * flat.factors
    lead = np.repeat(flat.published >= (lead_from - _EPOCH) // _MICROSECOND,
                     np.array(flat.per_article, dtype=np.int64))

    def best(among: npt.NDArray[np.int64]) -> tuple[float, str]:
        top = float(scores[among].max())
        found = min((flat.numbers[i], flat.sentences[i], flat.texts[i])
                    for i in among[scores[among] == top].tolist())
        return top, found[2]

    everything = np.arange(total, dtype=np.int64)
    best_score, _ = best(everything)
    floor = LEAD_FLOOR * best_score
    passing = scores >= floor
    in_pool = np.flatnonzero(lead & passing)
    if not len(in_pool):  # the latest development with an option that passes
        published = np.repeat(flat.published, np.array(flat.per_article, dtype=np.int64))
        latest = int(published[passing].max())
        in_pool = np.flatnonzero(passing & (published >= latest - _LEAD_SPAN_US))
    pool = in_pool if len(in_pool) else everything
    best_score, chosen = best(pool)
    if previous:
        texts = flat.texts
        if any(texts[j] == previous for j in pool.tolist()) and (
                score(previous, weights) >= KEEP * best_score):
            return previous
    return chosen


def choose_title(articles: Sequence[CitedArticle], previous: str | None = None,
                 memo: SummaryMemo | None = None,
                 window: Sequence[Analysed] | None = None) -> str:
    """The story's title; ``previous`` (the last revision's) stays while it is an option of
    the lead development that is not clearly beaten (see the module docstring). Looks at the
    same recent window as the summary (and shares its ``memo``; ``window``: as for
    ``summarise``)."""
    if not articles:
        return previous or ""
    story = analysed(articles[-STORY_WINDOW:], memo) if window is None else window
    weights = story_weights(originals(story, memo), memo)
    if memo is not None:
        kept = _choose_kept(story, previous, weights, memo)
        if kept is not None:
            return kept
    scored = [
        (weights.centrality(terms) * factor, text, n, i, lead, published)
        for (text, terms, i, factor), n, published, lead in _candidates(story)
    ]
    if not scored:
        newest = max(articles, key=lambda a: (a.published, a.n))
        return trim(newest.headline or (newest.facts.sentences[0] if newest.facts.sentences
                                        else newest.uri))
    # the first of a stable sort by this key is the minimum: found without sorting (the key
    # ends with the text, so no two options tie)
    floor = LEAD_FLOOR * min(scored, key=_order)[0]
    passing = [c for c in scored if c[0] >= floor]
    pool = [c for c in passing if c[4]]
    if not pool and passing:  # the latest development with an option that passes
        latest = max(c[5] for c in passing)
        pool = [c for c in passing if c[5] >= latest - LEAD_SPAN]
    pool = pool or scored
    top = min(pool, key=_order)
    best_score, best = top[0], top[1]
    if previous and previous in {c[1] for c in pool} and (
            score(previous, weights) >= KEEP * best_score):
        return previous
    return best
