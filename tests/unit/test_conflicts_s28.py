"""Conflicts only between statements about the same event (#13 item 3, session 28): the
false conflicts of the hand-judged sample (docs/conflicts-sample.md), as the rules that no
longer show them, and the real one kept. Each test fails on core-20 / extract-16."""

from __future__ import annotations

from datetime import UTC, date, datetime

from storyline.domain.events import ArticleReceived
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.facts import CitedArticle
from storyline.domain.page.timeline import TimelineIndex


def cited(body: str, day: date, n: int) -> CitedArticle:
    article = ArticleReceived(uri=f"urn:x:{n}", version=1, source=f"Outlet {n}", headline=None,
                              body=body,
                              published=datetime(day.year, day.month, day.day, 9, tzinfo=UTC))
    return CitedArticle(n=n, uri=article.uri, version=1, source=article.source, headline=None,
                        published=article.published, facts=extract_facts(article))


def shown(*articles: CitedArticle) -> set[tuple[str, str]]:
    index = TimelineIndex()
    for article in articles:
        index.add(article)
    return {(c.kind, c.value) for e in index.entries(10) for c in e.conflicts}


def test_counts_of_different_days_are_successive_reports_not_a_disagreement() -> None:
    # a day's new cases (and a running total) reported on Thursday May 28 and Sunday May 31
    said = "The Health Protection Agency announced a further {} cases of swine flu on {}."
    assert shown(cited(said.format(17, "Thursday"), date(2009, 5, 29), 1),
                 cited(said.format(15, "Sunday"), date(2009, 6, 1), 2)) == set()
    # the same day's count given differently is a disagreement
    assert shown(cited(said.format(17, "Thursday"), date(2009, 5, 29), 1),
                 cited(said.format(15, "Thursday"), date(2009, 5, 29), 2)) == {
        ("figure", "15 cases"), ("figure", "17 cases")}


def test_a_statement_of_two_events_and_their_interval_does_not_disagree() -> None:
    # the page's BP entry: "Oil has been gushing since the rig ... exploded ... and sank two
    # days later" (dated by the explosion, Apr 20) against "sank on 22 April": the interval
    # accounts for the gap, and the statement is still cited for the sinking's day
    gushing = ("Oil has been gushing since the offshore drilling rig Deepwater Horizon, leased "
               "by BP, exploded off the coast of Louisiana on 20 April and sank two days later.")
    sank = ("The Deepwater Horizon rig, leased by BP, sank off the coast of Louisiana on 22 "
            "April, after it exploded.")
    index = TimelineIndex()
    index.add(cited(sank, date(2010, 5, 3), 1))
    index.add(cited(gushing, date(2010, 5, 20), 2))
    (entry,) = index.entries(5)
    assert entry.date == date(2010, 4, 22)
    assert entry.conflicts == ()
    assert [c.n for c in entry.citations] == [1, 2]


def test_a_number_after_a_label_noun_counts_nothing() -> None:
    # "year seven" is a school year: five pupils, not seven (the page said "6 pupils [190];
    # 7 pupils [192]")
    facts = cited("Five year seven pupils at Alleyn's school in Dulwich tested positive for "
                  "the virus.", date(2009, 5, 5), 1).facts
    assert [(f.value, f.unit) for f in facts.figures] == [(5.0, "pupils")]
    facts = cited("The agency raised its alert to phase 5 as 12 countries reported cases, and "
                  "last year 30 people died.", date(2009, 5, 5), 1).facts
    assert [(f.value, f.unit) for f in facts.figures] == [(12.0, "countries"), (30.0, "people")]


def test_a_stated_interval_to_another_event_is_no_date_disagreement() -> None:
    # "sank on April 22, two days after the explosion": the sources agree, the two days
    # are the interval between two events the sentence names
    blast = "The explosion on the Deepwater Horizon rig on April 20 killed 11 workers."
    sank = ("The Deepwater Horizon rig sank on April 22, two days after the explosion that "
            "killed 11 workers.")
    assert shown(cited(blast, date(2010, 4, 21), 1), cited(sank, date(2010, 5, 3), 2)) == set()
    assert shown(cited(sank, date(2010, 5, 3), 1), cited(blast, date(2010, 4, 21), 2)) == set()
    # without the interval, two written-out days of one event disagree
    other = "The explosion on the Deepwater Horizon rig on April 22 killed 11 workers."
    assert shown(cited(blast, date(2010, 4, 23), 1), cited(other, date(2010, 4, 23), 2)) == {
        ("date", "Apr 20, 2010"), ("date", "Apr 22, 2010")}


def test_counts_of_different_acts_do_not_disagree() -> None:
    # two soldiers abducted, three killed: not one count given two ways
    began = "The war began on July 12, 2006 when Hizbullah guerrillas ambushed an Israeli patrol{}."
    assert shown(cited(began.format(", killing three soldiers"), date(2006, 7, 13), 1),
                 cited(began.format(" and abducted two soldiers"), date(2006, 7, 13), 2)) == set()
    assert shown(cited(began.format(", killing three soldiers"), date(2006, 7, 13), 1),
                 cited(began.format(", killing two soldiers"), date(2006, 7, 13), 2)) == {
        ("figure", "2 soldiers"), ("figure", "3 soldiers")}
