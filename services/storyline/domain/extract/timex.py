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
from storyline.domain.extract.temporal import Found, scan
from storyline.domain.extract.text import Document
from storyline.domain.extract.timex_context import (
    anaphoric_weekday,
    anaphors,
    days_in_progress,
    relative_decades,
    report_years,
    seasons,
    underspecified_weeks,
    week_value,
)

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
# Not before an amount or a unit: "the past twenty years", "recent quarters" are durations.
_UNIT_AFTER = (r"(?! (?:\d|(?:few|several|couple|dozen|two|three|four|five|six|seven|eight|nine|"
               r"ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
               r"nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
               r"year|month|week|day|decade|centur|quarters)))")
# "current" before the noun it dates ("current market conditions", "his current position"),
# as "recent" is (TimeML PRESENT_REF; "the then-current price" PAST_REF); not the economic
# and accounting terms, where it dates nothing ("the current account", "current assets").
_CURRENT_AS_ADJECTIVE = (r"(?= [a-z])(?! (?:account|accounts|assets|liabilities|affairs|"
                         r"events|flows?|carrying|electricity)\b)")
# "the future" is a time after a preposition of time ("in the future", "well into the
# future", "worried about the future"); as a subject or owned ("the future looks bleak", "the
# future of our peoples", "an approach to the future") it is what lies ahead for something, no
# time, and TimeML does not annotate it.
_TIME_PREPOSITION = "(?:" + "|".join(
    rf"(?<=\b{p} )" for w in ("in", "into", "for", "about", "until", "till", "through",
                              "throughout", "toward", "towards", "over")
    for p in (w, w.capitalize())) + ")"
# "in the near term", "over the long term": the time ahead, as a noun after a preposition
# (TimeML FUTURE_REF); not the adjective of "the near-term outlook", "the long-term, massive
# impacts".
_TERM = ("(?:" + "|".join(
    rf"(?<=\b{p} )" for w in ("in", "over", "for", "of", "during", "through", "throughout",
                              "beyond", "into", "within")
    for p in (w, w.capitalize())) + ")"
         r"(?i:the (?:near|short|long)[ -]term)"
         r"(?=[.,;:!?\"'’)]|$| (?i:and|or|but|as|than|because|if|when|while|for|to)\b)")
# "Islam will one day be ...", "it may some day fall": a time ahead nobody names (FUTURE_REF),
# not a day's duration.
_SOME_DAY = "(?:" + "|".join(rf"(?<=\b{w} )" for w in (
    "will", "would", "could", "may", "might", "can", "shall", "should", "'ll", "’ll")
) + r")(?i:one day|some day|someday)\b(?![-'’])"
_REFERENCES = re.compile(
    r"\b(?:(?P<present>(?i:right now|now|currently|these days|nowadays|at present|"
    r"at the moment)|(?<!then )(?<!then-)(?i:current)" + _CURRENT_AS_ADJECTIVE + r")"
    r"|(?P<then>(?i:then[ -]current)" + _CURRENT_AS_ADJECTIVE + r")"
    r"|(?P<past>(?i:(?:more |most |until |the )?recently|(?:more |most )?recent(?: years)?|"
    r"the past)" + _UNIT_AFTER + r")"
    r"|(?P<future>" + _TIME_PREPOSITION + r"(?i:the (?:near |distant |foreseeable )?future)"
    r"(?! (?i:of)\b)|(?i:(?<!as )soon(?! after))|" + _TERM + "|" + _SOME_DAY + ")"
    r"|(?P<decade>(?i:the )?(?:(?i:early|mid|late)[ -])?(?:(?P<dc_y>1[89]\d0|20[0-9]0)['’]?s|"
    r"(?<![\w'’])['’](?P<dc_a>\d)0s|"
    r"(?P<dc_w>(?i:twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties))))"
    r"|(?P<century>(?i:the )?(?:(?i:early|mid|late)[ -])?(?P<ce_n>[1-9]|1\d|2[01])"
    r"(?:st|nd|rd|th)[ -](?i:century)))\b"
)
_DECADE_WORDS = {"twenties": 2, "thirties": 3, "forties": 4, "fifties": 5, "sixties": 6,
                 "seventies": 7, "eighties": 8, "nineties": 9}  # fmt: skip


# Durations ("five years", "the first nine months", "a two-week strike"): TIMEX3 DURATION with
# an ISO 8601 period value; a vague amount ("several years") is X. Not a person's age ("Mr.
# Smith, 52 years old,"): no period of the story's time, and TimeBank leaves it out.
_SMALL = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
          "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
          "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
          "seventy": 70, "eighty": 80, "ninety": 90, "a": 1, "an": 1, "a couple of": 2,
          "couple of": 2}  # fmt: skip
_VAGUE = ("several", "a few", "few", "many", "some")
_NUMBER = (
    r"\d{1,3}|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|"
    r"four|five|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|(?:a )?couple of"
)
_UNITS = {"year": "Y", "month": "M", "week": "W", "day": "D", "decade": "DE", "century": "CE",
          "quarter": "Q", "hour": "H", "minute": "M"}  # fmt: skip
