"""The core's memory over a whole fold, and a digest of every event it produced.

    .venv/bin/python benchmarks/bench_memory.py ../shared/data/timeline17-dev/articles.jsonl
    .venv/bin/python benchmarks/bench_memory.py FILE --limit 500 --tracemalloc
    .venv/bin/python benchmarks/bench_memory.py FILE --compiled   # the numba kernels

Folds the file(s) in process through ``handle_record`` and a ``Pipeline`` (what replay and
the worker's rebuild do; with the worker's ``malloc_trim(0)`` every ``--trim-every`` records)
and prints JSON: articles, seconds, articles/s (wall and CPU), RSS
after the fold (VmRSS after ``gc.collect()``), peak RSS (VmHWM), RSS sampled every
``--every`` articles (growth), and ``digest``: sha256 over the sha256 of every StoryUpdated
and StoryMerged event's canonical bytes, in order. Events are hashed as they come and not
kept, and each input record is released once folded, so the RSS is the core's state plus
the interpreter.

The digest is the output-identity check for changes that must not alter any revision: two
runs over the same file must print the same digest. ``--hashes FILE`` also writes the
per-event hashes (one a line) for finding the first event that differs.

``--tracemalloc`` adds the top allocation sites of what is still live after the fold, grouped
by file (and by line with ``--lines``); it slows the fold about 3x. ``--breakdown`` adds the
size of each part of the state after the fold (sys.getsizeof over the object graph, each
object counted once, for the first part that reaches it, in the order listed).

``--allocator`` adds, to every sample and to the report, where the RSS outside Python's
objects is: glibc's ``mallinfo2()`` (heap, mmapped blocks, in use, free but kept), pymalloc's
arenas and the bytes in their allocated / free blocks (``sys._debugmallocstats``), the fill of
the process-wide caches (the extractor's ``lru_cache``s, the summary, timeline and page
tables) and RocksDB's own memory; the report also has the RSS after a ``malloc_trim(0)``
and the trim's CPU time (``--allocator-trim``: at every sample too).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import sys
import tempfile
import time
import tracemalloc
import types
from pathlib import Path
from typing import Any

from storyline import allocator, collector
from storyline.domain import pages
from storyline.domain import pipeline as pipeline_module
from storyline.domain.assign import kernels
from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryMerged, StoryUpdated
from storyline.domain.extract import analysis as analysis_module
from storyline.domain.extract import names
from storyline.domain.extract import timeline_input as timeline_input_module
from storyline.domain.page import story as story_module
from storyline.domain.page import timeline
from storyline.domain.page.story import StoryState
from storyline.domain.pipeline import Pipeline
from storyline.domain.records import handle_record
from storyline.replay import iter_records_from_files
from storyline.stream.coldstore import RocksColdStore


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_mb() -> float:
    return round(_status_kb("VmRSS") / 1024, 1)


def peak_mb() -> float:
    return round(_status_kb("VmHWM") / 1024, 1)


def reset_peak() -> bool:
    """Start VmHWM afresh (Linux: 5 to clear_refs), so that the probes' own allocations (the
    breakdown's set of every object id is ~500 MB at 10^5 articles) stay out of the fold's
    peak. False where the kernel refuses it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _deep_mb(roots: list[object], seen: set[int]) -> float:
    total = 0
    stack = list(roots)
    while stack:
        obj = stack.pop()
        # a class, a module or a function (a weak reference's callback reaches its globals)
        # is code, not state
        if id(obj) in seen or isinstance(obj, type | types.ModuleType | types.FunctionType):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return round(total / 2**20, 1)


def breakdown(pipeline: Pipeline) -> dict[str, float]:
    """MB of each part of the state (first owner wins; modules and classes not counted)."""
    held = list(pipeline._stories.values())  # not story(): that would thaw frozen ones
    stories = [s for s in held if isinstance(s, StoryState)]
    frozen = [pipeline.cold_store]
    clusterer = pipeline.assigner.clusterer
    seen: set[int] = set()
    parts: dict[str, list[object]] = {
        "stories: articles (citation data, packed facts)": [
            *(s.articles for s in stories), *(s.withdrawn for s in stories)],
        "stories: summary memos (window analyses)": [s.summary_memo for s in stories],
        "stories: timelines": [s.timeline for s in stories],
        "stories: related-list caches": [s.related_cache for s in stories],
        "stories: last pages": [s.last for s in stories],
        "stories: rest": [*stories],
        "stories: frozen (idle) states": frozen,
        "clusterer: near-duplicate index": [clusterer._dedup],
        "clusterer: articles": [clusterer._articles],
        "clusterer: rest (stories, vocabularies, postings)": [clusterer],
        "assigner: rest (uri maps, stories' articles)": [pipeline.assigner],
        "pipeline: rest": [pipeline],
        "summary: process-wide tables": [analysis_module._TERM_HASHES],
        "timeline: shared spans and days": [timeline_input_module._SPANS,
                                            timeline_input_module._DAYS],
        "pages: entry digests": [getattr(pages, "_DIGESTS", {})],
    }
    out = {name: _deep_mb(roots, seen) for name, roots in parts.items()}
    out["window analyses (count)"] = sum(len(s.summary_memo.analyses) for s in stories)
    out["stories in play (count)"] = len(stories)
    out["frozen stories (count)"] = pipeline.frozen_story_count
    return out


