"""Per-article assignment cost against the number of live stories.

One Clusterer is grown through 10^3, 10^4, 10^5 and 10^6 live stories with synthetic
background articles (deterministic: seeded words drawn from a synthetic vocabulary, each
article unlike the others, so each founds a story). At every level, a slice of the real dev
articles (timeline17-dev + entities-dev merged by time; article i goes to slice i mod 4, so
the slices are alike) is assigned and timed; facts are extracted beforehand and not timed.
Resident memory is read from /proc after each level.

The timed assignment is ``Clusterer.assign`` split in its two parts, timed apart (CPU time):
``clustering_features`` (stateless: what the extract stage computes once per article in the
staged pipeline, in parallel processes) and ``Clusterer.place`` (what the one sequential
assign stage runs, the figure of issue 10's >= 2,000 articles/s). Wall-clock figures are of
the two together.

    .venv/bin/python benchmarks/bench_clustering.py [--levels 1000,10000,100000,1000000]
        [--per-level 600] [--shared ../shared] [--set posting_cap=16 ...] [--compiled]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import random
import sys
import time
from pathlib import Path

from storyline.domain.assign import kernels
from storyline.domain.assign.clustering import Clusterer, ClusteringConfig, clustering_features
from storyline.domain.events import ArticleReceived
from storyline.domain.extract.extractor import clustering_facts, extract_facts
from storyline.domain.facts import ArticleFacts
from storyline.evaluation.clustering_eval import merged_stream

ROOT = Path(__file__).resolve().parents[1]
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20


def synthetic_word(n: int) -> str:
    out = []
    n += 26 * 26  # at least three letters
    while n:
        n, r = divmod(n, 26)
        out.append(_LETTERS[r])
    return "".join(out)


class Background:
    """Deterministic synthetic articles, each its own story."""

    def __init__(self, vocabulary: int = 200_000, words: int = 30, seed: int = 17) -> None:
        self.rng = random.Random(seed)
        self.words = [synthetic_word(i) for i in range(vocabulary)]
        self.per_article = words
        self.count = 0
        self.published = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

    def next(self) -> tuple[ArticleReceived, ArticleFacts]:
        self.count += 1
        words = self.rng.sample(self.words, self.per_article)
        body = " ".join(words)
        article = ArticleReceived(
            uri=f"urn:bench:{self.count}",
            version=1,
            source="bench",
            body=body,
            published=self.published,
        )
        facts = ArticleFacts(
            uri=article.uri,
            version=1,
            extractor_version="bench",
            sentences=(body,),
            dates=(),
            figures=(),
            names=(),
        )
        return article, facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1000,10000,100000,1000000")
    parser.add_argument("--per-level", type=int, default=600)
    parser.add_argument("--shared", type=Path, default=ROOT / ".." / "shared")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a ClusteringConfig field (int/float), e.g. --set posting_cap=16",
    )
    parser.add_argument("--compiled", action="store_true",
                        help="the compiled kernels (numba; STORYLINE_COMPILED_KERNELS=true), "
                        "loaded before anything is measured; default: the portable code")
    args = parser.parse_args()
    if args.compiled:
        kernels.warm()  # switched on, compiled or loaded from the cache: not in the timings
    levels = [int(x) for x in args.levels.split(",")]
    datasets = [args.shared / "data" / "timeline17-dev", args.shared / "data" / "entities-dev"]
    if not all((d / "articles.jsonl").is_file() for d in datasets):
        print(f"dev data not found under {args.shared}/data", file=sys.stderr)
        return 2
    real = [(a, clustering_facts(a, extract_facts(a))) for a in merged_stream(datasets)]
    slices = [real[i :: len(levels)][: args.per_level] for i in range(len(levels))]

    config = ClusteringConfig()
    for item in args.set:
        key, value = item.split("=", 1)
        config = dataclasses.replace(config, **{key: type(getattr(config, key))(value)})
    clusterer = Clusterer(config)
    background = Background()
    base_rss = rss_mb()
    results = []
    print(f"{'stories':>10} {'fill s':>8} {'ms/article':>11} {'articles/s':>11} {'RSS MB':>8} "
          f"{'CPU ms/article':>15} {'features':>9} {'place':>9} {'place/s':>9}")
    for level, timed in zip(levels, slices, strict=True):
        start = time.perf_counter()
        while clusterer.story_count < level:
            clusterer.assign(*background.next())
        fill = time.perf_counter() - start
        gc.collect()
        # assign = place(uri, clustering_features(article, facts)), its parts timed apart;
        # the features as the extract stage makes them (clustering_facts finds a long body's
        # whole-body names again: part of their cost)
        start = time.perf_counter()
        cpu = time.process_time()
        features = [(a.uri, clustering_features(a, clustering_facts(a, f))) for a, f in timed]
        cpu_features = time.process_time() - cpu
        for uri, feature in features:
            clusterer.place(uri, feature)
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        cpu_place = cpu - cpu_features
        row = {
            "live_stories": clusterer.story_count,
            "fill_seconds": round(fill, 1),
            "ms_per_article": round(1000 * seconds / len(timed), 3),
            # CPU time of this process: what to compare on a shared, loaded machine, where
            # the wall clock also counts the time other jobs hold the cores
            "cpu_ms_per_article": round(1000 * cpu / len(timed), 3),
            "features_cpu_ms_per_article": round(1000 * cpu_features / len(timed), 3),
            "place_cpu_ms_per_article": round(1000 * cpu_place / len(timed), 3),
            "place_articles_per_cpu_s": round(len(timed) / cpu_place, 1),
            "articles_per_s": round(len(timed) / seconds, 1),
            "rss_mb": round(rss_mb(), 1),
            "rss_growth_mb": round(rss_mb() - base_rss, 1),
        }
        results.append(row)
        print(
            f"{level:>10} {fill:>8.1f} {row['ms_per_article']:>11} "
            f"{row['articles_per_s']:>11} {row['rss_mb']:>8} {row['cpu_ms_per_article']:>15} "
            f"{row['features_cpu_ms_per_article']:>9} {row['place_cpu_ms_per_article']:>9} "
            f"{row['place_articles_per_cpu_s']:>9}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
