"""The summary's analysis of one article: what the page stage's summary and title read of
it, computed once by the extract stage (``ArticleExtracted.summary``,
:func:`storyline.domain.contracts.summary_analysis`) and kept by a story for its window.

Per article: the lead sentences' terms, numbers, polarity, names and eligibility, and a few
min-hash keys per sentence for finding near-identical sentences in other articles
(:mod:`storyline.domain.page.summary` uses them to cite and to count support).
"""


from __future__ import annotations

import datetime as dt
import html
import itertools
import re
import sys
import weakref
import zlib
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol

import numpy as np
import numpy.typing as npt

from storyline.domain.events import (
    DatePrecision,
)
from storyline.domain.extract.temporal import alone_from, dates_alone
from storyline.domain.extract.text import (
    VERBS,
    finite_like,
    is_caption,
    is_dated_caption,
    without_section_heading,
    wordset,
)
from storyline.domain.extract.timeline_text import MONTH_ABBR, background
from storyline.domain.extract.tuning import EXTRACT
from storyline.domain.facts import (
    ArticleFacts,
    ColdFacts,
    DateMention,
    NameKind,
    NameMention,
    pack_sentences,
    unpack_sentences,
)
from storyline.domain.words import STOPWORDS, stem

# The tuning (values and reasons in storyline.domain.extract.tuning, hashed into the version)
LEAD = EXTRACT.lead
MIN_WORDS, MAX_WORDS = EXTRACT.summary_min_words, EXTRACT.summary_max_words
MINHASH_SEEDS = (
    0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1, 0xD3A2646C, 0xFD7046C5,
    0xB55A4F09,
)

NEGATIONS: frozenset[str] = wordset(
    """not no never none nobody nothing neither nor without cannot didn doesn isn wasn weren
    couldn wouldn shouldn hasn haven hadn aren don"""
)
# What marks a sentence as page furniture, not news: each part with a substring that every
# match of it contains (lower-case), so that an ASCII sentence is first looked for those
# (a few microseconds) and matched only when one is there (the case-insensitive
# alternation costs ~45 microseconds a sentence, and every lead sentence and title option
# is asked). tests/unit/test_boilerplate.py checks each part's substring.
BOILERPLATE_PARTS = (
    ("click here", r"click here"), ("subscribe", r"subscribe"),
    ("all rights reserved", r"all rights reserved"), ("copyright", r"copyright"),
    ("follow us", r"follow us"), ("sign up", r"sign up"), ("newsletter", r"newsletter"),
    ("read more", r"read more"), ("contributed to this report", r"contributed to this report"),
    ("mail", r"e-?mail"), ("http", r"https?:"), ("www.", r"www\."), ("@", r"@"),
    ("photo", r"\bphoto\b"), ("video", r"\bvideo\b"), ("getty images", r"getty images"),
    ("associated press writer", r"associated press writer"), ("this story", r"this story"),
    ("this article", r"this article"), ("terms of use", r"terms of use"),
    ("cookie", r"cookie"), ("javascript", r"javascript"), ("last updated", r"last updated"),
    ("updated at", r"updated at"), ("pictured", r"\bpictured\b"), ("caption", r"\bcaption\b"),
    # photo captions and broadcast transcripts
    (" seen", r"\b(?:is|are) seen\b"), ("file photo", r"\bfile photo\b"),
    ("aired", r"\baired\b"), ("transcript", r"transcript"),
)
BOILERPLATE = re.compile("|".join(part for _, part in BOILERPLATE_PARTS), re.IGNORECASE)
_BOILERPLATE_KEYS = tuple(key for key, _ in BOILERPLATE_PARTS)


def is_boilerplate(text: str) -> bool:
    """Whether ``BOILERPLATE`` finds something in ``text``, or it is a picture's caption
    (``is_caption``): for ASCII text (where a case-insensitive match is a match of the
    lower-cased text) only when one of the parts' substrings is in it."""
    if is_caption(text) or is_dated_caption(text):
        return True
    if text.isascii():
        lowered = text.lower()
        if not any(key in lowered for key in _BOILERPLATE_KEYS):
            return False
    return BOILERPLATE.search(text) is not None


# Openers that point back to something the reader of a summary has not seen.
ANAPHORIC = wordset(
    "he she they it this that these those his her their its but and or so also however "
    "meanwhile still yet then there such"
)


