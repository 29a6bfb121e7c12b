"""The whole body's sentence split and names, as computed fast, against their definitions.

``split_sentences`` scans the whole body at once and ``find_names`` reads each distinct
chunk once per article, counting its repeats: both must give exactly what the definitions
give (``split_sentences_by_line``; ``_find_names_by_mention`` below, find_names as it read
every mention), on random text built to hit their cases and on the dev corpora's bodies.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.extract import names as N
from storyline.domain.extract.gazetteer import NOT_NAMES, TITLES
from storyline.domain.extract.text import (
    OTHER_WHITESPACE,
    Document,
    collapsed_lines,
    split_sentences,
    split_sentences_by_line,
    wordset,
)
from storyline.domain.facts import NameKind, NameMention
from storyline.ingest.files import iter_file

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _find_names_by_mention(doc: Document) -> list[NameMention]:
    """``find_names`` as it was written before its mentions were grouped: every chunk
    analysed (uncached), every mention read one by one."""
    text = doc.text
    raw: list[tuple[int, str, str, tuple[str, ...], NameKind, bool]] = []
    inside: set[str] = set()
    for m in N.CHUNK.finditer(text):
        chunk = m.group()
        if " " not in chunk and not chunk.isupper() and chunk.rstrip(".").lower() in NOT_NAMES:
            continue
        start = m.start()
        before = text[start - 1] if start else "\n"
        at_start = before == "\n" or (
            before in N._OPENERS and (start < 2 or text[start - 2] == "\n"))
        for offset, tokens, titled, initial in N._segments(chunk, at_start):
            surface = " ".join(tokens)
            if not initial and len(tokens) == 1:
                inside.add(" ".join(N._key_words(surface)))
            resolved = N._resolve(surface, tokens, titled)
            if resolved is not None:
                raw.append((start + offset, resolved[0], surface, tokens, resolved[1], initial))
    order: list[N.Entry] = []
    for position, key, surface, tokens, kind, initial in raw:
        doubtful = (initial and len(tokens) == 1 and N.normalise(surface) not in inside
                    and key not in inside and not N._known(surface))
        order.append((position, key, surface, tokens, kind, doubtful))
    full: dict[str, tuple[int, NameKind]] = {}
    for position, key, _, tokens, kind, _ in order:
        if len(tokens) > 1 and key not in full:
            full[key] = (position, kind)
    lone_map = N._lone_word_map(order, full)
    seen: dict[str, N._Seen] = {}
    for position, key, surface, tokens, kind, doubtful in order:
        if doubtful and key not in lone_map:
            continue
        target = lone_map.get(key, key) if len(tokens) == 1 else key
        entry = seen.get(target)
        if entry is None:
            target_kind = full[target][1] if target in full else kind
            seen[target] = N._Seen(target, surface, target_kind, len(tokens), position)
            continue
        entry.count += 1
        if kind is NameKind.PERSON and entry.kind is NameKind.OTHER:
            entry.kind = kind
        if (len(tokens), len(surface)) > (entry.tokens, len(entry.surface)):
            entry.surface, entry.tokens = surface, len(tokens)
    return [
        NameMention(canonical=e.key, display=e.surface, kind=e.kind, count=e.count,
                    first_sentence=doc.locate(e.position)[0])
        for e in sorted(seen.values(), key=lambda e: (e.position, e.key))
    ]


def _same_everywhere(body: str) -> None:
    sentences = split_sentences(body)
    assert sentences == split_sentences_by_line(body)
    doc = Document(sentences)
    assert N.find_names(doc) == _find_names_by_mention(doc)


# Words and marks that make boundaries, abbreviations, seams, names, titles, links,
# possessives and sentence openers; names recur, as on a long page.
_WORDS = sorted(wordset(
    "Mr. Dr. U.S. U.S Sen. No. 5 W. Inc. a.m. p.m. St. the of the of and said he she it "
    "The A An This He She They It Its Two Ten influenza type A But However On In "
    "Obama Barack Kim Jong-un Jong Un Kim's Egypt Egypt's Hosni Mubarak President Minister "
    "Foreign Health Bank America Charles Taylor Liberia Strauss - Kahn BP DPRK KCNA Korean "
    "Central News Agency North Korea Monday May Goldman Sachs Shares United Nations UN "
    "Washington-based Google-driven Who US World Health Organization WHO Israel Ehud Olmert "
    "de van bin al & for . .. ... ! ? ?! .\" !\" ?' .) .] ,\" \" “ ” ‘ ’ ( [ ' 1 2009 10 x "
    "dogs ran fell"
))
_GAPS = (" ", " ", " ", " ", " ", "\n", "\n", "  ", "\n\n", " \n", "\t", "\xa0", "\u2028", "\r\n")

_bodies = st.lists(st.tuples(st.sampled_from(_WORDS), st.sampled_from(_GAPS)),
                   max_size=120).map(lambda parts: "".join(w + g for w, g in parts))


@settings(max_examples=600, deadline=None)
@given(_bodies, st.booleans())
def test_random_bodies_split_and_name_as_defined(body: str, trim: bool) -> None:
    _same_everywhere(body.strip() if trim else body)


@settings(max_examples=300, deadline=None)
@given(_bodies)
def test_collapsed_lines_are_the_lines_collapsed(body: str) -> None:
    expected = "\n".join(
        line for line in (" ".join(raw.split()) for raw in body.splitlines()) if line)
    assert collapsed_lines(body) == expected
    assert collapsed_lines(expected) is expected  # already collapsed: as it is


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_splits_and_names_as_defined(body: str) -> None:
    _same_everywhere(body)


@settings(max_examples=300, deadline=None)
@given(_bodies)
def test_the_chunk_scan_finds_the_chunks_of_the_plain_pattern(body: str) -> None:
    plain = re.compile(N.CHUNK_PATTERN)
    text = collapsed_lines(body)
    assert [m.span() for m in N.CHUNK.finditer(text)] == [
        m.span() for m in plain.finditer(text)]


def test_other_whitespace_is_what_the_interpreter_takes_for_whitespace() -> None:
    everything = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert set(OTHER_WHITESPACE) == everything - {" ", "\n"}
    assert len(OTHER_WHITESPACE) == len(set(OTHER_WHITESPACE))


def test_a_repeated_name_counts_every_mention_and_keeps_its_first_sentence() -> None:
    body = "\n".join(["He met Obama.", "Barack Obama spoke.", "Obama left.", "He met Obama."] * 3)
    doc = Document(split_sentences(body))
    found = {n.canonical: n for n in N.find_names(doc)}
    assert found["barack obama"].count == 12
    assert found["barack obama"].first_sentence == 0
    assert N.find_names(doc) == _find_names_by_mention(doc)


def _bodies_of(name: str) -> Iterator[str]:
    """The dev articles' bodies as the product reads them (its ninjs parser)."""
    path = DATA / name / "articles.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    for item in iter_file(path):
        assert item.article is not None, item.error
        yield item.article.body


