"""``storyline eval timeline``: score the timeline method against journalist timelines.

Protocol (../shared/README.md): for each gold timeline, the articles of its story published
inside the gold's date range go through the core (``extract_facts`` then ``build_timeline``)
asking for as many dates as the gold has and, per date, the gold's average number of
sentences rounded. Scores: alignment-based ROUGE-1/2 F1 ("align+ m:1", tilse, ROUGE
re-implementation) and Date-F1, averaged over the gold timelines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from storyline.domain.events import ArticleReceived, PubStatus
from storyline.domain.extract import extract_facts
from storyline.domain.facts import CitedArticle
from storyline.domain.timeline_select import build_timeline

log = structlog.get_logger(__name__)

# The corpora were detokenised; tilse splits on spaces, so both sides are tokenised alike.
_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]")


def tokenise(sentence: str) -> str:
    return " ".join(_TOKEN.findall(sentence))


def ninjs_to_article(item: dict[str, Any]) -> ArticleReceived:
    """One ninjs 2.1 item of the dev corpora as an ``ArticleReceived``."""
    body = next((b["value"] for b in item.get("bodies", []) if b.get("role") == "main"), "")
    headlines = item.get("headlines") or []
    headline = next((h["value"] for h in headlines if h.get("value")), None)
    sources = item.get("infosources") or [{}]
    stamp = item.get("firstcreated") or item["versioncreated"]
    return ArticleReceived(
        uri=item["uri"],
        version=int(item.get("version", 1)),
        source=sources[0].get("name") or "unknown",
        headline=headline,
        body=body,
        published=dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")),
        language=item.get("language", "en"),
        pubstatus=PubStatus(item.get("pubstatus", "usable")),
    )


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def load_articles(dataset: Path) -> list[ArticleReceived]:
    return [ninjs_to_article(item) for item in read_jsonl(dataset / "articles.jsonl")]


@dataclass(frozen=True, slots=True)
class GoldTimeline:
    story: str
    name: str
    entries: tuple[tuple[dt.date, tuple[str, ...]], ...]

    @property
    def first(self) -> dt.date:
        return min(d for d, _ in self.entries)

    @property
    def last(self) -> dt.date:
        return max(d for d, _ in self.entries)

    @property
    def sentences_per_date(self) -> int:
        total = sum(len(s) for _, s in self.entries)
        return max(1, round(total / len(self.entries)))


def load_gold(dataset: Path) -> tuple[dict[str, str], list[GoldTimeline]]:
    stories = {o["uri"]: o["story"] for o in read_jsonl(dataset / "gold" / "stories.jsonl")}
    timelines = [
        GoldTimeline(
            story=o["story"],
            name=o["name"],
            entries=tuple(
                (dt.date.fromisoformat(e["date"]), tuple(e["sentences"])) for e in o["entries"]
            ),
        )
        for o in read_jsonl(dataset / "gold" / "timelines.jsonl")
    ]
    return stories, timelines


def date_f1(predicted: set[dt.date], gold: set[dt.date]) -> float:
    hits = len(predicted & gold)
    if not hits:
        return 0.0
    precision, recall = hits / len(predicted), hits / len(gold)
    return 2 * precision * recall / (precision + recall)


class Scorer:
    """tilse's align+ m:1 ROUGE, imported lazily: it pulls in nltk and scipy."""

    def __init__(self) -> None:
        from tilse.data import timelines as tilse_timelines
        from tilse.evaluation import rouge

        self._timelines = tilse_timelines
        self._evaluator = rouge.TimelineRougeEvaluator(
            measures={"rouge_1", "rouge_2"}, rouge_computation="reimpl"
        )

    def score(self, predicted: Sequence[tuple[dt.date, Sequence[str]]],
              gold: GoldTimeline) -> dict[str, float]:
        pred_tl = self._timelines.Timeline(
            {d: [tokenise(s) for s in sents] for d, sents in predicted}
        )
        gold_tl = self._timelines.Timeline({d: [tokenise(s) for s in sents]
                                            for d, sents in gold.entries})
        truth = self._timelines.GroundTruth([gold_tl])
        result = self._evaluator.evaluate_align_date_content_costs_many_to_one(pred_tl, truth)
        return {
            "ar1_f": float(result["rouge_1"]["f_score"]),
            "ar2_f": float(result["rouge_2"]["f_score"]),
            "date_f1": date_f1({d for d, _ in predicted}, {d for d, _ in gold.entries}),
        }


