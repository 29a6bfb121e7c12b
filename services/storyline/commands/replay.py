"""``storyline replay``: rebuild every revision from offset 0 and, optionally, verify or
republish them."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from storyline.allocator import tune_malloc
from storyline.kafka.clients import started
from storyline.logconfig import configure_logging
from storyline.settings import Settings, get_settings, switch_kernels

if TYPE_CHECKING:
    from storyline.replay import Differences, RebuiltLog


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verify", action="store_true",
                        help="compare with every StoryUpdated published; exit 1 on a mismatch")
    parser.add_argument("--publish", metavar="TOPIC",
                        help="write the rebuilt StoryUpdated events to TOPIC (side-by-side)")
    parser.add_argument("--stage", choices=("assign", "page"),
                        help="replay one stage from its input topic instead of the whole "
                             "pipeline from the articles: assign from the facts topic "
                             "(--verify: against the assignments topic), page from the "
                             "assignments and facts topics (--verify: against the story "
                             "updates); written by the staged worker (docs/stages.md)")
    parser.add_argument("--extract-processes", type=int, default=None, metavar="K",
                        help="without --stage: extract the articles in K processes of their "
                             "own while this one folds (default: the cores less one, for a "
                             "log of 256 records or more; 0: extract here); the revisions "
                             "are the same bytes for any K")
    parser.add_argument("--processes", type=int, default=None, metavar="N",
                        help="with --stage page: replay N page partitions (the stories by "
                             "the CRC-32 of their id) in N processes (default: one a core, "
                             "for 256 assignments or more; else 1); the revisions are the "
                             "same bytes for any N")


def run(args: argparse.Namespace) -> int:
    from storyline.stream.assignments import StaleAssignment
    from storyline.stream.facts import StaleFacts
    from storyline.stream.logreader import LogTruncated

    _process_started()
    try:
        return asyncio.run(_run(args))
    except BrokenProcessPool as exc:
        # an extract process died under the replay (killed, out of memory): nothing was
        # verified or published; the same replay again is the same
        print(f"error: an extract process of the replay stopped ({exc}); run the replay "
              "again, or with --extract-processes 0 to extract in this process",
              file=sys.stderr)
        return 2
    except (StaleAssignment, StaleFacts, LookupError, LogTruncated) as exc:
        # a stage's input that this replay cannot read (or no longer whole): said in one
        # line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        if args.stage is None:
            raise
        print(f"error: a record of the {args.stage} stage's input cannot be read: {exc}",
              file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace) -> int:
    from storyline.replay import published_updates, rebuild_from_kafka, verify

    settings = get_settings()
    switch_kernels(settings)
    if args.stage == "assign":
        if args.publish:
            raise SystemExit("--publish writes story updates: use it without --stage or "
                             "with --stage page")
        return await _replay_assign(settings, args.verify)
    if args.processes is not None and (
            args.processes < 1 or (args.processes > 1 and args.stage != "page")):
        raise SystemExit("--processes N (N >= 1) replays the page stage: use it with "
                         "--stage page")
    if args.extract_processes is not None and (args.extract_processes < 0 or args.stage):
        raise SystemExit("--extract-processes K (K >= 0) extracts the articles of a whole "
                         "replay: use it without --stage")
    if args.stage == "page":
        processes = await _page_processes(settings, args.processes)
        rebuilt = (await _replay_page(settings) if processes == 1
                   else await _replay_page_in_processes(settings, processes))
    else:
        rebuilt = await rebuild_from_kafka(settings, args.extract_processes)
        k = rebuilt.extract_processes
        extracted = f", extracted in {k} process{'es' if k > 1 else ''}" if k else ""
        print(f"replayed {rebuilt.records} articles from {settings.articles} in "
              f"{rebuilt.seconds:.2f}s ({rebuilt.records_per_second:,.0f} articles/s"
              f"{extracted}): "
              f"{len(rebuilt.pipeline.story_ids)} stories, {len(rebuilt.revisions)} "
              f"revisions, {rebuilt.dead_letters} dead letters; pipeline "
              f"{rebuilt.pipeline.pipeline_version}")
    status = 0
    if args.publish:
        await _publish(settings.bootstrap_servers, args.publish, rebuilt.events)
        print(f"published {len(rebuilt.events)} events to {args.publish}")
    if args.verify:
        published = [u async for u in published_updates(settings)]
        committed = await _worker_commit(settings) if args.stage is None else None
        if committed is not None:
            print(f"the worker has committed offset {committed} of {settings.articles}: "
                  "every revision caused below it must be published")
        result = verify(rebuilt, published, committed=committed)
        print(f"verified {result.checked} published revisions: {result.identical} identical, "
              f"{result.redeliveries} redelivered copies, {len(result.mismatched)} mismatched, "
              f"{len(result.unexpected)} unexpected, {len(result.missing)} missing")
        _print_differences(result)
        if result.other_versions:
            print(f"note: revisions were published by pipeline "
                  f"{', '.join(sorted(result.other_versions))}, this replay runs "
                  f"{rebuilt.pipeline.pipeline_version}: differences are expected; replay "
                  "with the deployed version, or compare side by side with --publish TOPIC",
                  file=sys.stderr)
        if not published:
            print("nothing published yet on " + settings.story_updates, file=sys.stderr)
            status = 1
        elif not result.ok:
            status = 1
        else:
            print("OK: every published revision is reproduced byte for byte")
    return status


async def _worker_commit(settings: Settings) -> int | None:
    """The worker's (or fold stage's) commit on the articles log, when it made one with this
    pipeline version (another version's revisions are not these anyway)."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from storyline.domain.pipeline import PIPELINE_VERSION
    from storyline.kafka.articles_log import ARTICLES_PARTITION
    from storyline.kafka.security import kafka_options
    from storyline.stream.offsets import CommitMetadata
    from storyline.stream.worker import app_id

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                                **kafka_options())
    await started(admin)
    try:
        found = await admin.list_consumer_group_offsets(app_id(settings))
    finally:
        await admin.close()
    commit = found.get(TopicPartition(settings.articles, ARTICLES_PARTITION))
    if commit is None or commit.offset < 0:
        return None
    meta = CommitMetadata.decode(commit.metadata)
    if meta is not None and meta.pipeline_version != PIPELINE_VERSION:
        return None
    return int(commit.offset)


