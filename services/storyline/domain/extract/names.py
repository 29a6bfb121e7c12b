"""Names of people, organisations and places, with aliases reconciled inside the article.

A rule chunker, chosen over a statistical NER model for speed (see docs/extraction.md):
runs of capitalised tokens (joined by "of", "de", "bin", "&" ...) are cut at titles
("President", "Foreign Minister") and possessives, stripped of sentence-initial function
words, and keyed by ``normalise``. Keys are then reconciled:

- gazetteer aliases: "DPRK", "N. Korea" -> "north korea"; "U.S." -> "united states";
- inside one article, a lone word that is the last (or first) word of a person's full name
  ("Obama", "Kim") or the first word of an organisation ("Lehman") takes that name's key;
- an all-capital acronym that spells the initials of a longer name of the article takes
  the longer name's key ("KCNA" after "Korean Central News Agency").

The canonical key is lower case ASCII with hyphens and periods as spaces: "Kim Jong-un",
"Kim Jong Un" and "KIM JONG UN" all become "kim jong un".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from storyline.domain.extract.gazetteer import (
    ALIASES,
    CASE_SENSITIVE_ALIASES,
    DEMONYMS,
    NOT_NAMES,
    ORG_HEADS,
    ORG_SUFFIXES,
    ORGANISATIONS,
    OTHER_SUFFIXES,
    PLACE_HEADS,
    PLACE_SUFFIXES,
    PLACES,
    TITLES,
)
from storyline.domain.extract.text import ABBREVIATIONS, Document, wordset
from storyline.domain.facts import NameKind, NameMention, NameRow

K = NameKind

# A capitalised token; a final period is an abbreviation ("Sen.", "U.S.", "W.") or the end of
# the sentence ("in Egypt."), told apart in ``_clean``.
_TOKEN = r"[A-Z][\w'’&.]*(?:-[\w'’&.]+)*"  # no "--": "Thursday--is"
_LINK = r"(?: | of the | of | for | de | del | da | du | van | von | bin | al | la | & | - )"
CHUNK_PATTERN = rf"{_TOKEN}(?:{_LINK}{_TOKEN})*"
# CHUNK_PATTERN with possessive repeats, which find the same chunks 15 % faster: a shorter
# token or fewer links never lets a match go on (a link opens with a space, which no token
# holds), so the engine need not try them when a chunk ends.
_TOKEN_SCAN = r"[A-Z][\w'’&.]*+(?:-[\w'’&.]++)*+"
CHUNK = re.compile(rf"{_TOKEN_SCAN}(?:{_LINK}{_TOKEN_SCAN})*+")
_WORD = re.compile(r"[^ ]+")
_PARTICLES = wordset("bin van von de del da du al la")  # inside people's names
_CONNECTORS = wordset("of the for de del da du van von bin al la &")
_MONTHS_DAYS = wordset(
    """january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
    saturday sunday"""
)
# First words of names of the form "X of Y".
_OF_HEADS = (
    ORG_HEADS
    | PLACE_HEADS
    | wordset(
        """republic kingdom state states secretary duke prince princess archbishop bishop
        city sea bay strait isle isles bureau board chamber court church bank"""
    )
)
_TAIL_NOT_NAMES = NOT_NAMES - _MONTHS_DAYS - {"may", "will", "well", "new"}
_POSSESSIVE = ("'s", "’s", "'", "’")
_POSSESSIVE_S = _POSSESSIVE[:2]
_OPENERS = "\"'“‘(["


# The extractor's memos. They are process-wide and outside the fold's state, so whatever they
# hold is RSS on top of the stories (issue #9, docs/benchmarks.md "The RSS outside the
# state"): at 65536 entries each, five of them held ~70 MB after 10^4 articles of the
# synthetic log to save ~0.7 ms of an article's ~45 ms fold. Only the chunk analysis (84 %
# hits) and the key (75 %) are memoised, at 8192 entries; the segments (looked up only on an
# analysis miss, with the same key: 0.7 % hits), the key words and the resolution (37 %,
# cheap to redo) are not.
# Pure functions: the caps change speed and memory, never a result.
NAMES_MEMO_SIZE = 8192


@lru_cache(maxsize=NAMES_MEMO_SIZE)
def normalise(surface: str) -> str:
    """Lower-case ASCII key: hyphens, periods and spaces collapse, possessive and "the" go."""
    text = surface
    if text.endswith(_POSSESSIVE[:2]):
        text = text[:-2]
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower().replace("-", " ").replace(".", " ").replace("’", "'")
    words = text.split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _key_words(surface: str) -> tuple[str, ...]:
    return tuple(normalise(surface).split())


def _known(surface: str) -> bool:
    key = normalise(surface)
    return key in PLACES or key in ORGANISATIONS or key in ALIASES or key in DEMONYMS


def _is_acronym(token: str) -> bool:
    return 2 <= len(token) <= 6 and token.isupper() and token.isalpha()


@dataclass
class _Seen:
    key: str
    surface: str
    kind: NameKind
    tokens: int
    position: int  # document offset of the first mention
    count: int = 1


def _strip_possessive(token: str) -> str:
    for ending in _POSSESSIVE[:2]:
        if token.endswith(ending) and len(token) > len(ending):
            return token[: -len(ending)]
    return token


Segment = tuple[int, tuple[str, ...], bool, bool]


_HYPHEN_SUFFIXES = (
    "-based", "-led", "-driven", "-backed", "-owned", "-run", "-born", "-style", "-made",
    "-funded", "-related", "-linked", "-listed", "-controlled", "-era", "-wide", "-bound",
    "-friendly", "-like", "-type", "-area", "-held", "-focused", "-sponsored", "-appointed",
)  # fmt: skip


# Title words that are titles only before another title: "Health Minister", "Former
# President", but "World Health Organization".
_TITLE_MODIFIERS = wordset(
    "foreign defence defense interior finance health prime vice deputy former acting chief late"
)


def _is_title(tokens: list[tuple[int, str]], index: int) -> bool:
    for _, token in tokens[index:]:
        bare = token.rstrip(".").lower()
        if bare not in _TITLE_MODIFIERS:
            return bare in TITLES
    return False


def _clean(token: str) -> str:
    """Drop a sentence-final period, keep those of abbreviations and initialisms; drop
    closing quotes and adjective suffixes ("Google-driven")."""
    token = token.rstrip("'’")
    if "-" in token and token.endswith(_HYPHEN_SUFFIXES):  # (each opens with "-")
        token = token[: token.rindex("-")]
    if not token.endswith(".") or len(token) == 2 or "." in token[:-1]:
        return token  # "W.", "U.S."
    if token[:-1].lower() in TITLES or token[:-1].lower() in ABBREVIATIONS:
        return token
    return token[:-1]


def _segments(chunk: str, at_start: bool) -> tuple[Segment, ...]:
    """Cut a chunk into name segments: (offset in chunk, tokens, after a title, initial)."""
    tokens: list[tuple[int, str]] = []
    if " - " in chunk:
        for m in _WORD.finditer(chunk):
            if tokens and tokens[-1][1].endswith("-") and tokens[-1][1] != "-":
                tokens[-1] = (tokens[-1][0], tokens[-1][1] + m.group())  # "Strauss - Kahn"
            elif m.group() == "-" and tokens:
                tokens[-1] = (tokens[-1][0], tokens[-1][1] + "-")
            else:
                tokens.append((m.start(), m.group()))
    else:
        # no "-" word (a chunk's tokens never end with "-", a " - " link is the only one):
        # nothing to join, the words between single spaces (a chunk has no other)
        offset = 0
        for word in chunk.split(" "):
            tokens.append((offset, word))
            offset += len(word) + 1
    out: list[Segment] = []
    current: list[tuple[int, str]] = []
    titled = False
    initial = at_start

    def flush() -> None:
        nonlocal current
        while current and (
            current[-1][1].lower() in _CONNECTORS
            or (current[-1][1].lower() in _TAIL_NOT_NAMES and not current[-1][1].isupper())
        ):
            current.pop()
        while current and current[0][1].lower() in _CONNECTORS:
            current.pop(0)
        if current:
            out.append((current[0][0], tuple(t for _, t in current), titled, initial))
        current = []

    for index, (offset, raw_token) in enumerate(tokens):
        token = _clean(raw_token)
        bare = token.rstrip(".").lower()
        if not current and bare in NOT_NAMES and not (token.isupper() and len(token) > 1):
            initial = False  # "But Soros ..." : the next word is not sentence-initial
            continue
        if (
            bare == "of"
            and initial
            and len(current) == 1
            and current[0][1].lower() not in _OF_HEADS
        ):
            current = []  # "Shares of Goldman Sachs": a capitalised opener, not "X of Y"
            initial = False
            continue
        if bare in TITLES and token[0].isupper() and _is_title(tokens, index):
            flush()
            titled = True
            initial = False
            continue
        current.append((offset, token))
        if token.endswith(_POSSESSIVE_S):  # "Egypt's Hosni Mubarak": two names
            current[-1] = (offset, _strip_possessive(token))
            flush()
            titled = False
            initial = False
    flush()
    # (a segment of fewer than three tokens without "of" is one that neither split takes
    # apart: the segments as they are when all are such)
    if all(len(tokens) < 3 and "of" not in tokens for _, tokens, _, _ in out):
        return tuple(out)
    return tuple(
        part
        for segment in out
        for place_split in _split_leading_place(segment)
        for part in _split_of_place(place_split)
    )


def _word_segments(chunk: str, at_start: bool) -> tuple[Segment, ...]:
    """``_segments`` of a chunk of one word (no space: most distinct chunks, "McCain",
    "September", "Obama's"), without the machinery for many: a word after which nothing is
    cut, and which no split of a place takes apart (that needs three words, or "of")."""
    token = _clean(chunk)
    bare = token.rstrip(".").lower()
    if bare in NOT_NAMES and not (token.isupper() and len(token) > 1):
        return ()
    if bare in TITLES and token[0].isupper() and _is_title([(0, chunk)], 0):
        return ()
    if token.endswith(_POSSESSIVE[:2]):
        token = _strip_possessive(token)
    low = token.lower()
    if low in _CONNECTORS or (low in _TAIL_NOT_NAMES and not token.isupper()):
        return ()
    return ((0, (token,), False, at_start),)


def _split_leading_place(segment: Segment) -> tuple[Segment, ...]:
    """ "Liberia Charles Taylor", "Ehud Olmert Israel" (a dropped possessive or comma): a
    place and a person's name."""
    offset, tokens, titled, initial = segment
    if len(tokens) < 3 or "of" in tokens:
        return (segment,)
    for size in (2, 1):
        head = normalise(" ".join(tokens[:size]))
        last = tokens[-1].lower()
        if last in ORG_SUFFIXES or last in PLACE_SUFFIXES:
            break  # "Texas A&M University", "Gulf Coast Region"
        if (head in PLACES or head in ALIASES) and len(tokens) - size >= 2:
            rest_offset = offset + sum(len(t) + 1 for t in tokens[:size])  # ints
            return (offset, tokens[:size], False, initial), (
                rest_offset,
                tokens[size:],
                titled,
                False,
            )
    # "Ehud Olmert Israel": a person's name, then a place
    tail = normalise(tokens[-1])
    is_place = tail in PLACES or ALIASES.get(tail, "") in PLACES
    if is_place and tokens[0].lower() not in _OF_HEADS and len(tokens) == 3:
        tail_offset = offset + sum(len(t) + 1 for t in tokens[:-1])  # ints
        if _kind(normalise(" ".join(tokens[:-1])), tokens[:-1], titled) is K.PERSON:
            return (offset, tokens[:-1], titled, initial), (tail_offset, tokens[-1:], False, False)
    return (segment,)