def points_back(text: str) -> bool:
    """Whether ``text`` opens with a word that points back to a sentence its reader has not
    seen ("He", "Their", "This", "But"): a summary sentence or a timeline entry that reads
    alone does not."""
    words = text.lstrip("\"'“‘(` ").split(" ", 2)
    first = words[0].lower().rstrip(",")
    if first == "there" and len(words) > 1 and words[1].lower() in _EXISTENTIAL_VERBS:
        return False  # "There were grave shortcomings ...": existential, it names no one
    return first in ANAPHORIC


# The verbs after an existential "there" ("There were ...", "There has been ...").
_EXISTENTIAL_VERBS = wordset("is are was were has have had will would could may might must "
                             "should seems seem seemed appears appear appeared remain remains "
                             "remained")


# "CHICAGO | Fri Jun 26, 2009 7:39 pm EDT CHICAGO (Reuters) - ", "Cairo, Egypt (CNN)--"
_DATELINE = re.compile(
    r"^.{0,90}?\((?:Reuters|AP|AFP|CNN|Reuters Life!|UPI|Bloomberg|The Associated Press)\)"
    r"\s*(?:-+|—|–|:)?\s*"
)
# A byline: "By Jo Ames", "Jo Ames | By ...", and a newsroom's, "By the CNN Wire Staff" (not
# "By the end of May, ...", "By the agency's count, ...").
_BYLINE = re.compile(r"^(?:[^|]{0,40}\| )?By (?:[A-Z]|the (?:[A-Z][\w.&'’-]* ){1,4}[Ss]taff\b)")
# A dated caption or list item: "April 21: ...", "July 17, 2010: ...".
_DATED_ITEM = re.compile(r"^[A-Z][a-z]{2,8}\.? \d{1,2}(?:, \d{4})?:")
# A broadcast transcript's speaker ("WOLF BLITZER, CNN ANCHOR: Fireworks over ...",
# "UNIDENTIFIED MALE (through translator): ..."): two words in capitals or more, a role after
# a comma, a note in brackets, a colon. What follows is spoken on air, not reported.
_SPEAKER = re.compile(
    r"^[A-Z][A-Z.'-]+(?: [A-Z][A-Z.'-]+)+(?:, [A-Z][A-Z.'-]*(?: [A-Z][A-Z.'-]*)*)?"
    r"(?: \([^)]*\))?: ")
_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
_QUOTED = re.compile(r"[\"“”]([^\"“”]*)[\"“”]|``(.*?)''")


# ---------------------------------------------------------------------------------------------
# Terms.


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("’", "'").replace("'s ", " "))


_intern = sys.intern


def _words(text: str) -> tuple[str, ...]:
    """``tokens`` as interned strings: the analyses of a story's articles then share one
    object per word instead of holding a copy per occurrence."""
    return tuple(map(_intern, tokens(text)))


def _terms(words: Iterable[str]) -> tuple[str, ...]:
    out = {_intern(stem(t)) for t in words
           if t not in STOPWORDS and (len(t) > 1 or t.isdigit())}
    return tuple(sorted(out))


def _plain_terms(words: Iterable[str]) -> tuple[str, ...]:
    """``_terms`` without interning, for terms that are not kept."""
    out = {stem(t) for t in words if t not in STOPWORDS and (len(t) > 1 or t.isdigit())}
    return tuple(sorted(out))


def terms_of(text: str) -> tuple[str, ...]:
    """Sorted distinct content terms (stopwords dropped, plurals folded, numbers kept)."""
    return _terms(tokens(text))


_NO_NUMBERS: frozenset[str] = frozenset()  # shared: most sentences hold no number


def _numbers(words: Sequence[str]) -> frozenset[str]:
    return numbers_set(w.replace(",", "") for w in words if w[0].isdigit())


def numbers_set(numbers: Iterable[str]) -> frozenset[str]:
    """``frozenset(numbers)``, the shared empty one when there are none (216 bytes each)."""
    found = frozenset(numbers)
    return found if found else _NO_NUMBERS


def _negated(words: Sequence[str]) -> bool:
    return any(w in NEGATIONS for w in words)


