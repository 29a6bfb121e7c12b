"""English temporal expressions, resolved against the publication time.

One compiled alternation (MASTER) covers every form; each alternative is wrapped in an outer
named group, so ``match.lastgroup`` names the form that matched. Forms are ordered most
specific first because, at one position, the first alternative that matches wins. MASTER is
only tried near cheap anchors (digits, month and weekday names, a few keywords) found in the
whole article (sentences joined with newlines). Patterns use literal single spaces (the
sentences are whitespace-collapsed) and tolerate the detokenised spacing of the corpora
("Jan . 5", "5 , 2010").

Dates without a year ("Dec. 12", "in March", "the first quarter") take the year that puts
them nearest the publication date, a future day weighing four past ones (one when the clause
says "will", "is due", ...): news mostly reports the past, yet "Jan. 5" in a piece from
Dec. 28 is next week, not last January.
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from storyline.domain.events import DatePrecision
from storyline.domain.extract.text import Document, alternation, wordset
from storyline.domain.extract.tuning import EXTRACT
from storyline.domain.facts import DateMention, TimeSpan

P = DatePrecision
Span = tuple[date, date]

MONTHS: dict[str, int] = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
WEEKDAYS: dict[str, int] = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6,
}  # fmt: skip
NUMBER_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "a couple of": 2,
}  # fmt: skip
ORDINALS: dict[str, int] = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "final": 4, "latter": 2,
}  # fmt: skip
SEASONS: dict[str, tuple[int, int]] = {  # (first month, number of months); winter runs Dec-Feb
    "spring": (3, 3), "summer": (6, 3), "autumn": (9, 3), "fall": (9, 3), "winter": (12, 3),
}  # fmt: skip

# Capitalised only: "may", "march" and "sun" are ordinary words in lower case.
_MONTH = (
    r"(?:(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\b|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\b(?: ?\.)?)"
)
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?!\d)"
_SEP = r" ?,? ?"  # "Dec 12, 2025", "Dec 12 2025", detokenised "Dec 12 , 2025"
_REL_YEAR = r"(?i:last|this|next) year"
# Words after a bare four-digit number that make it a count rather than a year.
_COUNTED = (
    r"(?! (?:people|persons|troops|soldiers|points|barrels|tonnes|tons|dollars|euros|pounds|"
    r"shares|jobs|workers|employees|miles|feet|metres|meters|kilometres|kilometers|km|homes|"
    r"houses|cases|deaths|families|students|children|men|women|units|cars|vehicles|acres)\b)"
)
_PRE_MONTH = (
    r"(?i:in|since|by|until|till|from|through|to|during|before|after|of|last|next|this|and|"
    r"between|around|throughout|as of|early|mid|late|for)"
)
_PRE_YEAR = (
    r"(?:(?i:in|since|of|by|until|till|during|from|before|after|to|through|throughout|between|"
    r"and|or|the|year|fiscal|circa|around|as of|early|late|end of|start of|beginning of|for|"
    r"due|into)|'s|’s)"
)

# Years said as words, in broadcast transcripts: "nineteen ninety-six", "the year two thousand".
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
          "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
          "nineteen": 19}  # fmt: skip
_SPOKEN_TAIL = (
    "(?:" + "|".join(_TENS) + ")(?:[- ](?:" + "|".join(list(_UNITS)[:9]) + r"))?\b"
    "|(?:" + "|".join(list(_UNITS)[9:]) + r")\b"
)
_SPOKEN_YEAR = (
    rf"(?i:nineteen (?:{_SPOKEN_TAIL})"
    rf"|(?<=the year )two thousand(?: and)?(?: (?:{_SPOKEN_TAIL}|(?:"
    + "|".join(list(_UNITS)[:9]) + r")\b))?)"
)


def spoken_year(phrase: str) -> int:
    """1996 for "nineteen ninety-six", 2000 for "two thousand", 2003 for "two thousand and
    three"."""
    words = phrase.lower().replace("-", " ").split()
    if words[0] == "nineteen":
        century, rest = 1900, words[1:]
    else:
        century, rest = 2000, [w for w in words[2:] if w != "and"]
    value = 0
    for word in rest:
        value += _TENS.get(word, 0) + _UNITS.get(word, 0)
    return century + value


# A year before a name after an article or a possessive ("a 1971 Convention", "his 1990
# Anheuser earnings"): no count can stand there ("a 2000 Iraqis"), unlike after "the". Not a
# clock time ("a 1900 GMT deadline").
_NAME_AFTER_DETERMINER = (
    "(?:" + "|".join(rf"(?<=\b{w} \d{{4}})" for w in (
        "a", "an", "A", "An", "his", "her", "its", "their", "our", "my", "your", "His", "Her",
        "Its", "Their", "Our", "My", "Your")) + ")"
    r"(?= [A-Z])(?! (?:GMT|UTC|EST|EDT|CST|CDT|MST|MDT|PST|PDT|BST|CET|CEST)\b)"
)

