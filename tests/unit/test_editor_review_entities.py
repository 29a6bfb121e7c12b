"""An editor's review of the entities-dev pages (issue #13, core-24 / extract-21).

Each sentence is written for the test, not taken from a corpus; each test fails on
core-22 / extract-18."""

from __future__ import annotations

from storyline.domain.extract.text import repair_mojibake, split_sentences
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
    assert trim("Harbourâ€™s ferry fares to rise â€“ again") == "Harbour’s ferry fares to rise – again"


def test_text_without_mojibake_is_left_alone() -> None:
    for text in ("Âge d'or: São Paulo’s mayor – “no”", "Ãx", "plain text"):
        assert repair_mojibake(text) == text
