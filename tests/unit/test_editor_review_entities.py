"""An editor's review of the entities-dev pages (issue #13, core-24 / extract-21).

Each sentence is written for the test, not taken from a corpus; each test fails on
core-22 / extract-18."""

from __future__ import annotations

from datetime import UTC, date, datetime

from storyline.domain.events import ArticleReceived
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.extract.text import repair_mojibake, split_sentences
from storyline.domain.facts import CitedArticle
from storyline.domain.page.timeline import TimelineIndex
from storyline.domain.page.title import trim


def test_mojibake_is_read_as_the_utf8_it_was() -> None:
    # UTF-8 read as Windows-1252, with a detokeniser's spaces after the broken characters
    body = ("The councilâ€ ™ s vote was close â€ “ nine to eight.\n"
            "â€œWe didnâ€ ™ t expect it,â€ � said RenÃ©e Okafor, who paid Â£ 40 to attend.")
    assert split_sentences(body) == (
        "The council’s vote was close – nine to eight.",
        "“We didn’t expect it,” said Renée Okafor, who paid £ 40 to attend.",
    )


def test_a_mangled_headline_reads_right_as_a_title() -> None:
    assert (trim("Harbourâ€™s ferry fares to rise â€“ again")
            == "Harbour’s ferry fares to rise – again")


def test_text_without_mojibake_is_left_alone() -> None:
    for text in ("Âge d'or: São Paulo’s mayor – “no”", "Ãx", "plain text"):
        assert repair_mojibake(text) == text


def _cited(body: str, day: date, n: int) -> CitedArticle:
    article = ArticleReceived(uri=f"urn:rev:{n}", version=1, source=f"Outlet {n}",
                              headline=None, body=body,
                              published=datetime(day.year, day.month, day.day, 9, tzinfo=UTC))
    return CitedArticle(n=n, uri=article.uri, version=1, source=article.source, headline=None,
                        published=article.published, facts=extract_facts(article))


def test_a_day_that_happened_is_told_by_its_report_not_by_its_plan() -> None:
    # written a week before: the hearing was due on March 9; written after: it was held
    index = TimelineIndex()
    index.add(_cited("The harbour board hearing in Veldt is due on March 9.",
                     date(2026, 3, 2), 1))
    index.add(_cited("The harbour board hearing in Veldt was held on March 9 and lasted "
                     "three hours.", date(2026, 3, 10), 2))
    (entry,) = index.entries(5)
    assert entry.date == date(2026, 3, 9)
    assert not entry.planned
    assert entry.text.startswith("The harbour board hearing in Veldt was held")
    assert [c.n for c in entry.citations] == [1, 2]