def timeline_breakdown(pipeline: Pipeline) -> dict[str, Any]:
    """MB of each attribute of the timelines of the stories in play (first owner wins, in
    the order of the attributes), with the counts that say what they hold per event."""
    held = list(pipeline._stories.values())
    timelines = [s.timeline for s in held if isinstance(s, StoryState)]
    names: list[str] = []
    for index in timelines:
        names.extend(name for name in vars(index) if name not in names)
    seen: set[int] = set()
    out: dict[str, Any] = {}
    for name in names:
        out[name] = _deep_mb([vars(t).get(name) for t in timelines], seen)
    events = [event for t in timelines for event in t._events]
    out["events (count)"] = len(events)
    out["cold events (count)"] = sum(event.members is None for event in events)
    out["members (count)"] = sum(len(event.members or ()) for event in events)
    out["articles (count)"] = sum(len(t._articles) for t in timelines)
    return out


def pymalloc_stats() -> dict[str, float]:
    """MB of pymalloc's arenas and of the blocks in them (``sys._debugmallocstats``, which
    writes to the C stderr: read back through a temporary file)."""
    wanted = {"# arenas allocated current": "arenas", "# bytes in allocated blocks": "used_mb",
              "# bytes in available blocks": "free_blocks_mb",
              "# bytes lost to quantization": "quantization_mb"}
    with tempfile.TemporaryFile("w+b") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode("ascii", "replace")
    found: dict[str, float] = {}
    for line in text.splitlines():
        label, _, number = line.partition("=")
        name = wanted.get(label.strip())
        if name is not None and name not in found:
            value = int(number.strip().replace(",", ""))
            found[name] = value if name == "arenas" else round(value / 2**20, 1)
        if "unused pools *" in line:
            found["unused_pools_mb"] = round(int(number.strip().replace(",", "")) / 2**20, 1)
    return found


def _names_memos() -> list[tuple[str, Any]]:
    """The extractor's lru_caches (those of main before issue #9's cut too, if present)."""
    wanted = ("_segments", "_resolve", "_key_words", "_analyse", "normalise")
    return [(name, getattr(names, name)) for name in wanted
            if hasattr(getattr(names, name, None), "cache_info")]


def cache_fill(pipeline: Pipeline) -> dict[str, Any]:
    """Entries of the process-wide caches (and the lru_caches' hits and misses)."""
    out: dict[str, Any] = {}
    for name, function in _names_memos():
        info = function.cache_info()
        out[f"names.{name}"] = [info.currsize, info.hits, info.misses]
    out["analysis._TERM_HASHES"] = len(analysis_module._TERM_HASHES)
    out["timeline_input._SPANS"] = len(timeline_input_module._SPANS)
    out["timeline_input._DAYS"] = len(timeline_input_module._DAYS)
    out["timeline._WEIGHTS"] = len(timeline._WEIGHTS)
    out["pages._DIGESTS"] = len(pages._DIGESTS)
    out["pages._LISTS"] = len(pages._LISTS)
    return out


def rocksdb_mb(store: RocksColdStore | None) -> dict[str, float]:
    if store is None:
        return {}
    db = store._db
    props = {"memtables": "rocksdb.cur-size-all-mem-tables",
             "table_readers": "rocksdb.estimate-table-readers-mem",
             "block_cache": "rocksdb.block-cache-usage",
             "pinned": "rocksdb.block-cache-pinned-usage"}
    out: dict[str, float] = {}
    for name, prop in props.items():
        value = db.property_int_value(prop)
        if value is not None:
            out[name] = round(value / 2**20, 2)
    return out


def _in_use_bytes() -> int:
    """Bytes in live allocations: pymalloc's allocated blocks plus glibc's in-use chunks."""
    gc.collect()
    info = allocator.mallinfo() or {"uordblks": 0, "hblkhd": 0}
    return int(pymalloc_stats().get("used_mb", 0) * 2**20) + info["uordblks"] + info["hblkhd"]