def _split_of_place(segment: Segment) -> tuple[Segment, ...]:
    """ "Charles Taylor of Liberia" is a person and a place; "Bank of America" stays whole."""
    offset, tokens, titled, initial = segment
    if "of" not in tokens:
        return (segment,)
    cut = len(tokens) - 1 - tokens[::-1].index("of")
    head, tail = tokens[:cut], tokens[cut + 1 :]
    if not tail:
        return (segment,)
    tail_offset = offset + sum(len(t) + 1 for t in tokens[: cut + 1])  # ints
    if normalise(" ".join(head)) in PLACES:  # "Hague of Charles Taylor", "Sicily of Berlusconi"
        return (offset, head, False, initial), (tail_offset, tail, titled, False)
    if len(head) < 2 or normalise(" ".join(tail)) not in PLACES:
        return (segment,)
    last = head[-1].lower()
    if last in ORG_SUFFIXES or last in PLACE_SUFFIXES or head[0].lower() in ORG_HEADS:
        return (segment,)
    return (offset, head, titled, initial), (tail_offset, tail, False, False)


def _kind(key: str, tokens: tuple[str, ...], titled: bool) -> NameKind:
    if key in PLACES:
        return K.PLACE
    if key in ORGANISATIONS:
        return K.ORGANISATION
    words = key.split()
    head = words[: words.index("of")] if "of" in words[1:] else words
    if head[-1] in ORG_SUFFIXES or words[-1] in ORG_SUFFIXES or head[0] in ORG_HEADS:
        return K.ORGANISATION
    if len(words) > 1 and (words[-1] in PLACE_SUFFIXES or words[0] in PLACE_HEADS):
        return K.PLACE
    if words[-1] in OTHER_SUFFIXES:
        return K.OTHER
    if titled:
        return K.PERSON
    if len(tokens) == 1 and _is_acronym(tokens[0]):
        return K.ORGANISATION
    if 2 <= len(tokens) <= 4 and all(
        (t[0].isupper() and not (t.isupper() and len(t.rstrip(".")) > 1)) or t in _PARTICLES
        for t in tokens
    ):
        return K.PERSON
    return K.OTHER


