"""An editor's review of the entities-dev pages (issue #13, core-24 / extract-21).

Each sentence is written for the test, not taken from a corpus; each test fails on
core-22 / extract-18."""

from __future__ import annotations

from datetime import UTC, date, datetime

from storyline.domain.events import ArticleReceived
from storyline.domain.extract.analysis import _eligible, is_boilerplate, split_glued, tokens
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.extract.text import is_caption, repair_mojibake
from storyline.domain.facts import CitedArticle
from storyline.domain.page.summary import _phrase_spans
from storyline.domain.page.timeline import TimelineIndex
from storyline.domain.page.title import _headline_like, trim


def test_mojibake_is_read_as_the_utf8_it_was() -> None:
    # UTF-8 read as Windows-1252, with a detokeniser's spaces after the broken characters
    assert repair_mojibake("The councilâ€ ™ s vote was close â€ “ nine to eight.") == (
        "The council’s vote was close – nine to eight.")
    assert repair_mojibake("â€œWe didnâ€ ™ t expect it,â€ � said RenÃ©e Okafor, who paid "
                           "Â£ 40.") == "“We didn’t expect it,” said Renée Okafor, who paid £ 40."


def test_a_timeline_entry_shows_mojibake_repaired() -> None:
    index = TimelineIndex()
    index.add(_cited("The councilâ€ ™ s budget vote was held on March 9 â€ “ nine to eight.",
                     date(2026, 3, 10), 1))
    (entry,) = index.entries(5)
    assert "â€" not in entry.text
    assert "council’s budget vote" in entry.text


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


def test_a_paragraph_label_is_no_possessive_without_its_noun() -> None:
    def labels(text: str) -> list[str]:
        return [text[a:b] for a, b in _phrase_spans(text, ())]

    # "report" reads as a verb, so the phrase stopped at the possessive: no head, no label
    assert labels("Fares rose, according to a harbour master's report.") == []
    # the determiner is the possessor's ("this season's"), so the label is what it owns
    assert labels("Tickets for this season's harbour regatta sold out.") == ["harbour regatta"]
    assert labels("The dock workers' union called a strike.") == ["dock workers' union"]


def test_a_caption_is_no_summary_sentence_and_an_entry_without_its_positions() -> None:
    captions = ["Harbour master Ana Ruiz, left, inspects the breach in the sea wall at Veldt.",
                "Divers inspect the sunken ferry, bottom left, as the tide rises at Veldt.",
                "Ferry captain Tom Ochs (right) and his crew arrive at the Veldt inquiry."]
    for caption in captions:
        assert is_caption(caption)
        assert is_boilerplate(caption)  # no summary sentence, no title
    # on the timeline it reports what the picture shows, without where who stands
    index = TimelineIndex()
    index.add(_cited("Harbour master Ana Ruiz, left, and ferry captain Tom Ochs (right) "
                     "inspected the breach in the Veldt sea wall on March 9.",
                     date(2026, 3, 10), 1))
    (entry,) = index.entries(5)
    assert entry.text == ("Harbour master Ana Ruiz and ferry captain Tom Ochs inspected the "
                          "breach in the Veldt sea wall.")
    # a party after a name, a direction in prose: no caption
    for prose in ["Senator Jo Ames (R) said the ferry inquiry would reopen on Monday.",
                  "Turn left, then right, at the Veldt ferry terminal.",
                  "Voters moved to the right, the harbour board's survey found."]:
        assert not is_caption(prose)


def test_a_newsroom_byline_is_no_summary_sentence() -> None:
    byline = ("By the Harbour Courier Staff Ferry crews walked out at Veldt on Monday, and the "
              "harbour board said talks would resume.")
    assert not _eligible(byline, tokens(byline))
    prose = ("By the end of the week the ferry crews had walked out at Veldt, and the harbour "
             "board said talks would resume.")
    assert _eligible(prose, tokens(prose))


def test_a_headline_glued_to_its_lead_is_cut_where_the_lead_begins() -> None:
    # the lead names the headline's subject again within two words of the seam
    assert split_glued("Harbourline to cut ferry sailings amid fuel shortage Analysts expect "
                       "Harbourline to run 40 sailings a day this winter, a survey showed.") == (
        "Harbourline to cut ferry sailings amid fuel shortage",
        "Analysts expect Harbourline to run 40 sailings a day this winter, a survey showed.")
    # not inside the lead's first name: "Tom | Ochs accused" was cut one word late
    assert split_glued("Ochs hits back after details of inquiry leaked Tom Ochs accused the "
                       "harbour board yesterday of undermining the inquiry.") == (
        "Ochs hits back after details of inquiry leaked",
        "Tom Ochs accused the harbour board yesterday of undermining the inquiry.")
    # a quotation's words are no headline
    quote = ('"The board chose to waive its limit on liability under HPA," Harbourline said '
             "in a filing on Monday.")
    assert split_glued(quote) == (None, quote)


def test_a_lead_clause_that_points_back_inside_is_no_title() -> None:
    assert _headline_like("In recent weeks, the fuel shortage has made these ferry delays "
                          "even longer.") is None
    assert _headline_like("Ferry crews at Veldt walked out on Monday over pay.") == (
        "Ferry crews at Veldt walked out on Monday over pay", 1.0)
