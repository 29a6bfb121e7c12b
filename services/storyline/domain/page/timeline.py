"""Timeline reconciliation: the dated events of one story, merged across its sources.

Every article contributes its dated, statement-like sentences (see
:mod:`storyline.domain.extract.timeline_text`). A statement joins an existing event when the two
dates are compatible (their periods overlap) and the statements share enough content words;
statements that are near-identical but dated a few days apart join too, and the disagreement
is kept as a date conflict. An event's date is the most precise one any source gave; figures
of the same kind that disagree between sources are kept side by side as figure conflicts.

The index is incremental (``add`` costs the article's statements times the events near their
dates) and deterministic: the state after a sequence of ``add`` calls depends only on that
sequence, and ``remove`` rebuilds from the remaining articles in their order of addition,
so adding then removing an article restores the entries exactly. What it keeps of an
article is its :class:`TimelineInput` (the dated statements and the days it mentions), not
its facts: the events hold those statements anyway, and a merge hands them over.

Which days the page shows is build_timeline's date ranking (issue 13): every article adds,
when indexed, its mentions of days (weighted by ``timeline_select.mention_weight``) and its
publication (on its day, and to the volume normaliser of the days around it), so only the
days it touches are re-scored (``timeline_select.day_score``) and ``_day_rank`` stays sorted;
``entries`` shows, for each of the best days, its most salient event.

:func:`build_timeline`, the whole-story view used by the evaluation, lives in
:mod:`storyline.domain.page.timeline_select` and is re-exported here.
"""

from __future__ import annotations

import hashlib
import pickle
from bisect import bisect_left, insort
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from operator import attrgetter
from typing import Any

from storyline.domain.coldstore import ColdStore
from storyline.domain.events import Citation, ConflictingValue, DatePrecision, TimelineEntry
from storyline.domain.extract.analysis import points_back
from storyline.domain.extract.text import in_present_tense, repair_mojibake
from storyline.domain.extract.timeline_input import (
    TimelineInput,
    _Figure,
    _Statement,
    shared_day,
    timeline_input,
)
from storyline.domain.extract.timeline_text import (
    MONTH_ABBR,
    PRECISION_RANK,
    is_plan,
    stated_intervals,
)
from storyline.domain.facts import (
    CitedArticle,
    Qualifier,
    TimeSpan,
)
from storyline.domain.floats import log_of, ordered_sum
from storyline.domain.page.timeline_select import (
    SETTINGS,
    build_timeline,
    day_score,
    local_volume,
    mention_total,
    mention_weight,
    source_weight,
)
from storyline.domain.page.tuning import PAGE, SelectSettings
from storyline.domain.unpickle import made_from_columns, pickled_as_call, unpickled

__all__ = ["TimelineIndex", "build_timeline", "date_label", "entry_id_for"]

# The tuning (values and reasons in storyline.domain.page.tuning, hashed into the version)
SAME_EVENT = PAGE.timeline.same_event
MIN_SHARED = PAGE.timeline.min_shared
SAME_EVENT_OTHER_DAY = PAGE.timeline.same_event_other_day
CONFLICT_DAYS = PAGE.timeline.conflict_days
COMPARE_MEMBERS = PAGE.timeline.compare_members
CENTRALITY_PANEL = PAGE.timeline.centrality_panel
FIGURE_PANEL = PAGE.timeline.figure_panel
SAME_FIGURE_CLAIM = PAGE.timeline.same_figure_claim
PER_DAY = PAGE.timeline.per_day
LONG_STATEMENT_WORDS = PAGE.timeline.long_statement_words
LONG_STATEMENT_PENALTY = PAGE.timeline.long_statement_penalty
MENTION_WEIGHT = PAGE.timeline.mention_weight
DAY_PRECISION_BONUS = PAGE.timeline.day_precision_bonus
# Which days the page shows: build_timeline's date ranking, kept up to date as articles join.
# The index keeps the days an article mentions, not how (written out or resolved from
# "Tuesday"), nor how often: it ranks days as build_timeline does when those do not matter,
# as with the shipped settings (checked by pages_rank_days_like_build_timeline, a test).
DAY_SETTINGS = SETTINGS


def pages_rank_days_like_build_timeline(settings: SelectSettings) -> bool:
    """Whether the page's day ranking under ``settings`` is build_timeline's: a mention's
    weight must not depend on whether its date was written out, nor on repeats."""
    return (settings.relative_weight == 1.0 and settings.inferred_near_weight == 1.0
            and not settings.retro_stated_only and settings.repeat_weight == 0.0)


# The few distinct mention weights, one float object each (kept per day and source).
_WEIGHTS: dict[float, float] = {}



def date_label(span: TimeSpan) -> str:
    """The date as a reader sees it: 'Dec 12, 2025', 'Early Aug 2025', 'Q3 2025'."""
    start = span.start
    month = MONTH_ABBR[start.month - 1]
    match span.precision:
        case DatePrecision.DAY:
            return f"{month} {start.day}, {start.year}"
        case DatePrecision.PART_OF_MONTH:
            part = "Early" if start.day <= 10 else "Mid" if start.day <= 20 else "Late"
            return f"{part} {month} {start.year}"
        case DatePrecision.MONTH:
            return f"{month} {start.year}"
        case DatePrecision.QUARTER:
            return f"{month}–{MONTH_ABBR[span.end.month - 1]} {start.year}"
        case DatePrecision.HALF:
            return f"{'H1' if start.month <= 6 else 'H2'} {start.year}"
    return str(start.year)


def entry_id_for(uri: str, sentence: int) -> str:
    return hashlib.sha256(f"{uri}#{sentence}".encode()).hexdigest()[:16]


@pickled_as_call
@dataclass(frozen=True, slots=True)
class _Added:
    """An article in the index: its place in the story and the days it mentions. Its
    statements are held by the events they joined only (and go to the cold store with
    them): :meth:`TimelineIndex.inputs` gathers them again."""

    n: int
    uri: str
    version: int
    source: int  # the independent source: the original's number for a copy
    published: date
    days: tuple[date, ...]


@pickled_as_call
@dataclass(frozen=True, slots=True)
class _Member:
    seq: int  # order of addition: the tie-break of last resort
    n: int
    uri: str
    version: int
    source: int  # the independent source: the original's number for a copy
    cand: _Statement
    words: tuple[str, ...]  # cand.words, one attribute away in the matching loops
    planned: bool  # dated after its article's publication: a plan or forecast


@dataclass(slots=True)
class _Summary:
    """What ``entries`` needs of an event, cached until the event changes."""

    span: TimeSpan
    stated: bool
    text: str
    # the member with each citing article's first sentence, by citation number: the
    # Citations are made for the page's entries only (a pydantic model is ~500 bytes, and
    # every event of every story in play keeps its summary)
    cited: tuple[_Member, ...]
    sources: int
    centrality: float
    conflicts: tuple[ConflictingValue, ...]
    planned: bool


@pickled_as_call
@dataclass(frozen=True, slots=True)
class _ColdSummary:
    """What the rankings read of the summary of an event whose members are in the cold
    store (a month gone cold): the summary's own values, made before they left."""

    span: TimeSpan
    sources: int
    centrality: float


@dataclass(slots=True)
class _Event:
    entry_id: str
    span: TimeSpan  # the most precise date seen first: what new statements are matched to
    # its independent sources: a tuple while few (a set costs 216 bytes, and most events
    # have one source), a set beyond SMALL_SOURCES; only membership and size are read
    sources: tuple[int, ...] | set[int] = ()
    # None while its month is cold: the members are in the cold store (TimelineIndex._cold)
    members: list[_Member] | None = field(default_factory=list)
    summary: _Summary | _ColdSummary | None = None


def _members(event: _Event) -> list[_Member]:
    members = event.members
    if members is None:
        raise RuntimeError(f"event {event.entry_id} is in the cold store: thaw its month first")
    return members


SMALL_SOURCES = PAGE.timeline.small_sources
# A month of events goes to the cold store when no statement has looked at it for
# COLD_AFTER statements of the story (~200 articles); the index looks every
# COLD_CHECK_EVERY statements. Only memory and thawing work depend on them, never a byte.
COLD_AFTER = 512
COLD_CHECK_EVERY = 64