def _note_other_versions(versions: set[str], topic: str) -> None:
    """Say when the records replayed were written by another pipeline version (of the same
    extractor: others are refused) than this code's."""
    from storyline.domain.pipeline import PIPELINE_VERSION

    others = sorted(versions - {PIPELINE_VERSION})
    if others:
        print(f"note: {topic} was written by pipeline {', '.join(others)}; this replay runs "
              f"{PIPELINE_VERSION} over it (the same extractor): the revisions are this "
              "version's page stage over what that version's assign stage decided",
              file=sys.stderr)


def _print_differences(result: Differences) -> None:
    """The first 20 of each kind of difference, on standard error."""
    for label, items in (("mismatched", result.mismatched),
                         ("unexpected", result.unexpected), ("missing", result.missing)):
        for item in items[:20]:
            print(f"  {label}: {item}", file=sys.stderr)


async def _replay_assign(settings: Settings, verify: bool) -> int:
    from storyline.stage_replay import (
        AssignReplay,
        facts_in_source_order,
        published_assignments,
        verify_assignments,
        written_by,
    )

    published, partitions = await published_assignments(settings)
    if not partitions:
        print(f"the assignments topic {settings.assignments} does not exist", file=sys.stderr)
        return 1
    _note_other_versions(written_by(published), settings.assignments)
    started = time.perf_counter()
    replay = AssignReplay(partitions)
    async for record in facts_in_source_order(settings):
        replay.add(record)
    expected = replay.expected
    seconds = time.perf_counter() - started
    print(f"replayed the assign stage over {replay.records} facts records of {settings.facts} "
          f"in {seconds:.2f}s ({replay.records / max(seconds, 1e-9):,.0f} records/s, reading "
          f"them included): {len(expected)} assignments")
    if not verify:
        return 0
    result = verify_assignments(expected, published)
    print(f"verified {result.checked} published assignments: {result.identical} identical, "
          f"{result.copies} copies, {len(result.mismatched)} mismatched, "
          f"{len(result.unexpected)} unexpected, {len(result.missing)} missing")
    _print_differences(result)
    if not published:
        print("nothing published yet on " + settings.assignments, file=sys.stderr)
        return 1
    if not result.ok:
        return 1
    print("OK: every published assignment is reproduced byte for byte")
    return 0


