"""Figures: value, qualifier, unit and subject of numbers in news sentences."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.extract.figures import find_figures
from storyline.domain.extract.temporal import find_dates
from storyline.domain.extract.text import Document, split_sentences
from storyline.domain.facts import Figure
from storyline.domain.facts import Qualifier as Q


def figures(text: str) -> list[Figure]:
    doc = Document(split_sentences(text))
    spans = [
        (doc.starts[d.sentence] + d.char_start, doc.starts[d.sentence] + d.char_end)
        for d in find_dates(doc, date(2025, 12, 15))
    ]
    return find_figures(doc, spans)


CASES = [
    # sentence, text, value, qualifier, unit, subject
    (
        "Since then, more than 11,000 troops have been sent.",
        "more than 11,000 troops",
        11000.0,
        Q.MORE_THAN,
        "troops",
        "troops",
    ),
    (
        "More than 11,000 North Korean combat personnel have been sent.",
        "More than 11,000 North Korean combat personnel",
        11000.0,
        Q.MORE_THAN,
        "personnel",
        "North Korean combat personnel",
    ),
    ("Officials say about 3,000 returned.", "about 3,000", 3000.0, Q.ABOUT, "", "returned"),
    (
        "Approximately 3,000 of those fighters went home.",
        "Approximately 3,000",
        3000.0,
        Q.ABOUT,
        "fighters",
        "fighters",
    ),
    (
        "Kim honoured nine engineers killed in Kursk.",
        "nine engineers",
        9.0,
        Q.EXACTLY,
        "engineers",
        "engineers killed",
    ),
    (
        "It will make a $20 billion investment in Citigroup.",
        "$20 billion",
        2e10,
        Q.EXACTLY,
        "USD",
        "investment",
    ),
    (
        "Losses on $306 billion in troubled securities are guaranteed.",
        "$306 billion",
        3.06e11,
        Q.EXACTLY,
        "USD",
        "troubled securities",
    ),
    (
        "The well leaks 5,000 barrels of oil per day.",
        "5,000 barrels",
        5000.0,
        Q.EXACTLY,
        "barrels per day",
        "oil",
    ),
    (
        "The stock has lost 40 percent of its value.",
        "40 percent",
        40.0,
        Q.EXACTLY,
        "%",
        "value",
    ),
    ("Unemployment rose to 9.5% in May.", "9.5%", 9.5, Q.EXACTLY, "%", ""),
    ("At least 23 people were killed.", "At least 23 people", 23.0, Q.AT_LEAST, "people", "people"),
    ("Sears agreed to pay a $325,000 fine.", "$325,000", 325000.0, Q.EXACTLY, "USD", "fine"),
    ("Gas may cost $5 a gallon by 2012.", "$5 a gallon", 5.0, Q.EXACTLY, "USD per gallon", ""),
    ("Shares closed at $28.74 in New York trading.", "$28.74", 28.74, Q.EXACTLY, "USD", ""),
    ("BP made a loss of $17bn for the quarter.", "$17bn", 1.7e10, Q.EXACTLY, "USD", "loss"),
    (
        "It could make hundreds of billions of dollars in loans available.",
        "hundreds of billions of dollars",
        2e11,
        Q.AT_LEAST,
        "USD",
        "loans",
    ),
    ("Iceland received £3m from London.", "£3m", 3e6, Q.EXACTLY, "GBP", ""),
    ("The fund holds 20 billion euros.", "20 billion euros", 2e10, Q.EXACTLY, "EUR", ""),
    ("The Dow fell almost 800 points.", "almost 800 points", 800.0, Q.LESS_THAN, "points", ""),
    ("Dozens of people died.", "Dozens", 24.0, Q.AT_LEAST, "people", "people died"),
    (
        "Up to 2,500 workers may lose jobs.",
        "Up to 2,500 workers",
        2500.0,
        Q.AT_MOST,
        "workers",
        "workers",
    ),
    (
        "Some 1,000 engineers of the 528th Regiment left.",
        "Some 1,000 engineers",
        1000.0,
        Q.ABOUT,
        "engineers",
        "engineers",
    ),
]


@pytest.mark.parametrize(("sentence", "text", "value", "qualifier", "unit", "subject"), CASES)
def test_figure(
    sentence: str, text: str, value: float, qualifier: Q, unit: str, subject: str
) -> None:
    found = figures(sentence)
    assert len(found) == 1, [f.text for f in found]
    f = found[0]
    assert (f.text, f.value, f.qualifier, f.unit, f.subject) == (
        text,
        value,
        qualifier,
        unit,
        subject,
    )
    assert f.text in sentence
    assert f.sentence == 0


NOT_FIGURES = [
    "Kim welcomed them on Dec 12, 2025 in Pyongyang.",  # a date
    "The 2010 budget was passed in 2009.",  # years
    "They met at 2pm and again at 6:30 p.m.",  # times
    "The 528th Regiment returned.",  # an ordinal
    "He listened to Radio 3 all night.",  # a bare number, nothing counted
    "The score was 3-1 after a five - day battle and a 30-year ban.",  # scores, compounds
    "One of them said ten to one it fails.",  # number words with nothing counted
]


@pytest.mark.parametrize("sentence", NOT_FIGURES)
def test_not_a_figure(sentence: str) -> None:
    assert figures(sentence) == []


def test_percent_of_a_counted_group() -> None:
    found = figures("Settlements house 90% of the 400,000 Jews there.")
    assert [(f.text, f.unit, f.subject) for f in found] == [
        ("90%", "%", "Jews"),
        ("400,000 Jews", "jews", "Jews"),
    ]


def test_figures_follow_sentence_order() -> None:
    found = figures("About 50 people fled.\nLater 12 soldiers and 3 tanks arrived.")
    assert [(f.sentence, f.text) for f in found] == [
        (0, "About 50 people"),
        (1, "12 soldiers"),
        (1, "3 tanks"),
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *"0123456789 ,.$£%-\n",
                *("million", "bn", "m", "more than", "about", "of", "the", "troops"),
                *("people", "percent", "barrels", "per day", "nine", "dozens", "killed"),
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_never_crashes_and_is_deterministic(text: str) -> None:
    doc = Document(split_sentences(text))
    found = find_figures(doc, [])
    assert found == find_figures(doc, [])
    for f in found:
        assert f.text in doc.sentences[f.sentence]
        assert f.value >= 0
