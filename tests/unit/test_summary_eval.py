"""``storyline eval summaries``: the coverage measure and the command."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from storyline.cli import main
from storyline.evaluation.summary_eval import (
    content_words,
    overlap_scores,
    score_texts,
)
from storyline.evaluation.timeline_eval import GoldTimeline

GOLD = GoldTimeline("bp", "bp/gold", (
    (date(2010, 4, 20), ("The Deepwater Horizon rig exploded in the Gulf, killing 11 workers.",)),
    (date(2010, 4, 22), ("The burning platform sank to the bottom of the Gulf.",)),
    (date(2010, 7, 15), ("Engineers fitted a containment cap over the leaking well.",)),
))


def test_clipped_overlap_counts_each_reference_word_once() -> None:
    scores = overlap_scores(Counter({"oil": 3, "well": 1}), Counter({"oil": 1, "cap": 1}))
    assert scores["p"] == pytest.approx(1 / 4)
    assert scores["r"] == pytest.approx(1 / 2)
    assert overlap_scores(Counter(), Counter({"oil": 1})) == {"p": 0.0, "r": 0.0, "f": 0.0}


def test_stop_words_do_not_count_as_coverage() -> None:
    assert set(content_words(["The rig and the cap"])) == {"rig", "cap"}


def test_the_story_so_far_and_the_latest_days() -> None:
    first_two = [s for _, sents in GOLD.entries[:2] for s in sents]
    # on Apr 22 the reader can expect the first two entries, not the July one
    perfect = score_texts(first_two, GOLD, date(2010, 4, 22))
    assert perfect["story_r1_f"] == pytest.approx(1.0)
    assert perfect["latest_r1_r"] == pytest.approx(1.0)
    # the explosion alone covers part of the story so far, none of the sinking
    explosion = score_texts([GOLD.entries[0][1][0]], GOLD, date(2010, 4, 22))
    assert 0.0 < explosion["story_r1_r"] < 1.0
    assert explosion["story_r1_p"] == pytest.approx(1.0)
    # in July, the latest development is the cap; April's text covers none of it
    july = score_texts(first_two, GOLD, date(2010, 7, 15))
    assert july["latest_r1_r"] == 0.0
    assert july["story_r1_r"] < perfect["story_r1_r"]
    # no gold entry in the last days: no latest figure rather than a zero
    quiet = score_texts(first_two, GOLD, date(2010, 6, 1))
    assert quiet["latest_r1_r"] != quiet["latest_r1_r"]


def ninjs(uri: str, day: str, body: str) -> dict[str, object]:
    return {
        "uri": uri, "type": "text", "version": "1", "firstcreated": f"{day}T08:00:00Z",
        "versioncreated": f"{day}T08:00:00Z", "pubstatus": "usable", "language": "en",
        "bodies": [{"role": "main", "contenttype": "text/plain", "value": body}],
        "infosources": [{"name": f"Wire {uri[-1]}"}],
    }


def test_command_scores_the_page_summary_at_checkpoints(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "mini"
    (dataset / "gold").mkdir(parents=True)
    days = ["2010-04-20", "2010-04-21", "2010-04-22", "2010-04-23"]
    articles = [ninjs(f"urn:x:{i}", day, (
        "The Deepwater Horizon drilling rig exploded in the Gulf of Mexico, killing 11 "
        "workers, the Coast Guard said.\nCrews from BP battled the fire on the burning "
        "platform for a second day as oil spread across the Gulf waters.\nThe Coast Guard "
        "said the platform sank to the bottom of the Gulf of Mexico after the fire."))
        for i, day in enumerate(days)]
    (dataset / "articles.jsonl").write_text(
        "\n".join(json.dumps(a) for a in articles) + "\n", encoding="utf-8")
    (dataset / "gold" / "stories.jsonl").write_text("\n".join(
        json.dumps({"uri": a["uri"], "story": "bp"}) for a in articles) + "\n", encoding="utf-8")
    gold = {"story": "bp", "name": "bp/gold", "entries": [
        {"date": d.isoformat(), "sentences": list(s)} for d, s in GOLD.entries[:2]]
        + [{"date": "2010-04-23", "sentences": ["The rig sank in the Gulf of Mexico."]}]}
    (dataset / "gold" / "timelines.jsonl").write_text(json.dumps(gold) + "\n", encoding="utf-8")

    out = tmp_path / "out"
    assert main(["eval", "summaries", "--dataset", str(dataset), "--out", str(out)]) == 0
    assert "bp/gold" in capsys.readouterr().out
    (produced,) = [json.loads(line) for line in (out / "summaries.jsonl").read_text().splitlines()]
    points = produced["checkpoints"]
    assert [p["articles"] for p in points] == [1, 2, 3, 4]
    assert all(p["summary"] for p in points)  # the page has a summary at every checkpoint
    assert points[-1]["at"] == "2010-04-23"
    scores = json.loads((out / "scores.json").read_text())
    row = scores["timelines"][0]
    assert row["checkpoints"] == 4
    # the summary states the explosion and the sinking: it covers gold words, precisely
    assert row["summary"]["story_r1_r"] > 0.3
    assert row["summary"]["story_r1_p"] > 0.2
