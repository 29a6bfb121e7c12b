"""Page furniture and glued captions (session 29, an editor's review of timeline17-dev):
each test of a fault fails on extract-16 / core-20; the guards beside them (what is not
furniture, not a seam, not a speaker) pass on both."""

from __future__ import annotations

import datetime as dt

import pytest

from storyline.domain.events import SummaryParagraph
from storyline.domain.extract.analysis import analysis_of
from storyline.domain.extract.text import split_sentences
from storyline.domain.facts import ArticleFacts, CitedArticle
from storyline.domain.page.summary import SummaryMemo, summarise

T0 = dt.datetime(2011, 1, 26, 9, tzinfo=dt.UTC)


def cited(n: int, sentences: list[str], *, source: str, day: int) -> CitedArticle:
    uri = f"urn:test:{n}"
    return CitedArticle(
        n=n, uri=uri, version=1, source=source, headline=None,
        published=T0 + dt.timedelta(days=day, hours=n),
        facts=ArticleFacts(uri=uri, version=1, extractor_version="test",
                           sentences=tuple(sentences), dates=(), figures=(), names=()))


def texts(summary: tuple[SummaryParagraph, ...]) -> list[str]:
    return [s.text for p in summary for s in p.sentences]


# The Egypt page cited "2 men charged in death of Chicago teen who performed in
# inauguration event" to 50 CNN articles: the line heads every CNN page of those weeks.
FURNITURE = ("Two men were charged in the death of a Chicago teen who performed in an "
             "inauguration event in Cairo, police said.")
REPORTS = [
    "Protesters in Cairo demanded that President Hosni Mubarak step down after a week of unrest.",
    "The army deployed tanks in Cairo as protesters defied a curfew for a third night.",
    "Mubarak named a vice president for the first time in three decades of rule in Cairo.",
    "Protesters in Cairo clashed with supporters of Mubarak in Tahrir Square on Wednesday.",
]
WIRE = ("Egypt's army said it would not use force against protesters gathered in Cairo's "
        "Tahrir Square, state television reported.")


def egypt() -> list[CitedArticle]:
    cnn = [cited(i + 1, [FURNITURE, report], source="CNN", day=i)
           for i, report in enumerate(REPORTS)]
    # one wire story carried by three sources on three days: a report, not furniture
    wire = [cited(10 + i, [WIRE], source=source, day=i)
            for i, source in enumerate(["Reuters", "BBC News", "The Guardian"])]
    return cnn + wire


@pytest.mark.parametrize("memo", [None, SummaryMemo()])
def test_a_line_one_source_leads_with_on_three_days_is_not_a_summary_sentence(
        memo: SummaryMemo | None) -> None:
    story = egypt()
    if memo is not None:  # the fold's way: one revision per article, the memo kept
        for size in range(1, len(story)):
            summarise(story[:size], (), memo=memo)
    written = texts(summarise(story, (), memo=memo))
    assert FURNITURE not in written
    assert WIRE in written  # three sources carrying one story is support, not furniture
    assert any(report in written for report in REPORTS)


def test_a_line_one_source_leads_with_on_two_days_is_still_a_report() -> None:
    story = egypt()[:2]
    assert FURNITURE in texts(summarise(story, ()))


# A photo caption without a full stop run into the report by the body ("... as a
# precaution Two new cases of swine flu have been confirmed in Jersey ...", H1N1; "... in
# US history A committee of MPs has raised ...", BP).
@pytest.mark.parametrize(("line", "sentences"), [
    ("The school has been temporarily closed as a precaution Two new cases of swine flu have "
     "been confirmed in Jersey.",
     ("The school has been temporarily closed as a precaution",
      "Two new cases of swine flu have been confirmed in Jersey.")),
    ("The Deepwater Horizon rig explosion led to the worst environmental catastrophe in US "
     "history A committee of MPs has raised serious doubts.",
     ("The Deepwater Horizon rig explosion led to the worst environmental catastrophe in US "
      "history", "A committee of MPs has raised serious doubts.")),
    ("Second pupil tested for swine flu A second child is being treated with antiviral drugs.",
     ("Second pupil tested for swine flu", "A second child is being treated with antiviral "
      "drugs.")),
])
def test_a_caption_without_its_full_stop_ends_before_the_next_sentence(
        line: str, sentences: tuple[str, ...]) -> None:
    assert split_sentences(line) == sentences


@pytest.mark.parametrize("line", [
    "He told The Associated Press that the well was capped.",  # a title: a capital follows
    "The finance ministers of the Group of Seven industrial nations met.",  # after "of"
    "The virus is an influenza A virus, carrying the designation H1N1.",  # a letter as label
    "Health officials confirmed a type A influenza virus in eight pupils.",
    "McCain said We should never again allow the United States to fail.",  # after "said"
    "Doesn't anyone remember the Keating Five scandal of the savings and loan crisis?",  # a name
])
def test_a_capitalised_word_inside_a_sentence_does_not_end_it(line: str) -> None:
    assert split_sentences(line) == (line,)


# "WOLF BLITZER, CNN ANCHOR: Fireworks over Cairo's Tahrir Square" was a summary sentence
# of the Egypt page: a transcript's line is said on air, not reported.
@pytest.mark.parametrize("line", [
    "WOLF BLITZER, CNN ANCHOR: Fireworks over Cairo's Tahrir Square lit up the night as "
    "crowds celebrated.",
    "UNIDENTIFIED MALE (through translator): We will stay in Tahrir Square until he goes, "
    "all of us.",
    "NIC ROBERTSON, CNN SENIOR INTERNATIONAL CORRESPONDENT: The army has taken up positions "
    "around the square tonight.",
])
def test_a_transcript_speaker_s_line_is_not_a_summary_sentence(line: str) -> None:
    facts = ArticleFacts(uri="urn:test:t", version=1, extractor_version="test",
                         sentences=(line,), dates=(), figures=(), names=())
    assert not analysis_of(facts).lead[0].eligible


def test_a_heading_in_capitals_before_a_report_is_no_speaker() -> None:
    line = "BP Chief Executive Tony Hayward said the company would pay for the clean-up."
    facts = ArticleFacts(uri="urn:test:t", version=1, extractor_version="test",
                         sentences=(line,), dates=(), figures=(), names=())
    assert analysis_of(facts).lead[0].eligible



def test_a_sentence_keeps_its_print_out_of_its_pickle() -> None:
    """The print ``is_template`` asks of a lead sentence at every revision is kept on it,
    and a pickled sentence (a packed analysis, a snapshot) is the same bytes with it or
    without: state layout 42 either way."""
    import pickle
    import zlib

    from storyline.domain.page.summary import _print

    line = "Rescuers reached the village after the bridge collapsed on Monday."
    facts = ArticleFacts(uri="urn:test:p", version=1, extractor_version="test",
                         sentences=(line,), dates=(), figures=(), names=())
    sentence = analysis_of(facts).lead[0]
    before = pickle.dumps(sentence, protocol=5)
    assert sentence.lead_print is None
    assert _print(sentence) == zlib.crc32(" ".join(sentence.words).encode())
    assert sentence.lead_print == _print(sentence)
    assert pickle.dumps(sentence, protocol=5) == before
    assert pickle.loads(before).lead_print is None
