"""Figures: numbers with their qualifier, unit and subject.

"more than 11,000 North Korean troops" -> 11000.0, MORE_THAN, "troops", "North Korean troops".
One regex finds numerals, number words and currency amounts; the qualifier is read from the
few words before, the unit and subject from the words after. A number counts as a figure
when it has a unit (currency, percent, a measure or a counted plural noun), a qualifier or a
magnitude word; bare numbers (scores, codes, page numbers) do not, nor does anything inside a
date mention ("Dec. 12, 2025", "in 2008").
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

from storyline.domain.extract.text import Document, alternation, wordset
from storyline.domain.facts import Figure, Qualifier

Q = Qualifier

_NUMBER_WORDS: dict[str, float] = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "a dozen": 12, "a hundred": 100, "a thousand": 1000,
}  # fmt: skip
# Vague plurals: "dozens" means at least two dozen.
_VAGUE: dict[str, float] = {
    "dozens": 24, "scores": 40, "hundreds": 200, "thousands": 2000, "millions": 2e6,
    "billions": 2e9, "tens of thousands": 20000, "hundreds of thousands": 200000,
    "tens of millions": 2e7, "hundreds of millions": 2e8, "tens of billions": 2e10,
    "hundreds of billions": 2e11,
}  # fmt: skip
_SCALES: dict[str, float] = {
    "hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
    "bn": 1e9, "mn": 1e6, "m": 1e6, "k": 1e3, "tn": 1e12,
}  # fmt: skip
_CURRENCY_SYMBOLS: dict[str, str] = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_CURRENCY_WORDS: dict[str, str] = {
    "dollars": "USD", "dollar": "USD", "euros": "EUR", "euro": "EUR", "pounds": "GBP",
    "sterling": "GBP", "yen": "JPY", "yuan": "CNY", "rupees": "INR", "roubles": "RUB",
    "rubles": "RUB",
}  # fmt: skip
_QUALIFIERS: dict[str, Qualifier] = {
    "more than": Q.MORE_THAN, "over": Q.MORE_THAN, "above": Q.MORE_THAN,
    "in excess of": Q.MORE_THAN, "upwards of": Q.MORE_THAN, "just over": Q.MORE_THAN,
    "at least": Q.AT_LEAST, "no fewer than": Q.AT_LEAST, "no less than": Q.AT_LEAST,
    "as many as": Q.AT_MOST, "as much as": Q.AT_MOST, "up to": Q.AT_MOST,
    "at most": Q.AT_MOST, "no more than": Q.AT_MOST,
    "about": Q.ABOUT, "around": Q.ABOUT, "approximately": Q.ABOUT, "roughly": Q.ABOUT,
    "some": Q.ABOUT, "an estimated": Q.ABOUT, "estimated": Q.ABOUT, "close to": Q.ABOUT,
    "almost": Q.LESS_THAN, "nearly": Q.LESS_THAN, "just under": Q.LESS_THAN,
    "fewer than": Q.LESS_THAN, "less than": Q.LESS_THAN, "under": Q.LESS_THAN,
    "below": Q.LESS_THAN, "just below": Q.LESS_THAN,
}  # fmt: skip

# Units of measure: the subject is their "of" complement ("barrels of oil" -> "oil").
MEASURES = wordset(
    """barrels gallons litres liters tonnes tons pounds ounces kilograms kg miles kilometres
    kilometers km feet metres meters acres hectares points votes hours minutes seconds days
    weeks months years decades times cubic square"""
)
# Plural nouns that do not end in -s.
_IRREGULAR_PLURALS = wordset(
    """people personnel police staff children men women cattle sheep fish crew livestock
    aircraft militia youth clergy infantry cavalry"""
)
_STOP = wordset(
    """the a an and or but nor to in on at for from by with as that which who whom whose was
    were is are be been being has have had will would could should may might must can did do
    does said says say than per into since after before this those these its their his her
    our your my of about over under while when where if so not no also only just still yet
    all some each every both other such more most less least many much few very too it they
    he she we you them us there here then now including among against between during until
    through across around within without"""
)
_PARTICIPLES_EXTRA = wordset("sent held hurt taken left slain shot seen")

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_WORDS_LIST = sorted([*_VAGUE, *_NUMBER_WORDS], key=lambda w: (-len(w), w))  # longest first
_WORDS = "|".join(_WORDS_LIST)
FIGURE = re.compile(
    r"(?:(?P<cur>US\$|[$€£¥]) ?)?"
    rf"(?:(?<![\w.,/-])(?P<num>{_NUM})|\b(?P<word>(?i:{_WORDS})))"
    r"(?: ?(?P<scale>(?i:hundred|thousand|million|billion|trillion)|bn|mn|tn|m|k)\b)?"
    r"(?![\w/-]|,\d|:\d|\.\d| - ?[a-z])"
    r"(?: ?(?P<pct>%|(?i:percent|per cent|percentage points?)\b))?"
)
# Where a figure can start: scanning for these and trying FIGURE only there is several times
# faster than FIGURE.finditer, whose case-insensitive word alternation is slow to fail.
# First words of the number words ("tens" of "tens of thousands"; "a dozen" whole).
_ANCHOR_WORDS = [w if w.startswith("a ") else w.split()[0] for w in _WORDS_LIST]
_ANCHOR = re.compile(
    r"[$€£¥]|US\$|\b(?:[0-9]|"
    + alternation(
        [
            *_ANCHOR_WORDS,
            *(w.capitalize() for w in _ANCHOR_WORDS),
            *(w.upper() for w in _ANCHOR_WORDS),
        ]
    )
    + ")"
)
_QUALIFIER_BEFORE = re.compile(
    r"\b(?P<q>(?i:"
    + "|".join(sorted(_QUALIFIERS, key=lambda w: (-len(w), w)))
    + r")) (?:(?:a|an|the) )?$"
)
_FOLLOW = re.compile(r" ((?:[^\n,;:.!?()\"“”]|(?<=\d)[,.](?=\d)){1,80})")  # "400,000" goes on
_TOKEN = re.compile(r"[\w'’&-]+")
_TIME_AFTER = re.compile(r" ?(?:a\.m|p\.m|am\b|pm\b|GMT|BST|ET\b|EST|EDT|PT\b|local time|o'clock)")
_NOUN_OF_BEFORE = re.compile(r"\b([a-z][a-z-]{2,}) of $")
# A number right after a label noun names an item of a series, it counts nothing: "five
# year seven pupils" (pupils of the school's seventh year), "grade 3 students", "a phase 5
# alert", "a category 4 hurricane". Not after a time word's determiner: "last year 30
# people died" counts people.
_LABEL_BEFORE = re.compile(
    r"(?<!\blast )(?<!\bthis )(?<!\bnext )(?<!\bper )(?<!\beach )(?<!\bevery )(?<!\ba )"
    r"(?<!\bthat )(?<!\bsame )\b(?i:year|grade|phase|level|stage|category) $")
_YEARLIKE = re.compile(r"(?:1[89]|20)\d\d")
_RATE = re.compile(
    r" (?:per|a|an|each) (day|week|month|year|hour|barrel|share|person|head|gallon|litre|liter|"
    r"tonne|ton|ounce|kilo|kilogram|pound)\b"
)


def _plural(word: str) -> bool:
    low = word.lower()
    if low in _IRREGULAR_PLURALS:
        return True
    return (
        len(low) > 3
        and low.endswith("s")
        and not low.endswith(("ss", "us", "sis", "xis", "'s", "’s"))
        and low not in _STOP
    )


def _participle(word: str) -> bool:
    return word.islower() and (word.endswith("ed") or word in _PARTICIPLES_EXTRA)


Token = tuple[str, int]  # word, document offset of its end


def _phrase(words: Sequence[Token], limit: int) -> list[Token]:
    """Leading words up to a function word, at most ``limit``."""
    out: list[Token] = []
    for w in words[:limit]:
        if w[0].lower() in _STOP:
            break
        out.append(w)
    return out


def _complement(words: Sequence[Token]) -> list[Token]:
    """The noun phrase after "of"/"in", skipping determiners: "of those fighters"."""
    rest = list(words[1:])
    while rest and (
        rest[0][0].lower() in ("the", "those", "these", "its", "their", "his", "her")
        or rest[0][0].isdigit()  # "90% of the 400,000 Jews"
    ):
        rest.pop(0)
    return _phrase(rest, 4)


def _lower_next(words: Sequence[Token]) -> bool:
    """The word after the first is lower case: "in tolls", not "in New York trading"."""
    return len(words) > 1 and words[1][0][:1].islower()


def _up_to_head(noun: list[Token]) -> list[Token]:
    """Cut a phrase after its head plural noun: "loans available" -> "loans"."""
    for i, (w, _) in enumerate(noun):
        if _plural(w) and not (i + 1 < len(noun) and _plural(noun[i + 1][0])):
            return noun[: i + 1]
    return noun


def _join(words: Sequence[Token]) -> str:
    return " ".join(w for w, _ in words)


class _Hit:
    __slots__ = ("end", "qualifier", "start", "subject", "unit", "value")

    def __init__(
        self, start: int, end: int, value: float, qualifier: Qualifier, unit: str, subject: str
    ) -> None:
        self.start, self.end, self.value = start, end, value
        self.qualifier, self.unit, self.subject = qualifier, unit, subject


def _following(text: str, end: int) -> list[Token]:
    follow = _FOLLOW.match(text, end)
    if follow is None:
        return []
    return [(t.group(), t.end()) for t in _TOKEN.finditer(text, follow.start(1), follow.end(1))]


def _read(m: re.Match[str], text: str) -> _Hit | None:
    cur, num, word, scale, pct = m.group("cur", "num", "word", "scale", "pct")
    if scale is not None and scale in ("m", "k") and cur is None:
        return None  # "5 m" is metres, "5k" a race
    if num is not None:
        if cur is None and pct is None and scale is None and _YEARLIKE.fullmatch(num):
            return None  # a year the date extractor did not claim: "the 2010 budget"
        if _TIME_AFTER.match(text, m.end()):
            return None
        value = float(num.replace(",", ""))
        qualifier = Q.EXACTLY
    else:
        low = word.lower()
        if low in _VAGUE:
            value, qualifier = _VAGUE[low], Q.AT_LEAST
        else:
            value, qualifier = _NUMBER_WORDS[low], Q.EXACTLY
    if scale is not None:
        value *= _SCALES[scale.lower()]
    start = m.start()
    if cur is None and pct is None and _LABEL_BEFORE.search(text, max(0, start - 16), start):
        return None
    before = _QUALIFIER_BEFORE.search(text, max(0, start - 24), start)
    if before is not None:
        qualifier = _QUALIFIERS[before.group("q").lower()]
        start = before.start()

    end = m.end()
    words = _following(text, end)
    unit, subject = "", ""
    if len(words) > 1 and words[0][0] == "of" and words[1][0].lower() in _CURRENCY_WORDS:
        words = words[1:]  # "billions of dollars"
    if cur is not None or (words and words[0][0].lower() in _CURRENCY_WORDS):
        if cur is not None:
            unit = _CURRENCY_SYMBOLS[cur]
        else:
            unit = _CURRENCY_WORDS[words[0][0].lower()]
            end = words[0][1]
            words = words[1:]
        rate = _RATE.match(text, end)
        if rate is not None:  # "$5 a gallon"
            unit = f"{unit} per {rate.group(1)}"
            end = rate.end()
        elif words and (words[0][0] == "of" or (words[0][0] == "in" and _lower_next(words))):
            subject = _join(_up_to_head(_complement(words)))  # "$306bn in troubled securities"
        else:
            subject = _join(_phrase(words, 3))
    elif pct is not None:
        unit = "%"
        if words and words[0][0].lower() == "of":
            subject = _join(_complement(words))
    elif words:
        unit, subject, end = _counted(words, text, end)
    if not subject and unit and (unit == "%" or unit.isupper()):
        noun = _NOUN_OF_BEFORE.search(text, max(0, start - 30), start)
        if noun is not None and noun.group(1) not in _STOP:
            subject = noun.group(1)  # "a loss of $17bn", "a stake of 5%"
    if word is not None and not unit:
        return None  # "one of", "ten to one": number words need something counted
    if not unit and qualifier is Q.EXACTLY and scale is None:
        return None
    return _Hit(start, end, value, qualifier, unit, subject)


def _counted(words: list[Token], text: str, end: int) -> tuple[str, str, int]:
    """Unit, subject and new end for a number followed by ``words``."""
    if words[0][0].lower() == "of":
        noun = _complement(words)
        for i, (w, _) in enumerate(noun):
            if _plural(w) and not (i + 1 < len(noun) and _plural(noun[i + 1][0])):
                subject = noun[: i + 1]
                j = words.index(noun[i]) + 1
                if j < len(words) and _participle(words[j][0]):
                    subject.append(words[j])
                return w.lower(), _join(subject), end
        return "", "", end
    phrase = _phrase(words, 4)
    for i, (w, w_end) in enumerate(phrase):
        low = w.lower()
        if low in MEASURES and i == 0:
            rest = words[1:]
            subject_words = _complement(rest) if rest and rest[0][0] == "of" else []
            after = subject_words[-1][1] if subject_words else w_end
            rate = _RATE.match(text, after) or _RATE.match(text, w_end)
            unit = f"{low} per {rate.group(1)}" if rate is not None else low
            return unit, _join(subject_words), w_end
        if _plural(w):
            if i + 1 < len(phrase) and _plural(phrase[i + 1][0]):
                continue  # "combat troops": the head noun is the last plural
            subject_words = phrase[: i + 1]
            if i + 1 < len(words) and _participle(words[i + 1][0]):
                subject_words.append(words[i + 1])
            return low, _join(subject_words), w_end
    if _participle(words[0][0]):  # "about 3,000 returned": nothing counted, but what happened
        return "", words[0][0], end
    return "", "", end


def find_figures(doc: Document, date_spans: Sequence[tuple[int, int]]) -> list[Figure]:
    """Figures of the document in text order. ``date_spans``: sorted document offsets."""
    text = doc.text
    date_starts = [s for s, _ in date_spans]
    out: list[Figure] = []
    done = 0
    for a in _ANCHOR.finditer(text):
        pos = a.start()
        if pos < done:
            continue
        m = FIGURE.match(text, pos)
        if m is None:
            continue
        done = m.end()
        i = bisect_right(date_starts, pos) - 1
        if i >= 0 and date_spans[i][0] <= pos < date_spans[i][1]:
            continue
        hit = _read(m, text)
        if hit is None:
            continue
        sentence, _ = doc.locate(pos)
        out.append(
            Figure(
                value=hit.value,
                qualifier=hit.qualifier,
                unit=hit.unit,
                subject=hit.subject,
                text=text[hit.start : hit.end],
                sentence=sentence,
            )
        )
    return out
