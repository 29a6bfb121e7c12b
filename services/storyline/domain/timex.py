"""TIMEX3 view of the date finder: each expression ``temporal.scan`` finds, with its TimeML
type and value ("2026-03-08", "2026-03", "2026-Q1", "2026-W10", "2026-SU", "1998-02-13TNI").

The spans and calendar values are the ones the page's dates come from (``find_dates`` is
built on the same ``scan``); this layer only writes them the TimeML way and keeps the two ends
of a range apart, as TimeML annotates each. Used by ``storyline eval dates``.
"""

from __future__ import annotations

import re
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


# Expressions with no calendar span, so not page dates: references to the present, past
# and future (TimeML PRESENT_REF, PAST_REF, FUTURE_REF), decades and centuries.
_UNIT_AFTER = (r"(?! (?:\d|(?:few|several|two|three|four|five|six|seven|eight|nine|ten|"
               r"year|month|week|day|decade|centur)))")
_REFERENCES = re.compile(
    r"\b(?:(?P<present>(?i:right now|now|currently|these days|nowadays|at present|"
    r"at the moment))"
    r"|(?P<past>(?i:(?:more |most |until |the )?recently|(?:more |most )?recent(?: years)?|"
    r"the past)" + _UNIT_AFTER + r")"
    r"|(?P<future>(?i:the (?:near |distant |foreseeable )?future|(?<!as )soon(?! after)))"
    r"|(?P<decade>(?i:the )?(?:(?i:early|mid|late)[ -])?(?:(?P<dc_y>1[89]\d0|20[0-9]0)['’]?s|"
    r"(?P<dc_w>(?i:twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties))))"
    r"|(?P<century>(?i:the )?(?:(?i:early|mid|late)[ -])?(?P<ce_n>[1-9]|1\d|2[01])"
    r"(?:st|nd|rd|th)[ -](?i:century)))\b"
)
_DECADE_WORDS = {"twenties": 2, "thirties": 3, "forties": 4, "fifties": 5, "sixties": 6,
                 "seventies": 7, "eighties": 8, "nineties": 9}  # fmt: skip


def _reference(m: re.Match[str]) -> str:
    kind = m.lastgroup
    if kind == "present":
        return "PRESENT_REF"
    if kind == "past":
        return "PAST_REF"
    if kind == "future":
        return "FUTURE_REF"
    if kind == "decade":
        year = m.group("dc_y")
        return year[:3] if year else f"19{_DECADE_WORDS[m.group('dc_w').lower()]}"
    return f"{int(m.group('ce_n')) - 1:02d}"


def find_timexes(doc: Document, pub: date) -> list[Timex]:
    """The document's temporal expressions in text order, offsets into ``doc.text``."""
    text = doc.text
    out: list[Timex] = []
    for item in scan(text, pub):
        kind, value = _value(item, text)
        out.append(Timex(item[0], item[1], kind, value, text[item[0] : item[1]]))
    taken = [(t.start, t.end) for t in out]
    for m in _REFERENCES.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        out.append(Timex(m.start(), m.end(), "DATE", _reference(m), m.group()))
    out.sort(key=lambda t: t.start)
    return out