# A term's crc32 under every seed: the same terms recur in every article of a story, and
# eight crc32 calls per term and sentence were the bulk of an article's analysis. Pure
# values, so emptying the table when full changes nothing but speed. A row of eight
# unsigned 64-bit integers a term (64 bytes, and its dict entry), so that an article's
# sentences take their minima in one NumPy call: 2^15 rows (5-7 MB with the dict) hold
# the recurring terms of the stories in flight.
TERM_HASHES_SIZE = 1 << 15


class TermHashes:
    """Each term's crc32 under every min-hash seed, one row of a table a term; the rows
    are handed out afresh after the table is emptied, so a row number is only good for the
    call that asked for it."""

    __slots__ = ("_rows", "table")

    def __init__(self) -> None:
        self._rows: dict[str, int] = {}
        self.table: npt.NDArray[np.uint64] = np.zeros((1024, len(MINHASH_SEEDS)),
                                                      dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        self._rows.clear()

    def rows_of(self, term_lists: Iterable[Sequence[str]]) -> list[int]:
        """The row of every term of ``term_lists``, in order (a new term hashed first)."""
        rows = self._rows
        if len(rows) >= TERM_HASHES_SIZE:
            rows.clear()
        first = len(rows)
        out: list[int] = []
        new: list[str] = []
        for terms in term_lists:
            for term in terms:
                row = rows.get(term)
                if row is None:
                    row = rows[term] = len(rows)
                    new.append(term)
                out.append(row)
        if new:
            end = first + len(new)
            if end > len(self.table):
                grown = np.zeros((max(end, 2 * len(self.table)), len(MINHASH_SEEDS)),
                                 dtype=np.uint64)
                grown[:len(self.table)] = self.table
                self.table = grown
            self.table[first:end] = [[zlib.crc32(encoded, seed) for seed in MINHASH_SEEDS]
                                     for encoded in (term.encode() for term in new)]
        return out


_TERM_HASHES = TermHashes()


def _minhash_mins(term_lists: Sequence[Sequence[str]]) -> npt.NDArray[np.uint64]:
    """Per list (none empty): the least crc32 of its terms under each seed."""
    rows = np.array(_TERM_HASHES.rows_of(term_lists), dtype=np.int64)
    starts = np.zeros(len(term_lists), dtype=np.int64)
    np.cumsum([len(terms) for terms in term_lists[:-1]], out=starts[1:])
    return np.minimum.reduceat(_TERM_HASHES.table[rows], starts, axis=0)


def _minhash_keys(terms: Sequence[str]) -> tuple[int, ...]:
    """Locality-sensitive keys: four bands of two crc32 min-hashes. Two sentences with term
    Jaccard J share a band with probability 1 - (1 - J^2)^4 (0.93 at J = 0.7, 0.99 at 0.85),
    and a band of two rarely joins sentences that merely share the story's commonest word,
    so candidates are found without a scan and with few false ones to verify. (An
    article's sentences are keyed together: ``_keys_of`` and ``_band_arrays``.)"""
    return _keys_of(_minhash_mins([terms]))[0] if terms else ()


def _keys_of(mins: npt.NDArray[np.uint64]) -> list[tuple[int, ...]]:
    """Each row's keys: its band number above the band's two minima."""
    return [tuple((band << _BAND_BITS) | (row[2 * band] << 32) | row[2 * band + 1]
                  for band in range(_BANDS))
            for row in mins.tolist()]


def _band_arrays(mins: npt.NDArray[np.uint64] | None, sentences: list[int]
                 ) -> tuple[tuple[array[int], ...], tuple[array[int], ...]]:
    """Per band, the keys of an article's sentences ascending (ties by sentence) and the
    sentence of each, from the minima of the sentences keyed (``sentences``, ascending)."""
    keys_out: list[array[int]] = []
    sentences_out: list[array[int]] = []
    at = np.array(sentences, dtype=np.uint32)
    for band in range(_BANDS):
        band_keys, band_sentences = array("Q"), array("I")
        if mins is not None and len(mins):
            keys = (mins[:, 2 * band] << np.uint64(32)) | mins[:, 2 * band + 1]
            order = np.lexsort((at, keys))
            band_keys.frombytes(keys[order].tobytes())
            band_sentences.frombytes(at[order].tobytes())
        keys_out.append(band_keys)
        sentences_out.append(band_sentences)
    return tuple(keys_out), tuple(sentences_out)


_GLUE = re.compile(r"(?<=[a-z0-9'’]) (?=([A-Z][\w'’-]*))")
_GLUE_OPENERS = wordset("The An In On At It He She They This That After When Its His Her")
_NO_END = wordset("the a an of to in on at for by with from that and or but as his her its their")
GLUED_HEADLINE_WORDS = EXTRACT.glued_headline_words
GLUED_CAPTION_WORDS = EXTRACT.glued_caption_words


def split_glued(text: str, max_words: int = GLUED_HEADLINE_WORDS) -> tuple[str | None, str]:
    """A headline run into the first sentence, as corpora flatten pages: "Michael Jackson
    doctor gets four years in prison Michael Jackson's former doctor, ..." -> (headline,
    sentence). The seam is a lower-case word followed by a capitalised function word or by
    a capitalised word already used before it."""
    for m in _GLUE.finditer(text):
        head, rest, word = text[: m.start()], text[m.end():], m.group(1)
        words = len(head.split())
        if words > max_words or "," in head:
            break  # past where a headline could end
        if words < 3 or len(rest.split()) < 6 or head.rsplit(" ", 1)[-1] in _NO_END:
            continue  # a headline does not end with "the", "of", "that" ...
        word = re.sub(r"['’]s$", "", word)
        if word in _GLUE_OPENERS or re.search(rf"\b{re.escape(word)}\b", head, re.IGNORECASE):
            return head, rest
        if (head.rsplit(" ", 1)[-1].islower() and word.lower() not in _CALENDAR_WORDS
                and _names_head_again(head, rest)):
            return head, rest  # "... amid spill Analysts expect BP to ...": the lead's BP
    return None, text


_CALENDAR_WORDS = wordset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december""")
_CAPITALISED = re.compile(r"[A-Z][\w'’-]*")


def _names_head_again(head: str, rest: str) -> bool:
    """Whether the two words after a seam candidate name again a name of the words before
    it (a capitalised word of the head): a lead restates the headline's subject ("BP to cut
    output amid spill Analysts expect BP to ..."); a sentence does not put a capital in its
    middle for that."""
    if head.count('"') % 2 or head.count("“") != head.count("”"):
        return False  # inside a quotation: '"... liability under OPA," BP said'
    names = {w for w in _CAPITALISED.findall(head) if w.lower() not in STOPWORDS}
    if not names:
        return False
    following = rest.split(" ")[1:3]
    return any(re.sub(r"['’]s$", "", w.strip(",.;:")) in names for w in following)


_finite_like = finite_like  # the title's cut clauses are judged by it too (extract.text)


# A web page's stamp before its first sentence, with the writer's byline: "Wednesday,
# December 15, 2010; 8:18 PM The Justice Department sued ...", "Fergus Walsh | 08:17 UK
# time, Tuesday, 30 June 2009 I've been investigating ...": days, months, numbers, a clock
# time and its zone, and nothing else, then the sentence's capital.
_STAMP_WORD = (r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|"
               r"Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?|\d{1,4}(?:st|nd|rd|th)?|\d{1,2}[:.]\d{2}|"
               r"[AaPp]\.?[Mm]\.?|UK time|GMT|UTC|BST|CET|[ECMP][SD]?T)")
_WEB_STAMP = re.compile(
    r"^(?:[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3}\s*\|\s*)?"
    rf"(?:{_STAMP_WORD}[,;|]?\s+){{3,}}(?=[A-Z\"“])")
_CLOCK = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
# A picture agency's credit left before the sentence: "AP It took U.S. and British teams".
_CREDIT = re.compile(r"^(?:AP|AFP)\s+(?=[A-Z][a-z])")


def strip_dateline(text: str) -> str:
    """The sentence without a leading wire dateline, web page stamp or picture credit (and
    HTML entities decoded, "R&amp;B"); the sentence itself when there is nothing to
    remove."""
    if "&" in text:
        text = html.unescape(text)
    stamp = _WEB_STAMP.match(text)
    if stamp is not None and _CLOCK.search(stamp.group()):
        text = text[stamp.end():]
    text = _CREDIT.sub("", text, count=1)
    text = without_section_heading(text)
    m = _DATELINE.match(text)
    if m is None:
        return text
    rest = text[m.end():]
    return rest if rest[:1].isupper() else text


def _eligible(text: str, words: Sequence[str]) -> bool:
    """A sentence that can stand alone in a summary."""
    if _BYLINE.match(text) or _DATED_ITEM.match(text) or _SPEAKER.match(text):
        return False
    n = len(text.split())
    if n < MIN_WORDS or n > MAX_WORDS:
        return False
    stripped = text.rstrip("\"'”’) ")
    if stripped.endswith(("?", ":")) or (not stripped.endswith((".", "!")) and n < 12):
        return False  # (a sentence that ends with a colon introduces what follows it)
    dateline = _DATELINE.match(text)
    if dateline is not None and not text[dateline.end():].strip():
        return False  # a wire's dateline on a line of its own: "LONDON | ... (Reuters Life!)"
    if is_boilerplate(text) or text.isupper():
        return False
    if points_back(text) or (not text[0].isupper() and not text[0].isdigit()):
        return False
    if text.lstrip().startswith(("\"", "“", "``", "'")):
        return False  # a quote first: usually a fragment of someone's speech
    if not any(_finite_like(w) for w in words[1:]):
        return False  # "The impact of the 2010 oil spill in the Gulf of Mexico."
    quoted = sum(len(g[0] or g[1]) for g in _QUOTED.findall(text))  # ints
    return quoted <= EXTRACT.max_quoted_share * len(text) and len(words) >= MIN_WORDS


class Statement(Protocol):
    """What support is judged on."""

    @property
    def terms(self) -> tuple[str, ...]: ...
    @property
    def numbers(self) -> frozenset[str]: ...
    @property
    def negated(self) -> bool: ...
    @property
    def words(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Plain:
    terms: tuple[str, ...]
    numbers: frozenset[str]
    negated: bool
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Sentence:
    index: int
    text: str
    terms: tuple[str, ...]  # sorted: sums over them are order-independent
    numbers: frozenset[str]
    negated: bool
    eligible: bool
    names: tuple[str, ...]  # canonical keys of the article's names this sentence mentions
    has_figure: bool
    keys: tuple[int, ...]  # min-hash keys of ``terms``
    # The day-precise dates of ``text`` that date its own event (not ``background``), in
    # text order, as (start, end): what ``fact_time`` reads instead of scanning the text
    # again (``_reported_day``), taken from the dates the extract stage found in the
    # article (``_days``); None when they cannot be told from those (and for a sentence
    # that is not eligible, which is never a candidate).
    days: tuple[tuple[dt.date, dt.date], ...] | None = None
    # ``text`` as the summary quotes it: each day a relative expression stands for after it
    # ("said on Monday (Mar 16)"), as the article's dates resolved it; None when nothing is
    # added (and for a sentence that is not eligible, which is never quoted).
    shown: str | None = None
    # Support checks of this sentence as the claim, by the other statement's identity (the
    # entry holds the statement by a weak reference: an id reused after it died finds a
    # dead reference, and no cycle of sentences holding each other forms). Lives and dies
    # with the sentence's analysis: no process-wide table to bound. Made on the first check
    # (None until then): most lead sentences never are a claim, and an empty dict costs 64
    # bytes, for every lead sentence of every window.
    support: dict[int, tuple[weakref.ref[object], bool]] | None = field(
        default=None, compare=False, repr=False)
    # The first sentence of another article supporting this one as the claim (None: none),
    # by that article's analysis serial (unique in the process, so nothing is held); made
    # on first use like ``support``.
    found: dict[int, int | None] | None = field(default=None, compare=False, repr=False)
    # The summary's print of a lead sentence (its words as a crc32, ``summary._print``),
    # asked of each lead sentence at every revision its article is in the candidates.
    lead_print: int | None = field(default=None, compare=False, repr=False)

    @property
    def words(self) -> tuple[str, ...]:
        """Every token of ``text``, in order (what the extract stage made them from), made
        when asked: by a support check that got past the terms and numbers (a few a
        revision) and for the sentence's print (kept, ``lead_print``). Kept on every lead
        sentence of every window, they weighed ~1.9 kB an analysis."""
        return _words(self.text)

    # Pickled (snapshots) without the memos: their keys are object ids and serials, which
    # change, and support entries link sentences of many articles into chains too deep to
    # pickle.
    def __getstate__(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _SENTENCE_STATE)

    def __setstate__(self, state: tuple[object, ...]) -> None:
        object.__setattr__(self, "days", None)  # a snapshot of before ``days``: scan again
        object.__setattr__(self, "shown", None)
        for name, value in zip(_SENTENCE_STATE, state, strict=False):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "support", None)
        object.__setattr__(self, "found", None)
        object.__setattr__(self, "lead_print", None)


_SENTENCE_STATE = tuple(f.name for f in fields(Sentence)
                        if f.name not in ("support", "found", "lead_print"))
_serials = itertools.count()

_BAND_BITS = 64
_BAND_MASK = (1 << _BAND_BITS) - 1
_BANDS = len(MINHASH_SEEDS) // 2
TitleOptions = tuple[tuple[str, tuple[str, ...], int, float], ...]


@dataclass(frozen=True, slots=True, eq=False)  # identity: memo keys compare by object
class Analysis:
    """What the summary needs from one article, computed once per (uri, version, content).

    Compact, because a story keeps the analyses of its whole window: the lead sentences in
    full; every sentence's min-hash keys as one sorted array per LSH band (8 bytes a key
    instead of a dict entry and an int object); and the sentences' text, compressed, from
    which the statement a support check needs is built the first time a key finds it (a
    few times a revision)."""

    lead: tuple[Sentence, ...]
    glued_headline: str | None  # a headline the corpus ran into the first sentence
    lead_terms: tuple[str, ...]
    name_keys: tuple[str, ...]
    # the article's names that its lead sentences mention: key -> (display form, kind)
    name_forms: dict[str, tuple[str, NameKind]]
    sentence_count: int
    packed_sentences: bytes  # every sentence, zlib(pickle(tuple)), for support checks
    band_keys: tuple[array[int], ...]  # per band: the sentences' keys, ascending
    band_sentences: tuple[array[int], ...]  # the sentence index of each of those keys
    # title options by mode (headlines or not): (the headline they were made with, options)
    title_options: dict[bool, tuple[str | None, TitleOptions]] = field(default_factory=dict)
    # unique in the process (given again when unpickled): what claims remember results by
    serial: int = field(default_factory=lambda: next(_serials))

    def minhash_keys(self) -> set[int]:
        """Every min-hash key any of its sentences has (``sentences_with`` finds them)."""
        return {(band << _BAND_BITS) | value
                for band, values in enumerate(self.band_keys) for value in values}

    def sentences_with(self, key: int) -> list[int]:
        """Indices of the sentences that have min-hash ``key``, ascending."""
        band = key >> _BAND_BITS
        keys = self.band_keys[band]
        value = key & _BAND_MASK
        i = bisect_left(keys, value)
        found: list[int] = []
        while i < len(keys) and keys[i] == value:
            found.append(self.band_sentences[band][i])
            i += 1
        return found

    def sentence(self, i: int) -> str:
        # taken out and put back last (no step that needs the key still there: a fold in
        # a thread of its own, as bench_memory.py can run one, never trips on another's)
        sentences = _unpacked.pop(self.serial, None)
        if sentences is None:
            sentences = unpack_sentences(self.packed_sentences)
            while len(_unpacked) >= UNPACKED_KEPT:
                _unpacked.popitem(last=False)
        _unpacked[self.serial] = sentences
        return sentences[i]

    def statement(self, i: int) -> Plain:
        """Sentence ``i`` as a support check reads it, made anew (tens of microseconds):
        a claim asks each article once (``summary._supporting_sentence`` remembers the
        answer by the article's serial), so statements kept on the analysis were each
        asked about twice in their life for ~1.8 kB an analysis of every window."""
        words = _words(self.sentence(i))
        return Plain(_terms(words), _numbers(words), _negated(words), words)

    # Pickled (snapshots) without what is built on demand.
    def __getstate__(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _ANALYSIS_STATE)

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(_ANALYSIS_STATE, state, strict=False):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "title_options", {})
        object.__setattr__(self, "serial", next(_serials))


_ANALYSIS_STATE = tuple(f.name for f in fields(Analysis)
                        if f.name not in ("title_options", "serial"))
# The sentences of the analyses unpacked last, by serial, the latest last: a support check
# builds its statements from one article at a time, and a story's next revisions ask the
# same window's articles again. Over timeline17-dev's fold the 23,246 unpackings of a
# one-analysis cache are 2,809 with 256 kept (~10 kB each: 2.5 MB a process).
UNPACKED_KEPT = 256
_unpacked: OrderedDict[int, tuple[str, ...]] = OrderedDict()


def _mentions(text: str, names: Sequence[NameMention]) -> tuple[str, ...]:
    """Names of the article this sentence mentions: in full, or a person by surname."""
    found: set[str] = set()
    words: set[str] | None = None
    for name in names:
        surface = name.display
        if surface in text:
            found.add(_intern(name.canonical))
        elif name.kind is NameKind.PERSON and " " in surface:
            if words is None:
                words = set(_WORD.findall(text))
            last = surface.rsplit(" ", 1)[1]
            if len(last) > 2 and last in words:
                found.add(_intern(name.canonical))
    return tuple(sorted(found))


def _days(raw: str, text: str, mentions: Sequence[DateMention]
          ) -> tuple[tuple[dt.date, dt.date], ...] | None:
    """``Sentence.days`` of a lead sentence shown as ``text`` (``raw`` without a dateline or
    a glued headline), from the dates ``find_dates`` found in ``raw`` in its article (one
    before ``temporal.alone_from``): the ones ``find_dates`` gives ``text`` alone, as
    ``_reported_day`` scans it; None when those cannot be told (``temporal.dates_alone``,
    or ``text`` is no tail of ``raw``: entities decoded)."""
    if not mentions and text == raw:
        return ()  # most sentences: nothing found, nothing cut off
    if not raw.endswith(text):
        return None
    alone = dates_alone(raw, len(raw) - len(text), mentions)
    if alone is None:
        return None
    return tuple((m.span.start, m.span.end) for m in alone
                 if m.span.precision is DatePrecision.DAY and not background(m, text))


_PART_OF_DAY = re.compile(r"\s+(?:morning|afternoon|evening|night)\b")
_POSSESSIVE_AFTER = re.compile(r"['’]s\b")
# "today" written with a capital inside a sentence is a name: "BBC Radio 4's Today programme"
_DEICTIC_NAME = re.compile(r"(?:Today|Tonight|Yesterday|Tomorrow)\b")
_SENTENCE_OPENING = re.compile(r"(?:^|[.!?:;]\s+|[\"“‘'(]\s*)$")


def _glossed(raw: str, text: str, mentions: Sequence[DateMention]) -> str | None:
    """``Sentence.shown`` of a lead sentence shown as ``text`` (``raw`` without a dateline):
    after each expression of ``raw``'s dates that was resolved to a day against the
    article's publication ("on Wednesday", "yesterday", "the next day"), that day in
    brackets: a summary quotes sentences of many days side by side, where a bare weekday no
    longer says which. A possessive ("Tuesday's fire") is left as written, and so is a
    capitalised "Today" inside a sentence (a programme's name). None when nothing is
    added."""
    cut = len(raw) - len(text)
    if not mentions or not raw.endswith(text):
        return None
    inserts: list[tuple[int, str]] = []
    for mention in mentions:
        if (mention.stated or mention.span.precision is not DatePrecision.DAY
                or mention.char_start < cut or any(c.isdigit() for c in mention.text)):
            continue
        start, end = mention.char_start - cut, mention.char_end - cut
        if _POSSESSIVE_AFTER.match(text, end) or (
                _DEICTIC_NAME.match(text, start) and not _SENTENCE_OPENING.search(text[:start])):
            continue
        part = _PART_OF_DAY.match(text, end)  # "on Sunday morning (Mar 8)"
        if part is not None:
            end = part.end()
        day = mention.span.start
        inserts.append((end, f" ({MONTH_ABBR[day.month - 1]} {day.day})"))
    out = text
    for end, gloss in sorted(inserts, reverse=True):
        out = out[:end] + gloss + out[end:]
    return out if inserts else None


def _analyse(
    sentences: tuple[str, ...], names: tuple[NameMention, ...], figure_sentences: frozenset[int],
    packed_sentences: bytes | None = None, dates: Sequence[DateMention] | None = None,
) -> Analysis:
    """The analysis of an article's sentences; with the dates ``find_dates`` found in them
    (``dates``), its eligible lead sentences carry their days (``Sentence.days``)."""
    # the lead sentences whose dates are the ones they have alone, and those dates
    alone = 0 if dates is None else alone_from(sentences, dates, LEAD)
    by_sentence: dict[int, list[DateMention]] = {}
    in_lead: dict[int, list[DateMention]] = {}  # every lead sentence's, for its gloss
    for mention in dates or ():
        if mention.sentence < alone:
            by_sentence.setdefault(mention.sentence, []).append(mention)
        if mention.sentence < LEAD:
            in_lead.setdefault(mention.sentence, []).append(mention)
    lead: list[Sentence] = []
    lead_terms: set[str] = set()
    glued: str | None = None
    # every sentence's min-hash keys are made in one pass after this loop: the terms that
    # give them (a lead sentence's shown text may differ from the one its bands key)
    keyed: list[Sequence[str]] = []  # the terms of sentences keyed into the bands
    keyed_at: list[int] = []  # their sentences
    # (index, raw, shown text, words, terms, negated, eligible) of each lead sentence
    lead_parts: list[tuple[int, str, str, tuple[str, ...], tuple[str, ...], bool, bool]] = []
    for i, raw in enumerate(sentences):
        # only the lead's words and terms are kept: the others are not interned
        words = _words(raw) if i < LEAD else tuple(tokens(raw))
        terms = _terms(words) if i < LEAD else _plain_terms(words)
        if len(terms) >= 3:
            keyed.append(terms)
            keyed_at.append(i)
        if i >= LEAD:
            continue
        negated = _negated(words)
        lead_terms.update(terms)
        # The summary shows the sentence without its dateline (or a headline glued to
        # it), and matches on that.
        text = strip_dateline(raw)
        if i <= 1 and glued is None:  # a one-line caption may come first
            glued, text = split_glued(text)
            if glued is not None:  # headline, then a photo caption, then the lead
                text = split_glued(text, GLUED_CAPTION_WORDS)[1]
        if text != raw:
            words = _words(text)
            terms = _terms(words)
        lead_parts.append((i, raw, text, words, terms, negated, _eligible(text, words)))
    shown_terms = [part[4] for part in lead_parts if len(part[4]) >= 3]
    mins = _minhash_mins([*shown_terms, *keyed]) if shown_terms or keyed else None
    shown_keys = iter(_keys_of(mins[:len(shown_terms)]) if mins is not None else [])
    for i, raw, text, words, terms, negated, eligible in lead_parts:
        lead.append(
            Sentence(
                index=i,
                text=text,
                terms=terms,
                numbers=_numbers(words),
                negated=negated,
                eligible=eligible,
                names=_mentions(text, names),
                has_figure=i in figure_sentences,
                keys=next(shown_keys) if len(terms) >= 3 else (),
                days=(_days(raw, text, by_sentence.get(i, ())) if eligible and i < alone
                      else None),
                shown=_glossed(raw, text, in_lead.get(i, ())) if eligible else None,
            )
        )
    by_key = {_intern(n.canonical): n for n in names}
    forms: dict[str, tuple[str, NameKind]] = {}
    for s in lead:
        for canonical in s.names:
            name = by_key.get(canonical)
            if name is not None:
                forms[canonical] = (name.display, name.kind)
    band_keys, band_sentences = _band_arrays(
        None if mins is None else mins[len(shown_terms):], keyed_at)
    return Analysis(
        lead=tuple(lead),
        glued_headline=glued,
        lead_terms=tuple(sorted(lead_terms)),
        name_keys=tuple(sorted(by_key)),
        name_forms=forms,
        sentence_count=len(sentences),
        packed_sentences=packed_sentences or pack_sentences(sentences),
        band_keys=band_keys,
        band_sentences=band_sentences,
    )


def analysis_of(facts: ArticleFacts, cold: ColdFacts | None = None) -> Analysis:
    """The analysis of an article's facts (unpacked first when packed), computed; it shares
    the packed sentences of ``cold`` (the same facts, packed) or of ``facts`` when packed."""
    if isinstance(facts, ColdFacts):
        cold = facts
        facts = facts.unpack()
    return _analyse(
        facts.sentences, facts.names, frozenset(f.sentence for f in facts.figures),
        cold.packed_sentences if cold is not None and cold.packed_sentences else None,
        facts.dates,
    )


# ---------------------------------------------------------------------------------------------


# Without a tagger, words that are usually verbs or adverbs are kept out of key phrases
# (extract.text.VERBS).
_VERBS = VERBS