_UNIT = r"(?:year|month|week|day|decade|centur(?:y|ie)|quarter|hour|minute)"
_DURATIONS = re.compile(
    r"\b(?:(?:(?i:the) (?:(?i:past|last|next|first|coming|previous|latest|final|remaining) )?"
    r"|(?i:nearly|almost|about|at least|more than|less than|some|recent|coming) )?"
    r"(?i:(?P<du_n>" + _NUMBER + r"|several|a few|few|many)) (?P<du_u>(?i:" + _UNIT + r"))s?"
    r"(?! (?i:old)\b)"
    r"|(?i:recent|coming) (?P<du_r>(?i:day|week|month|quarter))s"
    r"|(?<!\$)(?P<du_a>(?i:" + _NUMBER + r"))-(?P<du_au>(?i:year|month|week|day|hour|minute))"
    r"(?:-old)?"
    r"|(?i:for|within|over|than|about|nearly|almost|in) (?:(?P<du_1>(?i:a|an)) "
    r"(?P<du_1u>(?i:year|month|week|day|decade|century|hour|minute))"
    r"|(?P<du_p>(?i:day|week|month|year|decade)s|(?i:centuries))))\b"
    r"(?! (?i:ago)\b)"
)


def _amount(token: str) -> str:
    token = token.lower().replace("-", " ")
    if token.isdigit():
        return str(int(token))
    if token in _VAGUE:
        return "X"
    if token in _SMALL:
        return str(_SMALL[token])
    return str(sum(_SMALL[w] for w in token.split()))  # ints


def _duration(m: re.Match[str]) -> str:
    vague = m.group("du_r") or m.group("du_p")
    amount = m.group("du_n") or m.group("du_a") or m.group("du_1") or "several"
    unit = (vague or m.group("du_u") or m.group("du_au") or m.group("du_1u")).lower()
    unit = unit[:-1] if unit.endswith("s") else unit
    unit = "century" if unit.startswith("centur") else unit
    time = "T" if unit in ("hour", "minute") else ""
    return f"P{time}{_amount(amount)}{_UNITS[unit]}"


