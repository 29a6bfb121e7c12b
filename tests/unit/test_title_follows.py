"""The title follows the story: re-chosen when the lead development changes, and when a
correction or a withdrawal takes away what it says; sticky otherwise. Each log states the
title expected after each step."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from storyline.domain.events import ArticleReceived, PubStatus, StoryUpdated
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.domain.records import handle_record
from storyline.replay import records_from_files

WIRE = Path(__file__).resolve().parents[2] / "samples" / "wire" / "articles.jsonl"
T0 = dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.UTC)


def titles(log: list[ArticleReceived]) -> list[str]:
    """The title of the page after each article (one story)."""
    pipeline = Pipeline()
    out: list[str] = []
    story_ids = set()
    for offset, item in enumerate(log):
        from storyline.domain.canonical import canonical_bytes

        outcome = handle_record(pipeline, None, canonical_bytes(item),
                                LogPosition("t", 0, offset), max_bytes=1_000_000)
        assert outcome.dead_letter is None
        [update] = [e for e in outcome.events if isinstance(e, StoryUpdated)]
        story_ids.add(update.story_id)
        page = pipeline.page(update.story_id)
        assert page is not None
        out.append(page.title)
    assert len(story_ids) == 1
    return out


def flood(uri: str, headline: str | None, body: list[str], hours: float, *, version: int = 1,
          source: str = "Valley Courier", status: PubStatus = PubStatus.USABLE
          ) -> ArticleReceived:
    return ArticleReceived(uri=f"urn:test:{uri}", version=version, source=source,
                           headline=headline, body="\n".join(body),
                           published=T0 + dt.timedelta(hours=hours), pubstatus=status)


MISSING_14 = ["Fourteen people are missing in the Eastmoor Valley after the Aldwater river "
              "burst its banks at Kesterby on Thursday.",
              "Rescue teams searched the flooded streets of Kesterby and Millbrook overnight.",
              "Emergency director Helen Okafor said the Aldwater flood was the worst in decades."]
MISSING_15 = [MISSING_14[0].replace("Fourteen", "Fifteen"), *MISSING_14[1:]]
SEARCH = ["Rescue teams searched the flooded streets of Kesterby and Millbrook for the missing "
          "as the Aldwater river kept rising.",
          "Helen Okafor said the Aldwater flood had forced 2,000 people from Kesterby homes.",
          "Boats carried rescue teams through the flooded Kesterby streets on Thursday."]
RECEDE = ["The Aldwater river began to recede at Kesterby on Sunday as rescue teams found "
          "the missing safe in Millbrook.",
          "Helen Okafor said the Aldwater flood rescue teams had searched every street.",
          "Kesterby residents started to return to their flooded homes."]


def test_a_corrected_headline_replaces_the_title_it_gave() -> None:
    first = flood("missing", "14 missing as Aldwater floods Kesterby", MISSING_14, 0)
    log = [
        first,
        flood("search", "Rescue teams search Kesterby for the missing", SEARCH, 3,
              source="Northern Wire"),
        first.model_copy(update={"version": 2, "headline": "15 missing as Aldwater floods "
                                 "Kesterby", "body": "\n".join(MISSING_15)}),
        flood("recede", "Aldwater recedes and missing are found safe in Millbrook", RECEDE, 72),
    ]
    assert titles(log) == [
        "14 missing as Aldwater floods Kesterby",
        "14 missing as Aldwater floods Kesterby",  # same development: sticky
        "15 missing as Aldwater floods Kesterby",  # the correction changed what it says
        "Aldwater recedes and missing are found safe in Millbrook",  # the lead moved on
    ]


def test_a_derived_title_follows_a_correction_of_its_sentence() -> None:
    body = ["Fourteen people are missing after the Aldwater river flooded Kesterby.",
            "\"We are searching every street,\" emergency director Helen Okafor said."]
    first = flood("missing", None, body, 0)
    corrected = [body[0].replace("Fourteen", "Fifteen"), *body[1:]]
    log = [first, first.model_copy(update={"version": 2, "body": "\n".join(corrected)})]
    before, after = titles(log)
    assert "Fourteen people are missing" in before
    assert "Fifteen people are missing" in after and "Fourteen" not in after


def test_withdrawing_the_article_of_the_title_renames_the_story() -> None:
    first = flood("missing", "14 missing as Aldwater floods Kesterby", MISSING_14, 0)
    second = flood("search", "Rescue teams search Kesterby for the missing", SEARCH, 3,
                   source="Northern Wire")
    log = [first, second,
           first.model_copy(update={"version": 2, "pubstatus": PubStatus.WITHDRAWN})]
    assert titles(log) == ["14 missing as Aldwater floods Kesterby",
                           "14 missing as Aldwater floods Kesterby",
                           "Rescue teams search Kesterby for the missing"]


def test_the_sample_wire_titles_follow_each_story() -> None:
    pipeline = Pipeline()
    by_story: dict[str, list[str]] = {}
    for key, value, position in records_from_files([WIRE], "storyline.articles"):
        outcome = handle_record(pipeline, key, value, position, max_bytes=1_000_000)
        for event in outcome.events:
            if isinstance(event, StoryUpdated):
                page = pipeline.page(event.story_id)
                assert page is not None
                by_story.setdefault(event.story_id, []).append(page.title)
    assert sorted(by_story.values(), key=lambda t: t[0]) == [
        ["Aldwater river rises as storms soak Eastmoor Valley",
         "More than 2,000 evacuated in Kesterby as Aldwater floods streets",
         "Levee breach floods Millbrook as Aldwater peaks",
         "Levee breach floods Millbrook as Aldwater peaks",  # "Two missing" the same day
         "Eastmoor flood damage put at $85 million",
         "Kesterby residents return home as clean-up begins"],
        ["Halden Metro workers call strike from Thursday",
         "Port Halden metro shut down as strike begins",
         "Metro strike talks to resume on Monday",
         "Tentative deal reached to end Port Halden metro strike",
         "Trains run again in Port Halden after strike ends"],
        ["Norvik recalls 48,000 SmartHeat heaters over overheating risk",
         "Norvik recalls 48,000 SmartHeat heaters over overheating risk",  # a copy
         "Safety board opens investigation into Norvik heaters",
         "Safety board opens investigation into Norvik heaters",  # its correction
         "Norvik shares fall 9% as heater recall costs mount"],
    ]


def test_a_stray_latest_article_does_not_name_the_story() -> None:
    log = [
        flood("missing", "14 missing as Aldwater floods Kesterby", MISSING_14, 0),
        flood("search", "Rescue teams search Kesterby for the missing", SEARCH, 3),
        flood("stray", "Council budget vote delayed",
              ["The Kesterby council delayed its vote on the budget for the Aldwater bridge.",
               "Rescue teams searched the flooded streets of Kesterby and Millbrook."], 40),
    ]
    assert titles(log)[-1] != "Council budget vote delayed"


def test_after_a_stray_latest_article_the_latest_development_names_the_story() -> None:
    # the newest article is about something else; the title is the latest development
    # with a headline of the story, not the best headline of any age
    log = [
        flood("missing", "14 missing as Aldwater floods Kesterby", MISSING_14, 0),
        flood("search", "Rescue teams search flooded Kesterby streets for the Aldwater missing",
              SEARCH, 3),
        flood("recede", "Aldwater recedes at Kesterby as missing found safe in Millbrook",
              RECEDE, 72),
        flood("stray", "Council budget vote delayed",
              ["The Kesterby council delayed its vote on the budget for the Aldwater bridge.",
               "Rescue teams searched the flooded streets of Kesterby and Millbrook."], 140),
    ]
    assert titles(log)[-1] == "Aldwater recedes at Kesterby as missing found safe in Millbrook"
