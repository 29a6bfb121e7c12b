"""Embedded chronologies: a relative expression inside a dated item refers to the item's
heading date, not to the publication; in an announced chronology whose items lost their
headings, it refers to nothing the text gives and is not a date."""

from __future__ import annotations

from datetime import UTC, date, datetime

from storyline.domain.events import ArticleReceived
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.extract.temporal import chronology, find_dates, scan
from storyline.domain.extract.text import Document, split_sentences
from storyline.domain.extract.timeline_text import dated_candidates
from storyline.domain.facts import DateMention

D = date


def mentions(body: str, pub: date) -> dict[str, list[date]]:
    """The day each expression of ``body`` resolves to (its span's start), by its text."""
    out: dict[str, list[date]] = {}
    found: list[DateMention] = find_dates(Document(split_sentences(body)), pub)
    for m in found:
        out.setdefault(m.text, []).append(m.span.start)
    return out


# Published Friday 9 July 2010: against the publication, "Friday night" would be 9 July and
# "on Sunday" 4 July; against their headings they are 2 July and 4 July (Monday 5 July's item).
MOAT = """Thursday 1 July: Raoul Moat, 37, is released from Durham prison after serving 18 weeks.
Friday 2 July: Durham prison warns Northumbria police that Moat may intend to cause harm.
Saturday 3 July: Chris Brown, 29, is shot dead outside a house in Birtley.
Police say the gunman was seen in the town on Friday night.
Monday 5 July: Moat is suspected of an armed robbery at a fish bar near Blyth.
Officers say he rang them on Sunday to explain his grudge."""


def test_a_weekday_in_an_item_is_relative_to_its_heading() -> None:
    found = mentions(MOAT, D(2010, 7, 9))
    assert found["Thursday 1 July"] == [D(2010, 7, 1)]
    assert found["Saturday 3 July"] == [D(2010, 7, 3)]
    assert found["Friday"] == [D(2010, 7, 2)]  # the Friday before Saturday 3 July
    assert found["Sunday"] == [D(2010, 7, 4)]  # the Sunday before Monday 5 July


def test_the_same_lines_outside_a_chronology_keep_the_publication_anchor() -> None:
    prose = ("Police say the gunman was seen in the town on Friday night.\n"
             "Officers say he rang them on Sunday to explain his grudge.")
    found = mentions(prose, D(2010, 7, 9))
    assert found["Friday"] == [D(2010, 7, 9)]
    assert found["Sunday"] == [D(2010, 7, 4)]


# A wire chronology: "Below is a timeline ...:" then "<date> - <item>" lines; the first item
# shares the announcing sentence.
WIRE = ("Below is a timeline of the spill and its impact: * April 20, 2010 - Explosion and fire "
        """on the rig kill 11 workers.
April 22 - The rig sinks after burning for 36 hours.
Officials said on Friday that the slick had reached the coast.
May 7 - BP tries to lower a containment dome over the leak.
The dome fails the next day and engineers say they will try again next week.""")


def test_a_wire_timeline_anchors_each_item_at_its_dated_line() -> None:
    found = mentions(WIRE, D(2010, 6, 3))  # a Thursday
    assert found["April 20, 2010"] == [D(2010, 4, 20)]
    assert found["April 22"] == [D(2010, 4, 22)]
    assert found["Friday"] == [D(2010, 4, 16)]  # the Friday on or before Thursday 22 April
    assert found["next week"] == [D(2010, 5, 10)]  # the week after Friday 7 May


# The Washington Post's "day-by-day look" as the corpus has it: the day headings are gone.
HEADINGLESS = ("TIMELINE: Crisis on Wall Street The credit crisis is forcing a reconfiguration "
               """of Wall Street.
Here is a day-by-day look at the impact of the crisis on Wall Street.
Bargain hunters sent the Dow soaring on Tuesday after the House vote.
The Treasury says on Sunday that it will tap Neel Kashkari to oversee the rescue program.
U.S. employers shed 159,000 jobs in September, the most in more than five years.""")


def test_an_announced_chronology_without_headings_dates_no_relative_expression() -> None:
    pub = D(2008, 11, 5)  # against it, "Tuesday" would be 4 November, "Sunday" 2 November
    found = mentions(HEADINGLESS, pub)
    assert "Tuesday" not in found and "Sunday" not in found
    assert found["September"] == [D(2008, 9, 1)]  # written-out dates stay
    article = ArticleReceived(uri="urn:x:1", version=1, source="Outlet", headline=None,
                              body=HEADINGLESS, published=datetime(2008, 11, 5, tzinfo=UTC))
    statements = {c.statement: c.span.start
                  for c in dated_candidates(extract_facts(article), published=pub)}
    # the page does not put "Bargain hunters ..." on 4 November: it has no date at all
    assert all("Bargain" not in s and "Kashkari" not in s for s in statements)
    assert any("159,000 jobs" in s for s in statements)


def test_headings_out_of_date_order_are_not_a_chronology() -> None:
    text = ("8 Jan: I will never run the club by mob rule.\n"
            "21 Jan: Sacks him.\n"
            "19 Jan: We wish him luck for the future.\n"
            "Last week's discipline highlights came on Tuesday.")
    pub = D(2014, 1, 25)
    assert chronology(text, scan(text, pub)) is None
    assert mentions(text, pub)["Tuesday"] == [D(2014, 1, 21)]


def test_a_live_blog_summary_of_key_events_is_not_a_chronology() -> None:
    text = ("Here's a summary of the key events so far today.\n"
            "Police said yesterday that two men had been arrested.")
    pub = D(2011, 1, 28)
    assert chronology(text, scan(text, pub)) is None
    assert mentions(text, pub)["yesterday"] == [D(2011, 1, 27)]


def test_mentioning_a_timeline_does_not_make_one() -> None:
    text = ("The timeline for the relief well has always been hazy.\n"
            "Officials said on Tuesday that the cap held.")
    pub = D(2010, 7, 23)  # a Friday
    assert chronology(text, scan(text, pub)) is None
    assert mentions(text, pub)["Tuesday"] == [D(2010, 7, 20)]
