"""Sentence splitting and small text helpers shared by the fact extractors.

Bodies arrive one sentence a line (the dev corpora) or one paragraph a line (other feeds), so
lines are split again at sentence boundaries that are not abbreviations. Whitespace inside a
sentence is collapsed to single spaces: every extractor then matches literal ``" "`` and no
pattern can run across two sentences once they are joined with ``"\\n"``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence

import numpy as np

# A boundary candidate: end punctuation (optionally after a detokenised space, "U.S ."),
# optional closing quotes/brackets, a space, then what can open a sentence.
_BOUNDARY = re.compile(r"(?<=\S) ?[.!?]+[\"'”’)\]]* (?=[\"'“‘(\[]?[A-Z0-9])")
_LAST_TOKEN = re.compile(r"(\S+?) ?[.!?]+[\"'”’)\]]* $")


# Tokens that end with a period without ending the sentence (lower-cased, no final period).
def wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal words grouped by first character.

    ``re`` tries alternatives one by one; grouping them under their first character lets it
    reject most positions with one comparison (3x faster scans than a flat alternation)."""
    groups: dict[str, list[str]] = {}
    for word in sorted(set(words)):
        groups.setdefault(word[0], []).append(word[1:])
    parts: list[str] = []
    for first in sorted(groups):
        rests = sorted(groups[first], key=lambda r: (-len(r), r))  # longest first
        tails = "|".join(re.escape(r) for r in rests if r)
        optional = "?" if "" in rests else ""
        parts.append(f"{re.escape(first)}(?:{tails}){optional}" if tails else re.escape(first))
    return "|".join(parts)


ABBREVIATIONS: frozenset[str] = wordset(
    """mr mrs ms dr st sen rep gov gen col lt sgt capt cmdr adm maj jr sr prof rev fr hon pres
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    inc corp co ltd bros dept univ mt ft ave blvd rd est approx cf vs"""
)
# Abbreviations only when a number follows: "No. 1" but "said no. Then".
NUMBER_ABBREVIATIONS: frozenset[str] = frozenset({"no", "nos", "vol", "fig", "pp", "art"})


def _is_abbreviation(token: str, next_char: str) -> bool:
    token = token.lstrip("\"'“‘([")
    if not token:
        return False
    if len(token) == 1 and token.isalpha():  # an initial: "George W. Bush"
        return True
    if "." in token:  # "U.S", "p.m", "N.Y"
        return True
    low = token.lower()
    return low in ABBREVIATIONS or (low in NUMBER_ABBREVIATIONS and next_char.isdigit())


# A sentence run into the next without its full stop (a photo caption or a subheading glued
# to the report: "... closed as a precaution Two new cases of swine flu have been confirmed"):
# a word in lower case, then a word that opens a clause and is capitalised only there (a
# determiner, a pronoun, a number word), then a lower-case word (so that a title, "told The
# Associated Press", stays whole).
SEAM_OPENERS = (
    "The", "A", "An", "This", "These", "Those", "It", "He", "She", "They", "We", "Its", "His",
    "Her", "Their", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
)  # fmt: skip
_SEAM = re.compile(rf"(?<=[a-z]) (?=(?:{'|'.join(SEAM_OPENERS)}) [a-z])")
# Words after which such a word is still inside the sentence: function words and verbs of
# saying ("the Group of Seven", "and He", "said We should").
SEAM_NOT_AFTER: frozenset[str] = wordset(
    """a an the of to in on at by for from with and or but nor so as than that which who whom
    whose what when where while if because since though although was were is are be been
    being am has have had do does did will would shall should can could may might must not no
    said says say according like about into onto upon over under after before between among
    during without within per via versus including unto"""
)
# Nouns a letter after which is a label ("type A influenza", "an influenza A virus"), not
# the article opening a sentence.
LABEL_NOUNS: frozenset[str] = wordset(
    """type influenza hepatitis vitamin plan grade class letter section category group
    division league size model level series flight gate terminal route row block wing ward
    box tier phase stage part annex appendix exhibit item option"""
)


