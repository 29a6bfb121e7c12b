"""The fold side over the facts topic (docs/stages.md, step 3): assign + page in one process.

It reads every partition of the facts topic, puts the extract stage's stripes back into
the articles log's order (:class:`~storyline.stream.stripes.StripeMerge`: offset o from
partition ``o mod N``, never skipping one that has not arrived) and folds each record as the
single-process worker folds the article (:func:`~storyline.stream.facts.fold_facts`), so it
publishes the same ``StoryUpdated`` bytes, dead letters, LLM summaries and page checkpoints.

State, position and commits are the worker's (:mod:`storyline.stream.worker`, same consumer
group and data directory, so either can take over from the other, never both at once):
the state owns its position, a source offset; it commits, for the articles partition,
"every source offset below C is folded and its events acknowledged", and beside it, for
each facts partition, the offset below which every record is folded or a copy of one (the
lowest one still waiting in the merge, else the consumer's position), where it resumes.
On start the state is rebuilt up to C from the newest usable snapshot and the articles
log's tail, as the worker does, and the merge starts at C, dropping the copies before it.

The partitions are assigned by hand (one fold process for now): the group has no members.
So that ``storyline status`` still sees it, the fold commits at least every
``STAGE_HEARTBEAT`` seconds, also while it rebuilds, with a stage marker in the commit
metadata. "Never both at once" is held on a host by the state directory's lock
(:mod:`storyline.stream.statelock`): a fold started while the previous one is still stopping
waits for it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import signal
import time
from collections.abc import Mapping
from pathlib import Path

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from storyline.allocator import tune_malloc
from storyline.domain.pipeline import LogPosition
from storyline.domain.records import dead_letter
from storyline.kafka.articles_log import ARTICLES_PARTITION
from storyline.kafka.clients import stop_consumer
from storyline.kafka.security import kafka_options
from storyline.metrics import ARTICLES
from storyline.replay import overlay_recorded, recorded_summaries
from storyline.settings import Settings, switch_kernels
from storyline.stream.assignments import assignment_records
from storyline.stream.beats import beating
from storyline.stream.facts import (
    FactsRecord,
    FoldedFacts,
    NotFactsRecord,
    UnreadableFacts,
    extract_record,
)
from storyline.stream.logreader import (
    FETCH_LIMITS,
    LogMark,
    LogWatch,
    ensure_not_rewound,
    ensure_not_truncated,
    ensure_same_log,
    first_record,
    mark_folded_log,
    read_article,
    read_partition,
)
from storyline.stream.offsets import (
    STAGE_HEARTBEAT,
    commit_payload,
    ensure_commits_fit,
)
from storyline.stream.publishing import Outgoing, Prepared, StoryPublisher, events_producer
from storyline.stream.reconnect import (
    BACKOFF_MAX,
    committed_offset,
    partition_counts,
    retried,
    start_client,
    topic_partitions,
    transient,
)
from storyline.stream.snapshots import (
    Snapshotter,
    snapshot_dir,
    stopping_on_cold_store_failure,
)
from storyline.stream.stage_ops import StageProbe, start_stage_operations
from storyline.stream.statelock import own_state
from storyline.stream.stripes import StripeMerge
from storyline.stream.worker import WorkerState, app_id, state_dir

log = structlog.get_logger("storyline.fold")

MAX_AHEAD = 512  # records of one partition waiting in the merge before it is paused
# The fold's thread folds the ready records in runs of up to RUN_SECONDS, each run one
# hand-over to and from the event loop (a to_thread round trip: ~1.1 ms an article, and
# the loop's wake-ups fight the fold for the GIL). A record's delivery starts when its run
# ends: a run longer than a record or two would hold the first record's update back.
RUN_SECONDS = 0.025


class _Waiting:
    """A facts record waiting in the merge, with where it is on the facts topic."""

    __slots__ = ("facts_offset", "record", "timestamp")

    def __init__(self, record: FactsRecord, facts_offset: int, timestamp: float | None) -> None:
        self.record = record
        self.facts_offset = facts_offset
        self.timestamp = timestamp


class _Folded:
    """A record folded in a run, with what its events will be delivered as (None: with an
    LLM summariser, which puts its summary in first)."""

    __slots__ = ("folded", "offset", "prepared", "waiting")

    def __init__(self, offset: int, waiting: _Waiting, folded: FoldedFacts,
                 prepared: list[Prepared] | None) -> None:
        self.offset = offset
        self.waiting = waiting
        self.folded = folded
        self.prepared = prepared


class FoldStage:
    """The fold process; ``pages=False``: the assign process of a worker whose page stage
    runs in processes of its own (``storyline worker --stage assign``): it writes the
    assignments (and the dead letters of what it refuses) and folds no story, under a
    consumer group and a state directory of its own (:func:`fold_group`)."""

    def __init__(self, settings: Settings, *, pages: bool = True) -> None:
        self.settings = settings
        self.pages = pages
        self.group = fold_group(settings, pages=pages)
        self.stage = "fold" if pages else "assign"
        self.source = TopicPartition(settings.articles, ARTICLES_PARTITION)
        self.log_watch = LogWatch(settings.bootstrap_servers, self.source)
        # the articles log's first record when this process started (see _start): what the
        # commits made while the state is rebuilt say, before the state has a mark of its own
        self.first: LogMark | None = None
        directory = fold_state_dir(settings, pages=pages)
        self.directory = directory
        self.state = WorkerState(directory / "cold", settings.warm_idle_revisions,
                                 settings.malloc_trim_every, settings.gc_freeze_every,
                                 settings.gc_collect_growth,
                                 warm_items=settings.warm_story_articles,
                                 warm_analyses=settings.warm_analyses)
        self.publisher: StoryPublisher
        self.snapshotter = Snapshotter(
            snapshot_dir(directory / "snapshots", self.source.topic,
                         self.source.partition),
            every=settings.snapshot_every, keep=settings.snapshot_keep,
            fork=settings.snapshot_fork, interval=settings.snapshot_interval)
        self.consumer: AIOKafkaConsumer
        self.producer: AIOKafkaProducer
        self.facts: list[TopicPartition] = []
        self.assignment_partitions = 0  # of the assignments topic, known once started
        self.output_partitions: tuple[int, ...] = ()  # of the story updates and pages
        self.merge: StripeMerge[_Waiting] = StripeMerge(1)
        self.committed: dict[TopicPartition, int] = {}
        self.consumed: dict[TopicPartition, int] = {}  # facts partition -> next offset read
        self.folded = 0
        # the run whose events are being delivered while the next one folds: of each of its
        # records not delivered yet, in order, its source offset, facts partition and facts
        # offset (the commits stay below them)
        self.delivery: asyncio.Task[None] | None = None
        self.undelivered: collections.deque[tuple[int, TopicPartition, int]] = (
            collections.deque())
        self.probe = StageProbe(self.stage, settings.ready_max_lag)
        self.last_timestamp: float | None = None  # produce time of the last record folded
        self.source_end: int | None = None  # the articles log's end, when last asked
        self.last_sent = 0.0  # monotonic time of the last commit
        self.moved_at: float | None = None  # wall time the source commit last moved

    # -- running ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        self.directory.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, group_id=self.group,
            enable_auto_commit=False, auto_offset_reset="earliest",
            **FETCH_LIMITS,
            isolation_level="read_committed", **kafka_options())
        self.producer = events_producer(settings)
        self.publisher = StoryPublisher(settings, self.producer, lambda: self.state.pipeline)
        operations = start_stage_operations(settings, self.probe, 0)
        await start_client(self.consumer, "fold consumer")
        await start_client(self.producer, "fold producer")
        try:
            if await self._start(stop):
                self.probe.started = True
                await self._loop(stop)
                await self._delivered()
                await self._commit(force=True)
        finally:
            if operations is not None:
                operations.stop()
            self.snapshotter.reap(wait=True)
            await self.producer.stop()
            await stop_consumer(self.consumer)
            await self.log_watch.close()
            await self.publisher.aclose()
            log.info(f"{self.stage}_stopped", folded=self.folded,
                     next_offset=self.state.next_offset(*self._source_key))

    @property
    def _source_key(self) -> tuple[str, int]:
        return self.source.topic, self.source.partition

    @property
    def _parts(self) -> tuple[int, ...]:
        """The partition counts of ``Settings.laid_out_topics`` its facts read, assignments
        and revisions written are laid out by, said in every commit."""
        return len(self.facts), self.assignment_partitions, *self.output_partitions

    async def _start(self, stop: asyncio.Event) -> bool:
        """Rebuild the state up to the commit and seek the facts; False when stopped
        meanwhile (nothing is committed then: the state is short of the commit)."""
        topic = self.settings.facts
        self.facts = [TopicPartition(topic, p)
                      for p in await topic_partitions(self.consumer, topic)]
        self.assignment_partitions = len(
            await topic_partitions(self.consumer, self.settings.assignments))
        self.output_partitions = await partition_counts(
            self.consumer, self.settings.laid_out_topics[2:])
        self.consumer.assign([self.source, *self.facts])
        self.consumer.pause(self.source)  # assigned only to commit the source position
        until = await committed_offset(self.consumer, self.source)
        # a topic made again that has grown past the commit begins with another record than
        # the one the commits (and the state restored) were made from
        first = await retried(functools.partial(
            first_record, self.settings.bootstrap_servers, *self._source_key),
            f"{self.source.topic} first record")
        await ensure_commits_fit(self.settings.bootstrap_servers, self.group, self.source,
                                 first, self.state.pipeline.pipeline_version,
                                 self.settings.source_topic_prefix, parts=self._parts,
                                 topics=self.settings.laid_out_topics)
        self.first = first
        heartbeat = asyncio.create_task(self._heartbeat(until))
        try:
            if not await self._rebuild(until, stop):
                return False
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        ensure_same_log(self.source, self.state.pipeline.log_mark(*self._source_key), first)
        if first is not None:  # a state of before the mark: it is this log's from now on
            self.state.pipeline.mark_log(*self._source_key, *first)
        start = self.state.next_offset(*self._source_key)
        self.merge = StripeMerge(len(self.facts), start=start)
        self.committed = {self.source: until}
        for tp in self.facts:
            self.committed[tp] = self.consumed[tp] = await committed_offset(self.consumer, tp)
            await retried(functools.partial(ensure_not_truncated, self.consumer, tp,
                                            self.consumed[tp]), f"{tp.topic} log start")
            self.consumer.seek(tp, self.consumed[tp])
        log.info(f"{self.stage}_started", stripes=len(self.facts), from_offset=start,
                 facts_offsets={tp.partition: self.consumed[tp] for tp in self.facts})
        return True

    async def _rebuild(self, until: int, stop: asyncio.Event) -> bool:
        """The worker's rebuild: the state up to the committed source offset, from the newest
        usable snapshot and the articles log, publishing nothing. Returns False when stopped
        before the end: a rebuild from offset 0 of a long log takes minutes, and a fold
        asked to stop meanwhile (SIGTERM; the kernel's, when its supervisor was SIGKILLed)
        would otherwise hold the state directory, and keep its successor waiting, until the
        end of a rebuild whose result it throws away."""
        started = time.perf_counter()
        topic, partition = self._source_key
        start, source = 0, "log"
        if until > 0:
            last = await asyncio.to_thread(self.state.restore, self.snapshotter.directory,
                                           topic, partition, until)
            if last is not None:
                start, source = last + 1, "snapshot"
        recorded = (await retried(lambda: recorded_summaries(self.settings), "summaries")
                    if start < until else {})
        log.info("rebuild_started", committed=until, source=source, from_offset=start)
        count = 0
        position = start  # the next offset to fold
        delay = 0.5
        while True:
            records = read_partition(self.settings.bootstrap_servers, topic, partition,
                                     start=position, stop=until)
            try:
                async with contextlib.aclosing(records):
                    async for record in records:
                        if stop.is_set():
                            log.info("rebuild_stopped", committed=until,
                                     next_offset=record.offset, records_folded=count)
                            return False
                        outcome = await asyncio.to_thread(
                            self.state.fold_now, record.key, record.value,
                            LogPosition(topic, partition, record.offset),
                            self.settings.max_article_bytes, self.pages, record.timestamp)
                        overlay_recorded(self.state.pipeline, outcome.events, recorded)
                        count += 1
                        position = record.offset + 1
                break
            except Exception as exc:  # a broker outage: read on from where it stopped
                if not transient(exc) or stop.is_set():
                    raise
                log.warning("rebuild_read_retry", next_offset=position,
                            error=f"{type(exc).__name__}: {exc}", retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
        # as the worker's rebuild: what was refolded is saved at once, so a crash loop does
        # not refold the same stretch, and more, from the same old snapshot at every start
        self.snapshotter.rebuilt(self.state.pipeline, topic, partition, count)
        self.state.ready.add(self._source_key)
        log.info("state_ready", topic=topic, partition=partition, committed=until,
                 source=source, from_offset=start, records_folded=count,
                 stories=len(self.state.pipeline.story_ids),
                 seconds=round(time.perf_counter() - started, 3))
        return True

    async def _loop(self, stop: asyncio.Event) -> None:
        last_commit = last_tick = time.monotonic()
        last_observed = 0.0
        paused: set[TopicPartition] = set()
        while not stop.is_set():
            self.probe.watch.beat()
            if self.delivery is not None and self.delivery.done():
                await self._delivered()  # a failed delivery stops the stage now, not later
            if time.monotonic() - last_observed >= 1.0:
                await self._observe()
                last_observed = time.monotonic()
            batches = await self.consumer.getmany(*self.facts, timeout_ms=500,
                                                  max_records=200)
            for tp, records in batches.items():
                for record in records:
                    await self._arrived(tp, record)
            while self.merge.has_ready() and not stop.is_set():
                await self._fold_run()
                # the ready records can take many seconds to fold: commit meanwhile
                if time.monotonic() - last_commit >= self.settings.commit_interval:
                    await self._commit()
                    last_commit = time.monotonic()
            self.state.idle()  # nothing ready: a due full collection delays no record queued
            # flow control: a partition far ahead of the merge waits, but never the one the
            # merge needs next
            needed = self.facts[self.merge.waiting_for % len(self.facts)]
            for tp in self.facts:
                ahead = self.merge.pending_count(tp.partition) >= MAX_AHEAD and tp != needed
                if ahead and tp not in paused:
                    self.consumer.pause(tp)
                    paused.add(tp)
                elif not ahead and tp in paused:
                    self.consumer.resume(tp)
                    paused.discard(tp)
            now = time.monotonic()
            if now - last_commit >= self.settings.commit_interval:
                await self._commit()
                last_commit = now
            if now - last_tick >= 2.0:
                topic, partition = self._source_key
                self.snapshotter.tick(self.state.pipeline, topic, partition, timer=True)
                last_tick = now

    async def _observe(self) -> None:
        """Lag gauges and readiness: the articles log against what the fold applied, each
        facts partition against what it read."""
        try:
            ends = await self.consumer.end_offsets([self.source])
            self.source_end = ends.get(self.source, self.source_end)
        except Exception:  # noqa: BLE001 - broker away: the last known end stands
            pass
        else:  # a log made again: what comes is not what this state was folded from
            ensure_not_rewound(self.source, self.state.next_offset(*self._source_key),
                               self.source_end)
            await mark_folded_log(self.state.pipeline, self.settings.bootstrap_servers,
                                  self.source)
            await self.log_watch.check(self.state.pipeline.log_mark(*self._source_key))
        self.probe.observe(self.source.topic, self.source.partition, end=self.source_end,
                           position=self.state.next_offset(*self._source_key),
                           last_timestamp=self.last_timestamp)
        for tp in self.facts:
            self.probe.observe(tp.topic, tp.partition, end=self.consumer.highwater(tp),
                               position=self.consumed[tp], last_timestamp=self.last_timestamp)

    async def _arrived(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]
                       ) -> None:
        try:
            facts = FactsRecord.from_kafka(record.key, record.value, record.headers)
        except NotFactsRecord as exc:
            # another producer's record: set aside, acknowledged before the commit can pass
            # it (a crash in between sends it again). It used to stop the fold, and the
            # supervisor, restarting it on the same record, stopped every stage.
            await self.publisher.dead_letter(dead_letter(
                LogPosition(tp.topic, tp.partition, record.offset), record.key,
                record.value or b"", "NotFactsRecord", str(exc)))
            self.consumed[tp] = record.offset + 1
            return
        timestamp = record.timestamp / 1000 if record.timestamp else None
        self.consumed[tp] = record.offset + 1
        self.merge.add(tp.partition, facts.source_offset,
                       _Waiting(facts, record.offset, timestamp))

    # -- one record ------------------------------------------------------------------------

    async def _fold_run(self) -> None:
        """Fold a run of the merge's ready records on the fold's thread, then deliver what
        they made. The delivery runs while the next run is folded (the fold's thread
        computes while the event loop waits for the broker's acknowledgements), one run's
        delivery at a time, in order; the commits stay below every record not delivered
        (:meth:`_due`). With an LLM summariser a run is one record, delivered before the
        next is folded: its summary goes into the event and the pipeline first."""
        run, failed = await asyncio.to_thread(
            self._fold_ready, 1 if self.publisher.summariser.enabled else None)
        if failed is not None:  # its facts record cannot be read: fold it from the article
            offset, waiting, failure = failed
            folded = await self._fold_from_log(self._position(offset), waiting, failure)
            run.append(_Folded(offset, waiting, folded, self._prepared(folded)))
        if not run:
            return
        for item in run:
            self._count(item)
        if self.publisher.summariser.enabled:  # never a delivery running then
            for item in run:
                await self._publish(item.folded, None, self._position(item.offset),
                                    item.waiting.timestamp)
            return
        # below the commits at once (the previous run's, in front, are taken off as they
        # are delivered), then the previous run delivered before this one's first send
        self.undelivered.extend((item.offset, self.facts[item.offset % len(self.facts)],
                                 item.waiting.facts_offset) for item in run)
        await self._delivered()
        self.delivery = asyncio.create_task(self._deliver(run))

    def _fold_ready(self, limit: int | None
                    ) -> tuple[list[_Folded], tuple[int, _Waiting, UnreadableFacts] | None]:
        """On the fold's thread: fold the merge's ready records, in source order, for about
        RUN_SECONDS (or ``limit`` records). The merge and the state are the thread's while a
        run lasts: the event loop only waits for it in :meth:`_fold_run`, it never touches
        them meanwhile. Stops at a record whose facts cannot be read, taken from the merge
        and returned to be folded from the log."""
        run: list[_Folded] = []
        started = time.perf_counter()
        for offset, waiting in self.merge.ready():
            with structlog.contextvars.bound_contextvars(offset=offset):
                try:
                    folded = self.state.fold_facts_now(waiting.record, self._position(offset),
                                                       self.pages)
                except UnreadableFacts as exc:
                    return run, (offset, waiting, exc)
            run.append(_Folded(offset, waiting, folded, self._prepared(folded)))
            if len(run) == limit or time.perf_counter() - started >= RUN_SECONDS:
                break
        return run, None

    def _prepared(self, folded: FoldedFacts) -> list[Prepared] | None:
        """What ``folded``'s events are delivered as, made right after the fold: a due
        whole page is the state's now (None with an LLM summariser: made when sent)."""
        if self.publisher.summariser.enabled:
            return None
        return [self.publisher.prepare(event) for event in folded.events]

    def _position(self, offset: int) -> LogPosition:
        topic, partition = self._source_key
        return LogPosition(topic, partition, offset)

    def _count(self, item: _Folded) -> None:
        folded = item.folded
        self.folded += 1
        self.last_timestamp = item.waiting.timestamp
        if folded.dead_letter is not None or folded.refused is not None:
            ARTICLES.labels("dead_letter").inc()
        elif folded.events:
            ARTICLES.labels("folded").inc()
        elif folded.unchanged:  # (the assign process's others: by the page processes)
            ARTICLES.labels("unchanged").inc()
        # a snapshot is only restored below the commit, so it may run ahead of delivery
        self.snapshotter.record_folded(self.state.pipeline, *self._source_key)

    async def _fold_from_log(self, position: LogPosition, waiting: _Waiting,
                             failure: UnreadableFacts) -> FoldedFacts:
        """Fold ``position`` from the article itself when its facts record cannot be read:
        the facts are a function of the article alone (what the extract stage would have
        written, as the rebuild extracts the log's tail), so the revisions are the fold of
        the log's. The record is dead-lettered first, so it is never passed over unsaid."""
        tp = self.facts[position.offset % len(self.facts)]
        await self.publisher.dead_letter(dead_letter(
            LogPosition(tp.topic, tp.partition, waiting.facts_offset), waiting.record.key,
            waiting.record.value, "UnreadableFacts",
            f"{failure}; source offset {position.offset} folded from the articles log"))
        article = await retried(functools.partial(read_article, self.settings.bootstrap_servers,
                                  position.topic, position.partition, position.offset),
                                f"{position.topic} offset {position.offset}")
        facts = await asyncio.to_thread(
            extract_record, article.key, article.value, position,
            max_bytes=self.settings.max_article_bytes)
        return await asyncio.to_thread(self.state.fold_facts_now, facts, position, self.pages)

    async def _deliver(self, run: list[_Folded]) -> None:
        for item in run:
            with structlog.contextvars.bound_contextvars(offset=item.offset):
                await self._publish(item.folded, item.prepared, self._position(item.offset),
                                    item.waiting.timestamp)
            # delivered: the commits may pass it now, whether or not another run comes
            self.undelivered.popleft()

    async def _delivered(self) -> None:
        """Wait for the run being delivered (its failure is this stage's)."""
        if self.delivery is not None:
            delivery, self.delivery = self.delivery, None
            await delivery

    async def _publish(self, folded: FoldedFacts, prepared: list[Prepared] | None,
                       position: LogPosition, produced_at: float | None) -> None:
        outgoing: list[Outgoing] = []
        if folded.assigned is not None:  # the assign stage's log, beside what it caused
            # with the article's produce time (the facts record carries it), as the
            # page processes count their lag and latency from it
            stamp = int(produced_at * 1000) if produced_at else None
            outgoing.extend(
                Outgoing(self.settings.assignments, record.key, record.value,
                         partition=record.partition, headers=record.headers,
                         timestamp_ms=stamp)
                for record in assignment_records(folded.assigned, self.assignment_partitions))
        letter = folded.dead_letter
        if folded.refused is not None:
            letter = await self.publisher.refused_letter(position, folded.refused.error_type,
                                                         folded.refused.reason)
        if letter is not None:
            outgoing.append(self.publisher.dead_letter_record(letter))
        if prepared is None:  # an LLM summary first: one event after the other
            await self.publisher.deliver_all(outgoing)
            for produced in folded.events:
                await self.publisher.event(produced, produced_at)
            return
        for ready in prepared:
            outgoing.extend(self.publisher.records(ready))
        await self.publisher.deliver_all(outgoing)
        for ready in prepared:
            self.publisher.sent(ready, produced_at)

    # -- commits ---------------------------------------------------------------------------

    def _due(self) -> Mapping[TopicPartition, int]:
        """The source offset below which everything is folded and delivered, and per facts
        partition the offset below which every record is folded or a copy."""
        due = {self.source: self.merge.waiting_for}
        for tp in self.facts:
            waiting = self.merge.pending(tp.partition)
            if waiting:
                due[tp] = min(w.facts_offset for w in waiting)
            else:
                due[tp] = self.consumed[tp]
        if self.undelivered:  # folded, their events not all acknowledged yet
            due[self.source] = min(due[self.source], self.undelivered[0][0])
        for _, tp, facts_offset in self.undelivered:
            due[tp] = min(due[tp], facts_offset)
        return due

    async def _commit(self, force: bool = False) -> None:
        """Commit what moved; everything, moved or not, at least every ``STAGE_HEARTBEAT``
        seconds: the fold is no member of the group, so its commits are what tells
        ``storyline status`` that it is alive."""
        now = time.monotonic()
        heartbeat = force or now - self.last_sent >= STAGE_HEARTBEAT
        due = {tp: o for tp, o in self._due().items()
               if heartbeat or o != self.committed.get(tp)}
        if not due:
            return
        moved = self.source in due and due[self.source] != self.committed.get(self.source)
        moved_at = time.time() if moved else self.moved_at
        try:
            await self.consumer.commit(commit_payload(
                due, self.state.pipeline.pipeline_version, stage=self.stage, moved_at=moved_at,
                log=self.state.pipeline.log_mark(*self._source_key), parts=self._parts))
        except Exception as exc:  # noqa: BLE001 - a failed commit is retried next tick
            log.warning("commit_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self.committed.update(due)
        self.last_sent, self.moved_at = now, moved_at

    async def _heartbeat(self, until: int) -> None:
        """While the state is rebuilt (minutes, from offset 0 of a long log), the commit it
        started from again and again, for ``storyline status``."""
        while True:
            await asyncio.sleep(STAGE_HEARTBEAT)
            try:
                await self.consumer.commit(commit_payload(
                    {self.source: until}, self.state.pipeline.pipeline_version, stage=self.stage,
                    log=self.state.pipeline.log_mark(*self._source_key) or self.first,
                    parts=self._parts))
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                log.warning("commit_failed", error=f"{type(exc).__name__}: {exc}")


def fold_group(settings: Settings, *, pages: bool = True) -> str:
    """The fold's consumer group: the worker's (either can take over from the other); the
    assign process's is its own, since its commit means "assigned", not "published"."""
    return app_id(settings) if pages else f"{app_id(settings)}-assign"


def fold_state_dir(settings: Settings, *, pages: bool = True) -> Path:
    """The fold's state directory: the worker's; the assign process's, its own."""
    return state_dir(settings) if pages else state_dir(settings) / "assign"


def run_fold(settings: Settings, *, pages: bool = True) -> None:
    # before aiokafka and RocksDB start threads
    tune_malloc(settings.malloc_arena_max, settings.malloc_mmap_threshold)
    switch_kernels(settings)
    # before FoldStage empties the cold store: a previous fold may still be stopping
    directory = fold_state_dir(settings, pages=pages)
    with own_state(directory), stopping_on_cold_store_failure(snapshot_dir(
            directory / "snapshots", settings.articles, ARTICLES_PARTITION)):
        asyncio.run(beating(FoldStage(settings, pages=pages).run()))
