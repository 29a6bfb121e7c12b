"""extract_facts: the entry point, its determinism, and its behaviour on the dev corpora."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.events import ArticleReceived
from storyline.domain.extract.extractor import EXTRACTOR_VERSION, extract_facts
from storyline.domain.extract.text import analysed_part, split_sentences
from storyline.domain.extract.tuning import EXTRACT
from storyline.domain.facts import ArticleFacts

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
DATA = SHARED / "data"


def article(
    body: str, published: str = "2025-12-15T09:00:00+00:00", **kw: object
) -> ArticleReceived:
    return ArticleReceived(
        uri=str(kw.get("uri", "urn:test:1")),
        version=1,
        source="Test Wire",
        headline=kw.get("headline"),  # type: ignore[arg-type]
        body=body,
        published=dt.datetime.fromisoformat(published),
    )


BODY = (
    "North Korean leader Kim Jong Un welcomed the engineers home on Friday.\n"
    "More than 11,000 troops were sent to Russia's Kursk region since October 2024. "
    "About 3,000 of those fighters have returned, the DPRK said.\n"
    "Kim honoured nine engineers killed in Kursk."
)


def test_facts_of_an_article() -> None:
    facts = extract_facts(article(BODY, headline="Kim welcomes troops"))
    assert facts.uri == "urn:test:1"
    assert facts.version == 1
    assert facts.extractor_version == EXTRACTOR_VERSION
    assert facts.sentences == (
        "North Korean leader Kim Jong Un welcomed the engineers home on Friday.",
        "More than 11,000 troops were sent to Russia's Kursk region since October 2024.",
        "About 3,000 of those fighters have returned, the DPRK said.",
        "Kim honoured nine engineers killed in Kursk.",
    )
    assert [(d.text, d.span.start.isoformat(), d.sentence) for d in facts.dates] == [
        ("Friday", "2025-12-12", 0),
        ("October 2024", "2024-10-01", 1),
    ]
    assert [(f.text, f.value, f.unit, f.sentence) for f in facts.figures] == [
        ("More than 11,000 troops", 11000.0, "troops", 1),
        ("About 3,000", 3000.0, "fighters", 2),
        ("nine engineers", 9.0, "engineers", 3),
    ]
    by_key = {n.canonical: n for n in facts.names}
    assert by_key["north korea"].count == 2  # "North Korean", "DPRK"
    assert by_key["kim jong un"].count == 2  # "Kim Jong Un", "Kim"
    assert by_key["kursk"].count == 2
    assert [n.first_sentence for n in facts.names] == sorted(n.first_sentence for n in facts.names)


def test_headline_is_not_a_sentence() -> None:
    facts = extract_facts(article("One line.", headline="A headline on Monday"))
    assert facts.sentences == ("One line.",)
    assert facts.dates == ()


def test_paragraph_bodies_are_split_into_sentences() -> None:
    body = "  The Fed met on Monday.  Mr. Bernanke spoke at 2 p.m. in Washington. Rates held.\n\n"
    assert split_sentences(body) == (
        "The Fed met on Monday.",
        "Mr. Bernanke spoke at 2 p.m. in Washington.",
        "Rates held.",
    )


def test_same_article_same_facts() -> None:
    a = article(BODY)
    assert extract_facts(a) == extract_facts(a.model_copy())
    assert extract_facts(a).model_dump_json() == extract_facts(a).model_dump_json()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *" .,'\n$%-",
                *("Kim", "Jong", "Un", "said", "on", "Monday", "Dec.", "12", "2025", "in"),
                *("more than", "troops", "U.S.", "The", "last week", "11,000", "billion"),
            ]
        ),
        max_size=50,
    ).map("".join),
    st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2060, 1, 1)),
)
def test_never_crashes_and_offsets_slice_back(body: str, when: dt.datetime) -> None:
    a = article(body, published=when.replace(tzinfo=dt.UTC).isoformat())
    facts = extract_facts(a)
    assert facts == extract_facts(a)
    for d in facts.dates:
        assert facts.sentences[d.sentence][d.char_start : d.char_end] == d.text
    for f in facts.figures:
        assert f.text in facts.sentences[f.sentence]
    keys = [(d.sentence, d.char_start) for d in facts.dates]
    assert keys == sorted(keys)


# ---------------------------------------------------------------------------------------------
# Dev corpora (skipped without ../shared).


def _articles(name: str, limit: int) -> Iterator[ArticleReceived]:
    path = DATA / name / "articles.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    with path.open(encoding="utf-8") as lines:
        for i, line in enumerate(lines):
            if i >= limit:
                return
            item = json.loads(line)
            body = next(b["value"] for b in item["bodies"] if b.get("role") == "main")
            yield ArticleReceived(
                uri=item["uri"],
                version=int(item["version"]),
                source=item["infosources"][0]["name"],
                body=body,
                published=dt.datetime.fromisoformat(item["versioncreated"]),
            )


def _facts(name: str, limit: int) -> list[ArticleFacts]:
    return [extract_facts(a) for a in _articles(name, limit)]


def test_timeline17_articles_yield_dates_names_and_figures() -> None:
    facts = _facts("timeline17-dev", 300)
    with_dates = sum(1 for f in facts if f.dates)
    assert with_dates / len(facts) > 0.9
    assert sum(1 for f in facts if f.names) / len(facts) > 0.95
    assert sum(1 for f in facts if f.figures) / len(facts) > 0.6
    for f in facts:
        for d in f.dates:
            assert f.sentences[d.sentence][d.char_start : d.char_end] == d.text


def test_timeline17_stated_dates_are_near_publication() -> None:
    """Most stated day-precision dates fall within a year of publication: years are inferred
    right and detokenised forms ("Jan . 5 , 2010") are read."""
    published = {a.uri: a.published.date() for a in _articles("timeline17-dev", 300)}
    near = total = 0
    for f in _facts("timeline17-dev", 300):
        for d in f.dates:
            if d.stated and d.span.precision.value == "day":
                total += 1
                near += abs((d.span.start - published[f.uri]).days) <= 366
    assert total > 450  # 491 from the analysed parts (more with the pages' comments)
    assert near / total > 0.85


def test_entities_names_reconcile_the_gold_entities() -> None:
    """The entity a gold story is about is found under one key in most of its articles."""
    facts = _facts("entities-dev", 400)
    keys = ("charles taylor", "dilma rousseff", "dmitry medvedev", "ehud olmert", "chris brown")
    hits = sum(1 for f in facts if any(n.canonical in keys for n in f.names))
    assert hits / len(facts) > 0.7


def test_output_does_not_depend_on_hash_seed() -> None:
    """Set and dict iteration order must not shape facts: compare interpreter runs."""
    script = (
        "import datetime as dt, sys\n"
        "from storyline.domain.events import ArticleReceived\n"
        "from storyline.domain.extract.extractor import extract_facts\n"
        "a = ArticleReceived(uri='u', version=1, source='s', body=sys.stdin.read(),\n"
        "    published=dt.datetime(2025, 12, 15, tzinfo=dt.UTC))\n"
        "print(extract_facts(a).model_dump_json())\n"
    )
    body = BODY + "\nLehman Brothers and Lehman, the IMF, the U.S. and Dominique Strauss-Kahn."
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            input=body,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert "lehman brothers" in outputs.pop()


@pytest.mark.parametrize(
    "line",
    ["Jan . 5 , 2010 - ", "Mr. Smith met Dr. Jones on Monday . ", "on Monday it will rain . "],
)
def test_a_huge_one_line_body_takes_linear_time(line: str) -> None:
    """Look-backs are bounded: a quadratic scan took ~35 s on this 170 kB line. CPU time, so
    the guard does not depend on how loaded the machine is (wall time did: 15 s at load 8)."""
    body = line * (170_000 // len(line))
    started = time.process_time()
    facts = extract_facts(article(body))
    assert time.process_time() - started < 5.0
    assert facts.dates


@given(st.lists(st.text(alphabet="ab. \n", min_size=0, max_size=40), max_size=30),
       st.integers(min_value=1, max_value=300))
def test_the_analysed_part_is_a_prefix_ended_where_a_sentence_or_word_ends(
        pieces: list[str], limit: int) -> None:
    body = "".join(pieces)
    part = analysed_part(body, limit)
    assert body.startswith(part) and len(part) <= limit
    if len(body) <= limit:
        assert part == body
    elif any(c in body[limit // 2:limit + 1] for c in " \n"):
        assert body[len(part)] in " \n"  # the cut falls on a boundary, no word cut in two
        assert len(part) >= limit // 2


def test_facts_come_from_the_first_analysed_chars_of_a_long_body() -> None:
    """A web page longer than the analysed part, reader comments after its story: its facts
    stop at the analysed part (ended at a sentence's end), the sentences of the part are
    the same as the whole body's first sentences, and a body within the limit is analysed
    whole."""
    lead = "Rescuers found the two missing climbers on Sunday, police said.\n"
    comment = ("Posted by: reader | September 24, 2008 5:42 PM | Report abuse "
               "Another 1,200 homes were flooded on Monday.\n")
    body = lead + comment * (EXTRACT.analysed_chars // len(comment) + 50)
    whole = split_sentences(body)
    facts = extract_facts(article(body))
    kept = len(analysed_part(body, EXTRACT.analysed_chars))
    assert EXTRACT.analysed_chars // 2 <= kept <= EXTRACT.analysed_chars
    assert 0 < len(facts.sentences) < len(whole)
    assert list(facts.sentences) == list(whole[:len(facts.sentences)])
    assert sum(len(s) + 1 for s in facts.sentences) <= kept + 1
    short = lead + comment * 3
    assert len(extract_facts(article(short)).sentences) == len(split_sentences(short))


def test_placement_reads_the_whole_bodys_names_as_rows_as_it_reads_them_as_facts() -> None:
    """The extract stage hands placement a long page's whole-body names as rows
    (``clustering_name_rows``), without a model a name: the features are those made from
    ``clustering_facts``, whose names are those of ``find_names`` on the whole body; a body
    within the analysed part has no rows (its facts' names are read)."""
    from storyline.domain.assign.clustering import clustering_features
    from storyline.domain.extract.extractor import clustering_facts, clustering_name_rows
    from storyline.domain.extract.names import find_names
    from storyline.domain.extract.text import Document

    lead = "President Barack Obama met Gordon Brown in London on Sunday, police said.\n"
    comment = ("Posted by: Jim Smith | September 24, 2008 5:42 PM | Report abuse "
               "Obama and Senator John McCain of Arizona spoke to Reuters.\n")
    tail = "Late comment: Sarah Palin and Joe Biden debated in St. Louis.\n"
    body = lead + comment * (EXTRACT.analysed_chars // len(comment) + 50) + tail
    long = article(body)
    facts = extract_facts(long)
    rows = clustering_name_rows(long)
    assert rows is not None
    whole = clustering_facts(long, facts)
    assert whole.names == tuple(find_names(Document(split_sentences(body))))
    assert {"sarah palin", "joe biden"} <= {name.canonical for name in whole.names}
    assert clustering_features(long, facts, rows) == clustering_features(long, whole)
    short = article(lead + comment * 3)
    assert clustering_name_rows(short) is None
    short_facts = extract_facts(short)
    assert clustering_facts(short, short_facts) is short_facts