def split_seams(piece: str) -> list[str]:
    """``piece`` cut where a sentence without its full stop runs into the next (_SEAM)."""
    out: list[str] = []
    start = 0
    for m in _SEAM.finditer(piece):
        cut = m.start()
        before = piece.rfind(" ", start, cut)
        word = piece[before + 1 : cut]
        if not (word.isalpha() and word.islower()) or word in SEAM_NOT_AFTER:
            continue  # "the Keating Five scandal": a name goes on
        if piece.startswith("A ", m.end()) and word in LABEL_NOUNS:
            continue
        out.append(piece[start:cut])
        start = m.end()
    out.append(piece[start:])
    return out


def split_line(line: str) -> list[str]:
    """Split one whitespace-collapsed line into sentences."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(line):
        head = line[max(start, m.end() - 64) : m.end()]  # bounded: no quadratic re-scan
        closed = m.group().rstrip()[-1] not in ".!?"  # punctuation inside quotes ends it
        last = _LAST_TOKEN.search(head)
        if not closed and last is not None and _is_abbreviation(last.group(1), line[m.end()]):
            continue
        piece = line[start : m.end() - 1]
        if piece:
            out.extend(split_seams(piece))
        start = m.end()
    tail = line[start:]
    if tail:
        out.extend(split_seams(tail))
    return out


# Where someone or something is in a picture: a photo caption's words, not a report's
# ("Finance Minister Ana Ruiz, left, talks with ...", "Mayor Tom Ochs (right) arrives",
# "Ana Ruiz (L) and ...", "the damaged pier, bottom left, as the tide comes in"; not "(R)",
# which is as often a party: "Senator Jo Ames (R) said").
_PICTURE_POSITION = re.compile(
    r", (?:far|top|bottom|lower|upper|(?:second|third) from) (?:left|right),|"
    r"[A-Z][\w'’.-]*(?:, (?:left|right|center|centre),| \((?:left|right|center|centre|L)\))")


# The position alone, to take out of a sentence that reports what the picture shows
# ("John Mack, left, and Vikram Pandit leave a meeting" -> "John Mack and Vikram Pandit
# leave a meeting").
_POSITION_PHRASE = re.compile(
    r", (?:(?:far|top|bottom|lower|upper|(?:second|third) from) )?(?:left|right|center|centre),"
    r"(?= )| \((?:left|right|center|centre|L)\)")


def without_picture_positions(text: str) -> str:
    """``text`` without the positions of a caption (``is_caption``); other text as it is."""
    return _POSITION_PHRASE.sub("", text) if is_caption(text) else text


def is_caption(text: str) -> bool:
    """Whether ``text`` says where its subject is in a picture (``_PICTURE_POSITION``)."""
    return ("left" in text or "right" in text or "cent" in text or "(L)" in text
            ) and _PICTURE_POSITION.search(text) is not None


_AUXILIARIES = wordset(
    """is are was were be been has have had will would can could may might must shall should
    do does did said says told say"""
)
# Verbs with no -s or -ed ending to give them away (also kept out of the summary's key
# phrases: extract.analysis._VERBS).
VERBS = wordset(
    """began begun took taken made came went found held left led met paid put ran saw sent
    set stood won gave given knew fell rose grew brought bought thought became spoke wrote
    broke chose drove flew hit kept let lost meant read seen shot sold struck tried want
    wants seek seeks face faces call calls calling help helps take takes come comes"""
)


def finite_like(word: str) -> bool:
    """Whether a token can be the verb of a sentence: without a tagger, a verb-less caption
    or title fragment is told by having no auxiliary, no -s/-ed form and no common
    irregular past."""
    return (word in _AUXILIARIES or word in VERBS or word.endswith(("ed", "s"))) and (
        not word[0].isdigit())


# A caption's words for when its picture was taken: the picture's day at the end of a
# present-tense description ("Police officers protest in Cairo, Egypt, on Sunday.", "Oil
# floats on the surface of the Gulf of Mexico June 2, 2010."). A report tells what happened
# in the past tense ("Police officers protested ... on Sunday"); a headline that dates its
# news ahead says so ("to", "will").
_WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_MONTH = (r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?")
_PICTURE_DAY = re.compile(
    rf"(?:,? (?:on )?{_WEEKDAY}(?:,? {_MONTH} \d{{1,2}}(?:,? \d{{4}})?)?"
    rf"|,? (?:on )?{_MONTH} \d{{1,2}}(?:,? \d{{4}})?)[.\s]*$")
# Past, perfect and future forms: a sentence with one is no caption's present tense.
PAST_FORMS: frozenset[str] = wordset(
    """was were had did said told will would could should might to been
    tore quit spent woke swore withdrew caught sought fought sold won lost shot began ran ate
    drank drove flew grew knew threw wore hid built sent lent felt kept slept left meant met
    led fed fled stood understood struck stuck hung sang rang sank spun dug held paid laid
    made heard found brought bought thought taught became came gave forgot got shook took
    rose arose chose froze spoke broke stole wrote rode saw drew blew lay sat""")
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z][a-z'’]*")


def in_present_tense(text: str) -> bool:
    """Whether ``text`` has no past, perfect or future form (``PAST_FORMS``, an -ed word):
    the present tense of a caption or a chronology's heading."""
    return not any(w in PAST_FORMS or w.endswith("ed") for w in _LOWER_WORD.findall(text))