async def _replay_page(settings: Settings) -> RebuiltLog:
    from storyline.collector import Collector
    from storyline.replay import recorded_summaries
    from storyline.stage_replay import (
        PageReplay,
        assignments_by_source_offset,
        facts_in_source_order,
        published_assignments,
        written_by,
    )

    published, _ = await published_assignments(settings)
    assignments = assignments_by_source_offset(published)
    _note_other_versions(written_by(published), settings.assignments)
    replay = PageReplay(await recorded_summaries(settings),
                        Collector(settings.gc_freeze_every, settings.gc_collect_growth))
    started = time.perf_counter()
    # the facts as a stream beside the assignments, both in source order: none kept
    facts = facts_in_source_order(settings)
    current = None
    try:
        for offset in sorted(assignments):
            assigned = assignments[offset]
            while current is None or current.source_offset < assigned.facts.offset:
                current = await anext(facts, None)
                if current is None:
                    break
            replay.fold(assigned, current)
    finally:
        await facts.aclose()
    rebuilt = replay.rebuilt
    rebuilt.seconds = time.perf_counter() - started
    print(f"replayed the page stage over {len(assignments)} assignments of "
          f"{settings.assignments} in {rebuilt.seconds:.2f}s (reading the facts included) "
          f"({rebuilt.records_per_second:,.0f} assignments/s): "
          f"{len(rebuilt.pipeline.story_ids)} stories, {len(rebuilt.revisions)} revisions, "
          f"{rebuilt.dead_letters} dead letters; pipeline {rebuilt.pipeline.pipeline_version}")
    return rebuilt


async def _page_processes(settings: Settings, asked: int | None) -> int:
    """How many processes replay the page stage: ``asked``, or one a core when the
    assignments topic holds enough records to pay for starting them."""
    if asked is not None:
        return asked
    from storyline.processes import usable_cores
    from storyline.replay_extract import PARALLEL_FROM
    from storyline.stream.logreader import end_offsets

    records = sum((await end_offsets(settings.bootstrap_servers, settings.assignments)).values())
    return usable_cores() if records >= PARALLEL_FROM else 1


def _process_started() -> None:
    """The start of a replay's process, and of each of its page processes: glibc tuned as the
    worker's folding processes tune it, before aiokafka and RocksDB start threads (the
    replay folds the same states and keeps the same frozen ones), and the log lines on
    stderr as every command's (stdout is the replay's report)."""
    settings = get_settings()
    tune_malloc(settings.malloc_arena_max, settings.malloc_mmap_threshold)
    configure_logging(settings.log_level, settings.log_format)


async def _replay_page_in_processes(settings: Settings, processes: int) -> RebuiltLog:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from storyline.stage_replay import (
        merged_replays,
        published_assignments,
        replay_partition_from_kafka,
        written_by,
    )

    published, _ = await published_assignments(settings)
    _note_other_versions(written_by(published), settings.assignments)
    del published  # each process reads what it needs itself
    started = time.perf_counter()
    # spawned, not forked: the parent has run an event loop and Kafka clients
    with ProcessPoolExecutor(max_workers=processes, initializer=_process_started,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        replays = list(pool.map(replay_partition_from_kafka, range(processes),
                                [processes] * processes))
    rebuilt = merged_replays(replays)
    rebuilt.seconds = time.perf_counter() - started
    stories = sum(r.stories for r in replays)
    folds = ", ".join(f"{r.records} in {r.fold_seconds:.1f} CPU s" for r in replays)
    print(f"replayed the page stage over {rebuilt.records} assignments of "
          f"{settings.assignments} in {processes} processes in {rebuilt.seconds:.2f}s "
          f"({rebuilt.records_per_second:,.0f} assignments/s, topics read by each process "
          f"in {max(r.read_seconds for r in replays):.1f}s; folded per partition: {folds}): "
          f"{stories} stories, {len(rebuilt.revisions)} revisions, {rebuilt.dead_letters} "
          f"dead letters; pipeline {rebuilt.pipeline.pipeline_version}")
    return rebuilt


async def _publish(bootstrap: str, topic: str, events: list) -> None:  # type: ignore[type-arg]
    from aiokafka import AIOKafkaProducer

    from storyline.domain.canonical import canonical_bytes
    from storyline.kafka.security import kafka_options
    from storyline.stream.worker import MAX_REQUEST_BYTES, story_key

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                max_request_size=MAX_REQUEST_BYTES, enable_idempotence=True,
                                **kafka_options())
    await started(producer)
    try:
        for event in events:
            await producer.send(topic, key=story_key(event), value=canonical_bytes(event))
        await producer.flush()
    finally:
        await producer.stop()