@pytest.mark.parametrize("name", ["timeline17-dev", "entities-dev"])
def test_dev_bodies_split_and_name_as_defined(name: str) -> None:
    bodies = list(_bodies_of(name))
    longest = sorted(range(len(bodies)), key=lambda i: (-len(bodies[i]), i))[:6]
    for i in sorted(set(range(0, len(bodies), 10)) | set(longest)):
        _same_everywhere(bodies[i])


def test_a_repeated_mention_that_names_a_person_turns_its_full_name_into_one() -> None:
    # "Kahn", twice after a title (a person), stands for a five-word name (other): the
    # name becomes a person's, as it did when each mention was read.
    body = "Minister Kahn spoke.\nMinister Kahn left.\nThen Ehud Olmert Barack Hosni Kahn came."
    doc = Document(split_sentences(body))
    found = N.find_names(doc)
    assert found == _find_names_by_mention(doc)
    assert [(n.canonical, n.kind, n.count) for n in found] == [
        ("ehud olmert barack hosni kahn", NameKind.PERSON, 3)]


_GAZETTEER_WORDS = sorted(w for w in TITLES | NOT_NAMES | N._CONNECTORS | N._TITLE_MODIFIERS
                          if " " not in w)
_one_words = st.one_of(
    st.builds(lambda first, rest, end: first + rest + end, st.sampled_from("ABKMOSUW"),
              st.text(alphabet="abekmnorsuAKS.'’&-0", max_size=8),
              st.sampled_from(["", ".", "'s", "’s", "'", "’", "-based", "-led", "s."])),
    st.sampled_from(_GAZETTEER_WORDS).flatmap(
        lambda w: st.sampled_from([w.capitalize(), w.upper(), w.capitalize() + ".",
                                   w.capitalize() + "'s"])),
).filter(lambda c: re.fullmatch(N.CHUNK_PATTERN, c) is not None)


@settings(max_examples=1000, deadline=None)
@given(_one_words, st.booleans())
def test_a_one_word_chunk_is_cut_as_any_chunk(chunk: str, at_start: bool) -> None:
    assert N._word_segments(chunk, at_start) == N._segments(chunk, at_start)


@pytest.mark.parametrize("word", ["The", "THE", "President", "Minister", "Former", "La", "De",
                                  "Obama's", "Egypt’s", "U.S.", "Inc.", "Sen.", "W.", "May",
                                  "Will", "New", "Monday", "Google-driven", "Strauss-Kahn",
                                  "O'Brien'", "A-based", "Of", "AND", "KCNA", "Who"])