_FORMS: list[tuple[str, str]] = [
    (
        "spoken",  # "nineteen ninety-six", "January nineteen ninety-seven"
        rf"(?:(?P<sp_m>{_MONTH}) )?(?:(?i:the year) )?(?P<sp_y>{_SPOKEN_YEAR})"
        r"(?! (?:people|percent|dollars|troops|soldiers|men|women|children)\b)",
    ),
    (
        "iso",
        r"\b(?P<iso_y>(?:19|20)\d\d)-(?P<iso_m>0[1-9]|1[0-2])-(?P<iso_d>0[1-9]|[12]\d|3[01])\b",
    ),
    (
        "usnum",
        r"\b(?P<us_m>1[0-2]|0?[1-9])/(?P<us_d>[12]\d|3[01]|0?[1-9])/(?P<us_y>(?:19|20)\d\d)\b",
    ),
    (
        "drange",  # "17-23 October 2009", "October 17-23, 2009"
        rf"\b(?:(?P<dr_d1>{_DAY}) ?(?:-|–) ?(?P<dr_d2>{_DAY}) (?P<dr_m>{_MONTH})"
        rf"|(?P<dr_m2>{_MONTH}) ?(?P<dr_d3>{_DAY}) ?(?:-|–) ?(?P<dr_d4>{_DAY}))"
        rf"(?:{_SEP}(?P<dr_y>{_YEAR})\b)?",
    ),
    (
        "dmy",
        rf"(?:{_WEEKDAY},? )?\b(?P<dmy_d>{_DAY}) (?:of )?(?P<dmy_m>{_MONTH})"
        rf"(?:{_SEP}(?P<dmy_y>{_YEAR}|{_REL_YEAR})\b)?",
    ),
    (
        "mdy",
        rf"(?:{_WEEKDAY},? )?\b(?P<mdy_m>{_MONTH}) ?(?P<mdy_d>{_DAY})"
        r"(?! ?(?:%|percent|per cent|million|billion|:\d))"
        rf"(?:{_SEP}(?P<mdy_y>{_YEAR}|{_REL_YEAR})\b)?",
    ),
    (
        "pmonth",
        r"\b(?P<pm_p>(?i:early|mid|late|(?:the )?(?:beginning|start|end|middle) of))[ -]"
        rf"(?P<pm_m>{_MONTH})(?:{_SEP}(?:of )?(?P<pm_y>{_YEAR}|{_REL_YEAR})\b)?",
    ),
    (
        "pyear",
        r"\b(?P<py_p>(?i:early|mid|late|(?:the )?(?:beginning|start|end|middle) of))[ -]"
        rf"(?P<py_y>{_YEAR}|{_REL_YEAR})\b",
    ),
    (
        "quarter",  # "the third quarter", "the 1988 second quarter", "this year's fiscal first"
        r"\b(?:(?i:the) )?(?:(?P<q_y0>" + _YEAR + r"|(?i:last|this|next) (?i:year)['’]s|"
        r"(?i:year-ago|year-earlier)) )?(?:(?i:fiscal)[ -])?"
        r"(?P<q_n>(?i:first|second|third|fourth|final|1st|2nd|3rd|4th))[ -]"
        rf"(?i:quarter)(?: (?i:of) (?P<q_y>{_YEAR}|{_REL_YEAR})| (?P<q_y2>{_YEAR}))?\b",
    ),
    (
        # the quarter a report is about: "the latest quarter", "the year-ago period", "this
        # quarter"; resolved in ``scan`` against the last quarter mentioned before it
        "refq",
        r"\b(?:(?i:the|this|that) (?:(?P<rq_m>(?i:latest|current|same|most recent|recent|"
        r"just-ended|comparable|corresponding|year-ago|year-earlier))(?: (?i:fiscal))? "
        r"(?i:quarter|period)|(?:(?i:fiscal) )?(?i:quarter)(?!-))"
        rf"|(?:(?i:the) (?P<rq_y>{_YEAR})|(?P<rq_r>(?i:last|this) (?i:year)['’]s))"
        r" (?:(?i:fiscal) )?(?i:quarter|period))\b"
        r"(?P<rq_a> (?i:a year (?:ago|earlier)|last year))?",
    ),
    (
        "yago",  # "a year earlier", "year-ago results": the reference time a year back
        r"\b(?i:a year earlier|year-earlier|year-ago)\b",
    ),
    ("qshort", rf"\bQ(?P<qq_n>[1-4])(?: (?P<qq_y>{_YEAR}))?\b"),
    (
        "holiday",
        r"\b(?P<hol>Christmas Day|Christmas Eve|New Year['’]s Day|New Year['’]s Eve|Boxing Day|"
        r"Valentine['’]s Day|Halloween|Thanksgiving(?: Day)?|Independence Day|Bastille Day)"
        rf"(?:{_SEP}(?P<hol_y>{_YEAR})\b)?",
    ),
    (
        "half",
        # "the last half of 1989", "the first two quarters of 1990": halves too
        r"\b(?:(?i:the) )?(?P<h_n>(?i:first|second|latter|last)) (?i:half|two quarters) (?i:of) "
        rf"(?P<h_y>{_YEAR}|{_REL_YEAR}|(?i:the year))\b",
    ),
    (
        "season",
        r"\b(?:(?P<s_rel>(?i:last|this|next|past)) )?(?P<s_n>(?i:spring|summer|autumn|fall|"
        rf"winter))(?![A-Za-z])(?: (?:of )?(?P<s_y>{_YEAR}\b|{_SPOKEN_YEAR}))?",
    ),
    (
        "mbare",
        rf"\b(?P<mb_pre>{_PRE_MONTH}) (?P<mb_m>{_MONTH})"
        rf"(?:{_SEP}(?:of )?(?P<mb_y>{_YEAR}|{_REL_YEAR})\b|(?![ .,]*\d))",
    ),
    ("mstart", rf"\b(?P<ms_m>{_MONTH}){_SEP}(?:of )?(?P<ms_y>{_YEAR})\b(?![,.]?\d)"),
    (
        # a month before the noun it dates: "the April spill", "a June agreement", "its
        # November election" (not "May": "the May government"; not "the March on Rome")
        "madj",
        r"(?:(?<=\ba )|(?<=\ban )|(?<=\bthe )|(?<=\bThe )|(?<=\bits )|(?<=\bhis )|(?<=\bher )"
        r"|(?<=\btheir )|(?<=\bour ))(?P<ma_m>January|February|March|April|June|July|August|"
        r"September|October|November|December)(?= [a-z])(?! on\b)",  # "the March on Washington"
    ),
    ("ybare", rf"\b(?P<yb_pre>{_PRE_YEAR})[ -](?P<yb_y>{_YEAR})\b(?![,.]?\d| ?%){_COUNTED}"),
    (
        # a year before the noun it dates: "its 1990 invasion", "his unsuccessful 1996 campaign"
        "ymod",
        rf"(?<![$£€#\d,.\w-])(?P<ym_y>{_YEAR})(?:(?= [a-z])|{_NAME_AFTER_DETERMINER}){_COUNTED}"
        r"(?! (?:years|months|weeks|days|hours|minutes|seconds|times|more|or more|to \d)\b)",
    ),
    (
        "relword",
        r"\b(?P<rw>(?i:the day before yesterday|yesterday|today|tonight|tomorrow|"
        r"this (?:morning|afternoon|evening)|last night))\b",
    ),
    (
        "weekday",  # "on Monday", "this coming Sunday", "Tuesday 13th" (no month named)
        r"\b(?:(?P<wd_rel>(?i:last|this coming|this|next|coming|on|since|until|by|early|"
        rf"late)) )?(?P<wd>{_WEEKDAY})\b"
        # "on Saturday nights" recurs: no one day
        r"(?! (?:mornings|afternoons|evenings|nights)\b)"
        # a day number only with "the" or an ordinal ending: "Monday 5 people" is a count
        r"(?:,? (?=the |(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)\b)(?:the )?"
        r"(?P<wd_d>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b"
        rf"(?! ?(?:of |{_MONTH}|[,.:]?\d|%|percent)))?",
    ),
    (
        "weekend",  # "over the weekend", "at the weekend", "this past weekend"
        r"(?:(?<=over )|(?<=Over )|(?<=during )|(?<=During )|(?<=at )|(?<=At ))(?i:the weekend)\b"
        r"|\b(?i:this past weekend)\b",
    ),
    (
        "relperiod",
        r"\b(?:(?i:the) (?=(?i:past|previous|coming|current|next) ))?"
        r"(?P<rp_rel>(?i:earlier this|later this|early this|late this|earlier last|"
        r"earlier in the|later in the|"
        r"late last|early last|early next|late next|last|this|next|past|previous|coming|"
        r"current)) (?:(?i:fiscal) (?=year))?(?P<rp_u>(?i:weekend|week|month|year))\b",
    ),
    (
        "yend",  # "by year end", "by year's end", "year-end": the end of publication's year
        r"\b(?:(?i:the) )?(?i:year-end|year end|year['’]s end|end of the year)\b",
    ),
    (
        "ago",
        r"(?<![-\w])(?P<ago_n>(?i:a couple of|a|an|one|two|three|four|five|six|seven|eight|"
        r"nine|ten|eleven|twelve|\d{1,3})) (?P<ago_u>(?i:day|week|month|year|decade)s?) (?i:ago)\b",
    ),
]

MASTER = re.compile("|".join(f"(?P<{name}>{body})" for name, body in _FORMS))