def cache_cost() -> dict[str, float]:
    """MB each process-wide cache held, measured by emptying it (in this order: what one
    frees that another shares is counted for the later one). Destructive: the report's last
    step."""
    clears: dict[str, Any] = {
        f"names.{name}": function.cache_clear for name, function in _names_memos()}
    clears["analysis._TERM_HASHES"] = analysis_module._TERM_HASHES.clear
    clears["timeline_input._SPANS"] = timeline_input_module._SPANS.clear
    clears["timeline_input._DAYS"] = timeline_input_module._DAYS.clear
    clears["pages._DIGESTS"] = pages._DIGESTS.clear
    clears["pages._LISTS"] = pages._LISTS.clear
    out: dict[str, float] = {}
    before = _in_use_bytes()
    for name, clear in clears.items():
        clear()
        after = _in_use_bytes()
        out[name] = round((before - after) / 2**20, 1)
        before = after
    allocator.trim()
    out["rss_after_clearing_and_trim_mb"] = rss_mb()
    return out


def allocator_probe(pipeline: Pipeline, store: RocksColdStore | None,
                    trim: bool) -> dict[str, Any]:
    """Where the RSS is, then (``trim``) the RSS after ``malloc_trim(0)`` and its CPU ms."""
    out: dict[str, Any] = {"rss_mb": rss_mb(),
                           "rss_anon_mb": round(_status_kb("RssAnon") / 1024, 1),
                           "rss_file_mb": round(_status_kb("RssFile") / 1024, 1)}
    info = allocator.mallinfo()
    if info is not None:
        out["mallinfo_mb"] = {k: round(info[k] / 2**20, 1) for k in (
            "arena", "hblkhd", "uordblks", "fordblks", "keepcost")}
    out["pymalloc"] = pymalloc_stats()
    out["allocated_blocks"] = sys.getallocatedblocks()
    if tracemalloc.is_tracing():
        out["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
    out["caches"] = cache_fill(pipeline)
    out["rocksdb_mb"] = rocksdb_mb(store)
    if not trim:
        return out
    cpu = time.process_time()
    allocator.trim()
    out["trim_cpu_ms"] = round((time.process_time() - cpu) * 1000, 1)
    out["rss_after_trim_mb"] = rss_mb()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--every", type=int, default=500, help="RSS sample interval")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--lines", action="store_true", help="with --tracemalloc: by line")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--hashes", type=Path, default=None)
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--progress", action="store_true",
                        help="also write each RSS sample to stderr as it is taken (JSON "
                             "lines; with --breakdown, every --breakdown-every samples "
                             "carry the breakdown), so a long run reports while it goes")
    parser.add_argument("--breakdown-every", type=int, default=10)
    parser.add_argument("--timeline-breakdown", action="store_true",
                        help="with --breakdown: the timelines' attributes apart")
    parser.add_argument("--cold-store", type=Path, default=None,
                        help="keep idle stories in a RocksDB store in this directory (as "
                             "the worker does) instead of in memory")
    parser.add_argument("--warm-idle", type=int, default=None,
                        help="revisions before an idle story is frozen (default: WARM_IDLE)")
    parser.add_argument("--warm-analyses", type=int, default=None,
                        help="window analyses kept in summary memos (default: "
                             "WARM_ANALYSES); the report counts the analyses refilled")
    parser.add_argument("--warm-items", type=int, default=None,
                        help="articles the stories in play may hold before the least "
                             "recently revised are frozen (default: WARM_ITEMS; a small "
                             "value checks that it changes no digest)")
    parser.add_argument("--warm-articles", type=int, default=None,
                        help="entries by uri kept in memory, the others in the cold store "
                             "(default: WARM_ARTICLES; a small value checks that spilling "
                             "changes no digest)")
    parser.add_argument("--allocator", action="store_true",
                        help="add glibc / pymalloc / cache / RocksDB figures and the RSS "
                             "after malloc_trim(0) to the report")
    parser.add_argument("--freeze-every", type=int, default=collector.FREEZE_EVERY,
                        help="records between two gc.freeze() calls, as the worker "
                             "(STORYLINE_GC_FREEZE_EVERY; 0: never, as before session 16)")
    parser.add_argument("--collect-growth", type=float, default=collector.COLLECT_GROWTH,
                        help="full collection of the whole heap once the frozen objects "
                             "grew this many times (STORYLINE_GC_COLLECT_GROWTH; 0: never)")
    parser.add_argument("--trim-every", type=int, default=allocator.TRIM_EVERY,
                        help="malloc_trim(0) every this many records, as the worker does "
                             "(STORYLINE_MALLOC_TRIM_EVERY; 0: never, as before issue #9)")
    parser.add_argument("--fold-thread", action="store_true",
                        help="fold each record on the default executor of an event loop "
                             "(asyncio.to_thread), as the worker does, not on the main thread")
    parser.add_argument("--arena-max", type=int, default=allocator.ARENA_MAX,
                        help="glibc arenas at most, set at start as the worker does "
                             "(STORYLINE_MALLOC_ARENA_MAX; 0: glibc's default)")
    parser.add_argument("--mmap-threshold", type=int, default=allocator.MMAP_THRESHOLD,
                        help="glibc's M_MMAP_THRESHOLD as the worker sets it "
                             "(STORYLINE_MALLOC_MMAP_THRESHOLD; 0: glibc's rising default)")
    parser.add_argument("--allocator-trim", action="store_true",
                        help="with --allocator: trim at every sample too, and report the "
                             "RSS after it (the later samples are then of a trimmed process)")
    parser.add_argument("--compiled", action="store_true",
                        help="the compiled kernels (numba; STORYLINE_COMPILED_KERNELS=true), "
                        "loaded before anything is measured; default: the portable code")
    args = parser.parse_args()
    allocator.tune_malloc(args.arena_max, args.mmap_threshold)
    if args.compiled:  # as the worker: after limit_arenas, numba's ~130 MB in rss_before
        kernels.warm()  # switched on, compiled or loaded from the cache: not in the timings

    # read as the fold goes (as a worker consumes), so the input is not part of the RSS
    records = iter_records_from_files(args.files, "bench.articles", args.limit)
    gc.collect()
    rss_before = rss_mb()
    if args.tracemalloc:
        tracemalloc.start(1)
    if args.warm_articles is not None:
        pipeline_module.WARM_ARTICLES = args.warm_articles
    if args.warm_analyses is not None:
        pipeline_module.WARM_ANALYSES = args.warm_analyses
    if args.warm_items is not None:
        pipeline_module.WARM_ITEMS = args.warm_items
    # analyses unpacked again into a memo (dropped under WARM_ANALYSES, or thawed): the CPU a
    # lower cap costs, counted rather than timed (~0.6 ms each; docs/benchmarks.md)
    refills = [0]
    unpack = story_module.unpack_summary
    # CPU seconds in unpacking refilled analyses (not the memo rebuilt around them), freezes
    # and thaws: what thrashing costs, apart from the rest
    spent = {"refill_unpack_s": 0.0, "freeze_s": 0.0, "thaw_s": 0.0}
    clock = time.process_time

    def counted_unpack(packed: bytes) -> Any:
        refills[0] += 1
        began = clock()
        try:
            return unpack(packed)
        finally:
            spent["refill_unpack_s"] += clock() - began

    story_module.unpack_summary = counted_unpack  # type: ignore[assignment]
    # stories frozen (idle, or over WARM_ITEMS) and thawed (moved again or read), counted
    freezes, thaws = [0], [0]
    freeze, thaw = pipeline_module._freeze, pipeline_module._thaw

    def counted_freeze(state: StoryState) -> bytes:
        freezes[0] += 1
        began = clock()
        try:
            return freeze(state)
        finally:
            spent["freeze_s"] += clock() - began

    def counted_thaw(blob: bytes) -> StoryState:
        thaws[0] += 1
        began = clock()
        try:
            return thaw(blob)
        finally:
            spent["thaw_s"] += clock() - began

    pipeline_module._freeze = counted_freeze  # type: ignore[assignment]
    pipeline_module._thaw = counted_thaw  # type: ignore[assignment]
    cold = RocksColdStore.empty(args.cold_store) if args.cold_store else None
    pipeline = Pipeline(cold=cold, warm_idle=args.warm_idle)
    trimmer = allocator.Trimmer(args.trim_every)
    heap = collector.Collector(args.freeze_every, args.collect_growth)
    digest = hashlib.sha256()
    hashes = args.hashes.open("w", encoding="ascii") if args.hashes else None
    events = updates = merges = dead = 0
    samples: list[tuple[int, float]] = []
    started = time.perf_counter()
    cpu_started = time.process_time()
    done = 0
    # the highest RSS of the fold itself: VmHWM read before each probe, reset after it
    fold_peak = 0.0
    peak_reset = True
    loop = asyncio.new_event_loop() if args.fold_thread else None
    for key, value, position in records:
        if loop is not None:  # as WorkerState.fold: on the event loop's default executor
            outcome = loop.run_until_complete(asyncio.to_thread(
                handle_record, pipeline, key, value, position, max_bytes=2_000_000))
        else:
            outcome = handle_record(pipeline, key, value, position, max_bytes=2_000_000)
        del key, value
        if outcome.dead_letter is not None:
            dead += 1
        for event in outcome.events:
            if isinstance(event, StoryUpdated | StoryMerged):
                h = hashlib.sha256(canonical_bytes(event)).hexdigest()
                digest.update(h.encode())
                if hashes is not None:
                    hashes.write(h + "\n")
                events += 1
                updates += isinstance(event, StoryUpdated)
                merges += isinstance(event, StoryMerged)
        del outcome
        done += 1
        if done % args.every == 0:
            samples.append((done, rss_mb()))
            fold_peak = max(fold_peak, peak_mb())
            if args.progress:
                line: dict[str, Any] = {
                    "articles": done, "rss_mb": samples[-1][1],
                    "cpu_s": round(time.process_time() - cpu_started, 1),
                    "stories": len(pipeline.story_ids),
                    "frozen": pipeline.frozen_story_count, "memo_refills": refills[0],
                    "freezes": freezes[0], "thaws": thaws[0],
                    **{name: round(value, 1) for name, value in spent.items()},
                    "in_play_articles": pipeline._live_items}
                if args.breakdown and len(samples) % args.breakdown_every == 0:
                    line["breakdown_mb"] = breakdown(pipeline)
                    if args.timeline_breakdown:
                        line["timelines_mb"] = timeline_breakdown(pipeline)
                if args.allocator:
                    line["allocator"] = allocator_probe(pipeline, cold, args.allocator_trim)
                line["fold_peak_rss_mb"] = fold_peak
                print(json.dumps(line), file=sys.stderr, flush=True)
                peak_reset &= reset_peak()
        # after the sample, so a sample that falls on a trim shows the RSS before it
        trimmer.folded()
        heap.folded()
    count = done
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    if hashes is not None:
        hashes.close()
    gc.collect()
    report: dict[str, Any] = {
        "files": [str(f) for f in args.files],
        "articles": count,
        "seconds": round(seconds, 2),
        "articles_per_s": round(count / seconds, 1) if seconds else 0.0,
        # the machine may be shared: CPU time is the steadier figure of the two
        "cpu_seconds": round(cpu_seconds, 2),
        "articles_per_cpu_s": round(count / cpu_seconds, 1) if cpu_seconds else 0.0,
        "stories": len(pipeline.story_ids),
        "events": events,
        "updates": updates,
        "merges": merges,
        "dead_letters": dead,
        "memo_refills": refills[0],
        "freezes": freezes[0],
        "thaws": thaws[0],
        **{name: round(value, 1) for name, value in spent.items()},
        "in_play_articles": pipeline._live_items,
        "rss_before_fold_mb": rss_before,
        "rss_after_fold_mb": rss_mb(),
        "peak_rss_mb": peak_mb(),
        # without the probes' allocations when they ran and the kernel let VmHWM be reset
        "fold_peak_rss_mb": max(fold_peak, peak_mb()) if peak_reset else None,
        "rss_every": {str(n): mb for n, mb in samples},
        "digest": digest.hexdigest(),
        "frozen_stories": pipeline.frozen_story_count,
        "cold_store": str(args.cold_store) if args.cold_store else "memory",
        "fold_thread": args.fold_thread,
        "arena_max": args.arena_max,
        "mmap_threshold": args.mmap_threshold,
        "compiled_kernels": args.compiled,
        "trims": trimmer.trims,
        "gc_freezes": heap.freezes,
        "gc_full_collections": heap.collections,
        "gc_collect_cpu_seconds": round(heap.seconds, 3),
        "trim_cpu_seconds": round(trimmer.seconds, 3),
    }
    if len(samples) >= 2:
        (n0, r0), (n1, r1) = samples[0], samples[-1]
        report["growth_mb_per_500"] = round((r1 - r0) / (n1 - n0) * 500, 1)
    if args.breakdown:
        report["breakdown_mb"] = breakdown(pipeline)
        if args.timeline_breakdown:
            report["timelines_mb"] = timeline_breakdown(pipeline)
    if args.allocator:
        report["allocator"] = allocator_probe(pipeline, cold, True)
    if args.tracemalloc:
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        group = "lineno" if args.lines else "filename"
        stats = snapshot.statistics(group)
        report["traced_mb"] = round(sum(s.size for s in stats) / 2**20, 1)
        report["top"] = [
            {"where": str(s.traceback[0]), "mb": round(s.size / 2**20, 1), "blocks": s.count}
            for s in stats[: args.top]
        ]
    if args.allocator:
        report["allocator"]["cache_cost_mb"] = cache_cost()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
