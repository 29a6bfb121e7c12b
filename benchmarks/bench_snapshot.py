"""What a snapshot saves a worker start: fold time from offset 0 against snapshot size, the
worker's pause to fork, the child's write time and the load time.

    .venv/bin/python benchmarks/bench_snapshot.py ../shared/data/timeline17-dev/articles.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from storyline.replay import fold_records, records_from_files
from storyline.stream.snapshots import Snapshotter, load_snapshot

TOPIC = "bench.articles"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    records = records_from_files(args.files, TOPIC, args.limit)

    started = time.perf_counter()
    pipeline = fold_records(records, max_bytes=2_000_000).pipeline
    fold_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        taker = Snapshotter(directory, every=1, keep=1, fork=True)
        started = time.perf_counter()
        taker.take(pipeline, TOPIC, 0)
        fork_pause = time.perf_counter() - started
        taker.reap(wait=True)
        write_seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in directory.glob("*.snap"))
        started = time.perf_counter()
        restored = load_snapshot(directory, TOPIC, 0, before=len(records))
        load_seconds = time.perf_counter() - started
    if restored is None:
        print("snapshot could not be loaded", file=sys.stderr)
        return 1
    print(json.dumps({
        "articles": len(records),
        "fold_from_zero_s": round(fold_seconds, 2),
        "snapshot_mb": round(size / 1e6, 1),
        "fork_pause_ms": round(fork_pause * 1000, 1),
        "child_write_s": round(write_seconds, 2),
        "load_s": round(load_seconds, 2),
        "start_speed_up": round(fold_seconds / load_seconds, 1),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
