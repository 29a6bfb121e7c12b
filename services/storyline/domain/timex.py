"""TIMEX3 view of the date finder: each expression ``temporal.scan`` finds, with its TimeML
type and value ("2026-03-08", "2026-03", "2026-Q1", "2026-W10", "2026-SU", "1998-02-13TNI").

The spans and calendar values are the ones the page's dates come from (``find_dates`` is
built on the same ``scan``); this layer only writes them the TimeML way and keeps the two ends
of a range apart, as TimeML annotates each. Used by ``storyline eval dates``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from storyline.domain.events import DatePrecision
from storyline.domain.temporal import Found, scan
from storyline.domain.text import Document

P = DatePrecision

_SEASON_CODES = {3: "SP", 6: "SU", 9: "FA", 12: "WI"}
_PART_OF_DAY = {"tonight": "NI", "last night": "NI", "this morning": "MO",
                "this afternoon": "AF", "this evening": "EV"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Timex:
    """One temporal expression: offsets into ``Document.text``, TimeML type and value."""

    start: int
    end: int
    type: str  # DATE, TIME, DURATION or SET
    value: str
    text: str


def week_value(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _value(item: Found, text: str) -> tuple[str, str]:
    start, end, (first, _last), precision, _stated, form = item
    phrase = text[start:end].lower()
    if precision is P.DAY:
        part = _PART_OF_DAY.get(phrase)
        if part is not None:
            return "TIME", f"{first.isoformat()}T{part}"
        return "DATE", first.isoformat()
    if precision is P.PART_OF_MONTH:
        if phrase.endswith("weekend"):
            return "DATE", week_value(first) + "-WE"
        if phrase.endswith(("week", "weeks", "weeks ago", "week ago")):
            return "DATE", week_value(first)
        return "DATE", f"{first.year:04d}-{first.month:02d}"
    if precision is P.MONTH:
        return "DATE", f"{first.year:04d}-{first.month:02d}"
    if precision is P.QUARTER:
        if form == "season":
            return "DATE", f"{first.year:04d}-{_SEASON_CODES[first.month]}"
        return "DATE", f"{first.year:04d}-Q{(first.month + 2) // 3}"
    if precision is P.HALF and form == "half":
        return "DATE", f"{first.year:04d}-H{1 if first.month <= 6 else 2}"
    return "DATE", f"{first.year:04d}"


def find_timexes(doc: Document, pub: date) -> list[Timex]:
    """The document's temporal expressions in text order, offsets into ``doc.text``."""
    text = doc.text
    out: list[Timex] = []
    for item in scan(text, pub):
        kind, value = _value(item, text)
        out.append(Timex(item[0], item[1], kind, value, text[item[0] : item[1]]))
    return out