def _resolve(surface: str, tokens: tuple[str, ...], titled: bool) -> tuple[str, NameKind] | None:
    key = normalise(surface)
    if key in ALIASES:
        if key.replace(" ", "").upper() in CASE_SENSITIVE_ALIASES and not surface.isupper():
            return None  # "Who", "Us": ordinary words
        canonical = ALIASES[key]
        return canonical, _kind(canonical, tokens, titled)
    if not key or key in NOT_NAMES:
        return None
    if all(w in _MONTHS_DAYS for w in key.split()):
        return None
    if key in DEMONYMS:
        return DEMONYMS[key], K.PLACE
    if key.endswith("s") and key[:-1] in DEMONYMS:  # "Palestinians", "Israelis"
        return DEMONYMS[key[:-1]], K.PLACE
    if len(tokens) > 1 and all(t.isupper() and len(t) > 1 for t in tokens):
        return None  # a heading in capitals: "THE NEW PARADIGM FOR FINANCIAL MARKETS"
    if len(tokens) == 1 and tokens[0].isupper() and len(tokens[0]) > 6:
        return None
    return key, _kind(key, tokens, titled)


# A mention as the reconciliation reads it: key, surface, tokens, kind, initial.
Mention = tuple[str, str, tuple[str, ...], NameKind, bool]
# A segment of a chunk: its offset, the one-word name it shows away from a sentence start
# (None: not one) and its mention (None: no name).
Analysed = tuple[int, str | None, Mention | None]


