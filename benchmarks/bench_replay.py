"""The whole replay without a broker: a data set's articles folded as ``storyline replay``
folds the articles log, with the extraction in the replaying process (K = 0) or in K
processes of their own (``storyline.replay_extract``), one run after the other.

    PYTHONPATH=services .venv/bin/python benchmarks/bench_replay.py \
        [../shared/data/timeline17-dev/articles.jsonl] [--runs 0,1,1,0]

Prints, a run a line: wall seconds and articles/s, the CPU of the replaying process and of
its extract processes, and a digest of every event's bytes (the same for any K).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import resource
import time
from collections.abc import AsyncIterator
from pathlib import Path

from storyline.collector import Collector
from storyline.domain.canonical import canonical_bytes
from storyline.domain.pipeline import Pipeline
from storyline.replay import RebuiltLog, Record, fold_log, records_from_files

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", nargs="?",
                        default=str(SHARED / "data" / "timeline17-dev" / "articles.jsonl"))
    parser.add_argument("--runs", default="0,1,1,0",
                        help="extract processes of each run, in order (0: in process)")
    parser.add_argument("--max-bytes", type=int, default=1_000_000)
    args = parser.parse_args()
    records = records_from_files([Path(args.file)], "storyline.articles")

    async def each() -> AsyncIterator[Record]:
        for record in records:
            yield record

    children = 0.0
    for k in (int(k) for k in args.runs.split(",")):
        rebuilt = RebuiltLog(pipeline=Pipeline(), collector=Collector())
        wall, cpu = time.perf_counter(), time.process_time()
        asyncio.run(fold_log(rebuilt, each(), max_bytes=args.max_bytes, extract_processes=k))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        now = used.ru_utime + used.ru_stime
        digest = hashlib.sha256(b"".join(canonical_bytes(e) for e in rebuilt.events))
        print(f"K={k}: {len(records)} records in {wall:.1f} s ({len(records) / wall:.1f}/s); "
              f"replaying process {cpu:.1f} CPU s, extract processes {now - children:.1f} CPU s; "
              f"{len(rebuilt.events)} events, digest {digest.hexdigest()[:16]}", flush=True)
        children = now


if __name__ == "__main__":  # the extract processes are spawned: they import this module
    main()
