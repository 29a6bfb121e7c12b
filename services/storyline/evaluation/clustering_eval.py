"""``storyline eval clustering``: stream gold data sets through the clusterer, score B-cubed.

Several data sets are merged into one stream by publication time (ties: data set order on
the command line, then line order), each article goes through ``extract_facts`` and
``Clusterer.assign``, and the final story of every article (after merges) is compared with
``gold/stories.jsonl``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyline.domain.clustering import Clusterer, ClusteringConfig
from storyline.domain.events import ArticleReceived, PubStatus
from storyline.domain.extract import extract_facts
from storyline.domain.facts import ArticleFacts


def ninjs_to_article(item: Mapping[str, Any]) -> ArticleReceived:
    body = next((b["value"] for b in item.get("bodies", ()) if b.get("role", "main") == "main"), "")
    headlines = item.get("headlines") or ()
    headline = next((h.get("value") for h in headlines if h.get("value")), None)
    sources = item.get("infosources") or ()
    source = next((s.get("name") for s in sources if s.get("name")), None) or "unknown"
    published = item.get("firstcreated") or item["versioncreated"]
    return ArticleReceived(
        uri=item["uri"],
        version=int(item.get("version", 1)),
        source=source,
        headline=headline,
        body=body,
        published=dt.datetime.fromisoformat(published.replace("Z", "+00:00")),
        language=item.get("language", "en"),
        pubstatus=PubStatus(item.get("pubstatus", "usable")),
    )


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def merged_stream(datasets: Sequence[Path]) -> list[ArticleReceived]:
    """All articles of all data sets in publication order (ties: data set, then line)."""
    keyed: list[tuple[dt.datetime, int, int, ArticleReceived]] = []
    for d, dataset in enumerate(datasets):
        for line, item in enumerate(read_jsonl(dataset / "articles.jsonl")):
            article = ninjs_to_article(item)
            keyed.append((article.published, d, line, article))
    keyed.sort(key=lambda k: (k[0], k[1], k[2]))
    return [k[3] for k in keyed]


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
    seconds_extract: float
    seconds_cluster: float
    merges: int
    duplicates: int


def cluster_stream(
    stream: Sequence[tuple[ArticleReceived, ArticleFacts]], config: ClusteringConfig
) -> ClusteringRun:
    clusterer = Clusterer(config)
    joined: dict[str, str] = {}
    merges = duplicates = 0
    start = time.perf_counter()
    for article, facts in stream:
        result = clusterer.assign(article, facts)
        joined[article.uri] = result.story_id
        merges += len(result.merged)
        duplicates += result.duplicate_of is not None
    seconds = time.perf_counter() - start
    final = {uri: clusterer.resolve(story) for uri, story in joined.items()}
    return ClusteringRun(final, 0.0, seconds, merges, duplicates)


def evaluate(
    datasets: Sequence[Path], config: ClusteringConfig
) -> tuple[ClusteringRun, dict[str, Any]]:
    articles = merged_stream(datasets)
    start = time.perf_counter()
    stream = [(a, extract_facts(a)) for a in articles]
    seconds_extract = time.perf_counter() - start
    run_ = cluster_stream(stream, config)
    gold = load_gold(datasets)
    scores = bcubed(run_.assignments, gold)
    n = len(stream)
    result = {
        "datasets": [str(d) for d in datasets],
        "articles": n,
        "gold_stories": len(set(gold.values())),
        "stories": len(set(run_.assignments.values())),
        "bcubed_precision": round(scores.precision, 4),
        "bcubed_recall": round(scores.recall, 4),
        "bcubed_f1": round(scores.f1, 4),
        "merges": run_.merges,
        "duplicates": run_.duplicates,
        "clustering_articles_per_s": round(n / run_.seconds_cluster, 1)
        if run_.seconds_cluster
        else None,
        "end_to_end_articles_per_s": round(n / (run_.seconds_cluster + seconds_extract), 1),
    }
    return ClusteringRun(
        run_.assignments, seconds_extract, run_.seconds_cluster, run_.merges, run_.duplicates
    ), result


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


def run(args: argparse.Namespace) -> int:
    datasets: list[Path] = args.dataset
    for dataset in datasets:
        if not (dataset / "articles.jsonl").is_file():
            print(f"no articles.jsonl in {dataset}")
            return 2
    outcome, result = evaluate(datasets, ClusteringConfig())
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with (out / "assignments.jsonl").open("w", encoding="utf-8") as handle:
        for uri, story in outcome.assignments.items():
            handle.write(json.dumps({"uri": uri, "story_id": story}) + "\n")
    (out / "scores.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(format_table(result))
    return 0
