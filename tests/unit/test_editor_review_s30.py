"""An editor's review of the dev sets' pages, session 30 (issue #13, core-25 / extract-22).

Each sentence is written for the test, not taken from a corpus; each test fails on
core-24 / extract-21."""

from __future__ import annotations

from datetime import UTC, date, datetime

from storyline.domain.events import ArticleReceived, TimelineEntry
from storyline.domain.extract.analysis import _eligible, is_boilerplate, strip_dateline, tokens
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.extract.text import is_dated_caption
from storyline.domain.extract.timeline_text import trim_statement
from storyline.domain.facts import CitedArticle
from storyline.domain.page.timeline import TimelineIndex
from storyline.domain.page.title import _headline_like


def _cited(body: str, day: date, n: int) -> CitedArticle:
    article = ArticleReceived(uri=f"urn:s30:{n}", version=1, source=f"Outlet {n}",
                              headline=None, body=body,
                              published=datetime(day.year, day.month, day.day, 9, tzinfo=UTC))
    return CitedArticle(n=n, uri=article.uri, version=1, source=article.source, headline=None,
                        published=article.published, facts=extract_facts(article))


def _timeline(*articles: CitedArticle) -> list[TimelineEntry]:
    index = TimelineIndex()
    for article in articles:
        index.add(article)
    return index.entries(10)



# 2. A caption's day is the day its picture was taken: two pictures are no disagreement.

def test_two_captions_of_other_days_are_no_date_conflict() -> None:
    (entry,) = _timeline(
        _cited("Divers and a crane barge work around the sunken ferry at the Veldt quay on "
               "March 12.", date(2026, 3, 13), 1),
        _cited("Divers and a crane barge work around the sunken ferry at the Veldt quay March "
               "10.", date(2026, 3, 14), 2),
        _cited("Divers and a crane barge worked around the sunken ferry at the Veldt quay on "
               "March 12, the harbour board said.", date(2026, 3, 13), 3))
    assert entry.date == date(2026, 3, 12)
    assert entry.conflicts == ()


def test_two_reports_of_other_days_still_disagree() -> None:
    (entry,) = _timeline(
        _cited("Divers and a crane barge raised the sunken ferry at the Veldt quay on March "
               "12.", date(2026, 3, 13), 1),
        _cited("Divers and a crane barge raised the sunken ferry at the Veldt quay on March "
               "10.", date(2026, 3, 14), 2),
        _cited("Divers and a crane barge raised the sunken ferry at the Veldt quay on March "
               "12, the harbour board said.", date(2026, 3, 13), 3))
    assert {c.value for c in entry.conflicts} == {"Mar 12, 2026", "Mar 10, 2026"}


# 3. A caption is no title, even without a position word.

def test_a_dated_present_tense_caption_is_no_title_nor_summary_sentence() -> None:
    caption = "Ferry crews protest outside the harbour office in Veldt, Carrow, on Sunday."
    assert is_dated_caption(caption)
    assert is_boilerplate(caption)
    assert _headline_like(caption) is None
    assert not _eligible(caption, tokens(caption))
    # a report of the same, in the past tense, is news; a headline ahead of its day too
    report = "Ferry crews protested outside the harbour office in Veldt, Carrow, on Sunday."
    assert not is_dated_caption(report)
    assert _headline_like(report) == (report.rstrip("."), 1.0)
    assert not is_dated_caption("Ferry crews to protest outside the harbour office on Sunday")


# 4. A wire's dateline on a line of its own is no summary sentence (nor its label).

def test_a_dateline_alone_is_no_summary_sentence() -> None:
    dateline = "VELDT, Carrow | Tue Mar 10, 2026 9:33 am EDT VELDT, Carrow (Reuters Life!)"
    assert not _eligible(dateline, tokens(dateline))
    lead = ("VELDT, Carrow (Reuters) - Ferry crews walked out at Veldt on Monday, and the "
            "harbour board said talks would resume.")
    text = strip_dateline(lead)
    assert text.startswith("Ferry crews walked out")
    assert _eligible(text, tokens(text))


# 6. A sentence that introduces a list is no summary sentence alone.

def test_a_sentence_ending_with_a_colon_is_no_summary_sentence() -> None:
    opener = ("For the past 18 months, whenever the harbour master has been away from Veldt, "
              "people have always wanted to know:")
    assert not _eligible(opener, tokens(opener))


# 7. A live blog's section heading is no part of its first entry.

def test_a_section_heading_is_taken_off_its_first_sentence() -> None:
    sentence = ("Preamble The harbour master, Ana Ruiz, is visiting the Veldt quay for her "
                "first meeting with the ferry crews since the strike began.")
    assert trim_statement(sentence).startswith("The harbour master, Ana Ruiz, is visiting")
    assert strip_dateline(sentence).startswith("The harbour master")
    # a word of the sentence is no heading: "Background checks ..."
    assert trim_statement("Background checks on the crews began in March.").startswith(
        "Background checks")


# 8. A date that is its sentence's subject stays: without it the entry has none.

def test_a_date_that_is_the_subject_stays_in_the_entry() -> None:
    (entry,) = _timeline(_cited("Christmas Eve is the busiest night of the year for the Veldt "
                                "ferries.", date(2026, 12, 20), 1))
    assert entry.text.startswith("Christmas Eve is the busiest night")
    (entry,) = _timeline(_cited("Monday, the harbour board voted to keep the Veldt ferries in "
                                "public hands.", date(2026, 3, 10), 1))
    assert entry.text.startswith("The harbour board voted")