# Pickled as columns, not object by object (a frozen story's timeline, a snapshot's, a cold
# month): a list per field unpickles in a few C loops where an object per member and per
# statement costs a call each, most of what freezing and thawing a long story cost
# (docs/benchmarks.md, session 38). Identity is kept where it is read: each statement once
# (its members point at it), a member's words its statement's, a summary's cited members
# those of its event.
_MEMBER_COLUMNS = ("seq", "n", "uri", "version", "source", "planned")
_STATEMENT_COLUMNS = ("sentence", "statement", "span", "stated", "words", "figures")
_member_columns = tuple(map(attrgetter, _MEMBER_COLUMNS))
_statement_columns = tuple(map(attrgetter, _STATEMENT_COLUMNS))
_cand_of = attrgetter("cand")
_words_of = attrgetter("words")
MembersPacked = tuple[tuple[list[Any], ...], list[int], dict[int, tuple[str, ...]],
                      tuple[list[Any], ...]]


def _members_packed(members: Sequence[_Member]) -> MembersPacked:
    """``members`` as columns: their fields, their statements' numbers among the distinct
    statements (each once) and those statements' fields; a member whose words are not its
    statement's (none is made so) keeps its own."""
    statements: list[_Statement] = []
    number: dict[int, int] = {}
    cands: list[int] = []
    for cand in map(_cand_of, members):
        k = number.get(id(cand))
        if k is None:
            k = number[id(cand)] = len(statements)
            statements.append(cand)
        cands.append(k)
    own = {i: m.words for i, m in enumerate(members) if m.words is not m.cand.words}
    return (tuple(list(map(get, members)) for get in _member_columns), cands, own,
            tuple(list(map(get, statements)) for get in _statement_columns))


def _members_unpacked(packed: MembersPacked) -> list[_Member]:
    columns, cands, own, statement_columns = packed
    statements = made_from_columns(_Statement, *statement_columns)
    held = list(map(statements.__getitem__, cands))
    words = list(map(_words_of, held))
    for i, kept in own.items():
        words[i] = kept
    seq, n, uri, version, source, planned = columns
    return made_from_columns(_Member, seq, n, uri, version, source, held, words, planned)


SummaryPacked = tuple[Any, ...] | _ColdSummary | None


def _summary_packed(summary: _Summary | _ColdSummary | None, position: Mapping[int, int]
                    ) -> SummaryPacked:
    """A summary with its cited members as their positions among the packed members (as
    themselves when one is not there, which no code makes)."""
    if not isinstance(summary, _Summary):
        return summary
    at = [position.get(id(m), -1) for m in summary.cited]
    cited: tuple[int, ...] | tuple[_Member, ...] = (
        tuple(at) if -1 not in at else summary.cited)
    return (summary.span, summary.stated, summary.text, cited, summary.sources,
            summary.centrality, summary.conflicts, summary.planned)


def _summary_unpacked(packed: SummaryPacked, members: Sequence[_Member]
                      ) -> _Summary | _ColdSummary | None:
    if not isinstance(packed, tuple):
        return packed
    span, stated, text, cited, sources, centrality, conflicts, planned = packed
    if cited and isinstance(cited[0], int):
        cited = tuple(map(members.__getitem__, cited))
    return _Summary(span, stated, text, cited, sources, centrality, conflicts, planned)


EventsPacked = tuple[list[str], list[TimeSpan], list[Any], list[int], MembersPacked,
                     list[SummaryPacked]]


def _events_packed(events: Sequence[_Event]) -> EventsPacked:
    """``events`` as columns; an event whose month is cold (no members) counts -1."""
    members: list[_Member] = []
    counts: list[int] = []
    for event in events:
        held = event.members
        if held is None:
            counts.append(-1)
        else:
            counts.append(len(held))
            members.extend(held)
    position = {id(m): i for i, m in enumerate(members)}
    return ([e.entry_id for e in events], [e.span for e in events],
            [e.sources for e in events], counts, _members_packed(members),
            [_summary_packed(e.summary, position) for e in events])


def _grouped(members: list[_Member], counts: Sequence[int]) -> list[list[_Member] | None]:
    """``members`` cut into consecutive groups of ``counts`` (None for a count of -1)."""
    groups: list[list[_Member] | None] = []
    at = 0
    for count in counts:
        groups.append(None if count < 0 else members[at:at + count])
        at += max(count, 0)
    return groups


def _events_unpacked(packed: EventsPacked) -> list[_Event]:
    entry_ids, spans, sources, counts, members_packed, summaries = packed
    members = _members_unpacked(members_packed)
    return [_Event(entry_id, span, held, own, _summary_unpacked(summary, members))
            for entry_id, span, held, own, summary in zip(
                entry_ids, spans, sources, _grouped(members, counts), summaries, strict=True)]


def _month_of(span: TimeSpan) -> int | None:
    """The month an event dated ``span`` is kept under when cold (None: it spans more)."""
    first = _month_key(span.start)
    return first if first == _month_key(span.end) else None


def _with_source(sources: tuple[int, ...] | set[int], source: int
                 ) -> tuple[int, ...] | set[int]:
    """``sources`` with ``source`` (the same object when a set, or when already in it)."""
    if source in sources:
        return sources
    if isinstance(sources, set):
        sources.add(source)
        return sources
    if len(sources) < SMALL_SOURCES:
        return (*sources, source)
    return {*sources, source}


def _dice(words: tuple[str, ...], other: frozenset[str]) -> float:
    """Dice of a statement's distinct words and another statement's word set (the count
    and lengths of the two sets, so the value two sets would give)."""
    if not words or not other:
        return 0.0
    return 2 * len(other.intersection(words)) / (len(words) + len(other))


def _overlap(a: TimeSpan, b: TimeSpan) -> bool:
    return a.start <= b.end and b.start <= a.end


def _month_key(day: date) -> int:
    return day.year * 12 + day.month - 1


# Where to look for an event (TimelineIndex._by_day, _by_month, _days_in_month): as
# functions of the three maps, so a guided merge (_GuidedLookup) keeps its own, smaller ones.
def _register_in(by_day: dict[date, list[int]], by_month: dict[int, list[int]],
                 days_in_month: dict[int, list[int]], index: int, span: TimeSpan) -> None:
    if span.precision is DatePrecision.DAY:
        by_day.setdefault(span.start, []).append(index)
        days_in_month.setdefault(_month_key(span.start), []).append(index)
        return
    for key in range(_month_key(span.start), _month_key(span.end) + 1):
        by_month.setdefault(key, []).append(index)


def _nearby_in(by_day: dict[date, list[int]], by_month: dict[int, list[int]],
               days_in_month: dict[int, list[int]], span: TimeSpan) -> list[int]:
    """Indexes of the events registered (:func:`_register_in`) in the three maps whose
    date may be compatible with ``span``, ascending."""
    found: set[int] = set()
    months = range(_month_key(span.start), _month_key(span.end) + 1)
    for key in months:
        found.update(by_month.get(key, ()))
    if span.precision is DatePrecision.DAY:
        for offset in range(-CONFLICT_DAYS, CONFLICT_DAYS + 1):
            found.update(by_day.get(span.start + timedelta(days=offset), ()))
    else:
        for key in months:
            found.update(days_in_month.get(key, ()))
    return sorted(found)