def is_dated_caption(text: str) -> bool:
    """Whether ``text`` is a caption that ends with its picture's day (``_PICTURE_DAY``)
    in the present tense: "Police officers protest in Cairo, Egypt, on Sunday."."""
    return _PICTURE_DAY.search(text) is not None and in_present_tense(text)


# A live blog's or an explainer's section heading run into its first sentence ("Preamble
# The Israeli prime minister ...", "Backstory A descendant of freed American slaves ..."):
# one of the headings such pages use, then the sentence's capitalised opener.
_SECTION_HEADING = re.compile(
    r"^(?:Preamble|Backstory|Background|Disclaimer|Recap|Context)\s+"
    r"(?=(?:The|A|An|This|These|In|On|At|After|As|When|It|He|She|They|We)\s)")


def without_section_heading(text: str) -> str:
    """``text`` without a section heading run into it (``_SECTION_HEADING``)."""
    return _SECTION_HEADING.sub("", text, count=1) if text[:1] in "PBDRC" else text


# Text whose UTF-8 bytes were read as Windows-1252 ("mojibake"): a curly quote or dash
# (E2 80 xx) reads "â€" and one character for its last byte, an accented letter (C3 xx) or
# a no-break space or pound sign (C2 xx) "Ã" or "Â" and one. The character for a byte of
# 80-BF, as Windows-1252 shows it; 81, 8D, 8F, 90 and 9D have none and came through as the
# replacement character (all but always 9D, the closing double quote). A detokeniser may
# have put a space after "â€" ("countryâ€ ™ s"), and between an apostrophe it broke and a
# clitic ("’ s", "didn’ t").
_CP1252_BYTE: dict[str, int] = {
    bytes([b]).decode("cp1252", errors="replace"): b for b in range(0x80, 0xC0)}
_CP1252_BYTE.pop("\ufffd", None)
_CONTINUATION = "".join(sorted(_CP1252_BYTE)) + "\ufffd"
_MOJIBAKE = re.compile(
    "(?:â€ ?([" + re.escape(_CONTINUATION) + "])"
    "|([ÂÃ])([" + re.escape("".join(sorted(_CP1252_BYTE))) + "]))"
    "(?:(?<=[™’]) (?=(?:s|t|re|ll|ve|d|m)\\b))?")


