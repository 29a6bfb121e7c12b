"""The streaming worker: a faust-streaming app that runs the core over the articles topic.

The agent is deliberately thin: decode, call the core, publish. Everything that decides what
a revision contains is in :mod:`storyline.domain`.

Position. The core's state knows the last offset it folded (``Pipeline.applied_offset``),
and that, not the order in which faust happens to deliver records, decides what is folded
next: a record at or below it is a redelivery and is skipped; a record beyond the next one
means the consumer jumped, and the records in between are read straight from the log
(:func:`~storyline.stream.logreader.read_partition`) and folded first, with their events
published. So no record is ever skipped, whatever the consumer does after a crash or a
rebalance, and a revision published twice is the same bytes twice.

Commits. faust's own acking is off for the articles topic; the worker commits "every record
below N is folded and every event it caused is delivered" itself, on a timer and at
shutdown (:mod:`storyline.stream.offsets` says why). A publish that fails is retried until
it is delivered: the state has already moved on, so giving up would lose a revision.

Start-up. On the first record of a partition the state is rebuilt up to the group's
committed offset C, everything before which is known to be published: from the newest
usable snapshot (:mod:`storyline.stream.snapshots`) and then by folding the tail of the log
without publishing. The rebuild yields to the event loop after every record, so timers,
heartbeats and rebalances go on meanwhile. Static group membership
(``STORYLINE_WORKER_INSTANCE_ID``) lets a restarted worker take its partitions back at once
instead of waiting out the dead one's session.

State on disk lives under ``data_dir/<app id>/``, and the app id carries the topic prefix,
so deployments that share a data directory never read each other's state.

Errors. A record the core cannot use becomes a ``DeadLetter`` with its position
(:func:`~storyline.domain.records.handle_record`); nothing of the core may raise out of the
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import math
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import faust
import structlog
from aiokafka import TopicPartition

from storyline.allocator import TRIM_EVERY, Trimmer, tune_malloc
from storyline.collector import COLLECT_GROWTH, FREEZE_EVERY, Collector
from storyline.domain.canonical import canonical_bytes
from storyline.domain.coldstore import ColdStoreFailed
from storyline.domain.events import StoryMerged, StoryUpdated
from storyline.domain.pipeline import LogPosition, Pipeline, PipelineEvent
from storyline.domain.records import RecordOutcome, handle_record
from storyline.errors import OperatorError
from storyline.kafka.articles_log import (
    ARTICLES_PARTITION,
    off_the_log_message,
    warn_if_the_log_loses_records,
)
from storyline.kafka.security import faust_credentials
from storyline.llm.summariser import summariser_from_settings
from storyline.metrics import (
    ARTICLES,
    DEAD_LETTERS,
    PRODUCE_TO_UPDATE,
    READY,
    SNAPSHOT_AGE,
    STORY_UPDATES,
    FoldWarmthMetrics,
    Health,
    LoopWatch,
    record_lag,
    start_operations,
)
from storyline.outages import outage_reason
from storyline.replay import overlay_recorded, recorded_summaries
from storyline.settings import Settings, switch_kernels
from storyline.stream.coldstore import RocksColdStore
from storyline.stream.committed import read_committed
from storyline.stream.facts import FactsRecord, FoldedFacts, fold_facts
from storyline.stream.logreader import (
    LogRewound,
    LogTruncated,
    LogWatch,
    end_offsets,
    ensure_not_rewound,
    ensure_same_log,
    first_record,
    read_partition,
)
from storyline.stream.offsets import (
    FoldedOffsets,
    LaidOut,
    PartitionsChanged,
    PipelineChanged,
    commit_payload,
    ensure_commits_fit,
)
from storyline.stream.reconnect import retried
from storyline.stream.snapshots import (
    Snapshotter,
    cold_store_failed,
    load_snapshot,
    snapshot_dir,
    snapshots,
)

log = structlog.get_logger("storyline.worker")


async def laid_out(settings: Settings) -> LaidOut:
    """The partition counts of ``Settings.laid_out_topics`` the single worker's records are
    laid out by: the story updates and pages (a story's partition in each); it reads no
    facts or assignments (None), and a topic not made yet says nothing (None)."""
    counts = [len(await retried(functools.partial(end_offsets, settings.bootstrap_servers,
                                                  topic, missing_ok=True),
                                f"{topic} partitions")) or None
              for topic in settings.laid_out_topics[2:]]
    return (None, None, *counts)

APP_NAME = "storyline-worker"
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # a long story's page is a few hundred KB
PUBLISH_BACKOFF_MAX = 10.0


def app_id(settings: Settings) -> str:
    """The faust app id, which is also the consumer group; prefixed like every topic so
    deployments sharing a cluster never share state."""
    return settings.topic(APP_NAME)


def state_dir(settings: Settings) -> Path:
    """Everything this deployment keeps on disk (faust's data, snapshots)."""
    return settings.data_dir / "worker" / app_id(settings)


def instance_id(settings: Settings) -> str:
    """The static group member id: explicit, or one per host and data directory, so the
    same worker restarted on the same disk is recognised as the same member."""
    if settings.worker_instance_id:
        return settings.worker_instance_id
    where = str(settings.data_dir.resolve()).encode()
    return f"{socket.gethostname()}-{hashlib.sha256(where).hexdigest()[:10]}"


def story_key(event: PipelineEvent) -> bytes:
    story_id = event.story_id if isinstance(event, StoryUpdated) else event.survivor_id
    return story_id.encode()


class WorkerState:
    """The core, and per partition whether it has been rebuilt up to the commit yet. Idle
    stories live in a RocksDB cold store under ``cold_dir`` (see
    :mod:`storyline.stream.coldstore`); a new process starts from an empty one, or from
    the checkpoint saved with the snapshot it resumes from."""

    def __init__(self, cold_dir: Path, warm_idle: int | None = None,
                 trim_every: int = TRIM_EVERY, freeze_every: int = FREEZE_EVERY,
                 collect_growth: float = COLLECT_GROWTH, *, warm_items: int | None = None,
                 warm_analyses: int | None = None) -> None:
        self.cold_dir = cold_dir
        self.warm_idle = warm_idle
        self.warm_items = warm_items
        self.warm_analyses = warm_analyses
        # the fold frees far more than it keeps (each record's text, features, pages): give
        # glibc's free pages back now and then, or they stay in the RSS (docs/benchmarks.md)
        self.trimmer = Trimmer(trim_every)
        # and keeps far more than it frees: full collections would walk all of it
        # (a full collection due waits for ``idle``: a live stage's record queue empty)
        self.collector = Collector(freeze_every, collect_growth, defer_full=True)
        self.cold = RocksColdStore.empty(cold_dir)
        self.pipeline = self._new_pipeline()
        self.warmth_metrics = FoldWarmthMetrics()
        self.ready: set[tuple[str, int]] = set()
        # The fold runs on a thread so the event loop (heartbeats, timers, commits) keeps
        # turning during a long fold; anything that reads the whole state (a snapshot's
        # fork) takes this lock so it never sees a record half-folded.
        self.lock = asyncio.Lock()

    def _new_pipeline(self) -> Pipeline:
        return Pipeline(cold=self.cold, warm_idle=self.warm_idle, warm_items=self.warm_items,
                        warm_analyses=self.warm_analyses)

    async def fold(self, key: bytes | None, value: bytes | None, position: LogPosition,
                   max_bytes: int, timestamp: int | None = None) -> RecordOutcome:
        return await asyncio.to_thread(self.fold_now, key, value, position, max_bytes, True,
                                       timestamp)

    def fold_now(self, key: bytes | None, value: bytes | None, position: LogPosition,
                 max_bytes: int, pages: bool = True, timestamp: int | None = None
                 ) -> RecordOutcome:
        """One record folded on the calling thread (the heap's upkeep too, off the event loop);
        ``pages=False``: extracted and assigned only (``Pipeline.process``); ``timestamp``:
        the record's (ms), which marks the log when it is the first record folded."""
        first = self.pipeline.applied_offset(position.topic, position.partition) is None
        outcome = handle_record(self.pipeline, key, value, position, max_bytes=max_bytes,
                                pages=pages)
        if first and timestamp is not None:
            self.pipeline.mark_log(position.topic, position.partition, position.offset,
                                   timestamp)
        self.after_record()
        return outcome

    def fold_facts_now(self, record: FactsRecord, position: LogPosition,
                       pages: bool = True) -> FoldedFacts:
        """One facts record folded on the calling thread (the fold stage's), then the heap's
        upkeep. (It marks no log: the fold stage reads the mark from the log itself.)"""
        folded = fold_facts(self.pipeline, record, position, pages=pages)
        self.after_record()
        return folded

    def idle(self) -> None:
        """No record is waiting to be folded: the heap's upkeep that pauses, if due."""
        self.collector.idle()

    def after_record(self) -> None:
        """The heap's upkeep after each record folded: the trim and the freeze; and the
        fold's budgets published."""
        self.trimmer.folded()
        self.collector.folded()
        self.warmth_metrics.publish(self.pipeline, self.pipeline.warmth)

    def restore(self, directory: Path, topic: str, partition: int, before: int) -> int | None:
        """Resume from the newest usable snapshot in ``directory`` holding offsets below
        ``before`` (its last offset), or start over from offset 0 (None)."""
        self.cold.close()
        restored = load_snapshot(directory, topic, partition, before, self.cold_dir)
        if restored is None:
            self.cold = RocksColdStore.empty(self.cold_dir)
            self.pipeline = self._new_pipeline()
            return None
        self.pipeline, last = restored
        # the budgets are this process's settings, not the snapshot writer's
        self.pipeline.warm_idle = self.warm_idle
        self.pipeline.warm_items = self.warm_items
        self.pipeline.warm_analyses = self.warm_analyses
        self.cold = cast(RocksColdStore, self.pipeline.cold_store)
        return last

    def next_offset(self, topic: str, partition: int) -> int:
        applied = self.pipeline.applied_offset(topic, partition)
        return 0 if applied is None else applied + 1


class WorkerProbe:
    """What /livez and /readyz of the worker answer (read from the operations server's
    thread; every field is replaced whole, never mutated in place, by the event loop).

    Live: the event loop has turned within ``LoopWatch.stall_seconds``. Ready: the group
    has given this worker its partitions (possibly none: a standby is ready), each one's
    state is rebuilt up to the committed offset, and each is at most ``max_lag`` records
    behind the end of the log."""

    def __init__(self, max_lag: int) -> None:
        self.max_lag = max_lag
        self.watch = LoopWatch()
        self.assigned: frozenset[tuple[str, int]] | None = None
        self.rebuilt: frozenset[tuple[str, int]] = frozenset()
        self.lags: dict[tuple[str, int], int | None] = {}

    def live(self) -> Health:
        return self.watch.health()

    def ready(self) -> Health:
        if self.assigned is None:
            return Health(False, {"reason": "waiting for partitions from the consumer group"})
        lags = self.lags
        detail: dict[str, Any] = {
            "partitions": {f"{t}/{p}": {"rebuilt": (t, p) in self.rebuilt,
                                        "lag": lags.get((t, p))}
                           for t, p in sorted(self.assigned)},
            "max_lag": self.max_lag}
        reasons = []
        for tp in sorted(self.assigned):
            lag = lags.get(tp)
            if tp not in self.rebuilt:
                reasons.append(f"{tp[0]}/{tp[1]}: state not rebuilt yet")
            elif lag is None:
                reasons.append(f"{tp[0]}/{tp[1]}: end of the log not known yet")
            elif lag > self.max_lag:
                reasons.append(f"{tp[0]}/{tp[1]}: {lag} records behind")
        outage = outage_reason()
        if outage is not None:
            reasons.append(outage)
        if reasons:
            detail["reasons"] = reasons
        return Health(not reasons, detail)


def create_app(settings: Settings, *, web_port: int | None = None,
               probe: WorkerProbe | None = None,
               refuse: Callable[[OperatorError], None] | None = None) -> faust.App:
    """The single worker's faust app. ``refuse``: how it stops when it must not go on (a log
    made again or cut, commits of another version or layout): by default it crashes."""
    app = faust.App(
        app_id(settings),
        broker=[f"kafka://{server.strip()}" for server in settings.bootstrap_servers.split(",")],
        store="memory://",
        datadir=str(state_dir(settings) / "faust"),
        topic_partitions=1,
        topic_replication_factor=settings.replication_factor,
        topic_disable_leader=True,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=instance_id(settings),
        broker_session_timeout=settings.worker_session_timeout,
        broker_heartbeat_interval=max(1.0, settings.worker_session_timeout / 4),
        producer_max_request_size=MAX_REQUEST_BYTES,
        producer_acks=-1,
        consumer_max_fetch_size=MAX_REQUEST_BYTES,
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
        table_standby_replicas=0,
        broker_credentials=faust_credentials(settings),
    )
    # the committed log, as replay and the stages read it (see storyline.stream.committed)
    read_committed(app)
    # acks=False: faust neither tracks nor commits this topic; the worker does (see above)
    articles = app.topic(settings.articles, key_serializer="raw", value_serializer="raw",
                         partitions=1, acks=False)
    updates = app.topic(settings.story_updates, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(settings.dead_letters, key_serializer="raw",
                             value_serializer="raw")
    summaries = app.topic(settings.summaries, key_serializer="raw", value_serializer="raw")
    pages = app.topic(settings.story_pages, key_serializer="raw", value_serializer="raw")
    checkpoints = PageCheckpoints(settings.page_checkpoint_revisions)
    state = WorkerState(state_dir(settings) / "cold", settings.warm_idle_revisions,
                        settings.malloc_trim_every, settings.gc_freeze_every,
                        settings.gc_collect_growth,
                        warm_items=settings.warm_story_articles,
                        warm_analyses=settings.warm_analyses)
    offsets = FoldedOffsets()

    async def refused(exc: OperatorError) -> None:
        log.critical("worker_refused", error_type=type(exc).__name__, reason=str(exc))
        if refuse is None:
            await app.crash(exc)
        else:
            refuse(exc)

    # the layout of the output topics its commits say (laid_out), known once it has
    # rebuilt: a commit before that says none
    layout: dict[str, LaidOut] = {}
    summariser, llm_client = summariser_from_settings(settings.llm)
    snapshots_root = state_dir(settings) / "snapshots"
    snapshotters: dict[tuple[str, int], Snapshotter] = {}
    probe = probe or WorkerProbe(settings.ready_max_lag)
    # produce time (s since the epoch) of the last record folded, per partition
    last_timestamps: dict[tuple[str, int], float] = {}

    def snapshotter(topic: str, partition: int) -> Snapshotter:
        found = snapshotters.get((topic, partition))
        if found is None:
            found = snapshotters[(topic, partition)] = Snapshotter(
                snapshot_dir(snapshots_root, topic, partition),
                every=settings.snapshot_every, keep=settings.snapshot_keep,
                fork=settings.snapshot_fork, interval=settings.snapshot_interval)
        return found

    async def on_consumer_thread(function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        # faust runs the aiokafka consumer on a thread of its own and its calls must run
        # there; faust has no public way to commit given offsets, hence its private parts
        thread = cast(Any, app.consumer)._thread
        return await thread.call_thread(function, *args)

    def kafka_consumer() -> Any:
        return cast(Any, app.consumer)._thread._ensure_consumer()

    async def committed_offset(topic: str, partition: int) -> int:
        consumer = kafka_consumer()
        found = await on_consumer_thread(consumer.committed, TopicPartition(topic, partition))
        return int(found) if found is not None and found >= 0 else 0

    async def commit() -> None:
        due = offsets.due()
        if not due:
            return
        consumer = kafka_consumer()
        assigned = consumer.assignment()
        due = {tp: o for tp, o in due.items() if tp in assigned}
        if not due:
            return
        try:
            # A member away past its session (paused, swapped out, cut off) folds on from
            # where it was while another takes over and commits further; resumed, its
            # commit (at the rebalance that lets it back in, after aiokafka has reset its
            # generation) took the group's commit back, and the records in between were
            # published again by whoever folded them next. So it never commits below the
            # group's commit (asked of the coordinator, once a commit interval).
            behind = {tp: o for tp, o in due.items()
                      if (await on_consumer_thread(consumer.committed, tp) or 0) >= o}
            if behind:
                log.warning("commit_behind_group", offsets={
                    f"{tp.topic}/{tp.partition}": o for tp, o in sorted(behind.items())})
                offsets.mark_committed(behind)
                due = {tp: o for tp, o in due.items() if tp not in behind}
                if not due:
                    return
            # the mark says which articles log the offsets are positions in
            mark = state.pipeline.log_mark(settings.articles, ARTICLES_PARTITION)
            await on_consumer_thread(consumer.commit,
                                     commit_payload(due, state.pipeline.pipeline_version,
                                                    log=mark, parts=layout.get("parts")))
        except Exception as exc:  # noqa: BLE001 - a failed commit is retried next tick
            log.warning("commit_failed", error=f"{type(exc).__name__}: {exc}",
                        offsets={f"{tp.topic}/{tp.partition}": o for tp, o in due.items()})
            return
        offsets.mark_committed(due)

    async def rebuild(topic: str, partition: int) -> None:
        """Bring the state up to the committed offset C without publishing: every record
        below C was folded and published before (that is what a commit means here)."""
        started = time.perf_counter()
        until = await committed_offset(topic, partition)
        # the log's first record: a topic made again has another one, however long it is by
        # now (its end alone cannot tell it from the old log once it has grown past it)
        tp = TopicPartition(topic, partition)
        first = await retried(functools.partial(
            first_record, settings.bootstrap_servers, topic, partition),
            f"{topic} first record")
        parts = await laid_out(settings)
        await ensure_commits_fit(settings.bootstrap_servers, app_id(settings), tp, first,
                                 state.pipeline.pipeline_version, settings.source_topic_prefix,
                                 parts=parts, topics=settings.laid_out_topics)
        layout["parts"] = parts  # not before: a commit of the refused would say them
        start = state.next_offset(topic, partition)
        source = "memory"
        if start == 0 and until > 0:
            last = await asyncio.to_thread(
                state.restore, snapshotter(topic, partition).directory, topic, partition,
                until)
            if last is not None:
                start, source = last + 1, "snapshot"
            else:
                source = "log"
        count = 0
        recorded = await recorded_summaries(settings) if start < until else {}
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           start=start, stop=until):
            async with state.lock:
                outcome = await state.fold(record.key, record.value,
                                           LogPosition(topic, partition, record.offset),
                                           settings.max_article_bytes, record.timestamp)
                overlay_recorded(state.pipeline, outcome.events, recorded)
            count += 1
        async with state.lock:
            snapshotter(topic, partition).rebuilt(state.pipeline, topic, partition, count)
        ensure_same_log(tp, state.pipeline.log_mark(topic, partition), first)
        if first is not None:  # a state of before the mark: it is this log's from now on
            state.pipeline.mark_log(topic, partition, *first)
        await check_not_rewound(topic, partition, force=True)
        state.ready.add((topic, partition))
        probe.rebuilt = frozenset(state.ready)
        log.info("state_ready", topic=topic, partition=partition, committed=until,
                 source=source, from_offset=start, records_folded=count,
                 stories=len(state.pipeline.story_ids),
                 frozen=state.pipeline.frozen_story_count,
                 seconds=round(time.perf_counter() - started, 3))

    @app.on_partitions_revoked.connect
    async def on_revoked(_sender: Any, /, *args: Any, signal: Any, **_: Any) -> None:
        revoked: set[Any] = args[0] if args else set()
        await commit()
        tps = {TopicPartition(tp.topic, tp.partition) for tp in revoked}
        offsets.forget(tps)
        # the state stays valid (it is a position in the log); only the rebuild check resets
        state.ready.difference_update((tp.topic, tp.partition) for tp in tps)
        probe.rebuilt = frozenset(state.ready)

    @app.on_partitions_assigned.connect
    async def on_assigned(_sender: Any, /, *args: Any, signal: Any, **_: Any) -> None:
        assigned: set[Any] = args[0] if args else set()
        # A member that was away past its session (paused, swapped out, cut off) may get its
        # partitions back after another member folded on and committed further: it is not
        # told they were revoked, and what it folded meanwhile is another's to commit. So
        # its uncommitted progress is forgotten and its state checked against the group's
        # commit again at the next record (the rebuild folds it up to the commit without
        # publishing). Before, such a member committed its own, lower, position over the
        # other's: the group's commit went back (300 -> 170 of 300) and stayed there, "stuck",
        # until the next article made it publish the records in between again.
        # (A normal rebalance revoked them first, and committed: nothing is lost here.)
        tps = {TopicPartition(tp.topic, tp.partition) for tp in assigned}
        offsets.forget(tps)
        state.ready.difference_update((tp.topic, tp.partition) for tp in tps)
        probe.rebuilt = frozenset(state.ready)
        probe.assigned = frozenset((tp.topic, tp.partition) for tp in assigned
                                   if tp.topic == settings.articles)

    @app.task  # type: ignore[untyped-decorator]  # faust's task is untyped
    async def check_the_log() -> None:
        """Once at start, beside the work: an error if the articles topic deletes records."""
        await warn_if_the_log_loses_records(settings.bootstrap_servers, settings.articles)

    # (topic, partition) -> whether its log still begins as it did (a log made again)
    log_watches: dict[tuple[str, int], LogWatch] = {}

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]  # faust's timer is untyped
    async def observe() -> None:
        """Liveness beat, consumer lag and snapshot age, for /metrics and /readyz."""
        probe.watch.beat()
        try:
            consumer = kafka_consumer()
        except Exception:  # noqa: BLE001 - not started yet: nothing to measure
            return
        lags: dict[tuple[str, int], int | None] = {}
        for tp in sorted(probe.assigned or ()):
            try:
                end = consumer.highwater(TopicPartition(*tp))
            except Exception:  # noqa: BLE001 - revoked meanwhile
                end = None
            lags[tp] = record_lag("worker", tp[0], tp[1], end=end,
                                  position=state.next_offset(*tp),
                                  last_timestamp=last_timestamps.get(tp))
            if tp in state.ready:
                try:  # a log made again: its records would be skipped as redeliveries
                    ensure_not_rewound(TopicPartition(*tp), state.next_offset(*tp), end)
                    watch = log_watches.setdefault(tp, LogWatch(settings.bootstrap_servers,
                                                                TopicPartition(*tp)))
                    await watch.check(state.pipeline.log_mark(*tp))
                except LogRewound as exc:
                    await refused(exc)
                    return
        probe.lags = lags
        READY.labels("worker").set(1 if probe.ready().ok else 0)
        now = time.time()
        for (topic, partition), taker in list(snapshotters.items()):
            found = await asyncio.to_thread(snapshots, taker.directory)
            if found:
                with contextlib.suppress(OSError):  # pruned meanwhile: next tick
                    written = found[0][1].stat().st_mtime
                    SNAPSHOT_AGE.labels(topic, str(partition)).set(max(0.0, now - written))

    @app.timer(interval=settings.commit_interval)  # type: ignore[untyped-decorator]  # faust's timer is untyped
    async def commit_when_due() -> None:
        await commit()

    @app.timer(interval=2.0)  # type: ignore[untyped-decorator]  # faust's timer is untyped
    async def snapshot_when_due() -> None:
        async with state.lock:
            for (topic, partition), taker in sorted(snapshotters.items()):
                if (topic, partition) in state.ready:
                    taker.tick(state.pipeline, topic, partition, timer=True)

    @app.on_before_shutdown.connect
    async def on_shutdown(_sender: Any, /, *_args: Any, signal: Any, **_: Any) -> None:
        # the fetcher has stopped, the consumer is still in the group: the last commit
        await commit()
        for taker in snapshotters.values():
            taker.reap(wait=True)
        if llm_client is not None:
            await llm_client.aclose()
        for watch in log_watches.values():
            await watch.close()

    @app.agent(articles)
    async def process_articles(stream: faust.StreamT[bytes]) -> None:
        try:
            await fold_stream(stream)
        except (LogTruncated, LogRewound, PipelineChanged, PartitionsChanged) as exc:
            # records it must fold were deleted from the log (or its commits are another
            # version's, or of another layout of its output topics): the worker stops,
            # saying so
            # (left to faust, the agent was restarted at every record, each crash held back
            # as a connection error, and nothing was folded or said)
            await refused(exc)
        except ColdStoreFailed as exc:
            # the disk failed under the state: it may hold half a record, so the worker
            # stops (left to faust, the agent would be restarted on the same state)
            cold_store_failed([taker.directory for taker in snapshotters.values()], exc)
            await app.crash(exc)

    async def fold_stream(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            topic, partition = message.topic, message.partition
            if partition != ARTICLES_PARTITION:
                off_the_log(topic, partition, message.offset)
                continue
            if (topic, partition) not in state.ready:
                await rebuild(topic, partition)
            expected = state.next_offset(topic, partition)
            if message.offset < expected:
                # folded and published before: a redelivery, unless the log was made again
                await check_not_rewound(topic, partition)
                continue
            if message.offset > expected:
                await fill_gap(topic, partition, expected, message.offset)
            await fold_and_publish(message.key, message.value,
                                   LogPosition(topic, partition, message.offset),
                                   message.timestamp)

    reported_off_the_log: set[int] = set()
    rewound_checked: dict[tuple[str, int], float] = {}

    async def check_not_rewound(topic: str, partition: int, *, force: bool = False) -> None:
        """LogRewound if the log ends before what the state has folded from it (a topic
        deleted and made again: its records would be skipped as redeliveries). Asked of the
        broker after a rebuild and, while records are skipped, at most every few seconds."""
        now = time.monotonic()
        if not force and now - rewound_checked.get((topic, partition), -math.inf) < 5.0:
            return
        rewound_checked[(topic, partition)] = now
        try:
            ends = await end_offsets(settings.bootstrap_servers, topic)
        except Exception:  # noqa: BLE001 - the broker away: asked again at the next skip
            del rewound_checked[(topic, partition)]
            return
        ensure_not_rewound(TopicPartition(topic, partition),
                           state.next_offset(topic, partition), ends.get(partition))

    def off_the_log(topic: str, partition: int, offset: int) -> None:
        # not the log: folding it would make the revisions depend on how the partitions
        # interleave; said once per partition, never committed (status keeps reporting it)
        if partition not in reported_off_the_log:
            reported_off_the_log.add(partition)
            log.error("articles_off_the_log", topic=topic, partition=partition, offset=offset,
                      reason=off_the_log_message(topic, {partition: 0}))

    async def fill_gap(topic: str, partition: int, start: int, stop: int) -> None:
        log.warning("consumer_skipped_records", topic=topic, partition=partition,
                    expected=start, delivered=stop, filled_from_log=stop - start)
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           start=start, stop=stop):
            await fold_and_publish(record.key, record.value,
                                   LogPosition(topic, partition, record.offset),
                                   record.timestamp / 1000 if record.timestamp else None)

    async def fold_and_publish(key: bytes | None, value: bytes | None,
                               position: LogPosition, produced_at: float | None) -> None:
        # the lock covers the publish too: an LLM summary changes the state's latest page
        # after the fold, and a snapshot must not fall between the two
        async with state.lock:
            with structlog.contextvars.bound_contextvars(offset=position.offset):
                outcome = await state.fold(key, value, position, settings.max_article_bytes,
                                           None if produced_at is None
                                           else round(produced_at * 1000))
                await publish_outcome(outcome, produced_at)
            offsets.folded(position.topic, position.partition, position.offset)
            if produced_at:
                last_timestamps[(position.topic, position.partition)] = produced_at
            if outcome.dead_letter is not None:
                ARTICLES.labels("dead_letter").inc()
            elif outcome.events:
                ARTICLES.labels("folded").inc()
            elif outcome.article is not None:  # an older version or a resend: no revision
                ARTICLES.labels("unchanged").inc()
            snapshotter(position.topic, position.partition).record_folded(
                state.pipeline, position.topic, position.partition)

    async def publish_outcome(outcome: RecordOutcome, produced_at: float | None) -> None:
        if outcome.dead_letter is not None:
            letter = outcome.dead_letter
            DEAD_LETTERS.labels("worker", letter.error_type).inc()
            log.warning("dead_letter", error_type=letter.error_type, reason=letter.reason,
                        source_offset=letter.source_offset)
            await deliver(dead_letters, (letter.key or "").encode(), canonical_bytes(letter))
        for produced in outcome.events:
            if isinstance(produced, StoryUpdated):
                produced = await summarised(produced)
            body = canonical_bytes(produced)
            await deliver(updates, story_key(produced), body)
            if isinstance(produced, StoryMerged):
                await deliver(pages, *absorbed_page_tombstone(produced))
            if isinstance(produced, StoryUpdated):
                STORY_UPDATES.inc()
                if produced_at:
                    PRODUCE_TO_UPDATE.observe(max(0.0, time.time() - produced_at))
                log.info("story_updated", story_id=produced.story_id,
                         revision=produced.revision, article_id=produced.cause.article_uri,
                         articles=produced.article_count, bytes=len(body))
                await checkpoint(produced, len(body))

    async def summarised(update: StoryUpdated) -> StoryUpdated:
        """The optional LLM summary. Its record is durable on the summaries topic before the
        revision that uses it is published, so replay always finds it."""
        page = state.pipeline.page(update.story_id)
        if page is None or not summariser.enabled:
            return update
        result = await summariser.summarise(page)
        if result.record is None:
            return update
        await deliver(summaries, update.story_id.encode(), canonical_bytes(result.record))
        return state.pipeline.replace_summary(update, result.update.summary)

    async def checkpoint(update: StoryUpdated, update_bytes: int) -> None:
        """A whole page on the compacted pages topic when one is due (see PageCheckpoints)."""
        if not checkpoints.due(update.story_id, update_bytes):
            return
        page = state.pipeline.page(update.story_id)
        if page is None or page.revision != update.revision:
            return
        body = canonical_bytes(page)
        await deliver(pages, update.story_id.encode(), body)
        checkpoints.written(update.story_id, len(body))

    async def deliver(topic: faust.TopicT, key: bytes, value: bytes | None) -> None:
        """Send and wait for the broker's ack, retrying until it comes: the state already
        holds the record, so a revision given up here would be lost for good (``value``
        None: a tombstone)."""
        delay = 0.2
        while True:
            try:
                delivered = await topic.send(key=key, value=value)
                await delivered
                return
            except Exception as exc:  # noqa: BLE001 - any send failure is retried the same way
                log.warning("publish_retry", topic=topic.get_topic_name(),
                            error=f"{type(exc).__name__}: {exc}", retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, PUBLISH_BACKOFF_MAX)

    return app


def absorbed_page_tombstone(merged: StoryMerged) -> tuple[bytes, None]:
    """The key and (None) value that take an absorbed story's last whole page off the
    compacted pages topic: a reader starting there would show the story as a live one
    (docs/revisions.md, "Whole pages")."""
    return merged.absorbed_id.encode(), None


class PageCheckpoints:
    """When to write a story's whole page: at the first revision this worker publishes for
    it, then whenever the bytes of the changes since the last whole page reach that page's
    size, or after ``max_revisions`` revisions. So a reader never applies more change bytes
    than a page holds, and the pages topic grows like the updates topic, not with the square
    of a story's size. Only where readers start depends on it, never a revision."""

    def __init__(self, max_revisions: int) -> None:
        self.max_revisions = max(1, max_revisions)
        self._since: dict[str, tuple[int, int, int]] = {}  # story -> (revisions, bytes, page)

    def due(self, story_id: str, update_bytes: int) -> bool:
        found = self._since.get(story_id)
        if found is None:
            return True
        revisions, change_bytes, page_bytes = found
        revisions, change_bytes = revisions + 1, change_bytes + update_bytes
        self._since[story_id] = (revisions, change_bytes, page_bytes)
        return revisions >= self.max_revisions or change_bytes >= page_bytes

    def written(self, story_id: str, page_bytes: int) -> None:
        self._since[story_id] = (0, 0, page_bytes)


def run_worker(settings: Settings, *, loglevel: str = "warning", web_port: int | None = None
               ) -> None:
    import sys

    # before faust, aiokafka and RocksDB start threads
    tune_malloc(settings.malloc_arena_max, settings.malloc_mmap_threshold)
    switch_kernels(settings)
    state_dir(settings).mkdir(parents=True, exist_ok=True)
    probe = WorkerProbe(settings.ready_max_lag)
    refusals: list[OperatorError] = []

    def refuse(exc: OperatorError) -> None:
        # stopped as by SIGTERM (its last commit, its snapshots), then said in one line
        # (commands.worker: exit 2); a crash would end in faust's traceback and exit 1
        refusals.append(exc)
        worker._schedule_shutdown(signal.SIGTERM)

    app = create_app(settings, web_port=web_port, probe=probe, refuse=refuse)
    operations = None
    if settings.worker_metrics_port:
        operations = start_operations(settings.metrics_host, settings.worker_metrics_port,
                                      process="worker", live=probe.live, ready=probe.ready)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False,
                          stdout=sys.stdout, stderr=sys.stderr)
    if not sys.stdout.isatty():
        # faust's progress spinner writes "hide cursor", backspaces and "show cursor" (at
        # exit too) whatever stdout is; Worker has no option for it, and None is what faust
        # itself sets when the log level makes the spinner pointless. A log file stays text.
        worker.spinner = None
    try:
        try:
            worker.execute_from_commandline()
        except SystemExit:
            if refusals:
                raise refusals[0] from None
            raise
    finally:
        if operations is not None:
            operations.stop()
