"""``storyline eval timeline``: score the timeline method against journalist timelines.

Protocol (../shared/README.md): for each gold timeline, the articles of its story published
inside the gold's date range, read by the production ingest mapper, are folded through the
worker's code (``handle_record``, ``Pipeline``; see :mod:`storyline.evaluation.corpus`) as a
log of their own. The timeline scored is the page's: the ``TimelineIndex`` of the story that
holds most of them, asked for as many entries as the gold has dates (the page shows
``TIMELINE_LIMIT``; one entry a day, so one sentence a date, whatever the gold's average).
Scores: alignment-based ROUGE-1/2 F1 ("align+ m:1", tilse, ROUGE re-implementation) and
Date-F1, averaged over the gold timelines; ``story_share`` is the share of the articles in
that story (the rest went to other stories and are not on its page).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from storyline.domain.events import ArticleReceived, PubStatus
from storyline.evaluation.corpus import fold, read_dataset, read_jsonl, stories_of
from storyline.evaluation.results import write_results

log = structlog.get_logger(__name__)

# The corpora were detokenised; tilse splits on spaces, so both sides are tokenised alike.
_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]")


def tokenise(sentence: str) -> str:
    return " ".join(_TOKEN.findall(sentence))


def load_articles(dataset: Path) -> list[ArticleReceived]:
    return read_dataset(dataset)


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


def page_timeline(articles: Sequence[ArticleReceived], n_dates: int
                  ) -> tuple[list[tuple[dt.date, list[str]]], float]:
    """The articles folded as a log of their own; the timeline of the story holding most
    of them, as its page builds it (``n_dates`` entries), and that story's share."""
    if not articles:
        return [], 0.0
    rebuilt = fold(articles)
    held = Counter(stories_of(rebuilt.pipeline, articles).values())
    if not held:
        return [], 0.0
    story_id, count = min(held.items(), key=lambda item: (-item[1], item[0]))
    state = rebuilt.pipeline.story(story_id)
    if state is None:
        return [], 0.0
    entries = state.timeline.entries(n_dates)
    return [(e.date, [e.text]) for e in entries], count / len(articles)


def gold_stories(dataset: Path) -> tuple[dict[str, list[ArticleReceived]], list[GoldTimeline]]:
    """The usable articles of each gold story, in log order, and the gold timelines."""
    stories, golds = load_gold(dataset)
    by_story: dict[str, list[ArticleReceived]] = {}
    for article in load_articles(dataset):
        story = stories.get(article.uri)
        if story is not None and article.pubstatus is PubStatus.USABLE:
            by_story.setdefault(story, []).append(article)
    return by_story, golds


def evaluate(dataset: Path, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    by_story, golds = gold_stories(dataset)

    scorer = Scorer()
    rows: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    core_seconds = 0.0
    core_articles = 0
    for gold in golds:
        inside = [a for a in by_story.get(gold.story, [])
                  if gold.first <= a.published.date() <= gold.last]
        t0 = time.perf_counter()
        predicted, share = page_timeline(inside, len(gold.entries))
        core_seconds += time.perf_counter() - t0
        core_articles += len(inside)
        scores = scorer.score(predicted, gold)
        rows.append({"name": gold.name, "story": gold.story, "articles": len(inside),
                     "story_share": round(share, 4), "gold_dates": len(gold.entries),
                     "predicted_dates": len(predicted), **scores})
        outputs.append({"name": gold.name, "entries": [
            {"date": d.isoformat(), "sentences": list(s)} for d, s in predicted]})
        log.info("timeline_scored", name=gold.name, **scores)

    metrics = ("ar1_f", "ar2_f", "date_f1")
    mean = {m: sum(r[m] for r in rows) / len(rows) if rows else 0.0 for m in metrics}
    result: dict[str, Any] = {
        "dataset": dataset.name,
        "timelines": rows,
        "mean": mean,
        "articles": sum(len(v) for v in by_story.values()),
        "fold_articles_per_s": core_articles / core_seconds if core_seconds else None,
        "seconds": time.perf_counter() - started,
    }
    write_results(out, "timelines.jsonl", outputs, result)
    return result


def format_table(result: dict[str, Any]) -> str:
    lines = [f"{'timeline':<58} {'arts':>5} {'dates':>5} {'AR1-F':>6} {'AR2-F':>6} {'Date-F1':>7}"]
    for r in result["timelines"]:
        lines.append(f"{r['name'][:58]:<58} {r['articles']:>5} {r['gold_dates']:>5} "
                     f"{r['ar1_f']:>6.3f} {r['ar2_f']:>6.3f} {r['date_f1']:>7.3f}")
    m = result["mean"]
    lines.append(f"{'mean':<58} {'':>5} {'':>5} {m['ar1_f']:>6.3f} {m['ar2_f']:>6.3f} "
                 f"{m['date_f1']:>7.3f}")
    lines.append(f"pipeline fold {result['fold_articles_per_s'] or 0:.0f} articles/s, "
                 f"{result['seconds']:.1f} s in all")
    return "\n".join(lines)


def add_gold_arguments(parser: argparse.ArgumentParser, writes: str) -> None:
    """The arguments of every evaluation against gold timelines; ``writes`` names its files."""
    parser.add_argument("--dataset", type=Path, required=True,
                        help="directory with articles.jsonl and gold/{stories,timelines}.jsonl")
    parser.add_argument("--out", type=Path, required=True, help=f"where to write {writes}")


def run_gold_evaluation(args: argparse.Namespace,
                        evaluate_set: Callable[[Path, Path], dict[str, Any]],
                        table: Callable[[dict[str, Any]], str]) -> int:
    """Refuse a directory without gold timelines (status 2), else evaluate and print."""
    if not (args.dataset / "gold" / "timelines.jsonl").is_file():
        print(f"no gold timelines under {args.dataset}")
        return 2
    print(table(evaluate_set(args.dataset, args.out)))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_gold_arguments(parser, "timelines.jsonl and scores.json")


def run(args: argparse.Namespace) -> int:
    return run_gold_evaluation(args, evaluate, format_table)