class _GuidedLookup:
    """The events a guided statement of :meth:`TimelineIndex.absorb` is matched against
    (:meth:`TimelineIndex._guided`): those before ``first`` (the survivor's own) and those
    from ``first`` on that differ from the source's (``differ``), found by date as
    :meth:`TimelineIndex._nearby` finds them among all. Its maps hold the registrations of
    those events only (the survivor's, copied when the merge begins, then each one as it
    is made); the others' wait in ``later`` until their event comes to differ. So finding
    them costs the survivor's events near the date, not the merged story's as well: where
    a long story merges into a short one, most events are the merged story's, and
    ``_nearby`` gave hundreds a statement that ``_best`` then skipped one by one. The
    indexes it gives are exactly ``_nearby``'s that are before ``first`` or in ``differ``
    (a test compares them).

    While it holds few registrations (GUIDED_SCAN, as when a long story merges into one of
    a few articles), they are read one by one instead (``regs``): a statement is then
    matched in the time a look-up of its seven days in the maps took."""

    __slots__ = ("by_day", "by_month", "days_in_month", "differ", "first", "later", "regs")

    def __init__(self, index: TimelineIndex, first: int) -> None:
        self.first = first
        self.differ: set[int] = set()  # events from ``first`` on not as in the source
        # (every event registered so far is before ``first``)
        self.by_day = {day: list(found) for day, found in index._by_day.items()}
        self.by_month = {key: list(found) for key, found in index._by_month.items()}
        self.days_in_month = {key: list(found) for key, found in index._days_in_month.items()}
        # The maps' registrations: (event, True, the day's ordinal, its month key) for a day
        # (its _days_in_month entry is the same registration), (event, False, month key,
        # month key) for each month a coarser date covers
        self.regs: list[tuple[int, bool, int, int]] = [
            (event, True, day.toordinal(), _month_key(day))
            for day, found in self.by_day.items() for event in found]
        self.regs += [(event, False, key, key)
                      for key, found in self.by_month.items() for event in found]
        # event from ``first`` on, not in ``differ`` -> the spans it was registered under
        self.later: dict[int, list[TimeSpan]] = {}

    def _add(self, index: int, span: TimeSpan) -> None:
        _register_in(self.by_day, self.by_month, self.days_in_month, index, span)
        if span.precision is DatePrecision.DAY:
            self.regs.append((index, True, span.start.toordinal(), _month_key(span.start)))
        else:
            self.regs.append((index, False, _month_key(span.start), _month_key(span.end)))

    def register(self, index: int, span: TimeSpan) -> None:
        """The index registered event ``index`` under ``span`` (TimelineIndex._register)."""
        if index < self.first or index in self.differ:
            self._add(index, span)
        else:
            self.later.setdefault(index, []).append(span)

    def differs(self, index: int) -> None:
        """Event ``index`` (made, or to be made next) is not as the source's was."""
        if index in self.differ:
            return
        self.differ.add(index)
        for span in self.later.pop(index, ()):
            self._add(index, span)

    def nearby(self, span: TimeSpan) -> list[int]:
        regs = self.regs
        if len(regs) > GUIDED_SCAN:
            return _nearby_in(self.by_day, self.by_month, self.days_in_month, span)
        # what _nearby_in finds in the maps: a day-dated statement looks at the days up to
        # CONFLICT_DAYS away and at the coarser dates of its month, a coarser one at every
        # registration in its months
        low, high = _month_key(span.start), _month_key(span.end)
        found: set[int] = set()
        if span.precision is DatePrecision.DAY:
            day = span.start.toordinal()
            for event, by_day, first, last in regs:
                if (abs(first - day) <= CONFLICT_DAYS if by_day
                        else first <= high and low <= last):
                    found.add(event)
        else:
            for event, by_day, first, last in regs:
                if low <= last <= high if by_day else low <= last and first <= high:
                    found.add(event)
        return sorted(found)


# The registrations below which a guided merge's lookup reads them one by one (see above).
GUIDED_SCAN = 24


def _figure_value(figure: _Figure) -> str:
    value = f"{figure.value:,.0f}" if figure.value == int(figure.value) else f"{figure.value:,}"
    return f"{value} {figure.unit}".strip()


def _summarise(event: _Event) -> _Summary:
    members = _members(event)
    if len(members) == 1:
        return _summary_of_one(members[0])
    return _summary_of_many(members)


def _summary_of_many(members: list[_Member]) -> _Summary:
    """An event's summary from its statements (any number: one gives what
    :func:`_summary_of_one` gives, the test says)."""
    best_rank = min(PRECISION_RANK[m.cand.span.precision] for m in members)
    precise = [m for m in members if PRECISION_RANK[m.cand.span.precision] == best_rank]
    # The most precise date wins; among equally precise ones, the one most sources give.
    by_span: dict[tuple[date, date], list[_Member]] = {}
    for m in precise:
        by_span.setdefault((m.cand.span.start, m.cand.span.end), []).append(m)
    # A date written out ("March 17") outranks one resolved from "Tuesday" or "yesterday"
    # against the publication time, and a report of the event outranks a plan of it.
    spans = sorted(by_span.items(),
                   key=lambda kv: (-len({m.source for m in kv[1] if _reports(m)}),
                                   -len({m.source for m in kv[1]}), kv[1][0].seq))
    chosen = spans[0][1]
    conflicts: list[ConflictingValue] = []
    # Sources disagree on the date when they write out dates of the event that do not
    # overlap ("April 20" vs "April 22"; "early August" next to "August 3" agrees). A date
    # resolved from a relative expression ("Tuesday's fire", "yesterday") may be off by the
    # resolution (which Tuesday, the publication day or the day before), and a plan names the
    # day something was due, not the day it happened: neither is a disagreement.
    # Nor is a gap that a statement of either side states as the interval between the event
    # it dates and another one it names ("sank on April 22, two days after the explosion"):
    # the sources agree on both days, and the statement supports the entry's date (it is
    # cited as a listed side's would be).
    chosen_span = chosen[0].cand.span
    sides: dict[str, set[int]] = {date_label(chosen_span): {m.n for m in chosen if _reports(m)}}
    chosen_intervals: set[int] | None = None
    bridged: set[int] = set()
    for m in members:
        if (_reports(m) and not _overlap(m.cand.span, chosen_span)
                and not in_present_tense(m.cand.statement)):
            # (a present-tense description with its day written out is a caption's: the
            # day its picture was taken, "Oil floats around a rig ... May 31", which does
            # not contradict another picture's day; nor does a chronology's heading)
            if chosen_intervals is None:
                chosen_intervals = {days for c in chosen
                                    for days in stated_intervals(c.cand.statement)}
            gap = _gap(m.cand.span, chosen_span)
            if gap in chosen_intervals or gap in stated_intervals(m.cand.statement):
                bridged.add(m.n)
                continue
            sides.setdefault(date_label(m.cand.span), set()).add(m.n)
    if len(sides) > 1 and all(sides.values()):
        conflicts.extend(ConflictingValue(kind="date", value=label, citations=tuple(sorted(ns)))
                         for label, ns in sides.items())
    conflicts.extend(_figure_conflicts(members))

    # Centrality against the first members only: bounded cost for events with hundreds of
    # citations, and the first reports are the ones the later ones are matched to anyway.
    panel = members[:CENTRALITY_PANEL]
    panel_sets = [(o, frozenset(o.words)) for o in panel]
    centrality = {m.seq: ordered_sum(_dice(m.words, words) for o, words in panel_sets if o is not m)
                  for m in members}
    # The statements the entry can cite (every one that gives the chosen date does)
    listed = {n for side in conflicts if side.kind == "date" for n in side.citations} | bridged
    dating = [m for m in members if _dates_entry(m, chosen_span, listed)]
    # The statement that best represents the event, among those: one that reads alone (not
    # "He was briefly detained" when another source names him), then central, then
    # short-ish, then first.
    representative = min(
        dating,
        key=lambda m: (points_back(m.cand.statement),
                       -centrality[m.seq] + LONG_STATEMENT_PENALTY
                       * max(0, len(m.cand.statement.split()) - LONG_STATEMENT_WORDS),
                       m.seq),
    )
    first_sentence: dict[int, _Member] = {}
    for m in dating:
        known = first_sentence.get(m.n)
        if known is None or m.cand.sentence < known.cand.sentence:
            first_sentence[m.n] = m
    cited = tuple(sorted(first_sentence.values(), key=lambda m: m.n))
    mean_centrality = centrality[representative.seq] / max(1, len(panel) - 1)
    return _Summary(
        span=chosen[0].cand.span,
        stated=any(m.cand.stated for m in chosen),
        text=representative.cand.statement,
        cited=cited,
        sources=len({m.source for m in members}),
        centrality=mean_centrality,
        conflicts=tuple(conflicts),
        planned=all(m.planned for m in chosen),
    )


