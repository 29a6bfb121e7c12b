"""A summary sentence's day taken from the dates the extract stage found in its article
(``Sentence.days``) is the one ``find_dates`` on the sentence itself gives
(``summary._reported_day``, what the summary did before): focused articles (datelines,
glued headlines, embedded chronologies, background dates and plans), heads cut off
before dated sentences (``temporal.dates_alone``), and every eligible lead sentence of
the dev sets (skips without ../shared; ``STORYLINE_DEV_DATA`` names another data
directory)."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dev_facts import facts_of

from storyline.domain.events import ArticleReceived, DatePrecision
from storyline.domain.extract.analysis import Sentence, analysis_of
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.extract.temporal import dates_alone, find_dates
from storyline.domain.extract.text import Document
from storyline.domain.extract.timeline_text import background, sentence_date
from storyline.domain.facts import DateMention
from storyline.domain.page.summary import _day_of, _reported_day, reported_day

DATA = Path(os.environ.get("STORYLINE_DEV_DATA")
            or Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
PUB = dt.datetime(2010, 6, 3, 15, 0, tzinfo=dt.UTC)  # a Thursday


def _article(body: str, published: dt.datetime = PUB) -> ArticleReceived:
    return ArticleReceived(uri="urn:test:1", version=1, source="Test", headline=None,
                           body=body, published=published)


def _scanned(text: str, published: dt.date) -> list[DateMention]:
    """The day-precise dates ``_reported_day`` looks at: ``find_dates`` on the text alone."""
    return [m for m in find_dates(Document((text,)), published)
            if m.span.precision is DatePrecision.DAY]


def _check(s: Sentence, published: dt.date) -> None:
    """The sentence's day is the scanned one; its days are the scanned foreground dates."""
    assert reported_day(s, published) == _reported_day.__wrapped__(s.text, published), s.text
    if s.days is None:
        return
    scanned = _scanned(s.text, published)
    assert s.days == tuple((m.span.start, m.span.end) for m in scanned
                           if not background(m, s.text)), s.text
    # the days give what sentence_date gives over the scanned dates for any publication day
    for shift in (-400, -3, -1, 1, 2, 30):
        other = published + dt.timedelta(days=shift)
        chosen = sentence_date(scanned, s.text, other)
        expected = other if chosen is None or chosen.span.end > other else chosen.span.start
        assert _day_of(s.days, other) == expected, (s.text, other)


def _lead(body: str, published: dt.datetime = PUB) -> list[Sentence]:
    """The eligible lead sentences of ``body``, checked."""
    facts = extract_facts(_article(body, published))
    out = []
    for s in analysis_of(facts).lead:
        if s.eligible:
            _check(s, published.date())
            out.append(s)
        else:
            assert s.days is None
    return out


def test_a_sentence_takes_its_days_from_the_article() -> None:
    first, second = _lead(
        "BP said on Tuesday it would try again to cap the leaking well in the Gulf of Mexico. "
        "The well, which has leaked since April 20, will be sealed on Friday, engineers said "
        "on Wednesday after a meeting.")
    assert first.days == ((dt.date(2010, 6, 1), dt.date(2010, 6, 1)),)
    # "since April 20" is background; Friday is a plan, so Wednesday is the day
    assert second.days == ((dt.date(2010, 6, 4), dt.date(2010, 6, 4)),
                           (dt.date(2010, 6, 2), dt.date(2010, 6, 2)))
    assert reported_day(second, PUB.date()) == dt.date(2010, 6, 2)


def test_a_dateline_cut_off_moves_the_dates() -> None:
    (reuters,) = _lead("HOUSTON (Reuters) - BP engineers on Wednesday lowered a new cap over the "
                       "leaking well in the Gulf of Mexico, the company said.")
    assert reuters.text.startswith("BP engineers")
    assert reuters.days == ((dt.date(2010, 6, 2), dt.date(2010, 6, 2)),)
    (cnn,) = _lead("Cairo, Egypt (CNN)--Thousands of protesters marched through the capital "
                   "on Tuesday demanding that the president resign at once.")
    assert cnn.text.startswith("Thousands") and cnn.days is not None


def test_what_the_cut_off_head_shows_is_scanned_again() -> None:
    # a headline glued to the lead is cut off at the seam (extract-18): its future cue no
    # longer reaches "Monday", which dates the lead's own past event
    (union,) = _lead("Union members will strike The union leaders Monday rejected the offer "
                     "from the city council again.")
    assert union.text.startswith("The union leaders") and union.days is not None
    assert union.days[0][0].weekday() == 0
    # the first word glued to the dateline is looked back over to the date
    (glued,) = _lead("(CNN)--On Saturday thousands of protesters marched through the capital "
                     "demanding that the president resign.")
    assert glued.days is None
    # entities decoded: the text is no tail of the sentence
    (entity,) = _lead("R&amp;B star Chris Brown pleaded not guilty on Monday to charges of "
                      "assaulting his girlfriend in February.")
    assert entity.days is None


