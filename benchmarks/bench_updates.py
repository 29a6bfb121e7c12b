"""What the worker writes per revision, and what a revision costs, by story size.

    .venv/bin/python benchmarks/bench_updates.py ../shared/data/timeline17-dev/articles.jsonl

Folds the file in process (the worker's core, no Kafka) and reports:
- StoryUpdated sizes (median, p90, p99, max) and total story-update bytes against the bytes of
  the articles that caused them;
- the whole-page checkpoints the worker would write to the story-pages topic
  (``PageCheckpoints`` with the default settings) and their total bytes;
- fold time per article by the size of the story it joined (median ms per bucket), i.e.
  whether per-article cost grows with the story.
Every change is also applied to the page before it (``PageFolder``), so the run fails if a
rebuilt page does not match its hash.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryUpdated
from storyline.domain.pages import PageFolder
from storyline.domain.pipeline import Pipeline
from storyline.domain.records import handle_record
from storyline.replay import records_from_files
from storyline.settings import Settings
from storyline.stream.worker import PageCheckpoints

BUCKETS = (10, 50, 100, 500, 1000, 2000, 5000, 10000, 100000)


def _bucket(size: int) -> str:
    low = 1
    for high in BUCKETS:
        if size <= high:
            return f"{low}-{high}"
        low = high + 1
    return f">{BUCKETS[-1]}"


def _quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--no-check", action="store_true",
                        help="skip rebuilding pages from the changes")
    args = parser.parse_args()
    records = records_from_files(args.files, "bench.articles", args.limit)
    pipeline = Pipeline()
    folder = PageFolder()
    checkpoints = PageCheckpoints(Settings().page_checkpoint_revisions)
    update_sizes: list[int] = []
    page_bytes = checkpoint_count = 0
    article_bytes = sum(len(value or b"") for _, value, _ in records)
    cost: dict[str, list[float]] = {}
    started = time.perf_counter()
    for key, value, position in records:
        began = time.perf_counter()
        outcome = handle_record(pipeline, key, value, position, max_bytes=2_000_000)
        spent = time.perf_counter() - began
        for event in outcome.events:
            if not isinstance(event, StoryUpdated):
                continue
            size = len(canonical_bytes(event))
            update_sizes.append(size)
            cost.setdefault(_bucket(event.article_count), []).append(spent * 1000)
            if not args.no_check:
                folder.apply(event)
            if checkpoints.due(event.story_id, size):
                page = pipeline.page(event.story_id)
                assert page is not None
                written = len(canonical_bytes(page))
                checkpoints.written(event.story_id, written)
                page_bytes += written
                checkpoint_count += 1
    seconds = time.perf_counter() - started
    total = sum(update_sizes)
    report = {
        "articles": len(records),
        "revisions": len(update_sizes),
        "seconds": round(seconds, 1),
        "article_bytes": article_bytes,
        "update_bytes": total,
        "update_bytes_per_article_byte": round(total / article_bytes, 3) if article_bytes else 0,
        "update_median": int(statistics.median(update_sizes)) if update_sizes else 0,
        "update_p90": _quantile(update_sizes, 0.90),
        "update_p99": _quantile(update_sizes, 0.99),
        "update_max": max(update_sizes, default=0),
        "page_checkpoints": checkpoint_count,
        "page_checkpoint_bytes": page_bytes,
        "fold_ms_median_by_story_size": {
            bucket: [round(statistics.median(values), 2), len(values)]
            for bucket, values in sorted(cost.items(), key=lambda kv: int(
                kv[0].split("-")[0].lstrip(">")))
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