def _summary_of_one(member: _Member) -> _Summary:
    """What :func:`_summary_of_many` makes of an event of one statement (most events: 98 % of
    the summaries the rankings ask for over timeline17-dev), without its machinery: the
    statement's own date, text and citation, one source, no centrality (no other statement
    to be central among), no conflict (no other side)."""
    return _Summary(span=member.cand.span, stated=bool(member.cand.stated),
                    text=member.cand.statement, cited=(member,), sources=1, centrality=0.0,
                    conflicts=(), planned=bool(member.planned))


def _renumbered_summary(summary: _Summary, was: Sequence[_Member], members: Sequence[_Member]
                        ) -> _Summary | None:
    """What :func:`_summary_of_many` makes of ``members``, given ``summary``, what it made of
    ``was``: the same statements in the same order (a merge moved them), whose articles
    were renumbered. The summary reads of a member its statement, its plan flag, the order
    of members (their seq: ascending in both) and, of the numbers and sources, only which
    are equal and, for the numbers, their order (citations and cited members are sorted by
    number): so when the old numbers map to the new ones one to one and in order, and the
    old sources to the new ones one to one, it is ``summary`` with each member replaced by
    its counterpart and each number by its new one. None when they do not (a copy whose
    original did not move becomes an original: its source changes alone)."""
    if len(was) != len(members) or len(was) < 2:
        return None
    counterpart: dict[int, _Member] = {}  # id(old member) -> the new one
    numbers: dict[int, int] = {}  # old number -> new number
    sources: dict[int, int] = {}  # old source -> new source
    for old, new in zip(was, members, strict=True):
        if old.cand is not new.cand or old.planned != new.planned:
            return None
        if numbers.setdefault(old.n, new.n) != new.n:
            return None
        if sources.setdefault(old.source, new.source) != new.source:
            return None
        counterpart[id(old)] = new
    in_order = [numbers[n] for n in sorted(numbers)]
    if any(a >= b for a, b in pairwise(in_order)):
        return None
    if len(set(sources.values())) != len(sources):
        return None
    cited = tuple(counterpart[id(m)] for m in summary.cited)
    conflicts = tuple(
        ConflictingValue(kind=side.kind, value=side.value,
                         citations=tuple(numbers[n] for n in side.citations))
        for side in summary.conflicts)
    return _Summary(span=summary.span, stated=summary.stated, text=summary.text, cited=cited,
                    sources=summary.sources, centrality=summary.centrality,
                    conflicts=conflicts, planned=summary.planned)


def _citations(summary: _Summary) -> tuple[Citation, ...]:
    return tuple(Citation(n=m.n, uri=m.uri, version=m.version, sentence=m.cand.sentence)
                 for m in summary.cited)


def _entry(event: _Event, summary: _Summary) -> TimelineEntry:
    """The page's entry for ``event`` with its ``summary``."""
    return TimelineEntry(
        entry_id=event.entry_id,
        date=summary.span.start,
        date_end=summary.span.end,
        date_precision=summary.span.precision,
        date_label=date_label(summary.span),
        date_stated=summary.stated,
        text=repair_mojibake(summary.text),
        citations=_citations(summary),
        independent_sources=max(1, summary.sources),
        conflicts=summary.conflicts,
        planned=summary.planned,
    )


def _gap(a: TimeSpan, b: TimeSpan) -> int:
    """Days between two periods that do not overlap."""
    return max((b.start - a.end).days, (a.start - b.end).days)


def _dates_entry(member: _Member, span: TimeSpan, listed: set[int]) -> bool:
    """Whether ``member`` can be cited for an entry dated ``span``: its own date overlaps
    it, or is listed among the entry's date conflicts, or is a plan's, or was resolved from
    a relative expression and is off by no more than a resolution can be (CONFLICT_DAYS). A
    statement that joined the event while its date was vaguer ("from the end of June to the
    middle of July") and says nothing of the day the event now has ("13 July") stays in
    the event, uncited: the entry's citations state its date."""
    own = member.cand.span
    if _overlap(own, span) or member.planned or member.n in listed:
        return True
    return not member.cand.stated and _gap(own, span) <= CONFLICT_DAYS


def _reports(member: _Member) -> bool:
    """A statement that writes out the date of an event that has happened."""
    return member.cand.stated and not member.planned


def _figure_conflicts(members: list[_Member]) -> list[ConflictingValue]:
    """Figures that two sources give differently for the same claim: their statements are
    near-identical, and the figures count the same unit of the same subject. Bounds ("more
    than 11") are not contradicted by another count, and cumulative figures in different
    statements ("800,000 barrels captured" vs "4.9 million leaked") are not compared, nor
    plans and forecasts, nor a count a statement itself gives two values for. A count is
    given as of a time: statements whose own dates do not overlap (a day's new cases on
    Thursday and on Sunday, a running total a day later) report successive counts, not one
    count two ways. Nor are counts of different acts ("killing three soldiers" vs "abducted
    two soldiers": the -ing/-ed word before each figure)."""
    panel = [m for m in members[:FIGURE_PANEL] if m.cand.figures and not m.planned]
    sets = [frozenset(m.words) for m in panel]
    # A statement that gives two values for one count ("killing three soldiers and
    # capturing two") does not say which one the other source contradicts.
    ambiguous = [_ambiguous(m.cand.figures) for m in panel]
    sides: dict[tuple[str, str], dict[float, tuple[str, set[int]]]] = {}
    for i, a in enumerate(panel):
        for j in range(i + 1, len(panel)):
            b = panel[j]
            if (a.source == b.source or not _overlap(a.cand.span, b.cand.span)
                    or _dice(a.words, sets[j]) < SAME_FIGURE_CLAIM):
                continue
            for fa in a.cand.figures:
                for fb in b.cand.figures:
                    key = (fa.unit.lower(), fa.subject.lower())
                    if (fa.value == fb.value or key != (fb.unit.lower(), fb.subject.lower())
                            or (fa.act and fb.act and fa.act != fb.act)
                            or not fa.subject or key in ambiguous[i] or key in ambiguous[j]
                            or fa.qualifier not in _POINT or fb.qualifier not in _POINT):
                        continue
                    values = sides.setdefault(key, {})
                    for fig, m in ((fa, a), (fb, b)):
                        label, ns = values.setdefault(fig.value, (_figure_value(fig), set()))
                        ns.add(m.n)
    out: list[ConflictingValue] = []
    for key in sorted(sides):
        for value in sorted(sides[key]):
            label, ns = sides[key][value]
            out.append(ConflictingValue(kind="figure", value=label, citations=tuple(sorted(ns))))
    return out


_POINT = (Qualifier.EXACTLY, Qualifier.ABOUT)


def _ambiguous(figures: tuple[_Figure, ...]) -> set[tuple[str, str]]:
    """The (unit, subject) keys one statement gives more than one value for."""
    values: dict[tuple[str, str], set[float]] = {}
    for f in figures:
        values.setdefault((f.unit.lower(), f.subject.lower()), set()).add(f.value)
    return {key for key, vs in values.items() if len(vs) > 1}


