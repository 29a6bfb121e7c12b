"""Whole-story timeline selection: which dates, and which statements for each.

This is the evaluation view of the timeline method (the page uses the incremental
:class:`~storyline.domain.page.timeline.TimelineIndex`); both read sentences through
:mod:`storyline.domain.extract.timeline_text`. The method follows the date-wise approach of the
timeline-summarisation literature (Gholipour Ghalandari & Ifrim 2020; Tran et al. 2013):

1. rank days by how many independent articles mention them, weighted by how close the
   mentioning article was published to the day and up-weighted when it looks back on the day
   (retrospective references are the strongest evidence), plus how many articles were
   published on it;
2. for each selected day, gather the statements that mention it and the headlines and
   opening statements of articles published on it or the day after;
3. rank them by TF-IDF similarity to the day's centroid (plus a little to the story's),
   statements recalling the day from a later article slightly up, statements about a day
   still ahead of their article (plans) slightly down, and pick greedily without redundancy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from storyline.domain.events import DatePrecision
from storyline.domain.extract.timeline_text import (
    compress_statement,
    content_tokens,
    dated_candidates,
    is_statement,
    trim_statement,
)
from storyline.domain.facts import CitedArticle
from storyline.domain.floats import log_of_ratio, ordered_sum
from storyline.domain.page.tuning import PAGE, SelectSettings

SETTINGS = PAGE.timeline.select

# Openers that point back at an earlier sentence: the entry would not say who did it.
_PRONOUNS = frozenset({"He", "She", "It", "They", "This", "That", "These", "Those", "We", "I",
                       "You", "There", "His", "Her", "Their", "Its"})


@dataclass(frozen=True, slots=True)
class _Option:
    statement: str
    tokens: tuple[str, ...]
    key: tuple[int, int]  # (citation number, sentence): tie-break and dedup
    mentions_day: bool
    ahead: bool = False  # the statement names a day after its article's publication: a plan
    recalled_after: int = 0  # days between the day it names and its article's publication


def _independent(article: CitedArticle) -> int:
    return article.copy_of if article.copy_of is not None else article.n


def _vector(tokens: Sequence[str], idf: dict[str, float]) -> dict[str, float]:
    tf: dict[str, float] = {}
    for token in tokens:
        tf[token] = tf.get(token, 0.0) + 1.0
    vec = {t: c * idf.get(t, 0.0) for t, c in tf.items()}
    norm = math.sqrt(ordered_sum(v * v for v in vec.values()))
    return {t: v / norm for t, v in vec.items()} if norm else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return ordered_sum(v * b.get(t, 0.0) for t, v in a.items())


def mention_weight(published: date, day: date, stated: bool = True,
                   settings: SelectSettings = SETTINGS) -> float:
    """What one mention of ``day`` (day precision) in an article published on ``published``
    adds to the day: 1, or ``far_weight`` beyond ``proximity_days``; × ``retro_weight`` when
    the article looks back on the day. Shared by :func:`rank_dates` and the page's
    incremental ranking (``TimelineIndex``)."""
    distance = (published - day).days
    near = abs(distance) <= settings.proximity_days
    weight = 1.0 if near else settings.far_weight
    if day == published:
        weight *= settings.same_day_weight
    elif day > published:
        weight *= settings.future_weight
    if (settings.retro_min_days <= distance <= settings.retro_max_days
            and (stated or not settings.retro_stated_only)):
        weight *= settings.retro_weight
    if not stated:
        weight *= settings.relative_weight
        if abs(distance) <= 1:
            weight *= settings.inferred_near_weight
    return weight


def source_weight(previous: float | None, weight: float,
                  settings: SelectSettings = SETTINGS) -> float:
    """A source's weight for a day once it mentions the day again (``previous``: what its
    earlier mentions gave): an independent source counts once, by its strongest mention."""
    if previous is None:
        return weight
    return max(weight, previous) + settings.repeat_weight


def mention_total(weights: Iterable[float]) -> float:
    """The day's mentions: its sources' weights added in order (a left fold, so a running
    total kept as sources join gives the same float)."""
    total = 0.0
    for weight in weights:
        total += weight
    return total


def local_volume(volume: Callable[[date], int], day: date,
                 settings: SelectSettings = SETTINGS) -> int:
    """Independent articles published within ``volume_days`` of ``day`` (``volume``: how
    many were published on a day)."""
    return sum(volume(day + timedelta(days=k))  # ints
               for k in range(-settings.volume_days, settings.volume_days + 1))


def day_score(mentions: float, publishers: int, local: int,
              settings: SelectSettings = SETTINGS) -> float:
    """The day's salience: its mentions (:func:`mention_total`) plus ``pub_weight`` × the
    independent articles published on it, divided by (1 + ``local``)^``volume_alpha``."""
    score = mentions + settings.pub_weight * publishers
    if settings.volume_alpha:
        # Coverage is bursty: a busy week makes every one of its days look important. Dividing
        # by the local volume lets quiet periods' key days compete (they are on the gold too).
        score /= (1 + local) ** settings.volume_alpha
    return score


def rank_dates(articles: Sequence[CitedArticle], start: date | None, end: date | None,
               settings: SelectSettings = SETTINGS) -> list[tuple[date, float]]:
    """Every day mentioned or published on inside [start, end], best first (ties: earlier)."""
    mentioned: dict[date, dict[int, float]] = {}
    published: dict[date, set[int]] = {}
    for article in articles:
        source = _independent(article)
        pub = article.published.date()
        published.setdefault(pub, set()).add(source)
        for mention in article.facts.dates:
            span = mention.span
            if span.precision is not DatePrecision.DAY:
                continue
            day = span.start
            if (start and day < start) or (end and day > end):
                continue
            weight = mention_weight(pub, day, mention.stated, settings)
            per_source = mentioned.setdefault(day, {})
            per_source[source] = source_weight(per_source.get(source), weight, settings)
    days = set(mentioned)
    days.update(day for day in published
                if not ((start and day < start) or (end and day > end)))

    def volume(day: date) -> int:
        return len(published.get(day, ()))

    scores = {
        day: day_score(mention_total(mentioned.get(day, {}).values()),
                       len(published.get(day, ())), local_volume(volume, day, settings),
                       settings)
        for day in days
    }
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _options(articles: Sequence[CitedArticle], days: set[date], settings: SelectSettings
             ) -> dict[date, list[_Option]]:
    out: dict[date, list[_Option]] = {day: [] for day in days}
    for article in articles:
        pub = article.published.date()
        dated: set[int] = set()
        for cand in dated_candidates(article.facts, max_rank=0):
            dated.add(cand.sentence)
            if cand.span.start == cand.span.end and cand.span.start in out:
                statement, tokens = cand.statement, cand.tokens
                if settings.compress:
                    statement = compress_statement(statement, settings.compress_min_words)
                    tokens = content_tokens(statement)
                out[cand.span.start].append(
                    _Option(statement, tokens, (article.n, cand.sentence), True,
                            cand.span.start > pub, max(0, (pub - cand.span.start).days))
                )
        mentioned = {m.sentence for m in article.facts.dates}
        for back in range(settings.lead_days + 1):
            day = pub - timedelta(days=back)
            if day not in out:
                continue
            headline = article.headline
            if (settings.headlines and headline
                    and len(headline.split()) >= settings.headline_min_words):
                statement = trim_statement(headline)
                out[day].append(
                    _Option(statement, content_tokens(statement), (article.n, -1), False)
                )
            taken = 0
            for index, sentence in enumerate(article.facts.sentences):
                if taken >= settings.lead_sentences:
                    break
                if index in mentioned or not is_statement(sentence):
                    continue
                taken += 1
                statement = trim_statement(sentence)
                if settings.compress:
                    statement = compress_statement(statement, settings.compress_min_words)
                out[day].append(
                    _Option(statement, content_tokens(statement), (article.n, index), False)
                )
    return out


def _centroid(vectors: Sequence[dict[str, float]]) -> dict[str, float]:
    centroid: dict[str, float] = {}
    for vec in vectors:
        for t, v in vec.items():
            centroid[t] = centroid.get(t, 0.0) + v
    norm = math.sqrt(ordered_sum(v * v for v in centroid.values())) or 1.0
    return {t: v / norm for t, v in centroid.items()}


def _summarise(options: list[_Option], idf: dict[str, float], k: int,
               settings: SelectSettings, story: dict[str, float]) -> list[str]:
    if not options:
        return []
    vectors = [_vector(o.tokens, idf) for o in options]
    centroid = _centroid(vectors)
    scored = []
    for option, vec in zip(options, vectors, strict=True):
        words = len(option.statement.split())
        excess = (abs(words - settings.ideal_words) if settings.ideal_words
                  else max(0, words - settings.free_words))
        length_penalty = settings.length_prior * excess / 100
        boost = settings.mention_boost if option.mentions_day else 0.0
        if option.ahead:
            boost -= settings.ahead_penalty
        if option.recalled_after > settings.recall_far_days:
            boost += settings.recall_far_bonus
        elif option.recalled_after >= settings.recall_near_days:
            boost += settings.recall_near_bonus
        if settings.pronoun_penalty and option.statement.split(" ", 1)[0] in _PRONOUNS:
            boost -= settings.pronoun_penalty
        if settings.position_bonus:
            boost += settings.position_bonus / (1 + max(0, option.key[1]))
        score = _cosine(vec, centroid) + settings.story_weight * _cosine(vec, story)
        scored.append((score - length_penalty + boost, option.key, option, vec))
    scored.sort(key=lambda s: (-s[0], s[1]))
    chosen: list[tuple[_Option, dict[str, float]]] = []
    seen: set[str] = set()
    for _, _, option, vec in scored:
        if len(chosen) >= k:
            break
        if option.statement in seen:
            continue
        if any(_cosine(vec, other) > settings.redundancy for _, other in chosen):
            continue
        chosen.append((option, vec))
        seen.add(option.statement)
    return [o.statement for o, _ in chosen]


def build_timeline(articles: Sequence[CitedArticle], n_dates: int, sentences_per_date: int,
                   start: date | None = None, end: date | None = None,
                   settings: SelectSettings = SETTINGS) -> list[tuple[date, list[str]]]:
    """A timeline of at most ``n_dates`` days with at most ``sentences_per_date`` statements
    each, ordered by date. Deterministic: every ranking has an explicit tie-break."""
    ranked = rank_dates(articles, start, end, settings)
    options = _options(articles, {day for day, _ in ranked}, settings)
    # IDF over every candidate statement of the story: words common to the whole story
    # (its subject) say little about what happened on one day.
    df: dict[str, int] = {}
    total = 0
    for day_options in options.values():
        if settings.idf_by_day:
            total += 1
            for token in {t for option in day_options for t in option.tokens}:
                df[token] = df.get(token, 0) + 1
            continue
        for option in day_options:
            total += 1
            for token in set(option.tokens):
                df[token] = df.get(token, 0) + 1
    idf = {t: (log_of_ratio(total + 1, c + 1) + 1.0) ** settings.idf_power
           for t, c in df.items()}
    story: dict[str, float] = {}
    if settings.story_weight:
        story = _centroid([_vector(o.tokens, idf) for day_options in options.values()
                           for o in day_options])
    timeline: list[tuple[date, list[str]]] = []
    for day, _ in ranked:
        if len(timeline) >= n_dates:
            break
        sentences = _summarise(options[day], idf, max(1, sentences_per_date), settings, story)
        if sentences:
            timeline.append((day, sentences))
    timeline.sort(key=lambda item: item[0])
    return timeline