# Every form contains one of these. Scanning for them is several times cheaper than running
# MASTER at every position, which is then tried only at the few token starts before each.
_ANCHOR_KEYWORDS = sorted(
    wordset(
        """year week month quarter half spring summer autumn fall winter yesterday today
        tonight tomorrow morning afternoon evening night ago period nineteen"""
    )
)
_ANCHOR = re.compile(
    r"\b(?:[0-9]|"
    + alternation(
        [
            *(m.capitalize() for m in MONTHS if len(m) == 3),
            *(d.capitalize() for d in WEEKDAYS),
            *("Q1", "Q2", "Q3", "Q4"),
            *("Christmas", "New", "Boxing", "Valentine", "Halloween", "Thanksgiving"),
            *("Independence", "Bastille"),
            *_ANCHOR_KEYWORDS,
            *(k.capitalize() for k in _ANCHOR_KEYWORDS),
            *(k.upper() for k in _ANCHOR_KEYWORDS),
        ]
    )
    + ")"
)
_LOOKBACK_TOKENS = EXTRACT.lookback_tokens  # the tuning: storyline.domain.extract.tuning
_LOOKBACK_CHARS = EXTRACT.lookback_chars

# Weekday names that are part of a title or an event, not a date.
_WEEKDAY_BLOCK_BEFORE = re.compile(
    r"(?:\b(?:Black|Super|Good|Easter|Palm|Ash|Bloody|Cyber|Holy|Maundy)"
    r"|\b(?:Mail|Scotland|Independent|Observer|Mirror|Sport|Express|People) on) $"
)
_WEEKDAY_BLOCK_AFTER = re.compile(
    r" (?:Times|Telegraph|Mirror|Express|Herald|Post|Mail|Independent|Tribune|Sport|Night|"
    r"Morning|Show|Club|Service)\b"
)


# ---------------------------------------------------------------------------------------------
# Calendar arithmetic.


def month_span(year: int, month: int) -> Span:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def months_span(year: int, first: int, count: int) -> Span:
    """``count`` months from ``first`` of ``year``, running into the next year if needed."""
    last_index = year * 12 + first - 1 + count - 1
    end_year, end_month = divmod(last_index, 12)
    return date(year, first, 1), month_span(end_year, end_month + 1)[1]


def year_span(year: int) -> Span:
    return date(year, 1, 1), date(year, 12, 31)