def _unmangled(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        last = 0x9D if m.group(1) == "\ufffd" else _CP1252_BYTE[m.group(1)]
        return bytes([0xE2, 0x80, last]).decode("utf-8", errors="replace")
    lead = 0xC2 if m.group(2) == "Â" else 0xC3
    return bytes([lead, _CP1252_BYTE[m.group(3)]]).decode("utf-8", errors="replace")


def repair_mojibake(text: str) -> str:
    """``text`` with UTF-8 read as Windows-1252 read right ("Brazilâ€ ™ s" → "Brazil’s",
    "â€œYesâ€ �" → "“Yes”", "GÃ³mez" → "Gómez"); any other text unchanged."""
    if "â€" not in text and "Ã" not in text and "Â" not in text:
        return text
    return _MOJIBAKE.sub(_unmangled, text)


def split_sentences(body: str) -> tuple[str, ...]:
    """The body's sentences in order, whitespace collapsed, empty lines dropped: each
    non-empty line's ``split_line``, as found by one scan of the whole body
    (``_split_text``)."""
    return tuple(_split_text(collapsed_lines(body)))


def split_sentences_by_line(body: str) -> tuple[str, ...]:
    """``split_sentences`` line by line, as it is defined (tests hold the two equal)."""
    out: list[str] = []
    for raw in body.splitlines():
        line = " ".join(raw.split())
        if line:
            out.extend(split_line(line))
    return tuple(out)


# What ``str.split()`` and ``str.splitlines()`` take for whitespace other than " " and "\n"
# (every character whose ``isspace()`` is true; tests/unit/test_names_fast.py compares the
# list with the interpreter's Unicode database).
OTHER_WHITESPACE = (
    "\t\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_ASCII_OTHER_WHITESPACE = tuple(c for c in OTHER_WHITESPACE if c.isascii())
_NON_ASCII_WHITESPACE = tuple(c for c in OTHER_WHITESPACE if not c.isascii())


def collapsed_lines(body: str) -> str:
    """The non-empty lines of ``body`` with their whitespace collapsed, joined by "\n":
    ``body`` itself when it is written so already (the dev corpora's are: one sentence or
    paragraph a line, single spaces), which is told without building a string a line."""
    if _is_collapsed(body):
        return body
    return "\n".join(line for line in (" ".join(raw.split()) for raw in body.splitlines())
                     if line)


def _is_collapsed(body: str) -> bool:
    """Whether ``body`` is non-empty lines of single-space separated words, joined by "\n"."""
    if (
        not body
        or body[0] in " \n"
        or body[-1] in " \n"
        or any(c in body for c in _ASCII_OTHER_WHITESPACE)
        or (not body.isascii() and any(c in body for c in _NON_ASCII_WHITESPACE))
    ):
        return False
    # No two separators in a row ("  ", " \n", "\n ", "\n\n"), read off the UTF-8 bytes (a
    # byte 32 or 10 is only ever a space or a line break there) as an array: 0.1 ms on a
    # 671 kB page, where the four substring scans take 3 ms.
    codes = np.frombuffer(body.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    separators = (codes == 32) | (codes == 10)
    return not bool((separators[1:] & separators[:-1]).any())


# ``_BOUNDARY`` and ``_SEAM`` as they are scanned over a whole text: each opens with the
# character the engine can skip to (a period, a capital) instead of a lookbehind tried at
# every position (3x faster). A boundary match may start one character later (after the
# detokenised space, "U.S ."), which nothing reads: it ends where ``_BOUNDARY``'s does. A
# seam match is the word after the space ``_SEAM`` matches.
_BOUNDARY_SCAN = re.compile(
    r"[.!?](?:(?<=\S[.!?])|(?<=\S [.!?]))[.!?]*[\"'”’)\]]* (?=[\"'“‘(\[]?[A-Z0-9])")


def _seam_scan(words: Sequence[str]) -> re.Pattern[str]:
    by_first: dict[str, list[str]] = {}
    for word in words:
        by_first.setdefault(word[0], []).append(word[1:])
    branches = [
        f"{first}(?<=[a-z] {first})(?:"
        + "|".join(re.escape(rest) for rest in sorted(rests, key=lambda r: (-len(r), r)))
        + ")"
        for first, rests in sorted(by_first.items())
    ]
    return re.compile(f"(?:{'|'.join(branches)})(?= [a-z])")


_SEAM_SCAN = _seam_scan(SEAM_OPENERS)


def _split_text(text: str) -> list[str]:
    """``split_line`` of every line of ``text`` (collapsed lines joined by "\n"), in one
    scan for boundaries and one for seams over the whole text. Neither pattern matches
    across a line break (nor a seam across a boundary), so the matches are those found line
    by line and piece by piece; the offsets are the text's."""
    out: list[str] = []
    seams = [m.start() for m in _SEAM_SCAN.finditer(text)]  # the word after each seam
    seams.append(len(text) + 2)  # a sentinel past every piece
    at = 0  # the next seam in ``seams``

    def piece(start: int, end: int) -> None:
        """``split_seams(text[start:end])``, onto ``out``."""
        nonlocal at
        while seams[at] <= start:
            at += 1
        if seams[at] - 1 >= end:  # most pieces: no seam
            out.append(text[start:end])
            return
        cut_from = start
        while seams[at] - 1 < end:
            word_at = seams[at]
            at += 1
            cut = word_at - 1
            before = text.rfind(" ", cut_from, cut)
            word = text[before + 1 if before >= 0 else start : cut]
            if not (word.isalpha() and word.islower()) or word in SEAM_NOT_AFTER:
                continue
            if text.startswith("A ", word_at) and word in LABEL_NOUNS:
                continue
            out.append(text[cut_from:cut])
            cut_from = word_at
        out.append(text[cut_from:end])

    def lines(start: int, end: int) -> None:
        """The sentences of ``text[start:end]``, lines without a boundary (the first may
        be the rest of one): a line each, in one split when no seam is in them."""
        nonlocal at
        if start >= end:
            return
        while seams[at] <= start:
            at += 1
        if seams[at] - 1 >= end:
            out.extend(text[start:end].split("\n"))
            return
        while True:
            line_end = text.find("\n", start, end)
            if line_end < 0:
                piece(start, end)
                return
            piece(start, line_end)
            start = line_end + 1

    start = 0  # where the current sentence starts
    line_end = text.find("\n")
    if line_end < 0:
        line_end = len(text)
    for m in _BOUNDARY_SCAN.finditer(text):
        end = m.end()
        if end > line_end:  # on a later line: the lines up to its line first
            line_start = text.rfind("\n", 0, m.start()) + 1
            lines(start, line_start - 1)
            start = line_start
            line_end = text.find("\n", start)
            if line_end < 0:
                line_end = len(text)
        if text[end - 2] in ".!?":  # not closed by a quote or bracket: an abbreviation?
            # (searched from after the third space from its end: no match of _LAST_TOKEN
            # holds more than two, so the leftmost is the one found from the window's start)
            low = max(start, end - 64)
            space = text.rfind(" ", low, end - 1)
            if space >= 0:
                space = text.rfind(" ", low, space)
            last = _LAST_TOKEN.search(text, space + 1 if space >= 0 else low, end)
            if last is not None and _is_abbreviation(last.group(1), text[end]):
                continue
        if start < end - 1:
            piece(start, end - 1)
        start = end
    if start < len(text):
        lines(start, len(text))
    return out


class Document:
    """Sentences joined with newlines so one regex pass covers the whole article."""

    __slots__ = ("sentences", "starts", "text")

    def __init__(self, sentences: Sequence[str]) -> None:
        self.sentences = tuple(sentences)
        starts: list[int] = []
        pos = 0
        for s in self.sentences:
            starts.append(pos)
            pos += len(s) + 1
        self.starts = starts
        self.text = "\n".join(self.sentences)

    def locate(self, offset: int) -> tuple[int, int]:
        """(sentence index, offset inside that sentence) of a document offset."""
        i = bisect_right(self.starts, offset) - 1
        return i, offset - self.starts[i]


def analysed_part(body: str, limit: int) -> str:
    """The first ``limit`` characters of ``body`` or less, ended where a sentence ends: at
    the last line break in the second half of that stretch, else after its last full stop,
    else at its last space (a single line of text), so that no sentence is cut in two."""
    if len(body) <= limit:
        return body
    floor = limit // 2
    cut = body.rfind("\n", floor, limit + 1)
    if cut < 0:
        stop = body.rfind(". ", floor, limit)
        cut = stop + 1 if stop >= 0 else body.rfind(" ", floor, limit + 1)
    return body[:cut] if cut >= 0 else body[:limit]