@lru_cache(maxsize=NAMES_MEMO_SIZE)
def _analyse(chunk: str, at_start: bool) -> tuple[Analysed, ...]:
    """Segments of a chunk as ``find_names`` reads them (cached per chunk: the same chunks
    ("The", "He said", "Obama") recur across articles)."""
    out: list[Analysed] = []
    segments = _segments(chunk, at_start) if " " in chunk else _word_segments(chunk, at_start)
    for offset, tokens, titled, initial in segments:
        surface = " ".join(tokens)
        resolved = _resolve(surface, tokens, titled)
        out.append(
            (
                offset,
                # (" ".join(_key_words(surface)): normalise joins its words by one space)
                normalise(surface) if not initial and len(tokens) == 1 else None,
                None if resolved is None else (resolved[0], surface, tokens, resolved[1], initial),
            )
        )
    return tuple(out)


Entry = tuple[int, str, str, tuple[str, ...], NameKind, bool]  # ..., kind, doubtful


def find_names(doc: Document) -> list[NameMention]:
    """Names of the article, alias-reconciled, ordered by first mention."""
    return [NameMention(canonical=canonical, display=display, kind=kind, count=count,
                        first_sentence=first_sentence)
            for canonical, display, kind, count, first_sentence in name_rows(doc)]


