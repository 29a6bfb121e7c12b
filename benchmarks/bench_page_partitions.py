"""The page stage split over M partitions by story id, in one process (docs/stages.md, step 5).

Every record of a log goes through the extract stage, the assign stage and then the page
partitions its assignment goes to (``storyline.domain.partitions``), as the stages over
Kafka will run them. It prints, as JSON:

- ``digest``: sha256 over the sha256 of every StoryUpdated and StoryMerged, in the order of
  the log, the digest ``bench_memory.py`` prints for the same file: equal digests say that
  the M partitions folded what one fold folds, byte for byte;
- the CPU seconds of extract, assign and each page partition, the articles each partition
  folded and the handovers (stories merged in from another partition, rebuilt from their
  facts) with their CPU;
- ``page_speedup_bound``: the page stage's CPU over its busiest partition's, the most that M
  page processes could gain over one (the partitions are as even as the stories are:
  one story is always folded by one partition).

Usage::

    PYTHONPATH=services .venv/bin/python benchmarks/bench_page_partitions.py \\
        ../shared/data/timeline17-dev/articles.jsonl --partitions 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import storyline.domain.partitions as partitions_module
from storyline.domain.canonical import canonical_bytes
from storyline.domain.contracts import ArticleExtracted, FactsPosition
from storyline.domain.events import DeadLetter, StoryMerged, StoryUpdated
from storyline.domain.page import handover
from storyline.domain.partitions import PagePartition, partitions_of
from storyline.domain.pipeline import Pipeline
from storyline.domain.records import decode_article
from storyline.domain.stages import extract
from storyline.replay import iter_records_from_files


def run(files: list[Path], partitions: int, limit: int | None) -> dict[str, Any]:
    assigning = Pipeline()
    pages = [PagePartition(p, partitions) for p in range(partitions)]
    route = pages[0].partition_of
    facts: dict[tuple[int, int], ArticleExtracted] = {}
    cpu: Counter[str] = Counter()
    folded: Counter[int] = Counter()
    handovers = [0]

    rebuild = handover.moved_from_facts

    def timed_rebuild(absorbed: Any, facts_at: Any) -> Any:
        started = time.process_time()
        try:
            return rebuild(absorbed, facts_at)
        finally:
            handovers[0] += 1
            cpu["handover"] += time.process_time() - started

    # counted where the partitions call it (looked up in their module at each merge)
    partitions_module.moved_from_facts = timed_rebuild  # type: ignore[assignment]

    def facts_at(position: FactsPosition) -> ArticleExtracted:
        return facts[(position.partition, position.offset)]

    digest = hashlib.sha256()
    events = dead = 0
    try:
        for key, value, position in iter_records_from_files(files, "bench.articles", limit):
            if not assigning.claim(position):
                continue
            decoded = decode_article(key, value, position, max_bytes=2_000_000)
            if isinstance(decoded, DeadLetter):
                dead += 1
                continue
            started = time.process_time()
            extracted = extract(decoded, position)
            cpu["extract"] += time.process_time() - started
            facts[(position.partition, position.offset)] = extracted
            started = time.process_time()
            try:
                assigned = assigning.assigner.assign(extracted)
            except Exception:  # noqa: BLE001 - a dead letter, as the stages make it
                dead += 1
                continue
            finally:
                cpu["assign"] += time.process_time() - started
            if assigned is None:
                continue
            for p in partitions_of(assigned, route):
                page = pages[p]
                mine = page.owns(assigned.story_id)
                started = time.process_time()
                out = page.fold(assigned, extracted if mine else None, facts_at)
                cpu[f"page {p}"] += time.process_time() - started
                folded[p] += mine
                for event in out:
                    if isinstance(event, StoryUpdated | StoryMerged):
                        digest.update(hashlib.sha256(canonical_bytes(event)).hexdigest().encode())
                        events += 1
    finally:
        partitions_module.moved_from_facts = rebuild
    page_cpu = [cpu[f"page {p}"] for p in range(partitions)]
    return {
        "files": [str(f) for f in files],
        "partitions": partitions,
        "events": events,
        "dead_letters": dead,
        "digest": digest.hexdigest(),
        "cpu_s": {k: round(v, 2) for k, v in sorted(cpu.items())},
        "folded_per_partition": [folded[p] for p in range(partitions)],
        "stories_per_partition": [len(p.pipeline.story_ids) for p in pages],
        "handovers": handovers[0],
        "page_speedup_bound": round(sum(page_cpu) / max(max(page_cpu), 1e-9), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    print(json.dumps(run(args.files, args.partitions, args.limit), indent=2))


if __name__ == "__main__":
    main()
