"""The core alone, in process: articles/s of the whole fold (extract, cluster, reconcile,
summarise, hash) over a data set, plus revisions, stories, page sizes and peak memory.

    .venv/bin/python benchmarks/bench_core.py ../shared/data/timeline17-dev/articles.jsonl

This is replay's speed without Kafka I/O; it is also the worker's rebuild speed at start-up.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryUpdated
from storyline.replay import fold_records, records_from_files


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    records = records_from_files(args.files, "bench.articles", args.limit)
    started = time.perf_counter()
    rebuilt = fold_records(records, max_bytes=2_000_000)
    seconds = time.perf_counter() - started
    updates = [e for e in rebuilt.events if isinstance(e, StoryUpdated)]
    sizes = [len(canonical_bytes(u)) for u in updates[-200:]]
    biggest = max(updates, key=lambda u: u.article_count) if updates else None
    report = {
        "articles": len(records),
        "seconds": round(seconds, 2),
        "articles_per_s": round(len(records) / seconds, 1),
        "stories": len(rebuilt.pipeline.story_ids),
        "revisions": len(updates),
        "dead_letters": rebuilt.dead_letters,
        "largest_story_articles": biggest.article_count if biggest else 0,
        "median_page_bytes_last_200": int(statistics.median(sizes)) if sizes else 0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
