"""``storyline eval timeline``: data loading, scoring with tilse, the output files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from storyline.cli import main
from storyline.evaluation.timeline_eval import (
    GoldTimeline,
    Scorer,
    date_f1,
    load_articles,
    tokenise,
)
from storyline.ingest.files import iter_file

SENTENCES = {
    "2010-04-20": "The Deepwater Horizon rig exploded in the Gulf of Mexico, killing 11 workers.",
    "2010-04-22": "The burning Deepwater Horizon platform sank to the bottom of the Gulf.",
    "2010-07-15": "Engineers fitted a new containment cap over the leaking well, stopping the oil.",
}


def ninjs(uri: str, day: str, body: str) -> dict[str, object]:
    return {
        "uri": uri, "type": "text", "version": "1", "firstcreated": f"{day}T00:00:00Z",
        "versioncreated": f"{day}T00:00:00Z", "pubstatus": "usable", "language": "en",
        "bodies": [{"role": "main", "contenttype": "text/plain", "value": body}],
        "infosources": [{"name": "Wire"}],
    }


def test_tokenise_splits_punctuation_like_the_corpora() -> None:
    assert tokenise("BP's well, capped (finally).") == "BP's well , capped ( finally ) ."


def test_date_f1() -> None:
    gold = {date(2010, 4, 20), date(2010, 4, 22)}
    assert date_f1(gold, gold) == 1.0
    assert date_f1({date(2010, 4, 20)}, gold) == pytest.approx(2 / 3)
    assert date_f1({date(2011, 1, 1)}, gold) == 0.0


def test_articles_are_read_by_the_production_ingest(tmp_path: Path) -> None:
    item = ninjs("urn:x:1", "2010-04-21", "Line one.\nLine two.")
    item["headlines"] = [{"role": "main", "value": "Rig explodes"}]
    (tmp_path / "articles.jsonl").write_text(json.dumps(item) + "\n", encoding="utf-8")
    (article,) = load_articles(tmp_path)
    (expected,) = [r.article for r in iter_file(tmp_path / "articles.jsonl")]
    assert article == expected
    assert (article.uri, article.version, article.source) == ("urn:x:1", 1, "Wire")
    assert article.headline == "Rig explodes"
    assert article.published.isoformat() == "2010-04-21T00:00:00+00:00"
    assert article.body == "Line one.\nLine two."


def test_scorer_gives_full_marks_to_the_gold_and_less_to_a_shifted_copy() -> None:
    gold = GoldTimeline("bp", "bp/gold", tuple(
        (date.fromisoformat(d), (s,)) for d, s in SENTENCES.items()))
    scorer = Scorer()
    perfect = scorer.score([(d, list(s)) for d, s in gold.entries], gold)
    assert perfect == {"ar1_f": pytest.approx(1.0), "ar2_f": pytest.approx(1.0),
                       "date_f1": 1.0}
    shifted = [(date(d.year, d.month, d.day + 1), list(s)) for d, s in gold.entries]
    worse = scorer.score(shifted, gold)
    assert 0.0 < worse["ar1_f"] < 1.0  # right content, a day off: alignment discounts it
    assert worse["date_f1"] == 0.0


def test_eval_command_writes_timelines_and_scores(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "mini"
    (dataset / "gold").mkdir(parents=True)
    articles = []
    for i, (day, sentence) in enumerate(SENTENCES.items()):
        when = date.fromisoformat(day)
        label = f"{when.strftime('%B')} {when.day}"
        for copy in range(2):
            body = f"{sentence[:-1]} on {label}, officials said.\nMore news follows here today."
            articles.append(ninjs(f"urn:x:{i}-{copy}", day, body))
    articles.append(ninjs("urn:x:late", "2011-01-01", "Outside the gold's range entirely, "
                          "a report said on January 1."))
    (dataset / "articles.jsonl").write_text(
        "\n".join(json.dumps(a) for a in articles) + "\n", encoding="utf-8")
    (dataset / "gold" / "stories.jsonl").write_text("\n".join(
        json.dumps({"uri": a["uri"], "story": "bp"}) for a in articles) + "\n", encoding="utf-8")
    gold = {"story": "bp", "name": "bp/gold", "entries": [
        {"date": d, "sentences": [s]} for d, s in SENTENCES.items()]}
    (dataset / "gold" / "timelines.jsonl").write_text(json.dumps(gold) + "\n", encoding="utf-8")

    out = tmp_path / "out"
    assert main(["eval", "timeline", "--dataset", str(dataset), "--out", str(out)]) == 0
    assert "bp/gold" in capsys.readouterr().out
    (produced,) = [json.loads(line) for line in (out / "timelines.jsonl").read_text().splitlines()]
    assert produced["name"] == "bp/gold"
    assert [e["date"] for e in produced["entries"]] == list(SENTENCES)
    assert all(len(e["sentences"]) == 1 for e in produced["entries"])
    scores = json.loads((out / "scores.json").read_text())
    assert scores["mean"]["date_f1"] == 1.0
    assert scores["mean"]["ar1_f"] > 0.5
    assert scores["timelines"][0]["articles"] == 6  # the 2011 article is outside the range


def test_eval_command_refuses_a_directory_without_gold(tmp_path: Path) -> None:
    assert main(["eval", "timeline", "--dataset", str(tmp_path), "--out",
                 str(tmp_path / "out")]) == 2