def name_rows(doc: Document) -> list[NameRow]:
    """``find_names`` as tuples, without a model a name (what story placement reads of the
    whole body of a long page: ``extractor.clustering_name_rows``, 1,497 names on a 671 kB
    page, whose models cost ~3 ms)."""
    text = doc.text
    # A long page repeats its chunks (a 671 kB page: 15,688 chunks, 3,347 distinct): each
    # distinct chunk (at a sentence start or not) is analysed at its first occurrence and
    # each further one only counted. Its mentions are then groups of identical mentions,
    # each read at the position of its first and counted as all of them (``_reconciled``).
    # The distinct chunks in order of first occurrence, with where that is and their
    # segments; how often each occurs (slot 0: the chunks without a mention, not read).
    firsts: list[tuple[int, tuple[Analysed, ...]]] = [(0, ())]
    occurrences: list[int] = [0]
    inside: set[str] = set()  # one-word names seen away from a sentence start
    # chunk -> its slot: off a sentence start, at one
    inner: dict[str, int] = {}
    opening: dict[str, int] = {}
    for m in CHUNK.finditer(text):
        chunk = m.group()
        start = m.start()
        before = text[start - 1] if start else "\n"
        if before == "\n" or (before in _OPENERS and (start < 2 or text[start - 2] == "\n")):
            at_start, slots = True, opening
        else:
            at_start, slots = False, inner
        slot = slots.get(chunk)
        if slot is not None:
            occurrences[slot] += 1
            continue
        slot = 0
        # most chunks are a capitalised "The", "He", "But": no name in them
        if " " in chunk or chunk.isupper() or chunk.rstrip(".").lower() not in NOT_NAMES:
            segments = _analyse(chunk, at_start)
            for _, word, _ in segments:
                if word is not None:
                    inside.add(word)
            if any(mention is not None for _, _, mention in segments):
                slot = len(firsts)
                firsts.append((start, segments))
                occurrences.append(1)
        slots[chunk] = slot
    # the mentions in order of position (a chunk's segments come in order, and the chunks)
    mentions: list[tuple[int, str, str, tuple[str, ...], NameKind, bool]] = []
    counts: list[int] = []
    for (start, segments), count in zip(firsts[1:], occurrences[1:], strict=True):
        for offset, _, mention in segments:
            if mention is not None:
                mentions.append((start + offset, *mention))
                counts.append(count)
    return _reconciled(doc, mentions, counts, inside)


