"""Restart after SIGKILL with N articles of history, on the real broker (issue #9: "SIGKILL
to first new revision <= 10 s, with 10^5 articles of history").

    PYTHONPATH=services .venv/bin/python benchmarks/bench_restart.py --articles 2000 \\
        [--log /tmp/synth/synthetic-100000.jsonl] [--tail 200] [--kills 3] [--seed 7] \\
        [--cache /tmp/bench-restart-cache] [--workdir DIR] [--replay-verify]

1. **History, prepared the way the worker would have made it.** The first N records of the
   log file (``storyline.replay.iter_records_from_files``: the key and value bytes an ingest
   would write) are folded in process exactly as the worker folds them (``handle_record``
   on a ``Pipeline`` with a RocksDB cold store and the worker's ``warm_idle``, under the
   topic name and partition the worker sees), and the state is saved with the project's
   snapshot writer (``write_snapshot``: the pickle plus the cold store's checkpoint), with
   every event the fold caused. This takes about 20 CPU ms an article, so it is cached
   under ``--cache`` (``n<N>/``): a later run with the same N reuses it, and a run with a
   larger N resumes from the largest cached N below it (``--save-every`` adds intermediate
   points, so an interrupted fold loses little). The topic prefix is fixed
   (``bench-restart.``) because a snapshot names its topic.
2. **The broker.** A private single-node KRaft broker (``LocalBroker``, as the chaos harness
   starts it), ``storyline topics apply`` under the prefix; the first N + M records are
   produced byte for byte to the articles topic (offsets 0..N+M-1), the prefix fold's
   events to story-updates and dead-letters (what the worker had published), and the
   worker group's offset N is committed with the worker's commit metadata.
3. **First start.** The snapshot is placed where the worker looks for it
   (``state_dir(settings)/snapshots/<topic>-0/``) and ``storyline worker`` is started
   (snapshots on, the default single stage). Measured from its log: the state rebuild
   (``state_ready``: source, seconds), the first published revision, the catch-up of the M
   tail records (the group's commit reaching the end of the log), the RSS after the load.
4. **K kills.** Each round produces a few more records at a steady pace, SIGKILLs the
   worker at a seeded random moment while they arrive, restarts it at once (the chaos
   harness's ``Supervisor``) and times SIGKILL -> the first StoryUpdated the new process
   publishes (from its log, as the harness does, and as it appears on story-updates).
5. **Checks.** The records after the snapshot are folded in process from the cached
   snapshot, and ``replay.verify`` compares every published StoryUpdated with the prefix
   fold's events plus that tail fold (the logic of ``storyline replay --verify`` without
   refolding the history from 0; ``--replay-verify`` runs the command too); the chaos
   harness's checks (no conflicting copies, no revision gaps, every usable article in a
   revision); the committed offset is the end of the log.

Prints a JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "chaos"))

from chaos_harness import (  # noqa: E402 - the harness lives beside the tests
    STORYLINE,
    ChaosReport,
    Supervisor,
    _check_published,
    _first_revision_time,
    _json_lines,
    _produce_paced,
)

from storyline.domain.canonical import canonical_bytes  # noqa: E402
from storyline.domain.events import StoryUpdated  # noqa: E402
from storyline.domain.pipeline import Pipeline  # noqa: E402
from storyline.domain.records import handle_record  # noqa: E402
from storyline.domain.upcasting import decode_any  # noqa: E402
from storyline.replay import RebuiltLog, iter_records_from_files, verify  # noqa: E402
from storyline.settings import Settings  # noqa: E402
from storyline.stream.coldstore import RocksColdStore  # noqa: E402
from storyline.stream.snapshots import load_snapshot, snapshot_dir, write_snapshot  # noqa: E402

PREFIX = "bench-restart."
MAX_REQUEST_BYTES = 16 * 1024 * 1024
UPDATES, DEAD = 0, 1  # event kinds in the cached events file


def settings_for(bootstrap: str = "127.0.0.1:9092", data_dir: Path = Path("var")) -> Settings:
    return Settings(bootstrap_servers=bootstrap, topic_prefix=PREFIX, data_dir=data_dir)


def rss_mb(pid: int | None = None) -> float | None:
    try:
        text = Path(f"/proc/{pid or 'self'}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def log_line(message: str, **fields: Any) -> None:
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"[{stamp}] {message} {extra}".rstrip(), file=sys.stderr, flush=True)


# --- 1. the history, prepared as the worker would have made it ------------------------------


def write_event(handle: Any, kind: int, key: bytes, value: bytes) -> None:
    handle.write(struct.pack(">BII", kind, len(key), len(value)) + key + value)


def read_events_file(path: Path) -> Iterator[tuple[int, bytes, bytes]]:
    with path.open("rb") as handle:
        while head := handle.read(9):
            kind, klen, vlen = struct.unpack(">BII", head)
            key = handle.read(klen)
            yield kind, key, handle.read(vlen)


def digest_record(digest: Any, key: bytes | None, value: bytes | None) -> None:
    """sha256 over the records (length-prefixed key and value), to tell two logs apart."""
    digest.update(len(key or b"").to_bytes(4, "big") + (key or b""))
    digest.update(len(value or b"").to_bytes(4, "big") + (value or b""))


def cached_points(cache: Path) -> list[int]:
    out = []
    for meta in cache.glob("n*/meta.json"):
        try:
            out.append(int(json.loads(meta.read_text())["articles"]))
        except (ValueError, KeyError):
            continue
    return sorted(out)


def prepare(log: Path, articles: int, cache: Path, save_every: int,
            save_at: tuple[int, ...] = ()) -> Path:
    """The cached state after the first ``articles`` records (made, or resumed, if needed)."""
    settings = settings_for()
    topic = settings.articles
    target = cache / f"n{articles}"
    if (target / "meta.json").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    below = [n for n in cached_points(cache) if n < articles]
    live = cache / "live-cold"
    events_path = cache / "events.partial"
    digest = hashlib.sha256()
    fold_cpu = 0.0
    start = 0
    if below:
        start = below[-1]
        source = cache / f"n{start}"
        found = load_snapshot(source / "snapshot", topic, 0, start, live)
        if found is None:
            raise SystemExit(f"cached snapshot {source} could not be loaded")
        pipeline, last = found
        assert last == start - 1
        pipeline.warm_idle = settings.warm_idle_revisions  # as WorkerState.restore does
        meta = json.loads((source / "meta.json").read_text())
        fold_cpu = float(meta["fold_cpu_s"])
        shutil.copyfile(source / "events.bin", events_path)
        log_line("resuming the fold", cached=start, target=articles)
    else:
        cold = RocksColdStore.empty(live)
        pipeline = Pipeline(cold=cold, warm_idle=settings.warm_idle_revisions)  # as the worker
        events_path.unlink(missing_ok=True)
    every = set(range(save_every, articles, save_every)) if save_every > 0 else set()
    points = sorted(n for n in every | set(save_at) | {articles} if start < n <= articles)
    records = iter_records_from_files([log], topic, articles)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    counts = {"events": 0, "dead_letters": 0}
    with events_path.open("ab") as events:
        for key, value, position in records:
            digest_record(digest, key, value)
            if position.offset < start:
                continue  # folded in the cached state already
            outcome = handle_record(pipeline, key, value, position,
                                    max_bytes=settings.max_article_bytes)
            if outcome.dead_letter is not None:
                letter = outcome.dead_letter
                write_event(events, DEAD, (letter.key or "").encode(), canonical_bytes(letter))
                counts["dead_letters"] += 1
            for event in outcome.events:
                story = event.story_id if isinstance(event, StoryUpdated) else event.survivor_id
                write_event(events, UPDATES, story.encode(), canonical_bytes(event))
                counts["events"] += 1
            done = position.offset + 1
            if done % 1000 == 0:
                cpu = time.process_time() - cpu0
                log_line("folded", records=done, cpu_s=round(cpu, 1),
                         per_cpu_s=round((done - start) / max(cpu, 1e-9), 1),
                         wall_s=round(time.perf_counter() - wall0, 1), rss_mb=rss_mb())
            if done in points:
                events.flush()
                save_point(pipeline, cache, done, log, topic, events_path,
                           fold_cpu + time.process_time() - cpu0, digest.hexdigest(), counts,
                           start)
    if not (target / "meta.json").is_file():
        raise SystemExit(f"{log} holds fewer than {articles} articles")
    if isinstance(pipeline.cold_store, RocksColdStore):
        pipeline.cold_store.close()
    shutil.rmtree(live, ignore_errors=True)
    events_path.unlink(missing_ok=True)
    return target


def save_point(pipeline: Pipeline, cache: Path, done: int, log: Path, topic: str,
               events_path: Path, fold_cpu: float, records_sha256: str,
               counts: dict[str, int], start: int) -> None:
    target = cache / f"n{done}"
    scratch = cache / f".n{done}.tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.perf_counter()
    path = write_snapshot(pipeline, scratch / "snapshot", topic, 0)
    write_s = time.perf_counter() - started
    shutil.copyfile(events_path, scratch / "events.bin")
    meta = {
        "articles": done, "log": str(log), "topic": topic,
        "pipeline_version": pipeline.pipeline_version,
        "fold_cpu_s": round(fold_cpu, 1), "snapshot_bytes": path.stat().st_size,
        "snapshot_write_s": round(write_s, 2), "resumed_from": start,
        "records_sha256": records_sha256,
        "stories": len(pipeline.story_ids), "frozen": pipeline.frozen_story_count,
        "events_this_run": counts["events"], "dead_letters_this_run": counts["dead_letters"],
        "rss_mb": rss_mb(), "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (scratch / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    log_line("saved", point=done, snapshot_mb=round(meta["snapshot_bytes"] / 1e6, 1),
             write_s=meta["snapshot_write_s"], fold_cpu_s=meta["fold_cpu_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000, help="N: articles of history")
    parser.add_argument("--log", type=Path, default=Path("/tmp/synth/synthetic-100000.jsonl"))
    parser.add_argument("--tail", type=int, default=200, help="M: records after the snapshot")
    parser.add_argument("--kills", type=int, default=3, help="K")
    parser.add_argument("--per-kill", type=int, default=30,
                        help="records produced during each kill round")
    parser.add_argument("--rate", type=float, default=3.0, help="records/s in a kill round")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bench-restart-cache"))
    parser.add_argument("--save-every", type=int, default=10000,
                        help="also cache the fold every this many records (0: only at N)")
    parser.add_argument("--save-at", type=int, nargs="*", default=[2000],
                        help="and at these record counts")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--replay-verify", action="store_true",
                        help="also run `storyline replay --verify` (refolds from offset 0)")
    args = parser.parse_args()
    prepared = prepare(args.log, args.articles, args.cache, args.save_every,
                       tuple(args.save_at))
    if args.prepare_only:
        print(json.dumps(json.loads((prepared / "meta.json").read_text()), indent=2))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