def week_span(day: date) -> Span:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def shift_months(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    y, m = divmod(index, 12)
    return y, m + 1


# How much more a day after publication weighs than a day before it when choosing a year:
# news mostly reports the past, unless the clause says otherwise ("will", "is due").
FUTURE_WEIGHT = EXTRACT.future_weight
FUTURE_WEIGHT_WITH_CUE = EXTRACT.future_weight_with_cue


def _distance(span: Span, pub: date, future_weight: int) -> int:
    start, end = span
    if end < pub:
        return (pub - end).days
    if start > pub:
        return future_weight * (start - pub).days
    return 0


def nearest(make: Callable[[int], Span], pub: date, future_weight: int = FUTURE_WEIGHT) -> Span:
    """The span for the year nearest ``pub``, a future day weighing ``future_weight`` past ones.

    With the default, a date up to ~2.4 months ahead is taken as future ("Jan. 5" in a piece
    of Dec. 28 is next week); with a future cue in the clause, up to ~6 months ahead."""
    best: tuple[int, int, Span] | None = None
    for offset in (0, -1, 1):
        try:
            span = make(pub.year + offset)
        except ValueError:  # Feb 29 in a common year
            continue
        key = (_distance(span, pub, future_weight), abs(offset))
        if best is None or key < best[:2]:
            best = (key[0], key[1], span)
    if best is None:
        raise ValueError("no year fits")
    return best[2]


def _month(token: str) -> int:
    return MONTHS[token.rstrip(". ").lower()]


def _day(token: str) -> int:
    return int(token.rstrip("stndrh"))


def _rel_year(phrase: str, pub: date) -> int:
    word = phrase.split()[0].lower()
    return pub.year + {"last": -1, "this": 0, "next": 1}[word]


def _year_of(token: str, pub: date) -> int:
    return int(token) if token[0].isdigit() else _rel_year(token, pub)


_PART_OF_MONTH: dict[str, tuple[int, int]] = {  # first and last day, 31 meaning month end
    "early": (1, 10), "beginning": (1, 10), "start": (1, 10),
    "mid": (11, 20), "middle": (11, 20),
    "late": (21, 31), "end": (21, 31),
}  # fmt: skip
_PART_OF_YEAR: dict[str, tuple[int, int]] = {  # first month, number of months
    "early": (1, 4), "beginning": (1, 4), "start": (1, 4),
    "mid": (5, 4), "middle": (5, 4),
    "late": (9, 4), "end": (9, 4),
}  # fmt: skip


def _part_word(phrase: str) -> str:
    words = phrase.lower().split()
    return words[1] if words[0] == "the" else words[0]


# ---------------------------------------------------------------------------------------------
# Resolution of one match: (text start group or None for the whole match, span, precision,
# stated). None when the match is not a date after all.

Resolved = tuple[int, Span, DatePrecision, bool]


def _resolve(m: re.Match[str], pub: date) -> Resolved | None:
    form = m.lastgroup
    g = m.group
    start = m.start()
    if form == "iso":
        d = date(int(g("iso_y")), int(g("iso_m")), int(g("iso_d")))
        return start, (d, d), P.DAY, True
    if form == "usnum":
        d = date(int(g("us_y")), int(g("us_m")), int(g("us_d")))
        return start, (d, d), P.DAY, True
    if form == "drange":
        month = _month(g("dr_m") or g("dr_m2"))
        first, last = _day(g("dr_d1") or g("dr_d3")), _day(g("dr_d2") or g("dr_d4"))
        if first >= last:
            return None

        def days(y: int) -> Span:
            return date(y, month, first), date(y, month, last)

        year = g("dr_y")
        return start, days(int(year)) if year else nearest(days, pub, _weight(m)), P.DAY, True
    if form in ("dmy", "mdy"):
        month, day = _month(g(f"{form}_m")), _day(g(f"{form}_d"))
        year = g(f"{form}_y")
        if year is not None:
            d = date(_year_of(year, pub), month, day)
            return start, (d, d), P.DAY, year[0].isdigit()
        return start, nearest(lambda y: (date(y, month, day),) * 2, pub, _weight(m)), P.DAY, True
    if form == "pmonth":
        month = _month(g("pm_m"))
        first, last = _PART_OF_MONTH[_part_word(g("pm_p"))]

        def part(y: int) -> Span:
            end = min(last, calendar.monthrange(y, month)[1])
            return date(y, month, first), date(y, month, end)

        year = g("pm_y")
        if year is not None:
            return start, part(_year_of(year, pub)), P.PART_OF_MONTH, year[0].isdigit()
        return start, nearest(part, pub, _weight(m)), P.PART_OF_MONTH, True
    if form == "pyear":
        token = g("py_y")
        first, count = _PART_OF_YEAR[_part_word(g("py_p"))]
        return start, months_span(_year_of(token, pub), first, count), P.HALF, token[0].isdigit()
    if form in ("quarter", "qshort"):
        n = ORDINALS[g("q_n").lower()] if form == "quarter" else int(g("qq_n"))
        token = (g("q_y") or g("q_y2") or g("q_y0")) if form == "quarter" else g("qq_y")
        if token is not None and token[0] in "yY":  # year-ago, year-earlier
            return start, months_span(pub.year - 1, 3 * n - 2, 3), P.QUARTER, False
        if token is not None:
            span = months_span(_year_of(token, pub), 3 * n - 2, 3)
            return start, span, P.QUARTER, token[0].isdigit()
        return (
            start,
            nearest(lambda y: months_span(y, 3 * n - 2, 3), pub, _weight(m)),
            P.QUARTER,
            True,
        )
    if form == "yend":
        return start, months_span(pub.year, 9, 4), P.HALF, False
    if form in ("refq", "yago"):  # placeholders: ``scan`` resolves them against the text
        return start, year_span(pub.year), P.QUARTER if form == "refq" else P.YEAR, False
    if form == "half":
        n = 2 if g("h_n").lower() == "last" else ORDINALS[g("h_n").lower()]
        token = g("h_y")
        year = pub.year if token.lower() == "the year" else _year_of(token, pub)
        return start, months_span(year, 6 * n - 5, 6), P.HALF, token[0].isdigit()
    if form == "season":
        return _season(m, pub)
    if form == "holiday":
        name = g("hol").replace("’", "'")
        year = g("hol_y")
        if year is not None:
            d = _holiday(name, int(year))
            return start, (d, d), P.DAY, True
        return start, nearest(lambda y: (_holiday(name, y),) * 2, pub, _weight(m)), P.DAY, True
    if form in ("mbare", "mstart"):
        key = "mb" if form == "mbare" else "ms"
        month = _month(g(f"{key}_m"))
        year = g(f"{key}_y")
        text_start = m.start(f"{key}_m")
        if year is not None:
            return text_start, month_span(_year_of(year, pub), month), P.MONTH, year[0].isdigit()
        rel = g("mb_pre").lower()
        if rel in ("last", "next", "this"):
            text_start = m.start("mb_pre")
            return text_start, _relative_month(rel, month, pub), P.MONTH, False
        return text_start, nearest(lambda y: month_span(y, month), pub, _weight(m)), P.MONTH, True
    if form == "madj":
        month = _month(g("ma_m"))
        return start, nearest(lambda y: month_span(y, month), pub, _weight(m)), P.MONTH, True
    if form == "spoken":
        year = spoken_year(g("sp_y"))
        if g("sp_m") is not None:
            return start, month_span(year, _month(g("sp_m"))), P.MONTH, True
        return start, year_span(year), P.YEAR, True
    if form == "ymod":
        return start, year_span(int(g("ym_y"))), P.YEAR, True
    if form == "ybare":
        year = int(g("yb_y"))
        if year % 10 == 0 and m.string.startswith(("'s", "’s"), m.end()):
            return None  # "the 1890's": a decade
        return m.start("yb_y"), year_span(year), P.YEAR, True
    if form == "relword":
        if _title(m, m.start("rw")):
            return None
        word = g("rw").lower()
        delta = {"yesterday": -1, "last night": -1, "tomorrow": 1, "the day before yesterday": -2}
        d = pub + timedelta(days=delta.get(word, 0))
        return start, (d, d), P.DAY, False
    if form == "weekday":
        return _weekday(m, pub)
    if form == "weekend":
        saturday = pub - timedelta(days=(pub.weekday() - 5) % 7)
        return start, (saturday, saturday + timedelta(days=1)), P.PART_OF_MONTH, False
    if form == "relperiod":
        if _title(m, m.start("rp_u")):
            return None
        return _relative_period(m, pub)
    if form == "ago":
        return _ago(m, pub)
    raise AssertionError(form)


# A name in title case: "USA Today", "ABC's This Week", "VOA Today", not a date. A
# capitalised "Today" right after a capitalised word, or a capitalised unit after its
# modifier ("This Week"), in text that is not all capitals.
_TITLE_BEFORE = re.compile(r"\b[A-Z][\w.]*\w(?:['’]s)? $")


def _title(m: re.Match[str], at: int) -> bool:
    text = m.string
    word = text[at : m.end()]
    if word.isupper() or not all(w[:1].isupper() for w in word.split()):
        return False  # "Last night's announcement" after a picture credit is a date
    if at > m.start():  # "This Week": the unit capitalised after its modifier
        return True
    # not an opening adverb after a glued dateline or byline ("... Egypt Today, all Arabs")
    return (not text.startswith(",", m.end())
            and _TITLE_BEFORE.search(text, max(0, at - 24), at) is not None)


_FIXED_HOLIDAYS: dict[str, tuple[int, int]] = {
    "Christmas Day": (12, 25), "Christmas Eve": (12, 24), "New Year's Day": (1, 1),
    "New Year's Eve": (12, 31), "Boxing Day": (12, 26), "Valentine's Day": (2, 14),
    "Halloween": (10, 31), "Independence Day": (7, 4), "Bastille Day": (7, 14),
}  # fmt: skip


def _holiday(name: str, year: int) -> date:
    if name in _FIXED_HOLIDAYS:
        return date(year, *_FIXED_HOLIDAYS[name])
    first = date(year, 11, 1)  # Thanksgiving (US): the fourth Thursday of November
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def _relative_month(rel: str, month: int, pub: date) -> Span:
    if rel == "this":
        return month_span(pub.year, month)
    if rel == "last":
        year = pub.year if month < pub.month else pub.year - 1
    else:
        year = pub.year if month > pub.month else pub.year + 1
    return month_span(year, month)


def _season(m: re.Match[str], pub: date) -> Resolved | None:
    rel, year = m.group("s_rel"), m.group("s_y")
    if rel is None and year is None:  # "the fall of Lehman", "in the summer"
        return None
    first, count = SEASONS[m.group("s_n").lower()]

    def season(y: int) -> Span:
        return months_span(y, first, count)

    if year is not None:
        number = int(year) if year.isdigit() else spoken_year(year)
        return m.start(), season(number), P.QUARTER, True
    current = [season(y) for y in (pub.year - 1, pub.year) if season(y)[0] <= pub]
    this = current[-1] if current[-1][1] >= pub else None
    word = rel.lower()
    if word == "this":
        # "this autumn" in June is the coming one, "this fall" in February the one just
        # gone: the nearest, a coming season counting no more than a past one (a season is
        # three months long; weighing the future as for a day put June's "this autumn" and
        # March's "this summer" in the year before)
        span = this or nearest(season, pub, future_weight=1)
    elif word in ("last", "past"):
        past = [s for s in current if s[1] < pub]
        span = past[-1] if past else season(pub.year - 2)
    else:
        span = season(pub.year) if season(pub.year)[0] > pub else season(pub.year + 1)
    return m.start(), span, P.QUARTER, False


# Words before a weekday that put it after the publication: "BP's board will meet Monday",
# "temperatures expected to peak on Thursday", "crews could restore power by Wednesday".
_FUTURE_CUE = re.compile(
    r"\b(?:will|would|shall|'ll|’ll|is due|are due|is set|are set|is scheduled|are scheduled|"
    r"is expected|are expected|plans? to|planned to|going to|until|"
    r"(?:is|are) to(?= [a-z])|"  # "is to be questioned on Tuesday", "are to meet Monday"
    r"(?:expected|due|set|scheduled|slated|poised|hoping|aiming|planning) to|"
    r"(?:hopes?|aims?|intends?|vows?|pledges?|promises?) to|"
    r"(?:could|may|might|can|should|must)(?! have\b))\b"
)
# A past auxiliary after the cue ends the future: "the girl, who will turn 12, was found
# safe on Sunday" (the clause split misses relative clauses without a second comma).
_PAST_AFTER_CUE = re.compile(r"\b(?:was|were|had|did)\b")
_CLAUSE_START = re.compile(r"(?:[,;:]|\b(?:said|says|and|but|after|before|when)\b)")


def _future_context(text: str, start: int) -> bool:
    """A future cue in the clause just before ``start`` (at most 60 characters back)."""
    lo = max(text.rfind("\n", max(0, start - 60), start) + 1, start - 60, 0)
    window = text[lo:start]
    clauses = list(_CLAUSE_START.finditer(window))
    if clauses:
        window = window[clauses[-1].end() :]
    cues = list(_FUTURE_CUE.finditer(window))
    if not cues:
        return False
    return _PAST_AFTER_CUE.search(window, cues[-1].end()) is None


# A deadline or a start right before the date: "to be repaid by February", "payable by Dec.
# 15", "effective Feb. 1" mostly name a date to come, as a future cue does; not in a clause
# told in the past ("BP knew by 20 April", "By Jan. 2, McCain was on the plane").
_DEADLINE = re.compile(r"\b(?i:by|effective) $")
_PAST_VERB = re.compile(
    r"\b(?:was|were|had|did|knew|said|told|began|came|went|took|made|saw|got|found|became|"
    r"left|gave|held|fell|rose|[a-z]+ed)\b"
)


def _deadline(m: re.Match[str]) -> bool:
    text, start = m.string, m.start()
    if m.lastgroup == "mbare" and m.group("mb_pre").lower() == "by":
        start = m.start("mb_m")
    if _DEADLINE.search(text, max(0, start - 10), start) is None:
        return False
    lo = max(text.rfind("\n", max(0, start - 60), start) + 1, start - 60, 0)
    before = text[lo:start]
    clauses = list(_CLAUSE_START.finditer(before))
    if clauses:
        before = before[clauses[-1].end() :]
    line_end = text.find("\n", m.end())
    after = text[m.end() : min(m.end() + 40, line_end if line_end >= 0 else len(text))]
    after = re.split(r"[,;:]", after, maxsplit=1)[0] if not after.startswith(",") else after[1:]
    return _PAST_VERB.search(before) is None and _PAST_VERB.search(after) is None


def _weight(m: re.Match[str]) -> int:
    if _future_context(m.string, m.start()) or _deadline(m):
        return FUTURE_WEIGHT_WITH_CUE
    return FUTURE_WEIGHT


def _weekday(m: re.Match[str], pub: date) -> Resolved | None:
    text = m.string
    before = text[max(0, m.start() - 16) : m.start("wd")]
    if _WEEKDAY_BLOCK_BEFORE.search(before) or _WEEKDAY_BLOCK_AFTER.match(text, m.end()):
        return None
    target = WEEKDAYS[m.group("wd").lower()]
    rel = (m.group("wd_rel") or "").lower()
    back = (pub.weekday() - target) % 7
    text_start = (m.start("wd_rel") if rel in ("last", "next", "this", "this coming", "coming")
                  else m.start("wd"))
    if m.group("wd_d") is not None:
        # "Tuesday 13th": the day of that number, nearest the publication, that is a Tuesday
        # (at most one in three months); when none is, the day number is not this weekday's
        dated = _weekday_of_month(target, int(m.group("wd_d")), pub)
        if dated is not None:
            return text_start, (dated, dated), P.DAY, True
    if rel == "next" or rel.endswith("coming"):  # "this coming Sunday" is never today's
        d = pub + timedelta(days=(target - pub.weekday()) % 7 or 7)
    elif rel == "last":
        d = pub - timedelta(days=back or 7)
    elif rel in ("", "on", "by", "until") and _future_context(text, m.start()):
        d = pub + timedelta(days=(target - pub.weekday()) % 7)  # "the board will meet Monday"
    else:
        d = pub - timedelta(days=back)
    return text_start, (d, d), P.DAY, False


def _weekday_of_month(weekday: int, day: int, pub: date) -> date | None:
    """The date nearest ``pub`` whose day of the month is ``day`` and which falls on
    ``weekday``, in the month of ``pub`` or the one before or after."""
    found: list[tuple[int, date]] = []
    for offset in (-1, 0, 1):
        year, month = shift_months(pub, offset)
        if day <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day)
            if candidate.weekday() == weekday:
                found.append((abs((candidate - pub).days), candidate))
    return min(found)[1] if found else None


