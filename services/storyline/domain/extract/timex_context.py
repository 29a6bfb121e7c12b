"""TIMEX3 expressions whose value comes from the discourse rather than from the publication
time alone: the year a report is about ("for the full year") and anaphoric references to
the time last mentioned ("that year", "the following month", "the same day").

None of them is a page date: a bare "the year" is too often generic ("the year before", "of
the year"), and an anaphor resolved against the wrong antecedent would put a false day on the
timeline; TimeML annotates them, so the evaluation view (``timex.find_timexes``) adds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

from storyline.domain.events import DatePrecision
from storyline.domain.extract.temporal import SEASONS, Found, months_span, nearest
from storyline.domain.extract.tuning import EXTRACT

P = DatePrecision

# (start, end, TimeML type, value)
Contextual = tuple[int, int, str, str]

# The year a report is about, after a preposition: the publication's year, or a one-year
# DURATION when the year is given by its end or spanned ("for the year ended Sept. 30",
# "throughout the fiscal year"), as TimeML annotates them.
_REPORT_YEAR = re.compile(
    r"\b(?P<pre>(?i:for|in|during|throughout|over)) "
    r"(?P<year>(?i:the (?:full |fiscal |calendar |entire )?year))\b(?![-'’])"
    r"(?! (?i:ago|earlier|before|after|later|two|nineteen)\b)(?P<ended> (?i:ended|ending))?"
)
_SPANNING = ("throughout", "over", "during")
# ... or after the part of it the figures cover: "the first nine months of the year".
_PART_OF_REPORT_YEAR = re.compile(
    r"\b(?i:months|weeks|quarters) (?i:of) (?P<year>(?i:the (?:fiscal |calendar )?year))\b"
    r"(?![-'’])(?! (?i:ago|earlier|before|after|later|ended|ending)\b)"
)

# Anaphoric references: resolved against the last expression found before them, the time the
# text is talking about at that point (a reference time, not the publication).
_ANAPHOR = re.compile(
    r"\b(?i:(?P<rel>that|the same|the following|the previous|the preceding|the prior)"
    r" (?P<unit>day|week|month|year)|(?P<next>the next) (?P<next_unit>day))\b(?![-'’])"
)
_STEP = {"that": 0, "the same": 0, "the following": 1, "the next": 1, "the previous": -1,
         "the preceding": -1, "the prior": -1}  # fmt: skip
# An antecedent further back than this (a few paragraphs) is not the one meant.
_ANTECEDENT_REACH = EXTRACT.antecedent_reach_chars
_FINER_THAN_MONTH = (P.DAY, P.PART_OF_MONTH, P.MONTH)


# A season named with "the" and no year ("over the summer", "the early summer"): TimeML gives
# it the season it refers to, the one in progress at publication, else the nearest, a coming
# one counting no more than a gone one (as "this summer"). Not a page date: without a year
# it is too often generic ("the summer months", "in the spring of life"). "Fall" only as a
# noun after "the" ("the fall of Lehman" is no season).
_SEASON = re.compile(
    r"\b(?i:the) (?:(?i:early|late) )?(?P<season>(?i:spring|summer|autumn|winter|fall))\b"
    r"(?![-'’])(?! (?i:of|months?|season|holidays?|break|term|school|camp|olympics|games)\b)"
)
_SEASON_CODES = {3: "SP", 6: "SU", 9: "FA", 12: "WI"}


def seasons(text: str, pub: date) -> Iterator[Contextual]:
    for m in _SEASON.finditer(text):
        first, count = SEASONS[m.group("season").lower()]

        def season(y: int, first: int = first, count: int = count) -> tuple[date, date]:
            return months_span(y, first, count)

        current = [season(y) for y in (pub.year - 1, pub.year) if season(y)[0] <= pub]
        span = current[-1] if current and current[-1][1] >= pub else nearest(
            season, pub, future_weight=1)
        yield m.start(), m.end(), "DATE", f"{span[0].year:04d}-{_SEASON_CODES[first]}"


# "the week" with nothing that fixes which one ("For the week, the index fell 3.8%", "the
# week's most active session"): TimeML writes a week the text does not pin down with X, in the
# publication's year. Not "the week of Oct. 9", "the week ended Friday" (a stated week).
_THE_WEEK = re.compile(r"\b(?i:the) (?i:week)\b(?![-’]|'(?!s))(?! (?i:of|ended|ending|to)\b)")


def underspecified_weeks(text: str, pub: date) -> Iterator[Contextual]:
    for m in _THE_WEEK.finditer(text):
        yield m.start(), m.end(), "DATE", f"{pub.year:04d}-WXX"


def week_value(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def report_years(text: str, pub: date) -> Iterator[Contextual]:
    for m in _REPORT_YEAR.finditer(text):
        if m.group("ended") or m.group("pre").lower() in _SPANNING:
            yield m.start("year"), m.end("year"), "DURATION", "P1Y"
        else:
            yield m.start("year"), m.end("year"), "DATE", f"{pub.year:04d}"
    for m in _PART_OF_REPORT_YEAR.finditer(text):
        yield m.start("year"), m.end("year"), "DATE", f"{pub.year:04d}"


def _anaphor_value(rel: str, unit: str, antecedent: Found) -> str | None:
    """The value of "<rel> <unit>" against ``antecedent``; None when the antecedent is coarser
    than the unit ("the following day" after "in 1998")."""
    _start, _end, (first, _last), precision, _stated, _form = antecedent
    step = _STEP[rel]
    if unit == "year":
        return f"{first.year + step:04d}"
    if unit == "month":
        if precision not in _FINER_THAN_MONTH:
            return None
        year, month = divmod(first.year * 12 + first.month - 1 + step, 12)
        return f"{year:04d}-{month + 1:02d}"
    if precision is not P.DAY:
        return None
    if unit == "week":
        return week_value(first + timedelta(days=7 * step))
    return (first + timedelta(days=step)).isoformat()


# "the last decade", "this decade", "the next decade": a calendar decade, as "last year" is a
# calendar year ("in the last decade" of 1998 is the 1980s); but spanned ("over the last
# decade", "for the next decade") or "the past decade", the ten years up to (or from) now, a
# DURATION; and "the last decade of the century" is no decade relative to publication.
_REL_DECADE = re.compile(
    r"\b(?:(?P<pre>(?i:over|for|through|throughout|within|across|during|in)) )?"
    r"(?P<decade>(?i:(?:the )?(?P<rel>last|this|next|previous|coming|past) decade))\b"
    r"(?![-'’])(?P<of> (?i:of)\b)?"
)
_DECADE_STEPS = {"last": -1, "previous": -1, "this": 0, "next": 1, "coming": 1}
_SPANNED = ("over", "for", "through", "throughout", "within", "across")


def relative_decades(text: str, pub: date) -> Iterator[Contextual]:
    for m in _REL_DECADE.finditer(text):
        if m.group("of"):
            continue
        rel = m.group("rel").lower()
        start, end = m.start("decade"), m.end("decade")
        if rel == "past" or (m.group("pre") or "").lower() in _SPANNED:
            yield start, end, "DURATION", "P1DE"
        else:
            yield start, end, "DATE", str(pub.year // 10 + _DECADE_STEPS[rel])


# "later in the day", "earlier in the day": TimeML annotates "the day", the day the text is
# telling at that point: the last day mentioned (within reach), else the publication's.
_IN_THE_DAY = re.compile(
    r"\b(?i:earlier|later|early|late) (?i:in) (?P<day>(?i:the day))\b(?![-'’])")


def days_in_progress(text: str, found: list[Found], pub: date) -> Iterator[Contextual]:
    for m in _IN_THE_DAY.finditer(text):
        before = [f for f in found if f[1] <= m.start() and f[3] is P.DAY
                  and m.start() - f[1] <= _ANTECEDENT_REACH]
        day = before[-1][2][0] if before else pub
        yield m.start("day"), m.end("day"), "DATE", day.isoformat()


# "the previous Friday", "the following Monday": the weekday before or after the day last
# mentioned, not the one before or after publication (TimeML anchors it to that reference).
_WEEKDAY_STEP = re.compile(r"\b(?i:the) (?P<rel>(?i:previous|preceding|prior|following|next)) $")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def anaphoric_weekday(text: str, item: Found, found: list[Found]) -> Contextual | None:
    """The TIMEX3 of a bare weekday after "the previous", "the following", ... when a day was
    mentioned before it (within reach); None otherwise (the weekday keeps its reading)."""
    start, end = item[0], item[1]
    name = text[start:end].lower()
    if name not in _WEEKDAY_NAMES:
        return None
    m = _WEEKDAY_STEP.search(text, max(0, start - 20), start)
    if m is None:
        return None
    before = [f for f in found if f[1] <= m.start() and f[3] is P.DAY
              and m.start() - f[1] <= _ANTECEDENT_REACH]
    if not before:
        return None
    reference = before[-1][2][0]
    target = _WEEKDAY_NAMES.index(name)
    if m.group("rel").lower() in ("following", "next"):
        day = reference + timedelta(days=(target - reference.weekday() - 1) % 7 + 1)
    else:
        day = reference - timedelta(days=(reference.weekday() - target - 1) % 7 + 1)
    return m.start(), end, "DATE", day.isoformat()


def anaphors(text: str, found: list[Found]) -> Iterator[Contextual]:
    """Anaphoric references of ``text``; ``found`` is ``temporal.scan`` of the same text."""
    for m in _ANAPHOR.finditer(text):
        before = [f for f in found if f[1] <= m.start()]
        if not before or m.start() - before[-1][1] > _ANTECEDENT_REACH:
            continue
        rel = (m.group("rel") or m.group("next")).lower()
        unit = (m.group("unit") or m.group("next_unit")).lower()
        value = _anaphor_value(rel, unit, before[-1])
        if value is not None:
            yield m.start(), m.end(), "DATE", value