@pytest.mark.parametrize("at_start", [False, True])
def test_one_word_chunks_of_each_rule_are_cut_as_any_chunk(word: str, at_start: bool) -> None:
    assert N._word_segments(word, at_start) == N._segments(word, at_start)


def _clean_by_definition(token: str) -> str:
    """``names._clean`` as it was written (the suffixes looked for in every token)."""
    token = token.rstrip("'’")
    if token.endswith(N._HYPHEN_SUFFIXES):
        token = token[: token.rindex("-")]
    if not token.endswith(".") or len(token) == 2 or "." in token[:-1]:
        return token
    if token[:-1].lower() in TITLES or token[:-1].lower() in N.ABBREVIATIONS:
        return token
    return token[:-1]


def _segments_by_definition(chunk: str, at_start: bool) -> tuple[N.Segment, ...]:
    """``names._segments`` as it was written: the words found by a regex and joined across
    a " - " link, both splits of a place tried on every segment."""
    tokens: list[tuple[int, str]] = []
    for m in re.finditer(r"[^ ]+", chunk):
        if tokens and tokens[-1][1].endswith("-") and tokens[-1][1] != "-":
            tokens[-1] = (tokens[-1][0], tokens[-1][1] + m.group())
        elif m.group() == "-" and tokens:
            tokens[-1] = (tokens[-1][0], tokens[-1][1] + "-")
        else:
            tokens.append((m.start(), m.group()))
    out: list[N.Segment] = []
    current: list[tuple[int, str]] = []
    titled = False
    initial = at_start

    def flush() -> None:
        nonlocal current
        while current and (
            current[-1][1].lower() in N._CONNECTORS
            or (current[-1][1].lower() in N._TAIL_NOT_NAMES and not current[-1][1].isupper())
        ):
            current.pop()
        while current and current[0][1].lower() in N._CONNECTORS:
            current.pop(0)
        if current:
            out.append((current[0][0], tuple(t for _, t in current), titled, initial))
        current = []

    for index, (offset, raw_token) in enumerate(tokens):
        token = _clean_by_definition(raw_token)
        bare = token.rstrip(".").lower()
        if not current and bare in NOT_NAMES and not (token.isupper() and len(token) > 1):
            initial = False
            continue
        if (bare == "of" and initial and len(current) == 1
                and current[0][1].lower() not in N._OF_HEADS):
            current = []
            initial = False
            continue
        if bare in TITLES and token[0].isupper() and N._is_title(tokens, index):
            flush()
            titled = True
            initial = False
            continue
        current.append((offset, token))
        if token.endswith(("'s", "’s")):
            current[-1] = (offset, N._strip_possessive(token))
            flush()
            titled = False
            initial = False
    flush()
    return tuple(part for segment in out for place_split in N._split_leading_place(segment)
                 for part in N._split_of_place(place_split))


def _chunks_are_cut_as_defined(text: str) -> None:
    for chunk in dict.fromkeys(m.group() for m in N.CHUNK.finditer(text)):
        for at_start in (False, True):
            assert N._segments(chunk, at_start) == _segments_by_definition(chunk, at_start), (
                chunk, at_start)
            assert N._clean(chunk) == _clean_by_definition(chunk)


@settings(max_examples=600, deadline=None)
@given(_bodies)
def test_random_chunks_are_cut_as_defined(body: str) -> None:
    _chunks_are_cut_as_defined(collapsed_lines(body))


@pytest.mark.parametrize("chunk", ["Strauss - Kahn", "Dominique Strauss - Kahn of France",
                                   "Liberia Charles Taylor", "Ehud Olmert Israel",
                                   "Charles Taylor of Liberia", "Bank of America",
                                   "Shares of Goldman Sachs", "Washington-based Google-driven",
                                   "Egypt's Hosni Mubarak", "Health Minister Ana Ruiz",
                                   "Texas A&M University", "The", "U.S."])
def test_chunks_of_each_rule_are_cut_as_defined(chunk: str) -> None:
    _chunks_are_cut_as_defined(chunk)


@pytest.mark.parametrize("name", ["timeline17-dev", "entities-dev"])
def test_dev_chunks_are_cut_as_defined(name: str) -> None:
    bodies = list(_bodies_of(name))
    longest = sorted(range(len(bodies)), key=lambda i: (-len(bodies[i]), i))[:6]
    for i in sorted(set(range(0, len(bodies), 5)) | set(longest)):
        _chunks_are_cut_as_defined(collapsed_lines(bodies[i]))
