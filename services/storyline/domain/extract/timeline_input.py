"""The timeline's input of one article: its dated statements and the days it names, what
the page stage's :class:`~storyline.domain.page.timeline.TimelineIndex` keeps of it. Computed
once by the extract stage (``ArticleExtracted.timeline``,
:func:`storyline.domain.contracts.timeline_features`).

Compact, as a story keeps it for its life: interned words, one shared object per date span
and per day.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from storyline.domain.events import DatePrecision
from storyline.domain.extract.timeline_text import dated_candidates
from storyline.domain.facts import (
    ArticleFacts,
    Qualifier,
    TimeSpan,
    full_facts,
)
from storyline.domain.unpickle import pickled_as_call


@pickled_as_call
@dataclass(frozen=True, slots=True)
class _Figure:
    """What figure conflicts read of a Figure (a quarter of its size)."""

    value: float
    qualifier: Qualifier
    unit: str
    subject: str
    # the act counted: the -ing/-ed word right before the figure, without its ending
    # ("killing three soldiers" -> "kill", "abducted two soldiers" -> "abduct"); "" for none
    act: str = ""


@pickled_as_call
@dataclass(frozen=True, slots=True)
class _Statement:
    """One dated statement of an article (a timeline_text Candidate without what the index
    does not use), shared by every member made from it. Kept for the story's life, so
    compact: distinct words as an interned tuple (sets are built while comparing), one
    shared object per date span."""

    sentence: int
    statement: str
    span: TimeSpan
    stated: bool
    words: tuple[str, ...]  # distinct content tokens, in order of first use
    figures: tuple[_Figure, ...]  # of the statement's sentence


# One object per distinct span (TimeSpan is frozen): thousands of statements share a date.
# Emptying the table when full only stops sharing for the spans seen after.
_SPANS: dict[TimeSpan, TimeSpan] = {}
SPANS_SIZE = 1 << 16


_K = TypeVar("_K", TimeSpan, date)


def _shared(table: dict[_K, _K], value: _K) -> _K:
    """The one object of ``table`` equal to ``value`` (``value`` itself when new)."""
    found = table.get(value)
    if found is None:
        if len(table) >= SPANS_SIZE:
            table.clear()
        found = table[value] = value
    return found


def _shared_span(span: TimeSpan) -> TimeSpan:
    return _shared(_SPANS, span)


# One object per distinct day, as for spans: every article of a story mentions and is
# published on the same few hundred days (a date object is 32 bytes, kept per article).
_DAYS: dict[date, date] = {}


def shared_day(day: date) -> date:
    return _shared(_DAYS, day)


def shared_days(days: Sequence[date]) -> tuple[date, ...]:
    return tuple(map(shared_day, days))


@dataclass(frozen=True, slots=True)
class TimelineInput:
    """What the index needs of one article's facts, whatever its citation number."""

    days: tuple[date, ...]  # the days it mentions (day precision), for salience
    statements: tuple[_Statement, ...]


_ACT_BEFORE = re.compile(r"\b([a-z]{3,}?)(?:ing|ed)\s+$")


def _act(sentence: str, figure: str) -> str:
    """What a figure's verb says is counted: the stem of an -ing/-ed word right before
    ``figure`` in ``sentence`` ("" when none, or the figure is not found there)."""
    at = sentence.find(figure)
    if at < 0:
        return ""
    verb = _ACT_BEFORE.search(sentence, max(0, at - 24), at)
    return "" if verb is None else verb.group(1)


def timeline_input(facts: ArticleFacts, published: date | None = None) -> TimelineInput:
    """What the index keeps of an article; with its ``published`` day, a sentence about a
    later day as well as an earlier one is dated by the earlier (the event it reports)."""
    facts = full_facts(facts)
    days = dict.fromkeys(m.span.start for m in facts.dates
                         if m.span.precision is DatePrecision.DAY)
    figures_by_sentence: dict[int, list[_Figure]] = {}
    for f in facts.figures:
        figures_by_sentence.setdefault(f.sentence, []).append(
            _Figure(f.value, f.qualifier, sys.intern(f.unit), sys.intern(f.subject),
                    sys.intern(_act(facts.sentences[f.sentence], f.text))))
    return TimelineInput(
        days=shared_days(tuple(days)),
        statements=tuple(
            _Statement(
                sentence=cand.sentence, statement=cand.statement, span=_shared_span(cand.span),
                stated=cand.stated, words=tuple(dict.fromkeys(map(sys.intern, cand.tokens))),
                figures=tuple(figures_by_sentence.get(cand.sentence, ())),
            )
            for cand in dated_candidates(facts, published=published)
        ),
    )