@pytest.mark.parametrize("body", [
    # announced: from the cue on, "on Thursday" is the Thursday before its item's heading
    "BP shares fell sharply in London trading after the failed attempt to cap the well. "
    "Here is a chronology of the main events since the explosion. "
    "April 20 - The Deepwater Horizon rig explodes in the Gulf of Mexico, killing 11 workers. "
    "The burning rig sinks on Thursday in about 5,000 feet of water.",
    # three headings in date order, no announcement
    "April 20 - The Deepwater Horizon rig explodes in the Gulf of Mexico, killing 11 workers. "
    "The burning rig sinks on Thursday in about 5,000 feet of water. "
    "April 29 - The Coast Guard sets fire to the slick to burn off the oil. "
    "May 2 - President Obama visits the coast and promises help to the region.",
])
def test_an_embedded_chronology_is_scanned_again(body: str) -> None:
    facts = extract_facts(_article(body))
    (sinks,) = [s for s in _lead(body) if "sinks" in s.text]
    # the document dates it by its item's heading; alone, by the publication
    (thursday,) = [m for m in facts.dates if m.sentence == sinks.index]
    assert thursday.span.start == dt.date(2010, 4, 15)
    assert sinks.days is None and reported_day(sinks, PUB.date()) == dt.date(2010, 6, 3)


HEADS = ["WASHINGTON (Reuters) - ", "(CNN)--", "(AP) -- ", "LONDON:", "Black ", "Daily Mail ",
         "Over ", "from ", "the ", "last ", "BP's ", "Good ", "They may ", "It will ",
         "Thursday, ", "April 20 - ", "Mail on ", "early ", "He said, ", "dismay ",
         "the year ", "At ", "between ", "Q3 ", "BP oil spill: cap fails ", "x", "in ",
         "his ", "a "]
TAILS = ["Friday sales rose sharply at the big stores, retailers said.",
         "On Saturday thousands of protesters marched through Cairo.",
         "weekend talks failed, and the strike goes on until Monday.",
         "the weekend talks failed, and the strike goes on until Monday.",
         "2 to 5 May the river rose by three metres a day.",
         "Two days ago the well was sealed, and on June 1 it held.",
         "Monday the board will meet to approve the plan.",
         "The union leaders Monday rejected the offer again.",
         "Friday, June 4, the company said it would pay.",
         "the latest quarter profit fell 20 percent from a year earlier on Tuesday.",
         "Sunday Times reported on Sunday that the talks had failed.",
         "last Tuesday, officials said, the leak slowed.",
         "Thanksgiving Day parade went ahead on Thursday despite the rain.",
         # "in June" is a date, its mention starting at "June": no mention crosses the cut
         "June: Born leaves the CFTC, with no change in the regulation of derivatives.",
         # a year before a name after a possessive or an article is a year
         "1990 Anheuser earnings estimate fell, and April sales too."]


@pytest.mark.parametrize("head", HEADS)
def test_a_head_cut_off_gives_the_dates_of_the_tail_alone(head: str) -> None:
    """``dates_alone`` gives what ``find_dates`` gives for the tail alone, every date (all
    precisions) with its offsets, or None; and None only where the head can be seen."""
    published = PUB.date()
    for tail in TAILS:
        whole = find_dates(Document((head + tail,)), published)
        alone = dates_alone(head + tail, len(head), whole)
        if alone is None:
            continue
        assert [(m.span, m.char_start, m.char_end, m.stated) for m in alone] == [
            (m.span, m.char_start, m.char_end, m.stated)
            for m in find_dates(Document((tail,)), published)], (head, tail)
    if head in ("WASHINGTON (Reuters) - ", "(AP) -- ", "BP oil spill: cap fails "):
        assert all(dates_alone(head + tail, len(head), find_dates(
            Document((head + tail,)), published)) is not None for tail in TAILS[6:8])


def _dev_articles(name: str) -> Iterator[ArticleReceived]:
    path = DATA / name / "articles.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            headlines = item.get("headlines") or [{}]
            yield ArticleReceived(
                uri=item["uri"], version=int(item["version"]),
                source=item["infosources"][0]["name"], headline=headlines[0].get("value"),
                body=next(b["value"] for b in item["bodies"] if b.get("role") == "main"),
                published=dt.datetime.fromisoformat(item["versioncreated"]))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["timeline17-dev", "entities-dev"])
def test_every_dev_lead_sentence_has_the_day_find_dates_gives(name: str) -> None:
    eligible = mapped = 0
    for article in _dev_articles(name):
        facts = facts_of(article)
        published = article.published.date()
        for s in analysis_of(facts).lead:
            if not s.eligible:
                continue
            _check(s, published)
            eligible += 1
            mapped += s.days is not None
    # the article's dates serve nearly every sentence (a few are scanned again: a wire
    # dateline glued to a dated first word, an entity decoded, an embedded chronology)
    assert eligible > 7000 and mapped >= 0.98 * eligible, (mapped, eligible)