def _reference(m: re.Match[str], pub: date) -> str:
    kind = m.lastgroup
    if kind == "present":
        return "PRESENT_REF"
    if kind in ("past", "then"):
        return "PAST_REF"
    if kind == "future":
        return "FUTURE_REF"
    if kind == "decade":
        year = m.group("dc_y")
        if year:
            return year[:3]
        if m.group("dc_a"):
            # "the '80s": the last such decade by publication ("the '20s" of 1998 is the 1920s)
            decade = pub.year // 100 * 10 + int(m.group("dc_a"))
            return str(decade if decade <= pub.year // 10 else decade - 10)
        return f"19{_DECADE_WORDS[m.group('dc_w').lower()]}"
    return f"{int(m.group('ce_n')) - 1:02d}"


# A time of day next to a day: "10 p.m. Wednesday", "noon Thursday", "Friday evening".
_CLOCK_BEFORE = re.compile(
    r"(?:(?P<h>1[0-2]|0?[1-9])(?::(?P<mi>[0-5]\d))? ?(?P<ap>[ap])\.?m\.?(?: [A-Z]{3})?"
    r"|(?P<noon>noon|midnight)|(?P<part>mid-?(?:morning|afternoon)))(?:,? (?:on )?)$"
)
_PART_AFTER = re.compile(r" (?P<part>morning|afternoon|evening|night)\b")
_PART_CODES = {"morning": "MO", "afternoon": "AF", "evening": "EV", "night": "NI",
               "mid-morning": "MO", "midmorning": "MO", "mid-afternoon": "AF",
               "midafternoon": "AF"}  # fmt: skip


def _with_time_of_day(t: Timex, text: str) -> Timex:
    """A day-valued timex widened by a time of day written next to it, as TimeML's TIME."""
    if t.type != "DATE" or len(t.value) != 10:
        return t
    before = _CLOCK_BEFORE.search(text, max(0, t.start - 24), t.start)
    if before is not None:
        if before.group("h"):
            hour = int(before.group("h")) % 12 + (12 if before.group("ap") == "p" else 0)
            clock = f"{hour:02d}:{before.group('mi') or '00'}"
        elif before.group("noon"):
            clock = "12:00" if before.group("noon") == "noon" else "24:00"
        else:
            clock = _PART_CODES[before.group("part")]
        return Timex(before.start(), t.end, "TIME", f"{t.value}T{clock}",
                     text[before.start() : t.end])
    after = _PART_AFTER.match(text, t.end)
    if after is not None:
        code = _PART_CODES[after.group("part")]
        return Timex(t.start, after.end(), "TIME", f"{t.value}T{code}",
                     text[t.start : after.end()])
    return t


# A modifier is part of the expression's extent in TimeML (its value is the same; TimeML
# puts it in ``mod``): "early Tuesday", "Earlier Sunday", "late yesterday"; "almost two
# years ago", "nearly four years ago"; so is "fiscal" of "fiscal 1989".
_DAY_MODIFIER = re.compile(r"\b(?i:early|late|earlier|later) $")
_AMOUNT_MODIFIER = re.compile(
    r"\b(?i:nearly|almost|about|some|roughly|approximately|more than|less than|at least) $")
_FISCAL = re.compile(r"\b(?i:fiscal) $")


def _with_modifier(t: Timex, form: str, text: str) -> Timex:
    """``t`` (from a ``scan`` match of ``form``) with the extent TimeML gives it."""
    if form == "quarter" and t.text.endswith("-quarter") and t.text[:4].lower() == "the ":
        # "the third-quarter results": "the" is the noun's; the expression is the adjective
        return Timex(t.start + 4, t.end, t.type, t.value, t.text[4:])
    if form in ("ybare", "ymod"):
        m = _FISCAL.search(text, max(0, t.start - 7), t.start)  # "fiscal 1989"
    elif form in ("weekday", "relword"):
        m = _DAY_MODIFIER.search(text, max(0, t.start - 8), t.start)
    elif form == "ago":
        m = _AMOUNT_MODIFIER.search(text, max(0, t.start - 15), t.start)
    else:
        return t
    if m is None:
        return t
    return Timex(m.start(), t.end, t.type, t.value, text[m.start() : t.end])


# Recurrences: "each Thursday", "every quarter", "each July" are TimeML SETs, not the one
# day, month or period the name alone would be; so are weekdays in the plural ("on Fridays",
# "on Saturday nights").
_WEEKDAY_NAMES = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_SET = re.compile(
    r"\b(?:(?i:each|every) (?:(?P<set_wd>" + _WEEKDAY_NAMES + r")"
    r"|(?P<set_m>January|February|March|April|May|June|July|August|September|October|November|"
    r"December)|(?P<set_u>(?i:day|week|month|quarter|year)))"
    r"|(?P<set_wn>" + _WEEKDAY_NAMES + r") (?P<set_part>morning|afternoon|evening|night)s"
    r"|(?P<set_wp>" + _WEEKDAY_NAMES + r")s)\b(?![-'’])"
)
_SET_UNITS = {"day": "P1D", "week": "P1W", "month": "P1M", "quarter": "P1Q", "year": "P1Y"}
_WEEKDAY_NUMBERS = {"monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5,
                    "saturday": 6, "sunday": 7}  # fmt: skip
_MONTH_NUMBERS = {"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6,
                  "july": 7, "august": 8, "september": 9, "october": 10, "november": 11,
                  "december": 12}  # fmt: skip


def _set_value(m: re.Match[str]) -> str:
    if m.group("set_wn"):
        code = _PART_CODES[m.group("set_part")]
        return f"XXXX-WXX-{_WEEKDAY_NUMBERS[m.group('set_wn').lower()]}T{code}"
    weekday = m.group("set_wd") or m.group("set_wp")
    if weekday:
        return f"XXXX-WXX-{_WEEKDAY_NUMBERS[weekday.lower()]}"
    if m.group("set_m"):
        return f"XXXX-{_MONTH_NUMBERS[m.group('set_m').lower()]:02d}"
    return _SET_UNITS[m.group("set_u").lower()]


def find_timexes(doc: Document, pub: date) -> list[Timex]:
    """The document's temporal expressions in text order, offsets into ``doc.text``."""
    text = doc.text
    out: list[Timex] = []
    found = scan(text, pub)
    sets = list(_SET.finditer(text))
    for m in sets:
        out.append(Timex(m.start(), m.end(), "SET", _set_value(m), m.group()))
    for item in found:
        if any(m.start() < item[1] and item[0] < m.end() for m in sets):
            continue  # "each Thursday": not one Thursday
        anaphoric = anaphoric_weekday(text, item, found)
        if anaphoric is not None:
            start, end, kind, value = anaphoric
            out.append(Timex(start, end, kind, value, text[start:end]))
            continue
        kind, value = _value(item, text)
        timex = Timex(item[0], item[1], kind, value, text[item[0] : item[1]])
        out.append(_with_modifier(_with_time_of_day(timex, text), item[5], text))
    taken = [(t.start, t.end) for t in out]
    for m in _REFERENCES.finditer(text):
        if not any(s < m.end() and m.start() < e for s, e in taken):
            out.append(Timex(m.start(), m.end(), "DATE", _reference(m, pub), m.group()))
    taken = [(t.start, t.end) for t in out]
    for start, end, kind, value in (*report_years(text, pub), *anaphors(text, found),
                                     *days_in_progress(text, found, pub),
                                     *relative_decades(text, pub),
                                     *seasons(text, pub),
                                     *underspecified_weeks(text, pub)):
        if not any(s < end and start < e for s, e in taken):
            out.append(Timex(start, end, kind, value, text[start:end]))
    taken = [(t.start, t.end) for t in out]
    for m in _DURATIONS.finditer(text):
        first = "du_1" if m.group("du_1") else "du_p" if m.group("du_p") else None
        start = m.start(first) if first else m.start()
        if not any(s < m.end() and start < e for s, e in taken):
            out.append(Timex(start, m.end(), "DURATION", _duration(m), text[start : m.end()]))
    out.sort(key=lambda t: t.start)
    return out
