"""The core as its three stages, each record carried between them as JSON (as the facts and
assignments topics will carry it): a digest of every event, the per-stage CPU per article
and the size of the records.

    .venv/bin/python benchmarks/bench_stages.py ../shared/data/timeline17-dev/articles.jsonl

Folds the file(s) in process: each article is extracted (``stages.extract``), its
``ArticleExtracted`` written to JSON and read back, assigned (``Assigner.assign``), its
``ArticleAssigned`` written and read back, and folded (``Pipeline.fold``). Prints JSON:
``digest`` as ``bench_memory.py`` computes it (sha256 over the sha256 of every StoryUpdated
and StoryMerged event's canonical bytes, in order), so the two are compared directly: a
digest equal to ``bench_memory.py``'s on the code before the split is the byte-for-byte
identity of the split. Also CPU per article of each stage (median, p99 and mean, from
``time.process_time``), the JSON encoding and decoding apart, and the sizes of the records.
``--hashes FILE`` writes the per-event hashes. Every merge's ``Absorbed`` listing is checked
against the absorbed story's state before it is folded (``merge_listings_checked``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

from storyline.domain.canonical import canonical_bytes
from storyline.domain.contracts import ArticleAssigned, ArticleExtracted
from storyline.domain.events import ArticleReceived, StoryMerged, StoryUpdated
from storyline.domain.pipeline import Pipeline
from storyline.domain.stages import extract
from storyline.domain.upcasting import decode_event
from storyline.replay import iter_records_from_files


def _quantiles(values: list[float], scale: float = 1.0) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {"median": round(statistics.median(ordered) * scale, 3),
            "p99": round(p99 * scale, 3),
            "mean": round(statistics.fmean(ordered) * scale, 3)}


def check_merges(pipeline: Pipeline, assigned: ArticleAssigned) -> int:
    """The listing of each absorbed story equals its state's articles and withdrawn ones."""
    for merge in assigned.merges:
        state = pipeline._state(merge.story_id)  # the fold state, read
        if state is None:
            raise AssertionError(f"merge of {merge.story_id}, which has no state")
        listed = ([a.uri for a in merge.articles], [a.uri for a in merge.withdrawn])
        held = (list(state.articles), list(state.withdrawn))
        if listed != held:
            raise AssertionError(f"merge of {merge.story_id}: listed {listed}, held {held}")
    return len(assigned.merges)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--hashes", type=Path, default=None)
    args = parser.parse_args()

    pipeline = Pipeline()
    digest = hashlib.sha256()
    hashes = args.hashes.open("w", encoding="ascii") if args.hashes else None
    cpu: dict[str, list[float]] = {k: [] for k in (
        "extract", "extract_encode", "extract_decode", "assign", "assign_encode",
        "assign_decode", "fold")}
    extracted_bytes: list[float] = []
    assigned_bytes: list[float] = []
    articles = events = dead = merges = 0
    clock = time.process_time
    for _key, value, position in iter_records_from_files(args.files, "bench.articles",
                                                          args.limit):
        if value is None or not pipeline.claim(position):
            continue
        article = decode_event(value, ArticleReceived)
        articles += 1
        t0 = clock()
        extracted = extract(article, position)
        t1 = clock()
        wire = extracted.model_dump_json()
        t2 = clock()
        extracted = ArticleExtracted.model_validate_json(wire)
        t3 = clock()
        extracted_bytes.append(len(wire))
        cpu["extract"].append(t1 - t0)
        cpu["extract_encode"].append(t2 - t1)
        cpu["extract_decode"].append(t3 - t2)
        try:
            t0 = clock()
            assigned = pipeline.assigner.assign(extracted)
            t1 = clock()
            cpu["assign"].append(t1 - t0)
            if assigned is None:
                continue
            wire = assigned.model_dump_json()
            t2 = clock()
            assigned = ArticleAssigned.model_validate_json(wire)
            t3 = clock()
            assigned_bytes.append(len(wire))
            cpu["assign_encode"].append(t2 - t1)
            cpu["assign_decode"].append(t3 - t2)
            merges += check_merges(pipeline, assigned)
            t0 = clock()
            out = pipeline.fold(assigned, extracted)
            cpu["fold"].append(clock() - t0)
        except Exception:  # noqa: BLE001 - a dead letter, as handle_record makes it
            dead += 1
            continue
        for event in out:
            if isinstance(event, StoryUpdated | StoryMerged):
                h = hashlib.sha256(canonical_bytes(event)).hexdigest()
                digest.update(h.encode())
                if hashes is not None:
                    hashes.write(h + "\n")
                events += 1
    if hashes is not None:
        hashes.close()
    report: dict[str, Any] = {
        "files": [str(f) for f in args.files],
        "articles": articles,
        "events": events,
        "dead_letters": dead,
        "merge_listings_checked": merges,
        "cpu_ms_per_article": {name: _quantiles(v, 1000.0) for name, v in cpu.items()},
        "cpu_s_total": {name: round(sum(v), 2) for name, v in cpu.items()},
        "article_extracted_bytes": _quantiles(extracted_bytes),
        "article_assigned_bytes": _quantiles(assigned_bytes),
        "digest": digest.hexdigest(),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