def evaluate(dataset: Path, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    articles = load_articles(dataset)
    stories, golds = load_gold(dataset)
    by_story: dict[str, list[ArticleReceived]] = {}
    for article in articles:
        story = stories.get(article.uri)
        if story is not None and article.pubstatus is PubStatus.USABLE:
            by_story.setdefault(story, []).append(article)

    t_extract = time.perf_counter()
    cited: dict[str, list[CitedArticle]] = {}
    for story, members in sorted(by_story.items()):
        cited[story] = [
            CitedArticle(n=i, uri=a.uri, version=a.version, source=a.source,
                         headline=a.headline, published=a.published, facts=extract_facts(a))
            for i, a in enumerate(members, start=1)
        ]
    extract_seconds = time.perf_counter() - t_extract

    scorer = Scorer()
    rows: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    core_seconds = 0.0
    core_articles = 0
    for gold in golds:
        inside = [a for a in cited.get(gold.story, [])
                  if gold.first <= a.published.date() <= gold.last]
        t0 = time.perf_counter()
        predicted = build_timeline(inside, n_dates=len(gold.entries),
                                   sentences_per_date=gold.sentences_per_date,
                                   start=gold.first, end=gold.last)
        core_seconds += time.perf_counter() - t0
        core_articles += len(inside)
        scores = scorer.score(predicted, gold)
        rows.append({"name": gold.name, "story": gold.story, "articles": len(inside),
                     "gold_dates": len(gold.entries), "predicted_dates": len(predicted),
                     **scores})
        outputs.append({"name": gold.name, "entries": [
            {"date": d.isoformat(), "sentences": list(s)} for d, s in predicted]})
        log.info("timeline_scored", name=gold.name, **scores)

    metrics = ("ar1_f", "ar2_f", "date_f1")
    mean = {m: sum(r[m] for r in rows) / len(rows) if rows else 0.0 for m in metrics}
    extracted = sum(len(v) for v in cited.values())
    result: dict[str, Any] = {
        "dataset": dataset.name,
        "timelines": rows,
        "mean": mean,
        "articles": extracted,
        "extract_articles_per_s": extracted / extract_seconds if extract_seconds else None,
        "timeline_articles_per_s": core_articles / core_seconds if core_seconds else None,
        "seconds": time.perf_counter() - started,
    }
    out.mkdir(parents=True, exist_ok=True)
    with (out / "timelines.jsonl").open("w", encoding="utf-8") as handle:
        for item in outputs:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    (out / "scores.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def format_table(result: dict[str, Any]) -> str:
    lines = [f"{'timeline':<58} {'arts':>5} {'dates':>5} {'AR1-F':>6} {'AR2-F':>6} {'Date-F1':>7}"]
    for r in result["timelines"]:
        lines.append(f"{r['name'][:58]:<58} {r['articles']:>5} {r['gold_dates']:>5} "
                     f"{r['ar1_f']:>6.3f} {r['ar2_f']:>6.3f} {r['date_f1']:>7.3f}")
    m = result["mean"]
    lines.append(f"{'mean':<58} {'':>5} {'':>5} {m['ar1_f']:>6.3f} {m['ar2_f']:>6.3f} "
                 f"{m['date_f1']:>7.3f}")
    lines.append(f"extraction {result['extract_articles_per_s']:.0f} articles/s, "
                 f"timelines {result['timeline_articles_per_s']:.0f} articles/s, "
                 f"{result['seconds']:.1f} s in all")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, required=True,
                        help="directory with articles.jsonl and gold/{stories,timelines}.jsonl")
    parser.add_argument("--out", type=Path, required=True,
                        help="where to write timelines.jsonl and scores.json")


def run(args: argparse.Namespace) -> int:
    if not (args.dataset / "gold" / "timelines.jsonl").is_file():
        print(f"no gold timelines under {args.dataset}")
        return 2
    print(format_table(evaluate(args.dataset, args.out)))
    return 0