def _reconciled(
    doc: Document,
    mentions: list[tuple[int, str, str, tuple[str, ...], NameKind, bool]],
    counts: list[int],
    inside: set[str],
) -> list[NameRow]:
    """The names of ``find_names`` from groups of identical mentions: the first of each
    (position, key, surface, tokens, kind, initial) in order of position, and how many
    there are. Each rule below reads a mention by what it is, or by its position only where
    it is the first of its kind, so a group is read as its first mention and counted as
    all of them, however the identical mentions are grouped (one group per chunk here)."""
    order: list[Entry] = []
    for position, key, surface, tokens, kind, initial in mentions:
        # A one-word name only ever seen opening a sentence may be an ordinary word ("Ships
        # were ..."): kept only if it is known or stands for a person's full name below.
        doubtful = (
            initial
            and len(tokens) == 1
            and normalise(surface) not in inside
            and key not in inside
            and not _known(surface)
        )
        order.append((position, key, surface, tokens, kind, doubtful))

    # Full names first, so that lone surnames and acronyms can be mapped onto them.
    full: dict[str, tuple[int, NameKind]] = {}
    for position, key, _, tokens, kind, _ in order:
        if len(tokens) > 1 and key not in full:
            full[key] = (position, kind)
    lone_map = _lone_word_map(order, full)

    seen: dict[str, _Seen] = {}
    for (position, key, surface, tokens, kind, doubtful), count in zip(order, counts, strict=True):
        if doubtful and key not in lone_map:
            continue
        target = lone_map.get(key, key) if len(tokens) == 1 else key
        entry = seen.get(target)
        if entry is None:
            target_kind = full[target][1] if target in full else kind
            entry = seen[target] = _Seen(target, surface, target_kind, len(tokens), position)
            if count == 1:
                continue
            count -= 1  # the group's other mentions, read as below (the first names it)
        entry.count += count
        if kind is K.PERSON and entry.kind is K.OTHER:
            entry.kind = kind
        if (len(tokens), len(surface)) > (entry.tokens, len(entry.surface)):
            entry.surface, entry.tokens = surface, len(tokens)

    out: list[NameRow] = []
    for entry in sorted(seen.values(), key=lambda e: (e.position, e.key)):
        sentence, _ = doc.locate(entry.position)
        out.append((entry.key, entry.surface, entry.kind, entry.count, sentence))
    return out


def _initials(key: str) -> str:
    return "".join(w[0] for w in key.split() if w not in ("of", "the", "and", "for", "&"))


def _lone_word_map(order: list[Entry], full: dict[str, tuple[int, NameKind]]) -> dict[str, str]:
    """Lone words (surnames, short org names, acronyms) -> key of the full name they stand for.

    A doubtful word (only seen opening sentences) may only stand for a person: "Kim" is
    Kim Jong Un, but a sentence-initial "World" is not the World Health Organization."""
    by_word: dict[str, list[tuple[int, str]]] = {}
    by_initials: dict[str, list[tuple[int, str]]] = {}
    for key, (position, kind) in full.items():
        words = key.split()
        if kind in (K.PERSON, K.OTHER):
            # first word ("Kim"), or any tail ("Strauss-Kahn" of "Dominique Strauss-Kahn")
            tails = {" ".join(words[i:]) for i in range(1, len(words))}
            for word in sorted(tails | {words[0]}):
                by_word.setdefault(word, []).append((position, key))
        elif kind is K.ORGANISATION:
            by_word.setdefault(words[0], []).append((position, key))
        if len(words) > 2:
            by_initials.setdefault(_initials(key), []).append((position, key))
    out: dict[str, str] = {}
    for position, key, _, tokens, _, doubtful in order:
        if len(tokens) != 1 or key in out or key in full:
            continue
        if key in PLACES or key in ORGANISATIONS:
            continue
        candidates = by_word.get(key, [])
        if doubtful:
            candidates = [c for c in candidates if full[c[1]][1] is not K.ORGANISATION]
        if not candidates and _is_acronym(tokens[0]):
            candidates = by_initials.get(key, [])
        if not candidates:
            continue
        # The most recent full name before this mention, else the first one after it.
        before = [c for c in candidates if c[0] < position]
        out[key] = max(before)[1] if before else min(candidates)[1]
    return out