def _relative_period(m: re.Match[str], pub: date) -> Resolved:
    rel = m.group("rp_rel").lower().replace(" in the", " this")  # "earlier in the year"
    unit = m.group("rp_u").lower()
    words = rel.split()
    anchor = words[-1]  # last / this / next / past / previous / coming
    step = {"last": -1, "previous": -1, "this": 0, "current": 0, "next": 1, "coming": 1,
            "past": -1}[anchor]
    span: Span
    if unit == "year":
        span = (pub - timedelta(days=365), pub) if anchor == "past" else year_span(pub.year + step)
        precision = P.YEAR
    elif unit == "month":
        if anchor == "past":
            span = (pub - timedelta(days=30), pub)
        else:
            span = month_span(*shift_months(pub, step))
        precision = P.MONTH
    elif unit == "week":
        span = (
            (pub - timedelta(days=7), pub)
            if anchor == "past"
            else week_span(pub + timedelta(days=7 * step))
        )
        precision = P.PART_OF_MONTH
    else:  # weekend
        saturday = pub - timedelta(days=(pub.weekday() - 5) % 7)
        if step > 0 or (step == 0 and saturday < pub - timedelta(days=1)):
            saturday += timedelta(days=7)
        span = (saturday, saturday + timedelta(days=1))
        precision = P.PART_OF_MONTH
    if len(words) == 2:  # earlier this / late last / ...
        span = _part_of(words[0], span, pub if step == 0 else None, unit)
        if unit == "year" and words[0] in ("early", "late"):
            precision = P.HALF
    return m.start(), span, precision, False