class TimelineIndex:
    """Mutable per-story index of reconciled dated events.

    A month of events that no statement has looked at for ``COLD_AFTER`` statements goes
    to the cold store once one is attached (:meth:`attach`, :meth:`let_cold_months_go`):
    the members of its events (their statements, most of what an event weighs) are
    pickled under the story's key and the month, and the events keep what the rankings
    read (:class:`_ColdSummary`). A statement whose date may match an event of a cold
    month brings the month back first, a page that shows a cold event reads its month,
    and a withdrawal or a merge brings every month back: where the members are changes
    no byte of any page. So a long story keeps its recent months in memory, not its
    history. Without a store nothing goes cold.
    """

    # The summaries a guided merge found for the events it made as the absorbed story had
    # them (:meth:`_hand_summaries`), for the next :meth:`_rerank`: index -> (the event,
    # its member count then, the summary). Not state: never pickled, None but between a
    # merge and the revision that follows it.
    _handed: dict[int, tuple[_Event, int, _Summary]] | None = None
    _events: list[_Event]

    def __init__(self) -> None:
        self._articles: dict[str, _Added] = {}  # in order of addition
        self._store: ColdStore | None = None
        self._key = ""
        self._reset()

    # The store and the summaries read from it are not state: a pickle (a snapshot, a
    # frozen story) holds the index without them, and the owner attaches the store again.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_store"] = None
        state["_cold_summaries"] = {}
        state["_shown"] = {}
        state.pop("_handed", None)
        state["_event_columns"] = _events_packed(state.pop("_events"))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        columns = state.pop("_event_columns", None)
        self.__dict__.update(state)
        # (None: pickled by code before session 38, with its events as objects)
        if columns is not None:
            self._events = _events_unpacked(columns)

    def attach(self, store: ColdStore | None, key: str) -> None:
        """Where this index's cold months are kept: ``store``, under keys that start with
        ``key`` (unique to the story in that store)."""
        self._store = store
        self._key = key

    def _reset(self) -> None:
        self._drop_cold()
        self._events = []
        # Where to look for an event: day-dated events by day, coarser ones by every month
        # they cover, and day-dated ones by month too for coarse statements looking for them.
        self._by_day: dict[date, list[int]] = {}
        self._by_month: dict[int, list[int]] = {}
        self._days_in_month: dict[int, list[int]] = {}
        self._multi: list[int] = []  # events with two or more independent sources
        # day -> independent source citing it -> the weight of its mention (mention_weight)
        self._day_sources: dict[date, dict[int, float]] = {}
        # The page's days, ranked as build_timeline ranks them (timeline_select.day_score):
        # the day's mentions (the total of its sources' weights), the independent articles
        # published on it and around it; (-score, day) for every day mentioned or published
        # on, kept sorted as articles join (only the days an article touches are re-scored).
        self._day_mentions: dict[date, float] = {}
        self._published: dict[date, set[int]] = {}  # day -> independent sources published
        self._day_rank: list[tuple[float, date]] = []
        self._seq = 0
        # The events ranked as ``entries`` picks them, kept up to date instead of re-scored
        # every revision: (-salience, date, entry id, position in ``_multi``, index) for the
        # multi-source events, (-salience, date, entry id, index) for all; the last items
        # are the order a stable sort of ``_multi`` and of the event list would keep.
        self._rank_multi: list[tuple[float, date, str, int, int]] = []
        self._rank_all: list[tuple[float, date, str, int]] = []
        # index -> its entry in _rank_all (the same tuple object: one per event)
        self._ranked: dict[int, tuple[float, date, str, int]] = {}
        self._multi_at: dict[int, int] = {}  # index -> its position in _multi
        self._in_multi: set[int] = set()  # events ranked in _rank_multi
        self._stale: set[int] = set()  # events whose summary or salience may have changed
        self._stale_days: set[date] = set()  # days whose count of citing sources changed
        # day -> the ranked events dated that day, in the order of _rank_all (same keys)
        self._single_day: dict[date, list[tuple[float, date, str, int]]] = {}
        # month key -> the events of that month whose members are in the cold store
        self._cold: dict[int, list[int]] = {}
        # month key (a month not cold) -> the statement count when a statement last
        # looked at it (or it came back from the store)
        self._looked_at: dict[int, int] = {}
        self._checked_at = 0  # the statement count at the last look for cold months
        # index -> the summary of a cold event on the page (read from the store)
        self._cold_summaries: dict[int, _Summary] = {}
        # entry id -> (the summary, the entry made of it) of each entry of the last call of
        # ``entries``: an entry whose event kept its summary object is the same entry again
        # (a summary is never changed, only replaced), so a page of long-cited events does
        # not make hundreds of Citation models anew each revision, and comparing it with
        # the last page finds the same objects. Holds what the last page holds; not state.
        self._shown: dict[str, tuple[_Summary, TimelineEntry]] = {}

    def __len__(self) -> int:
        return len(self._events)

    def add(self, article: CitedArticle, prepared: TimelineInput | None = None) -> None:
        """Add ``article``; ``prepared`` is its :func:`timeline_input` when the caller has it
        (otherwise it is computed from the article's facts)."""
        if article.uri in self._articles:
            self.remove(article.uri)
        given = (prepared if prepared is not None
                 else timeline_input(article.facts, article.published.date()))
        added = self._added(article, given)
        self._articles[article.uri] = added
        self._rank_days(added)
        self._index(added, given.statements)

    def absorb(self, articles: Sequence[CitedArticle], inputs: Mapping[str, TimelineInput],
               source: TimelineIndex | None = None) -> None:
        """Add a merged story's ``articles`` (renumbered, in their order in it) with their
        ``inputs`` (computed from the facts when missing), as :meth:`add` one after another
        would. ``source``: that story's own index, whose :meth:`inputs` ``inputs`` are.

        With it, the statements are not matched against every event of the merged story
        again: there, each joined the event of the story most like it (or made one), and
        the events made here from its statements are that story's, made in the same order
        from the same statements, as long as no event of this story takes one of them
        (:meth:`_guided` keeps count of those that differ). So a statement is matched
        against this story's events and those that differ only, and compared with the one
        it joined there; in full where that one is not here as it was there. A merge of a
        long story into a short one then costs its statements times the few events near
        them, not times the merged story's; the state is the same either way (a test says
        so), and so is the day ranking, made once at the end."""
        if any(article.uri in self._articles for article in articles):
            for article in articles:  # (a story's articles are its own: never so)
                self.add(article, inputs.get(article.uri))
            return
        guide = source._guide(articles, inputs) if source is not None else None
        choose: Callable[[_Member], int | None] | None = None
        lookup: _GuidedLookup | None = None
        if guide is not None:
            steps = iter(guide)
            first = len(self._events)
            image: list[int | None] = []  # the source's events here (None: not made here)
            # the events from ``first`` on not as in the source (lookup.differ), and where
            # to find them and the survivor's own
            lookup = guided = _GuidedLookup(self, first)

            def choose(member: _Member) -> int | None:
                joined, made = next(steps)
                return self._guided(member, first, image, guided, joined, made)

        # the day ranking once at the end: the days' keys, sorted, whatever the order
        touched: set[date] = set()
        for article in articles:
            given = inputs.get(article.uri)
            if given is None:
                given = timeline_input(article.facts, article.published.date())
            added = self._added(article, given)
            self._articles[article.uri] = added
            touched |= self._days_touched(added)
            self._credit_days(added)
            self._index(added, given.statements, choose, lookup)
        self._rank_touched(touched)
        if source is not None and lookup is not None:
            self._hand_summaries(source, image, lookup.differ)

    def _hand_summaries(self, source: TimelineIndex, image: Sequence[int | None],
                        differ: set[int]) -> None:
        """Keep for the next :meth:`_rerank` the summaries ``source`` (the absorbed story's
        index, which guided :meth:`absorb`) has of the events made here as they were there
        (``image``: where each of its events is here; ``differ``: those that are not as
        there): the same statements in the same order, so the same summary but for its
        members' numbers (:func:`_renumbered_summary`). The rerank of a long story's merge
        summarised each of its hundreds of events of several statements again."""
        handed: dict[int, tuple[_Event, int, _Summary]] = {}
        for there, here in enumerate(image):
            if here is None or here in differ:
                continue
            was = source._events[there]
            summary = was.summary
            event = self._events[here]
            members = event.members
            if not isinstance(summary, _Summary) or was.members is None or members is None:
                continue
            renumbered = _renumbered_summary(summary, was.members, members)
            if renumbered is not None:
                handed[here] = (event, len(members), renumbered)
        if handed:  # (with those of another merge of the same revision, if any)
            self._handed = handed if self._handed is None else {**self._handed, **handed}

    def _guide(self, articles: Sequence[CitedArticle], inputs: Mapping[str, TimelineInput]
               ) -> list[tuple[int, bool]] | None:
        """For each statement of ``articles`` in order (``inputs`` as :meth:`inputs` gave
        them: the same statement objects), the event it joined in this index and whether it
        made it; None unless this index holds exactly those articles in that order."""
        if [article.uri for article in articles] != list(self._articles):
            return None
        self._thaw_all()
        joined = sorted(((member, index, at == 0) for index, event in enumerate(self._events)
                         for at, member in enumerate(_members(event))),
                        key=lambda item: item[0].seq)
        given = [(article.uri, statement) for article in articles
                 for statement in inputs[article.uri].statements]
        if len(given) != len(joined) or any(
                member.uri != uri or member.cand is not statement
                for (uri, statement), (member, _, _) in zip(given, joined, strict=True)):
            return None
        return [(index, made) for _, index, made in joined]

    @staticmethod
    def _added(article: CitedArticle, given: TimelineInput) -> _Added:
        """What the index keeps of ``article`` (``given``: its input)."""
        return _Added(
            n=article.n, uri=article.uri, version=article.version,
            source=article.copy_of if article.copy_of is not None else article.n,
            published=shared_day(article.published.date()), days=given.days,
        )

    def inputs(self) -> dict[str, TimelineInput]:
        """What the index holds of each article (to hand it over in a merge), by uri in
        order of addition: its days, and its statements gathered from the events they
        joined (every cold month comes back first)."""
        statements = self._statements_by_uri()
        return {uri: TimelineInput(days=added.days, statements=tuple(statements.get(uri, ())))
                for uri, added in self._articles.items()}

    def event_spans(self) -> dict[tuple[str, int], TimeSpan]:
        """(uri, sentence) of each statement -> the date of the event it joined: the date
        the page gives it, which is its entry's when shown (every cold month comes back
        first). For ``storyline eval event-dates``: what a reader sees, after the
        statements of every source were reconciled."""
        self._thaw_all()
        return {(m.uri, m.cand.sentence): event.span
                for event in self._events for m in _members(event)}

    def _statements_by_uri(self) -> dict[str, list[_Statement]]:
        """Each article's statements in their order (each made one member, in order)."""
        self._thaw_all()
        members = sorted((m for event in self._events for m in _members(event)),
                         key=lambda m: m.seq)
        out: dict[str, list[_Statement]] = {}
        for m in members:
            out.setdefault(m.uri, []).append(m.cand)
        return out

    def remove(self, uri: str) -> None:
        if uri not in self._articles:
            return
        statements = self._statements_by_uri()
        del self._articles[uri]
        # Rebuild from the remaining articles in their order of addition: the state is then
        # exactly what it would be had the article never been added. Withdrawals and
        # corrections are rare next to new articles, so the rebuild cost is acceptable.
        self._reset()
        touched: set[date] = set()
        for article in self._articles.values():
            touched |= self._days_touched(article)
            self._credit_days(article)
            self._index(article, statements.get(article.uri, ()))
        self._rank_touched(touched)

    # -- months gone cold ------------------------------------------------------------------

    def _cold_key(self, month: int) -> str:
        return f"{self._key}{month}"

    def _held_store(self) -> ColdStore:
        if self._store is None:
            raise RuntimeError("this timeline has cold months but no cold store attached")
        return self._store

    def let_cold_months_go(self) -> None:
        """Send to the cold store the months no statement has looked at for COLD_AFTER
        statements (checked every COLD_CHECK_EVERY statements; nothing without a store)."""
        if self._store is None or self._seq - self._checked_at < COLD_CHECK_EVERY:
            return
        self._checked_at = self._seq
        cold = sorted(month for month, seq in self._looked_at.items()
                      if self._seq - seq > COLD_AFTER)
        if not cold:
            return
        self._rerank()  # the cold summaries are made from the members' current state
        for month in cold:
            self._freeze_month(month)

    def _freeze_month(self, month: int) -> None:
        del self._looked_at[month]
        found = set(self._days_in_month.get(month, ()))
        found.update(self._by_month.get(month, ()))
        held: dict[int, list[_Member]] = {}
        for index in sorted(found):
            event = self._events[index]
            members = event.members
            if members is None or _month_of(event.span) != month:
                continue
            summary = self._summary(event)
            event.summary = _ColdSummary(summary.span, summary.sources, summary.centrality)
            event.members = None
            held[index] = members
        if held:
            packed = (list(held), [len(m) for m in held.values()],
                      _members_packed([m for ms in held.values() for m in ms]))
            self._held_store().put(self._cold_key(month),
                                   pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL))
            self._cold[month] = list(held)

    def _read_month(self, month: int) -> dict[int, list[_Member]]:
        blob = self._held_store().get(self._cold_key(month))
        if blob is None:
            raise LookupError(f"cold month {month} of {self._key!r} is not in the store")
        stored: dict[int, list[_Member]] | tuple[list[int], list[int], MembersPacked] = \
            unpickled(blob)
        if isinstance(stored, dict):  # written by code before session 38
            return stored
        indexes, counts, packed = stored
        groups = _grouped(_members_unpacked(packed), counts)
        return {index: group for index, group in zip(indexes, groups, strict=True)
                if group is not None}

    def _thaw_month(self, month: int) -> None:
        for index, members in self._read_month(month).items():
            event = self._events[index]
            event.members = members
            event.summary = None
            self._cold_summaries.pop(index, None)
        del self._cold[month]
        self._held_store().delete(self._cold_key(month))
        self._looked_at[month] = self._seq

    def _look_near(self, span: TimeSpan) -> None:
        """Count the months whose events a statement dated ``span`` may match as looked at
        (so a month statements keep coming near stays in memory)."""
        looked_at = self._looked_at
        first = _month_key(span.start - timedelta(days=CONFLICT_DAYS))
        for month in range(first, _month_key(span.end + timedelta(days=CONFLICT_DAYS)) + 1):
            if month in looked_at:
                looked_at[month] = self._seq

    def _thaw_all(self) -> None:
        for month in sorted(self._cold):
            self._thaw_month(month)

    def _drop_cold(self) -> None:
        """Forget the cold months (their events are about to be rebuilt)."""
        cold = getattr(self, "_cold", None)
        if cold and self._store is not None:
            for month in cold:
                self._store.delete(self._cold_key(month))

    def _day_key(self, day: date) -> tuple[float, date] | None:
        """The day's place in ``_day_rank``; None for a day neither mentioned nor published."""
        publishers = self._published.get(day)
        mentions = self._day_mentions.get(day)
        if publishers is None and mentions is None:
            return None

        def volume(other: date) -> int:
            return len(self._published.get(other, ()))

        score = day_score(mentions if mentions is not None else 0.0,
                          len(publishers) if publishers is not None else 0,
                          local_volume(volume, day, DAY_SETTINGS), DAY_SETTINGS)
        return (-score, day)

    def _rank_days(self, article: _Added) -> None:
        """The article's contributions to the day ranking: its mentions, its publication
        (on its day and, through the volume, on the days around it)."""
        touched = self._days_touched(article)
        rank = self._day_rank
        for day in touched:
            key = self._day_key(day)
            if key is not None:
                del rank[bisect_left(rank, key)]
        self._credit_days(article)
        for day in touched:
            key = self._day_key(day)
            if key is not None:
                insort(rank, key)

    def _days_touched(self, article: _Added) -> set[date]:
        """The days whose place in the ranking the article's :meth:`_credit_days` moves."""
        touched = set(article.days)
        if article.source not in self._published.get(article.published, ()):
            volume_days = DAY_SETTINGS.volume_days
            touched.update(article.published + timedelta(days=k)
                           for k in range(-volume_days, volume_days + 1))
        return touched

    def _credit_days(self, article: _Added) -> None:
        """Count the article's publication and mentions (not the ranking: _rank_days)."""
        settings = DAY_SETTINGS
        source, pub = article.source, article.published
        if source not in self._published.get(pub, ()):
            self._published.setdefault(pub, set()).add(source)
        for day in article.days:
            weight = mention_weight(pub, day, True, settings)
            weight = _WEIGHTS.setdefault(weight, weight)
            sources = self._day_sources.setdefault(day, {})
            previous = sources.get(source)
            combined = source_weight(previous, weight, settings)
            if previous is None:
                sources[source] = combined
                self._day_mentions[day] = self._day_mentions.get(day, 0.0) + combined
                self._stale_days.add(day)
            elif combined != previous:  # a copy that looks back on the day, its original not
                sources[source] = _WEIGHTS.setdefault(combined, combined)
                self._day_mentions[day] = mention_total(sources.values())

    def _rank_touched(self, touched: set[date]) -> None:
        """Place the ``touched`` days in the ranking again after :meth:`_credit_days` of
        many articles: the ranking is every known day's key, sorted, whatever the order
        the days were credited in (what :meth:`_rank_days` one by one gives)."""
        rank = [key for key in self._day_rank if key[1] not in touched]
        for day in touched:
            key = self._day_key(day)
            if key is not None:
                rank.append(key)
        rank.sort()
        self._day_rank = rank

    def _index(self, article: _Added, statements: Sequence[_Statement],
               choose: Callable[[_Member], int | None] | None = None,
               lookup: _GuidedLookup | None = None) -> None:
        """Index the article's ``statements``: each joins the event :meth:`_match` gives it
        (``choose`` gives it instead: :meth:`absorb`), or makes one; ``lookup`` (a guided
        merge's) is told of every event registered."""
        source = article.source
        for cand in statements:
            self._seq += 1
            member = _Member(
                seq=self._seq, n=article.n, uri=article.uri, version=article.version,
                source=source, cand=cand, words=cand.words,
                planned=is_plan(cand.span, article.published),
            )
            target = self._match(member) if choose is None else choose(member)
            if target is None:
                target = len(self._events)
                self._events.append(_Event(entry_id_for(article.uri, cand.sentence), cand.span))
                self._register(target, cand.span)
                if lookup is not None:
                    lookup.register(target, cand.span)
            event = self._events[target]
            if PRECISION_RANK[cand.span.precision] < PRECISION_RANK[event.span.precision]:
                event.span = cand.span
                self._register(target, cand.span)
                if lookup is not None:
                    lookup.register(target, cand.span)
            _members(event).append(member)
            month = _month_of(event.span)
            if month is not None:
                if month in self._cold:  # a new event in a cold month: a month is one or
                    self._thaw_month(month)  # the other, in memory or in the store
                self._looked_at[month] = self._seq
            event.sources = _with_source(event.sources, source)
            if len(event.sources) == 2:
                # (again for every member that joins while it has two sources: the first
                # place is the one a stable sort of _multi keeps)
                self._multi_at.setdefault(target, len(self._multi))
                self._multi.append(target)
            event.summary = None
            self._stale.add(target)

    def _guided(self, member: _Member, first: int, image: list[int | None],
                lookup: _GuidedLookup, joined: int, made: bool) -> int | None:
        """What :meth:`_match` gives ``member``, which joined the source's event ``joined``
        (made it, when ``made``) in the index it comes from (:meth:`absorb`); ``image``:
        where each of the source's events made so far is here (None: a statement that made
        it there joined an event of this index), ``lookup.differ``: the events from ``first``
        on that are not as the source's were at this point (members that joined elsewhere
        there, or that lack one; made here only). Both are kept up to date.

        The others from ``first`` on, the source's events as they were when ``member``
        joined there, give the similarities they gave there: none counts when it made an
        event, and none is more similar than ``joined`` (nor as similar and older) when it
        joined one. So only the events before ``first`` and those that differ are matched,
        and what they give is compared with ``joined`` (in full, every event, when
        ``joined`` itself is not here as it was there)."""
        differ = lookup.differ
        best, index = self._best(member, first, differ, lookup)
        if made:  # the source's events are made in order: this is image[joined]
            if index is None:
                image.append(len(self._events))  # made here too, the same event
            else:  # never made here: its statement joined ``index`` (before ``first``, or
                image.append(None)  # one that differs already)
            return index
        at = image[joined]
        own = self._restates(member, at) if at is not None and at not in differ else 0.0
        target: int | None
        if at is not None and own > 0.0:
            target = (index if index is not None and (best > own or (best == own and index < at))
                      else at)
        else:  # ``joined`` is not here as it was there: matched in full
            target = self._match(member)
        if target is None or target != at:
            # a member the source's event lacks, and one an event gains (or makes) that
            # the source has elsewhere
            if at is not None:
                lookup.differs(at)
            lookup.differs(len(self._events) if target is None else target)
        return target

    def _restates(self, member: _Member, index: int) -> float:
        """The similarity :meth:`_best` finds between ``member`` and the event ``index``
        (0.0 when it would not count: dates apart, too few words shared, too dissimilar)."""
        event = self._events[index]
        span, other_span = member.cand.span, event.span
        if _overlap(span, other_span):
            threshold = SAME_EVENT
        elif (span.precision is DatePrecision.DAY and other_span.precision is DatePrecision.DAY
              and abs((span.start - other_span.start).days) <= CONFLICT_DAYS):
            threshold = SAME_EVENT_OTHER_DAY
        else:
            return 0.0
        words = frozenset(member.words)
        best = 0.0
        for other in _members(event)[:COMPARE_MEMBERS]:
            if other.uri == member.uri:
                continue
            common = len(words.intersection(other.words))
            if common < MIN_SHARED:
                continue
            sim = 2 * common / (len(words) + len(other.words))  # Dice, as _best has it
            if sim >= threshold and sim > best:
                best = sim
        return best

    def _register(self, index: int, span: TimeSpan) -> None:
        _register_in(self._by_day, self._by_month, self._days_in_month, index, span)

    def _nearby(self, span: TimeSpan) -> list[int]:
        """Indexes of the events whose date may be compatible with ``span``, ascending."""
        return _nearby_in(self._by_day, self._by_month, self._days_in_month, span)

    def _match(self, member: _Member) -> int | None:
        """The event ``member`` restates: of the events whose date is compatible with its
        own, the one with the most similar member, the older on a tie; None for none
        (:meth:`_best` over every event)."""
        return self._best(member, len(self._events))[1]

    def _best(self, member: _Member, below: int, also: set[int] | None = None,
              lookup: _GuidedLookup | None = None) -> tuple[float, int | None]:
        """The event ``member`` restates among the events before ``below`` (and those in
        ``also``), and the similarity it has with it: of those whose date is compatible with
        its own, the one with the most similar member, the older on a tie; (0.0, None) for
        none.

        Dates are compared with the event's own (first, most precise) date rather than with
        every member's, so a vague "in April" cannot chain April 20 and April 27 together.
        Content similarity is the Dice of distinct words with each of the event's first
        COMPARE_MEMBERS members from another article (one article does not restate its own
        event), at least MIN_SHARED words in common and SAME_EVENT (SAME_EVENT_OTHER_DAY for
        a day date up to CONFLICT_DAYS away). One loop, every name local: it runs for each
        nearby event of each statement (~220 in a long story; a merge re-adds thousands of
        statements), and calls and attribute look-ups were most of its cost. ``lookup``
        (a guided merge's, whose events are those before ``below`` and in ``also``) finds
        the events near the date among those only: the same ones the filter below keeps."""
        words = frozenset(member.words)
        size = len(words)
        uri = member.uri
        span = member.cand.span
        start, end = span.start, span.end
        by_day = span.precision is DatePrecision.DAY
        day = DatePrecision.DAY
        events = self._events
        best_index: int | None = None
        best = 0.0  # every similarity that counts is at least SAME_EVENT > 0
        self._look_near(span)
        for index in self._nearby(span) if lookup is None else lookup.nearby(span):
            if index >= below:  # ascending: the rest are later still
                if not also:
                    break
                if index not in also:
                    continue
            event = events[index]
            members = event.members
            if members is None:  # its month is cold: bring it back
                month = _month_of(event.span)
                if month is None or month not in self._cold:
                    raise LookupError(f"event {event.entry_id} is cold but its month is not")
                self._thaw_month(month)
                members = _members(event)
            other_span = event.span
            if start <= other_span.end and other_span.start <= end:
                threshold = SAME_EVENT
            elif (by_day and other_span.precision is day
                  and abs((start - other_span.start).days) <= CONFLICT_DAYS):
                threshold = SAME_EVENT_OTHER_DAY
            else:
                continue
            for other in (members if len(members) <= COMPARE_MEMBERS
                          else members[:COMPARE_MEMBERS]):
                if other.uri == uri:
                    continue
                other_words = other.words
                common = len(words.intersection(other_words))
                if common < MIN_SHARED:
                    continue
                sim = 2 * common / (size + len(other_words))  # Dice
                # strictly better only: ascending indexes, so ties go to the older event
                if sim >= threshold and sim > best:
                    best, best_index = sim, index
        return best, best_index

    @staticmethod
    def _summary(event: _Event) -> _Summary:
        """The summary of an event whose members are in memory."""
        summary = event.summary
        if summary is None or isinstance(summary, _ColdSummary):
            summary = _summarise(event)
            # Most events have one statement (84 % in a 1,458-article story): theirs is made
            # again in microseconds when asked, so only the others keep theirs (~170 bytes
            # an event of every story in play).
            if len(_members(event)) > 1:
                event.summary = summary
        return summary

    def _ranked_summary(self, event: _Event) -> _Summary | _ColdSummary:
        """What the rankings read of an event's summary, wherever its members are."""
        if event.members is None and isinstance(event.summary, _ColdSummary):
            return event.summary
        return self._summary(event)

    def _shown_summary(self, index: int, months: dict[int, dict[int, list[_Member]]]
                       ) -> _Summary:
        """The summary of an event the page shows; a cold one's is read from its month
        (``months``: the months read for this page) and kept while it stays on the page."""
        event = self._events[index]
        if event.members is not None:
            return self._summary(event)
        summary = self._cold_summaries.get(index)
        if summary is None:
            month = _month_of(event.span)
            if month is None or month not in self._cold:
                raise LookupError(f"event {event.entry_id} is cold but its month is not")
            held = months.get(month)
            if held is None:
                held = months[month] = self._read_month(month)
            summary = _summarise(_Event(event.entry_id, event.span, event.sources,
                                        held[index]))
            self._cold_summaries[index] = summary
        return summary

    def _rerank(self) -> None:
        """Bring the rankings up to date with the events changed since the last call (and
        the events dated on a day that more sources now cite): each is re-scored with the
        same expression a full scoring uses, so the rankings equal a sort of all events."""
        stale = self._stale
        for day in self._stale_days:
            stale.update(key[-1] for key in self._single_day.get(day, ()))
        self._stale_days.clear()
        handed, self._handed = self._handed, None
        if not stale:
            return
        for index in sorted(stale):
            event = self._events[index]
            hit = handed.get(index) if handed else None
            if (hit is not None and hit[0] is event and event.summary is None
                    and event.members is not None and len(event.members) == hit[1]):
                # (a guided merge's, for the event as it still is: what _summary makes)
                summary: _Summary | _ColdSummary = hit[2]
                event.summary = hit[2]
            else:
                summary = self._ranked_summary(event)
            old = self._ranked.get(index)
            pos = self._multi_at.get(index)
            if old is not None:
                del self._rank_all[bisect_left(self._rank_all, old)]
                if index in self._in_multi and pos is not None:
                    del self._rank_multi[bisect_left(self._rank_multi,
                                                     (old[0], old[1], old[2], pos, index))]
                on_day = self._single_day.get(old[1])
                if on_day is not None:
                    at = bisect_left(on_day, old)
                    if at < len(on_day) and on_day[at][-1] == index:
                        del on_day[at]
                        if not on_day:
                            del self._single_day[old[1]]
            span = summary.span
            salience = -self._salience(summary)
            ranked = (salience, span.start, event.entry_id, index)
            self._ranked[index] = ranked
            insort(self._rank_all, ranked)
            if pos is not None:
                self._in_multi.add(index)
                insort(self._rank_multi, (salience, span.start, event.entry_id, pos, index))
            if span.start == span.end:
                insort(self._single_day.setdefault(span.start, []), ranked)
        stale.clear()

    def _readable_first(self, on_day: Sequence[tuple[Any, ...]], count: int,
                        months: dict[int, dict[int, list[_Member]]]) -> list[int]:
        """The ``count`` most salient events of a day whose entry reads alone: an entry that
        opens "This was completed at 1930 CDT" or "They were among some 35 people" points
        back to a sentence the page does not show (``analysis.points_back``), so the day
        shows its next event instead; the most salient ones when none reads alone (the day
        is still a day of the story)."""
        if count <= 0:
            return []
        readable: list[int] = []
        for key in on_day:
            index = key[-1]
            if not points_back(self._shown_summary(index, months).text):
                readable.append(index)
                if len(readable) >= count:
                    return readable
        # fewer readable ones than asked: the most salient others fill in, in rank order
        rest = [key[-1] for key in on_day if key[-1] not in readable]
        return sorted(readable + rest[:count - len(readable)],
                      key=[key[-1] for key in on_day].index)

    def _pick(self, ranked: Sequence[tuple[Any, ...]], limit: int, per_day: dict[date, int],
              chosen: set[int], months: dict[int, dict[int, list[_Member]]]
              ) -> list[tuple[_Event, _Summary]]:
        """The best ``limit`` of ``ranked`` not in ``chosen`` (which the picked join), at
        most PER_DAY a day."""
        picked: list[tuple[_Event, _Summary]] = []
        if limit <= 0:
            return picked
        for key in ranked:
            index = key[-1]
            if index in chosen:
                continue
            day = key[1]
            if per_day.get(day, 0) >= PER_DAY:
                continue
            per_day[day] = per_day.get(day, 0) + 1
            chosen.add(index)
            picked.append((self._events[index], self._shown_summary(index, months)))
            if len(picked) >= limit:
                break
        return picked

    def _salience(self, summary: _Summary | _ColdSummary) -> float:
        span = summary.span
        mentions = len(self._day_sources.get(span.start, ())) if span.start == span.end else 0
        precision_bonus = DAY_PRECISION_BONUS if span.precision is DatePrecision.DAY else 0.0
        return (summary.sources + MENTION_WEIGHT * log_of(mentions + 1) + summary.centrality
                + precision_bonus)

    def day_ranking(self) -> list[tuple[date, float]]:
        """Every day mentioned or published on, best first: ``rank_dates`` of the articles."""
        return [(day, -negative) for negative, day in self._day_rank]

    def entries(self, limit: int) -> tuple[TimelineEntry, ...]:
        """One entry for each of the ``limit`` best days (build_timeline's date ranking, kept
        in ``_day_rank``) that has an event dated that day: its most salient (at most
        ``PER_DAY``); ordered by date. When fewer days have one, the most salient other
        events (coarser dates) fill the page, those confirmed by two or more sources first."""
        self._rerank()
        chosen: set[int] = set()
        per_day: dict[date, int] = {}
        picked: list[tuple[_Event, _Summary]] = []
        months: dict[int, dict[int, list[_Member]]] = {}
        if limit > 0:
            for _, day in self._day_rank:
                on_day = self._single_day.get(day)
                if not on_day:
                    continue
                for index in self._readable_first(on_day, min(PER_DAY, limit - len(picked)),
                                                  months):
                    chosen.add(index)
                    per_day[day] = per_day.get(day, 0) + 1
                    picked.append((self._events[index], self._shown_summary(index, months)))
                if len(picked) >= limit:
                    break
        if len(picked) < limit:
            picked += self._pick(self._rank_multi, limit - len(picked), per_day, chosen, months)
        if len(picked) < limit:
            picked += self._pick(self._rank_all, limit - len(picked), per_day, chosen, months)
        if self._cold_summaries:  # keep those of the cold events still on the page
            self._cold_summaries = {i: self._cold_summaries[i] for i in sorted(chosen)
                                    if i in self._cold_summaries}
        picked.sort(key=lambda p: (p[1].span.start, p[1].span.end, p[0].entry_id))
        shown = self._shown
        self._shown = {}
        out: list[TimelineEntry] = []
        for event, summary in picked:
            hit = shown.get(event.entry_id)
            entry = hit[1] if hit is not None and hit[0] is summary else _entry(event, summary)
            self._shown[event.entry_id] = (summary, entry)
            out.append(entry)
        return tuple(out)
