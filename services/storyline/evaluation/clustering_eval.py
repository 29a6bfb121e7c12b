"""``storyline eval clustering``: stream gold data sets through the core, score B-cubed.

Several data sets are merged into one stream by publication time (ties: data set order on
the command line, then line order). The files are read by the production ingest mapper and
folded through the worker's code (``handle_record``, ``Pipeline``: facts, placement, pages;
see :mod:`storyline.evaluation.corpus`), and the story that holds every article at the end
(after merges) is compared with ``gold/stories.jsonl``. ``--placement-only`` skips the pages
(the same placement, checked by a test; minutes faster on the dev sets).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyline.domain.assign.clustering import ClusteringConfig
from storyline.domain.events import StoryMerged
from storyline.evaluation.corpus import fold, merged_stream, place_articles, read_jsonl, stories_of
from storyline.evaluation.results import write_results

__all__ = ["BCubed", "ClusteringRun", "bcubed", "evaluate", "load_gold", "merged_stream",
           "read_jsonl", "run"]


def load_gold(datasets: Sequence[Path]) -> dict[str, str]:
    gold: dict[str, str] = {}
    for dataset in datasets:
        for row in read_jsonl(dataset / "gold" / "stories.jsonl"):
            gold[row["uri"]] = f"{dataset.name}/{row['story']}"
    return gold


@dataclass(frozen=True)
class BCubed:
    precision: float
    recall: float
    f1: float


def bcubed(predicted: Mapping[str, str], gold: Mapping[str, str]) -> BCubed:
    """B-cubed over the items present in both mappings."""
    items = sorted(uri for uri in predicted if uri in gold)
    if not items:
        return BCubed(0.0, 0.0, 0.0)
    by_cluster: dict[str, list[str]] = {}
    by_class: dict[str, list[str]] = {}
    pair: dict[tuple[str, str], int] = {}
    for uri in items:
        c, g = predicted[uri], gold[uri]
        by_cluster.setdefault(c, []).append(uri)
        by_class.setdefault(g, []).append(uri)
        pair[(c, g)] = pair.get((c, g), 0) + 1
    p = r = 0.0
    for uri in items:
        c, g = predicted[uri], gold[uri]
        both = pair[(c, g)]
        p += both / len(by_cluster[c])
        r += both / len(by_class[g])
    p /= len(items)
    r /= len(items)
    return BCubed(p, r, 2 * p * r / (p + r) if p + r else 0.0)


@dataclass(frozen=True)
class ClusteringRun:
    assignments: dict[str, str]  # uri -> final story id
    seconds_extract: float  # placement only: facts extraction; pipeline: inside the fold
    seconds_cluster: float  # placement only: the clusterer; pipeline: the whole fold
    merges: int
    duplicates: int
    articles: int


def run_core(datasets: Sequence[Path], config: ClusteringConfig, *,
             placement_only: bool = False) -> ClusteringRun:
    """The data sets' merged stream through the pipeline (or the placement alone)."""
    articles = merged_stream(datasets)
    start = time.perf_counter()
    if placement_only:
        placed = place_articles(articles, config)
        return ClusteringRun(placed.stories, time.perf_counter() - start - placed.seconds,
                             placed.seconds, placed.merges, placed.duplicates, len(articles))
    rebuilt = fold(articles, config)
    pipeline = rebuilt.pipeline
    merges = sum(isinstance(e, StoryMerged) for e in rebuilt.events)
    duplicates = 0
    for story_id in pipeline.story_ids:
        state = pipeline.story(story_id)
        if state is not None:
            duplicates += sum(a.copy_of is not None for a in state.articles.values())
    return ClusteringRun(stories_of(pipeline, articles), 0.0, rebuilt.seconds, merges,
                         duplicates, len(articles))


def evaluate(datasets: Sequence[Path], config: ClusteringConfig, *,
             placement_only: bool = False) -> tuple[ClusteringRun, dict[str, Any]]:
    run_ = run_core(datasets, config, placement_only=placement_only)
    gold = load_gold(datasets)
    scores = bcubed(run_.assignments, gold)
    n = run_.articles
    seconds = run_.seconds_cluster + run_.seconds_extract
    result = {
        "datasets": [str(d) for d in datasets],
        "mode": "placement only" if placement_only else "pipeline",
        "articles": n,
        "gold_stories": len(set(gold.values())),
        "stories": len(set(run_.assignments.values())),
        "bcubed_precision": round(scores.precision, 4),
        "bcubed_recall": round(scores.recall, 4),
        "bcubed_f1": round(scores.f1, 4),
        "merges": run_.merges,
        "duplicates": run_.duplicates,
        "articles_per_s": round(n / seconds, 1) if seconds else None,
    }
    return run_, result


def format_table(result: Mapping[str, Any]) -> str:
    rows = [(key, str(value)) for key, value in result.items() if key != "datasets"]
    width = max(len(key) for key, _ in rows)
    lines = ["datasets: " + ", ".join(result["datasets"])]
    lines += [f"{key.ljust(width)}  {value}" for key, value in rows]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        type=Path,
        action="append",
        required=True,
        help="data set folder (articles.jsonl, gold/stories.jsonl); repeatable",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--placement-only", action="store_true",
                        help="place articles in stories without building pages (same stories, "
                             "checked by a test; much faster)")


def run(args: argparse.Namespace) -> int:
    datasets: list[Path] = args.dataset
    for dataset in datasets:
        if not (dataset / "articles.jsonl").is_file():
            print(f"no articles.jsonl in {dataset}")
            return 2
    outcome, result = evaluate(datasets, ClusteringConfig(),
                               placement_only=args.placement_only)
    out: Path = args.out
    write_results(out, "assignments.jsonl",
                  ({"uri": uri, "story_id": story} for uri, story in outcome.assignments.items()),
                  result)
    print(format_table(result))
    return 0