def _part_of(part: str, span: Span, pub: date | None, unit: str) -> Span:
    start, end = span
    if part in ("earlier", "later") and pub is not None:
        return (start, pub) if part == "earlier" else (pub, end)
    length = (end - start).days + 1
    third = max(1, length // 3)
    if part in ("early", "earlier"):
        return start, start + timedelta(days=third - 1)
    if unit == "year":
        return months_span(start.year, 9, 4)
    return end - timedelta(days=third - 1), end


def _ago(m: re.Match[str], pub: date) -> Resolved:
    token = m.group("ago_n").lower()
    n = int(token) if token.isdigit() else NUMBER_WORDS[token]
    unit = m.group("ago_u").lower().rstrip("s")
    if unit == "day":
        d = pub - timedelta(days=n)
        return m.start(), (d, d), P.DAY, False
    if unit == "week":
        return m.start(), week_span(pub - timedelta(days=7 * n)), P.PART_OF_MONTH, False
    if unit == "month":
        return m.start(), month_span(*shift_months(pub, -n)), P.MONTH, False
    years = n * 10 if unit == "decade" else n
    return m.start(), year_span(pub.year - years), P.YEAR, False


# ---------------------------------------------------------------------------------------------
# Ranges: "from June to August 2024", "between 2001 and 2005".

_RANGE_LINK = re.compile(r" ?(?:to|until|till|through|and|-|–) ?")
_RANGE_OPEN = re.compile(r"(?:from|between|From|Between) $")

_COARSENESS = {p: i for i, p in enumerate(DatePrecision)}

# start, end, span, precision, stated, form (the name of the MASTER alternative)
Found = tuple[int, int, Span, DatePrecision, bool, str]


def _merge_ranges(found: list[Found], text: str, pub: date) -> list[Found]:
    out: list[Found] = []
    merged_last = False
    for item in found:
        if out and not merged_last:
            prev = out[-1]
            gap = text[prev[1] : item[0]]
            if (
                _RANGE_LINK.fullmatch(gap)
                and _RANGE_OPEN.search(text, max(0, prev[0] - 8), prev[0])
                and prev[4] == item[4]
            ):
                first = _align_year(prev, item, text)
                if first[0] <= item[2][1]:
                    precision = max(prev[3], item[3], key=_COARSENESS.__getitem__)
                    out[-1] = (prev[0], item[1], (first[0], item[2][1]), precision, item[4],
                               "range")
                    merged_last = True
                    continue
        out.append(item)
        merged_last = False
    return out


def _align_year(prev: Found, item: Found, text: str) -> Span:
    """The first end of a range takes its year from the second when it stated none."""
    span = prev[2]
    if re.search(r"\d{4}", text[prev[0] : prev[1]]) is not None:
        return span
    year = item[2][1].year
    start, end = span
    try:
        moved = (start.replace(year=year), end.replace(year=year))
    except ValueError:
        return span
    if moved[0] > item[2][0]:  # "from December to February 2010": December 2009
        try:
            moved = (start.replace(year=year - 1), end.replace(year=year - 1))
        except ValueError:
            return span
    return moved


# ---------------------------------------------------------------------------------------------


# Words that can open a form before its anchor ("the first quarter", "late last year").
_PREFIX_WORDS = wordset(
    """the early mid late beginning start end middle of first second third fourth final 1st
    2nd 3rd 4th latter last this next past in since by until till from through to during
    before after and between around throughout as or year fiscal circa day on earlier later for
    due into
    previous coming a an one two three four five six seven eight nine ten eleven twelve
    couple days weeks months years decade decades latest current same most recent that
    just-ended comparable corresponding"""
)
_OPENING_PUNCTUATION = "\"'“‘(["


def _candidates(text: str, anchor: int) -> list[int]:
    """Where a match containing ``anchor`` can start, leftmost first: the anchor, the start of
    its token ("mid-2025"), and up to ``_LOOKBACK_TOKENS`` preceding prefix words."""
    # Bounded look back: an unbounded rfind is quadratic on a huge one-line body.
    lo = max(0, anchor - _LOOKBACK_CHARS)
    newline = text.rfind("\n", lo, anchor)
    line_start = newline + 1 if newline >= 0 else lo
    out = [anchor]
    pos = max(text.rfind(" ", line_start, anchor) + 1, line_start)
    if pos < anchor:
        out.append(pos)
    for _ in range(_LOOKBACK_TOKENS):
        if pos <= line_start:
            break
        start = max(text.rfind(" ", line_start, pos - 1) + 1, line_start)
        word = text[start : pos - 1]
        bare = word.lstrip(_OPENING_PUNCTUATION)
        if bare.endswith(("'s", "’s")) and len(out) == 1 + (out[-1] != anchor):
            out.append(pos - 3)  # "Kerry's 2004 campaign"
            break
        if not all(part in _PREFIX_WORDS for part in bare.lower().split("-")):
            break  # "fiscal-first quarter": each part of a hyphenated word is a prefix word
        pos = start + len(word) - len(bare)
        out.append(pos)
    out.reverse()
    return out


def _matches(text: str) -> list[re.Match[str]]:
    """What ``MASTER.finditer`` would find, trying MASTER only near anchors."""
    out: list[re.Match[str]] = []
    done = 0  # end of the last match: matches never overlap
    for a in _ANCHOR.finditer(text):
        if a.start() < done:
            continue
        for pos in _candidates(text, a.start()):
            if pos < done:
                continue
            m = MASTER.match(text, pos)
            if m is not None:
                out.append(m)
                done = m.end()
                break
    return out


_WEEKDAY_ONLY = re.compile(_WEEKDAY + r"$")
_WEEKDAY_GLUE = re.compile(r" ?,? ?$")


def _absorb_weekdays(found: list[Found], text: str) -> list[Found]:
    """"Thursday, March 5" is one stated date, not a guessed Thursday plus March 5: a
    weekday right before a stated day-precision date joins it (and its guess is dropped)."""
    out: list[Found] = []
    for item in found:
        start, _end, _span, precision, stated, _form = item
        if out and stated and precision is P.DAY:
            p_start, p_end, _p_span, p_precision, p_stated, _p_form = out[-1]
            if (not p_stated and p_precision is P.DAY
                    and _WEEKDAY_ONLY.match(text, p_start, p_end)
                    and _WEEKDAY_GLUE.match(text, p_end, start)):
                out[-1] = (p_start, *item[1:])
                continue
        out.append(item)
    return out


def scan(text: str, pub: date) -> list[Found]:
    """Every resolved expression of ``text`` (sentences joined with newlines), in order, with
    the ends of a range still apart and a weekday before a stated date absorbed into it.

    Inside an embedded chronology (:func:`chronology`) a relative expression ("on Tuesday",
    "yesterday", "over the weekend") is resolved against the date of its item's heading, not
    against the publication; with no heading to refer to, it is not a date.

    ``find_dates`` merges the ranges; the TIMEX3 layer (``domain/extract/timex.py``) keeps them
    apart, as TimeML annotates each end."""
    matches = _matches(text)
    found = _scan(text, matches, pub, None)
    chron = chronology(text, found)
    if chron is None:
        return found
    return _scan(text, matches, pub, chron)


def _scan(text: str, matches: list[re.Match[str]], pub: date, chron: Chronology | None
          ) -> list[Found]:
    found: list[Found] = []
    quarters: list[tuple[int, Span]] = []  # (end, span) of the quarters the text is about
    for m in matches:
        try:
            resolved = _resolve(m, pub)
            if (chron is not None and resolved is not None and not resolved[3]
                    and m.lastgroup not in _TEXT_REFERENCES and m.start() >= chron.start
                    and m.start() not in chron.heading_starts):
                anchor = chron.anchor(m.start())
                if anchor is None:
                    continue  # relative to an item whose date the text does not give
                resolved = _resolve(m, anchor)
        except (ValueError, OverflowError):  # "Feb. 30"; "next year" in 9999
            continue
        if resolved is None:
            continue
        text_start, span, precision, stated = resolved
        form = m.lastgroup or ""
        if form in ("refq", "yago") or (form == "ago" and _A_YEAR_AGO.fullmatch(m.group())):
            span, precision = _refer(m, form, found, quarters, pub) or (span, precision)
        if form in ("quarter", "qshort") and "year-" not in m.group().lower():
            quarters.append((m.end(), span))
        found.append((text_start, m.end(), span, precision, stated, form))
    return _absorb_weekdays(found, text)


# Forms resolved against the time the text is about ("the latest quarter", "a year
# earlier"), not against the publication: a chronology does not re-anchor them.
_TEXT_REFERENCES = frozenset({"refq", "yago"})

# A chronology announced in the text: "Here is a chronology of events in the months since",
# "Below is a timeline of the spill and its impact:", "Here is a day-by-day look at ...",
# "A day-by-day summary of significant events ...", "TIMELINE: Crisis on Wall Street". Not
# a live blog's "Here's a summary of the key events": its "today" is the publication's.
_BY = r"(?:day|week|month)-by-(?:day|week|month)"
_CHRONOLOGY_CUE = re.compile(
    r"(?im:^[\W_]*(?:factbox\W*)?(?:timeline|chronology)\s*(?::|--?|–|—)"
    r"|\b(?:here is|here's|here are|below is|below are|following is|the following is)"
    rf" (?:(?:a|an|the|our|some) )?(?:[\w-]+ ){{0,3}}?(?:timeline|chronology|{_BY})\b"
    rf"|^[\W_]*an? (?:(?:brief|short|detailed|full) )?(?:timeline|chronology|{_BY} "
    r"(?:look|summary|account|timeline|chronology)) (?:of|at)\b)"
)
# Substrings one of which every cue contains ("Timeline", "TIMELINE", "day-by-day"): a cheap
# test before the cue's regular expression (``in`` is ten times faster than an IGNORECASE
# search).
_CHRONOLOGY_WORDS = ("imeline", "IMELINE", "hronolog", "HRONOLOG", "-by-")
# What may stand before a heading on its line: bullets and spaces ("* April 20, 2010 - ").
_BULLETS = " *•·-–—\\"
# After a heading's date: its separator, the end of the line, or the item's first word
# ("28 June 2009 Los Angeles police interview Dr Murray").
_AFTER_HEADING = re.compile(r" ?(?:[:–—]| -+ |-- ?|$)| [A-Z]", re.MULTILINE)
# Headings that make a chronology without an announcement: a list, not a stray line.
MIN_HEADINGS = EXTRACT.min_headings


def _chronology_cue(text: str) -> re.Match[str] | None:
    """The first announcement of a chronology, looked for only on the lines (sentences) that
    hold one of ``_CHRONOLOGY_WORDS``."""
    lines: set[int] = set()
    for word in _CHRONOLOGY_WORDS:
        at = text.find(word)
        while at >= 0:
            lines.add(text.rfind("\n", 0, at) + 1)
            at = text.find(word, at + 1)
    for start in sorted(lines):
        end = text.find("\n", start)
        cue = _CHRONOLOGY_CUE.search(text, start, end if end >= 0 else len(text))
        if cue is not None:
            return cue
    return None


class Chronology:
    """Dated items in an article: from ``start`` on, each item belongs to the heading before
    it; ``heading_starts`` maps a heading's offset to its date (None when it is not one day:
    "May 2009", "17-23 October")."""

    __slots__ = ("_dates", "_positions", "heading_starts", "start")

    def __init__(self, start: int, headings: list[tuple[int, date | None]]) -> None:
        self.start = start
        self.heading_starts = dict(headings)
        self._positions = [p for p, _ in headings]
        self._dates = [d for _, d in headings]

    def anchor(self, pos: int) -> date | None:
        """The day of the heading of the item at ``pos``: None before the first heading, or
        under a heading that is not one day."""
        i = bisect.bisect_right(self._positions, pos) - 1
        return self._dates[i] if i >= 0 else None


def chronology(text: str, found: list[Found]) -> Chronology | None:
    """The embedded chronology of ``text``, if any: announced ("Here is a chronology of
    events", "Below is a timeline of the spill:") or made of at least ``MIN_HEADINGS``
    headings in date order (either way), lines opening with a stated date and then a
    separator or the item ("June 14 - Obama makes a fourth trip", "Thursday 1 July: Raoul Moat
    is released", "28 June 2009 Los Angeles police interview Dr Murray"). An item runs from
    its heading to the next one; the last, to the end of the text. An announced chronology
    may have no headings at all (they were lost with the page's layout): its relative
    expressions then refer to nothing the text gives."""
    cue = _chronology_cue(text)
    colon = -1  # "Below is a chronology ...: * April 20, 2010 - Explosion ...": an item starts
    if cue is not None:
        line_end = text.find("\n", cue.end())
        colon = text.find(":", cue.end(), line_end if line_end >= 0 else len(text))
    headings: list[tuple[int, date | None]] = []
    for start, end, (first, last), _precision, stated, _form in found:
        if not stated or (cue is not None and start < cue.end()):
            continue
        line = max(text.rfind("\n", 0, start) + 1, colon + 1 if 0 <= colon < start else 0)
        if text[line:start].strip(_BULLETS) or not _AFTER_HEADING.match(text, end):
            continue
        headings.append((start, first if first == last else None))
    if cue is not None:
        return Chronology(cue.end(), headings)
    days = [d for _, d in headings if d is not None]
    in_order = days == sorted(days) or days == sorted(days, reverse=True)
    if len(headings) >= MIN_HEADINGS and in_order:
        return Chronology(headings[0][0], headings)
    return None


# A quarter stays the one the text is about for this many characters (a few paragraphs).
_REF_WINDOW = EXTRACT.quarter_reach_chars
_A_YEAR_AGO = re.compile(r"(?i:a|one) year ago")


_LATEST = ("latest", "most recent", "just-ended", "recent")


def _year_back(span: Span) -> Span:
    return months_span(span[0].year - 1, span[0].month, 3)


def _refer(m: re.Match[str], form: str, found: list[Found], quarters: list[tuple[int, Span]],
           pub: date
           ) -> tuple[Span, DatePrecision] | None:
    """Expressions that point at the time the text is about rather than at the publication:
    "the latest quarter" is the last quarter mentioned (else the last one completed before
    publication, the one results are reported for; "the current quarter" is publication's);
    "the year-ago period", "a year earlier" and, after a quarter, "a year ago" are that
    quarter a year back. Without a quarter, "a year earlier" is the year before the last
    date mentioned (else before publication) and "a year ago" keeps its reading."""
    recent = quarters and m.start() - quarters[-1][0] <= _REF_WINDOW
    ref = quarters[-1][1] if recent else None
    if form == "refq" and (m.group("rq_y") or m.group("rq_r")):  # "the 1988 quarter"
        year = int(m.group("rq_y")) if m.group("rq_y") else _rel_year(m.group("rq_r"), pub)
        if ref is None:
            return year_span(year), P.YEAR
        return months_span(year, ref[0].month, 3), P.QUARTER
    if form == "refq":
        modifier = (m.group("rq_m") or "").lower()
        current = months_span(pub.year, 3 * ((pub.month - 1) // 3) + 1, 3)
        if modifier in _LATEST and ref is not None and ref[1] >= pub:
            # "the latest quarter" has ended: not the "fourth-quarter charge" expected
            ended = [q for end, q in quarters if q[1] < pub and m.start() - end <= _REF_WINDOW]
            ref = ended[-1] if ended else None
        if modifier == "current" or (ref is None and m.group().lower().startswith("this")):
            span = current
        elif ref is not None:
            span = ref
        else:
            span = _year_back(current) if current[0].month == 1 else months_span(
                current[0].year, current[0].month - 3, 3)
        if modifier in ("year-ago", "year-earlier") or m.group("rq_a"):
            return _year_back(span), P.QUARTER
        quarters.append((m.end(), span))
        return span, P.QUARTER
    if ref is not None:
        return _year_back(ref), P.QUARTER
    if form == "yago":
        # not against "a year ago" or another "a year earlier": they name the comparison
        # "a year earlier" names too ("from a year ago ... compared with a year earlier")
        before = [f for f in found if f[5] != "yago" and not (
            f[5] == "ago" and _A_YEAR_AGO.fullmatch(m.string, f[0], f[1]))]
        year = (before[-1][2][0].year if before else pub.year) - 1
        return year_span(year), P.YEAR
    return None


def find_dates(doc: Document, pub: date) -> list[DateMention]:
    """All date mentions of the document, in order of sentence and offset."""
    text = doc.text
    found = _merge_ranges(scan(text, pub), text, pub)
    out: list[DateMention] = []
    for start, end, (first, last), precision, stated, _form in found:
        sentence, offset = doc.locate(start)
        out.append(
            DateMention(
                span=TimeSpan(start=first, end=last, precision=precision),
                text=text[start:end],
                sentence=sentence,
                char_start=offset,
                char_end=offset + end - start,
                stated=stated,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# A sentence's dates without scanning it again.
#
# ``find_dates`` on a document gives every sentence the dates it would give the sentence
# alone, but for two kinds of context: an embedded chronology, which re-anchors (or drops)
# the relative expressions after its start; and the quarter a text is about, which only
# reaches quarters and years (``_refer``). Nothing else looks past a line: the forms hold no
# newline, and the look-backs (``_candidates``, ``_future_context``) stop at one. So the
# dates of a sentence before any possible chronology can be taken from the document's, and
# those of its tail after a dateline or headline cut off (``sentence[cut:]``) too, unless
# what was cut off can still be seen from the tail (``dates_alone``).

# What a look-behind of a form at the start of the tail can see of a cut-off head ending
# so ("over the weekend", "the year two thousand", "his 1990 Anheuser earnings", "its April
# spill"), or a range's "from" (``_merge_ranges``).
_HEAD_END = re.compile(
    r"(?i:over|during|at|the year|from|between|his|her|its|their|our|my|your) $")
# A future cue anywhere, even inside a word (``_future_context`` looks at a slice).
_ANY_FUTURE_CUE = re.compile(_FUTURE_CUE.pattern.removeprefix(r"\b"))
# A weekday's blocking words anywhere (``_weekday`` looks at a slice).
_ANY_WEEKDAY_BLOCK = re.compile(_WEEKDAY_BLOCK_BEFORE.pattern.replace(r"\b", ""))
_WEEKDAY_NAME = re.compile(_WEEKDAY)


def _prefix_word(token: str) -> bool:
    """Whether ``_candidates`` looks back over ``token`` (or at its "'s")."""
    bare = token.lstrip(_OPENING_PUNCTUATION)
    return bare.endswith(("'s", "’s")) or all(p in _PREFIX_WORDS for p in bare.lower().split("-"))


def _seen_from_tail(head: str, tail: str) -> bool:
    """Whether ``find_dates`` may date ``tail`` otherwise after ``head`` (in one line) than
    alone. What reads text before a match: the anchors' and the forms' word boundaries and
    look-behinds (one character, or "over " and the like: ``_HEAD_END``);
    ``_candidates``, back over prefix words from an anchor (into the head past a last
    prefix word; and when the head does not end with a space, the tail's first word is
    glued to it, so an anchor reached over prefix words from there is looked back from
    otherwise); ``_weekday``'s block, 16 characters before a weekday's
    name and its modifier; ``_future_context``, 60 characters back; ``_merge_ranges``'s
    "from". A date across the cut is seen by the caller (``dates_alone``)."""
    if not head or head[-1].isalnum() or head[-1] == "_":
        return bool(head)
    if head.endswith(" "):
        if _prefix_word(head.rstrip(" ").rsplit(" ", 1)[-1]) or _HEAD_END.search(head):
            return True
    else:
        for token in tail.split(" ", 5)[:5]:
            if _ANCHOR.search(token) is not None:
                return True
            if not _prefix_word(token):
                break
    cut = len(head)
    line = head + tail
    for name in _WEEKDAY_NAME.finditer(tail, 0, 24):
        at = cut + name.start()
        if _ANY_WEEKDAY_BLOCK.search(line, max(0, at - 40), at) is not None:
            return True
    return _ANY_FUTURE_CUE.search(head, max(0, cut - 60)) is not None


def _may_head(sentence: str, mention: DateMention) -> bool:
    """Whether ``mention`` may be (or end, after a weekday it absorbed) a chronology
    heading: a stated date with nothing before it on its line but bullets."""
    before = sentence[: mention.char_start].strip(_BULLETS)
    return mention.stated and (not before or _WEEKDAY_ONLY.match(before.rstrip(" ,")) is not None)


def alone_from(sentences: Sequence[str], dates: Sequence[DateMention], limit: int) -> int:
    """The first of the first ``limit`` sentences of a document whose dates ``find_dates`` on
    the document (``dates``) may give otherwise than on the sentence alone, because an
    embedded chronology (:func:`chronology`) may have started by then; ``limit`` when none
    may. Conservative: a cue in the sentence, or (when none comes before) a heading-like
    date with at least ``MIN_HEADINGS`` of them in the document."""
    first = limit
    for i, sentence in enumerate(sentences[:limit]):
        if _chronology_cue(sentence) is not None:
            first = i
            break
    # headings matter only from one before ``first`` on: count them all only then
    for m in dates:
        if m.sentence >= first:
            return first
        if m.stated and _may_head(sentences[m.sentence], m):
            heads = [h for h in dates if h.stated and _may_head(sentences[h.sentence], h)]
            return m.sentence if len(heads) >= MIN_HEADINGS else first
    return first


# The text of a date ``_refer`` resolves against the quarter (or date) the text was about
# before it, which may be in another line: "the latest quarter", "a year earlier".
_REFERRED = re.compile(r"(?i:quarter|period|year[- ]?(?:earlier|ago))")


def dates_alone(sentence: str, cut: int, mentions: Sequence[DateMention]
                ) -> list[DateMention] | None:
    """What ``find_dates(Document((sentence[cut:],)), pub)`` gives, from ``mentions``: what
    ``find_dates`` found in ``sentence`` in its document (one before ``alone_from``, with the
    same ``pub``), offsets moved to the tail. None when that cannot be told from them:
    a mention across the cut, or something before the cut that a form, a look-behind or a
    future cue (``_future_context``) can see from the tail; or a date referred to the text's
    time (``_refer``: a quarter or a year, but a range with a day may end with it)."""
    if any(m.span.precision not in (P.DAY, P.PART_OF_MONTH, P.MONTH)
           and _REFERRED.search(m.text) is not None for m in mentions):
        return None
    if cut == 0:
        return list(mentions)
    if any(m.char_start < cut < m.char_end for m in mentions) or _seen_from_tail(
            sentence[:cut], sentence[cut:]):
        return None
    return [m.model_copy(update={"char_start": m.char_start - cut,
                                 "char_end": m.char_end - cut})
            for m in mentions if m.char_start >= cut]
