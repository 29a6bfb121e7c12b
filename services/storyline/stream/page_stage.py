"""The page stage in processes of its own: ``storyline worker --stage page --partition P``
(docs/stages.md, "The page stage as processes").

Process P folds the stories of page partition P (:class:`~storyline.domain.partitions.
PagePartition`) from partition P of the assignments topic, which the assign process
(``--stage assign``) writes in source order, and from the facts topic, which it reads
forward, every partition, as the extract stripes wrote it: the facts of source offset o are
the first record with that ``source-offset`` in facts partition ``o mod N``. A facts record
waits in memory until the assignments say whether it is one of P's (an assignment of a
higher source offset arrives: it is not); of every record passed, where it is goes to the
state's store (``facts-at:<o>``), so a merge that moves a story folded on another partition
into one of P's reads the moved articles' facts back by position (a seek each), never by
scanning the topic.

Positions, all in the state (so a snapshot holds them together, at a record boundary):
the last assignments offset folded (the snapshot's offset), the last source offset folded
(an assignment written again after a crash of the assign process is skipped as a copy), and
per facts partition the offset below which nothing unfolded is waiting (where reading
resumes). The group ``<app>-page-P`` commits the assignments offset below which everything
is folded and its events acknowledged; on start the state is rebuilt up to that commit from
the newest usable snapshot and the assignments' tail, publishing nothing, then the fold goes
on publishing. So a SIGKILL at any moment loses nothing, and what is published twice is the
same bytes twice. The partitions' events, interleaved in the order of the log, are those of
one fold (``tests/unit/test_page_partitions.py``); ``storyline replay --verify`` checks them.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from storyline.allocator import tune_malloc
from storyline.domain.coldstore import ColdStoreFailed
from storyline.domain.contracts import (
    ArticleAssigned,
    ArticleExtracted,
    FactsPosition,
    extracted_for_page,
)
from storyline.domain.events import SummaryGenerated
from storyline.domain.partitions import PagePartition
from storyline.domain.pipeline import LogPosition, Pipeline, PipelineEvent
from storyline.domain.records import dead_letter
from storyline.kafka.articles_log import ARTICLES_PARTITION
from storyline.kafka.clients import stop_consumer
from storyline.kafka.security import kafka_options
from storyline.metrics import ARTICLES
from storyline.replay import overlay_recorded, recorded_summaries
from storyline.settings import Settings, switch_kernels
from storyline.stream.assignments import NotAnAssignment, read_assignment
from storyline.stream.beats import beating
from storyline.stream.facts import DEAD, FactsRecord, NotFactsRecord, extract_record
from storyline.stream.logreader import (
    FETCH_LIMITS,
    LogMark,
    LogWatch,
    ensure_not_truncated,
    ensure_same_log,
    first_record,
    mark_folded_log,
    read_article,
)
from storyline.stream.offsets import (
    STAGE_HEARTBEAT,
    commit_payload,
    ensure_commits_fit,
)
from storyline.stream.page_input import PageInput, Queued
from storyline.stream.publishing import StoryPublisher, events_producer
from storyline.stream.reconnect import (
    committed_offset,
    partition_counts,
    retried,
    start_client,
    topic_partitions,
)
from storyline.stream.snapshots import (
    Snapshotter,
    snapshot_dir,
    stopping_on_cold_store_failure,
)
from storyline.stream.stage_ops import StageProbe, start_stage_operations
from storyline.stream.statelock import own_state
from storyline.stream.worker import WorkerState, app_id, state_dir

log = structlog.get_logger("storyline.page")

# facts records of one partition waiting for the assignments before that partition is paused
# (~35 kB each), unless the next assignment needs it
MAX_WAITING = 256
_FACTS_AT = struct.Struct(">q")


def page_group(settings: Settings, partition: int) -> str:
    return f"{app_id(settings)}-page-{partition}"


def page_state_dir(settings: Settings, partition: int) -> Path:
    return state_dir(settings) / f"page-{partition}"


def facts_at_key(source_offset: int) -> str:
    return f"facts-at:{source_offset}"


@dataclass(frozen=True, slots=True)
class _Assignment:
    """An assignment read, with its record's timestamp (the article's produce time)."""

    assigned: ArticleAssigned
    timestamp: float | None


class PageStage:
    def __init__(self, settings: Settings, partition: int) -> None:
        self.settings = settings
        self.partition = partition
        self.group = page_group(settings, partition)
        self.stage = f"page-{partition}"
        self.directory = page_state_dir(settings, partition)
        self.state = WorkerState(self.directory / "cold", settings.warm_idle_revisions,
                                 settings.malloc_trim_every, settings.gc_freeze_every,
                                 settings.gc_collect_growth,
                                 warm_items=settings.warm_story_articles,
                                 warm_analyses=settings.warm_analyses)
        self.source = TopicPartition(settings.assignments, partition)
        # the log the assignments are positions in: its first record marks the state and
        # the commits (a log made again under them is refused, as by the fold stage)
        self.articles = TopicPartition(settings.articles, ARTICLES_PARTITION)
        self.log_watch = LogWatch(settings.bootstrap_servers, self.articles)
        self.first: LogMark | None = None  # the articles log's first record at start
        self.snapshotter = Snapshotter(
            snapshot_dir(self.directory / "snapshots", self.source.topic, partition),
            every=settings.snapshot_every, keep=settings.snapshot_keep,
            fork=settings.snapshot_fork, interval=settings.snapshot_interval)
        self.consumer: AIOKafkaConsumer
        self.fetcher: AIOKafkaConsumer  # reads moved articles' facts back, by position
        self.producer: AIOKafkaProducer
        self.publisher: StoryPublisher
        self.page = PagePartition(partition, 1, pipeline=self.state.pipeline)
        self.facts: list[TopicPartition] = []
        # the facts and assignments topics' partition counts it started with (its commits say them)
        self.parts: tuple[int, ...] | None = None
        # what has been read and not folded (replaced at start, from the state's positions)
        self.input: PageInput[FactsRecord, _Assignment] = PageInput(1, {}, -1, self._indexed)
        self.until = 0  # the commit this process started from: below it, publish nothing
        self.committed: dict[TopicPartition, int] = {}
        self.recorded: dict[tuple[str, int], SummaryGenerated] = {}
        self.probe = StageProbe(self.stage, settings.ready_max_lag)
        self.folded = 0
        self.last_sent = 0.0
        # the last assignments record set aside (not the assign stage's), until the position
        # may pass it
        self.skipped: int | None = None
        self.moved_at: float | None = None
        self.last_timestamp: float | None = None
        self.restored_from = "empty"  # where the state came from: "snapshot" or "empty"

    @property
    def pipeline(self) -> Pipeline:
        return self.state.pipeline

    # -- running ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        self.directory.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        options: dict[str, Any] = dict(
            bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed", **FETCH_LIMITS)
        self.consumer = AIOKafkaConsumer(group_id=self.group, **options, **kafka_options())
        self.fetcher = AIOKafkaConsumer(group_id=None, **options, **kafka_options())
        self.producer = events_producer(settings)
        self.publisher = StoryPublisher(settings, self.producer, lambda: self.pipeline)
        await start_client(self.consumer, "page consumer")
        await start_client(self.fetcher, "page facts fetcher")
        await start_client(self.producer, "page producer")
        operations = None
        try:
            await self._start()
            operations = start_stage_operations(settings, self.probe,
                                                1 + len(self.facts) + self.partition)
            await self._loop(stop)
            await self._commit(force=True)
        finally:
            if operations is not None:
                operations.stop()
            self.snapshotter.reap(wait=True)
            await self.producer.stop()
            await stop_consumer(self.consumer)
            await stop_consumer(self.fetcher)
            await self.log_watch.close()
            await self.publisher.aclose()
            log.info("page_stopped", partition=self.partition, folded=self.folded,
                     next_offset=self._next_assignment())

    async def _start(self) -> None:
        """Restore the newest usable snapshot below the commit (or start empty) and seek
        every partition to where the state says; the records up to the commit are folded
        again without publishing (:meth:`_fold_head`)."""
        settings = self.settings
        partitions = len(await topic_partitions(self.consumer, settings.assignments))
        if self.partition >= partitions:
            raise SystemExit(f"page partition {self.partition} of {settings.assignments}, "
                             f"which has {partitions} partitions (0..{partitions - 1})")
        self.facts = [TopicPartition(settings.facts, p)
                      for p in await topic_partitions(self.consumer, settings.facts)]
        self.until = await committed_offset(self.consumer, self.source)
        # the commits and the state restored are positions in the articles log they were
        # folded from: a log made again (and the assign stage started afresh on it) begins
        # with another record
        articles = self.articles
        first = await retried(functools.partial(
            first_record, settings.bootstrap_servers, articles.topic, articles.partition),
            f"{articles.topic} first record")
        self.parts = (len(self.facts), partitions,
                      *await partition_counts(self.consumer, settings.laid_out_topics[2:]))
        await ensure_commits_fit(settings.bootstrap_servers, self.group, articles, first,
                                 self.pipeline.pipeline_version, settings.source_topic_prefix,
                                 parts=self.parts, topics=settings.laid_out_topics)
        self.first = first
        restored = None
        if self.until > 0:
            restored = await asyncio.to_thread(self.state.restore, self.snapshotter.directory,
                                               self.source.topic, self.partition, self.until)
        ensure_same_log(articles, self.pipeline.log_mark(articles.topic, articles.partition),
                        first)
        if first is not None:  # a state of before the mark: it is this log's from now on
            self.pipeline.mark_log(articles.topic, articles.partition, *first)
        self.page = PagePartition(self.partition, partitions, pipeline=self.pipeline)
        self.consumer.assign([self.source, *self.facts])
        self.fetcher.assign(self.facts)
        self.fetcher.pause(*self.facts)
        start = self._next_assignment()
        await retried(functools.partial(ensure_not_truncated, self.consumer, self.source,
                                        start), f"{self.source.topic} log start")
        self.consumer.seek(self.source, start)
        resume = {}
        for tp in self.facts:
            applied = self.pipeline.applied_offset(tp.topic, tp.partition)
            resume[tp.partition] = 0 if applied is None else applied + 1
            await retried(functools.partial(ensure_not_truncated, self.consumer, tp,
                                            resume[tp.partition]), f"{tp.topic} log start")
            self.consumer.seek(tp, resume[tp.partition])
        folded_to = self.pipeline.applied_offset(settings.articles, 0)
        self.input = PageInput(len(self.facts), resume, -1 if folded_to is None else folded_to,
                               self._indexed)
        self.committed = {self.source: self.until}
        if start < self.until:
            self.recorded = await retried(lambda: recorded_summaries(settings), "summaries")
        else:
            self.probe.started = True  # nothing to fold again before publishing
        self.restored_from = "snapshot" if restored is not None else "empty"
        log.info("page_started", partition=self.partition, partitions=partitions,
                 committed=self.until, from_offset=start,
                 source=self.restored_from,
                 stories=len(self.pipeline.story_ids),
                 facts_offsets=resume)

    def _next_assignment(self) -> int:
        applied = self.pipeline.applied_offset(self.source.topic, self.source.partition)
        return 0 if applied is None else applied + 1

    async def _loop(self, stop: asyncio.Event) -> None:
        last_commit = last_tick = last_observed = time.monotonic()
        paused: set[TopicPartition] = set()
        while not stop.is_set():
            self.probe.watch.beat()
            if time.monotonic() - last_observed >= 1.0:
                await self._observe()
                last_observed = time.monotonic()
            batches = await self.consumer.getmany(timeout_ms=500, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    if tp == self.source:
                        await self._assignment_arrived(record)
                    else:
                        self._facts_arrived(tp.partition, record)
            while not stop.is_set() and (head := self.input.head()) is not None:
                await self._fold_head(head)
                if time.monotonic() - last_commit >= self.settings.commit_interval:
                    await self._commit()
                    last_commit = time.monotonic()
            self.state.idle()  # nothing ready: a due full collection delays no record queued
            if self.skipped is not None and not self.input.queue:
                # every assignment before the records set aside is folded: the position
                # may pass them (a restart does not read them again)
                self.pipeline.pass_over(LogPosition(self.source.topic, self.partition,
                                                    self.skipped))
                self.skipped = None
            needed = self.input.needed_partitions()
            for tp in self.facts:
                full = self.input.waiting_count(tp.partition) >= MAX_WAITING
                if full and tp.partition not in needed and tp not in paused:
                    self.consumer.pause(tp)
                    paused.add(tp)
                elif (not full or tp.partition in needed) and tp in paused:
                    self.consumer.resume(tp)
                    paused.discard(tp)
            now = time.monotonic()
            if now - last_commit >= self.settings.commit_interval:
                await self._commit()
                last_commit = now
            if now - last_tick >= 2.0:
                self.snapshotter.tick(self.pipeline, self.source.topic, self.partition,
                                      timer=True)
                last_tick = now

    async def _observe(self) -> None:
        articles = self.articles
        await mark_folded_log(self.pipeline, self.settings.bootstrap_servers, articles)
        await self.log_watch.check(self.pipeline.log_mark(articles.topic, articles.partition))
        self.probe.observe(self.source.topic, self.partition,
                           end=self.consumer.highwater(self.source),
                           position=self._next_assignment(),
                           last_timestamp=self.last_timestamp)

    # -- reading ---------------------------------------------------------------------------

    async def _assignment_arrived(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            assigned = read_assignment(record.value, record.headers)
        except NotAnAssignment as exc:
            # another producer's record: set aside, acknowledged before the position passes
            # it (below the commit it was, before the commit passed it). It used to stop
            # the page process, and its supervisor, restarting it on the same record,
            # stopped every stage.
            if record.offset >= self.until:
                await self.publisher.dead_letter(dead_letter(
                    LogPosition(self.source.topic, self.partition, record.offset),
                    record.key, record.value or b"", "NotAnAssignment", str(exc)))
            self.skipped = record.offset
            return
        timestamp = record.timestamp / 1000 if record.timestamp else None
        mine = self.page.owns(assigned.story_id)
        moved = [article.facts.offset for merge in self.page.merges_moving_in(assigned)
                 for article in (*merge.articles, *merge.withdrawn)]
        self.input.assignment(record.offset, assigned.position.offset,
                              assigned.facts.offset if mine else None, moved,
                              _Assignment(assigned, timestamp))

    def _facts_arrived(self, partition: int, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            facts = FactsRecord.from_kafka(record.key, record.value, record.headers)
        except NotFactsRecord as exc:
            # another producer's record, which the assign process dead-letters (it reads
            # the facts topic first); no assignment can name it
            log.warning("not_facts_record_skipped", partition=partition,
                        facts_offset=record.offset, reason=str(exc))
            return
        source_offset = facts.source_offset
        first = self.input.facts(partition, record.offset, source_offset,
                                 None if facts.kind == DEAD else facts)
        if first and facts.kind != DEAD:
            self.pipeline.cold_store.put(facts_at_key(source_offset),
                                         _FACTS_AT.pack(record.offset))

    def _indexed(self, source_offset: int) -> bool:
        return self.pipeline.cold_store.get(facts_at_key(source_offset)) is not None

    async def _fetch(self, offsets: list[int]) -> dict[int, ArticleExtracted]:
        """The facts of source offsets already read past: waiting ones from memory, the
        others read back from the facts topic at the positions kept in the store."""
        out: dict[int, ArticleExtracted] = {}
        wanted: dict[int, dict[int, int]] = {}  # facts partition -> facts offset -> source
        stripes = len(self.facts)
        for source_offset in offsets:
            found = self.input.waiting_record(source_offset)
            if found is not None:
                out[source_offset] = await self._extracted(found.record.value, source_offset)
                continue
            at = self.pipeline.cold_store.get(facts_at_key(source_offset))
            if at is None and self.input.read_past(source_offset):
                # its first facts record was a dead marker, and still the assign process
                # assigned it: that marker was unreadable to it, and it folded the article
                # from the log (fold_stage._fold_from_log); so does this process
                out[source_offset] = await self._from_log(source_offset)
                continue
            if at is None:
                raise LookupError(f"the facts of source offset {source_offset} were never "
                                  "read from the facts topic")
            wanted.setdefault(source_offset % stripes, {})[_FACTS_AT.unpack(at)[0]] = \
                source_offset
        for partition, by_offset in wanted.items():
            tp = TopicPartition(self.settings.facts, partition)
            self.fetcher.resume(tp)
            try:
                for facts_offset in sorted(by_offset):
                    if by_offset[facts_offset] in out:
                        continue
                    self.fetcher.seek(tp, facts_offset)
                    while by_offset[facts_offset] not in out:
                        batch = await self.fetcher.getmany(tp, timeout_ms=1000, max_records=64)
                        records = batch.get(tp, [])
                        if records and records[0].offset > facts_offset:
                            # deleted by retention (the facts topic must keep what a merge
                            # may move: deploy/topics.toml keeps it for ever)
                            raise LookupError(f"the facts of source offset "
                                              f"{by_offset[facts_offset]} are gone from "
                                              f"{tp.topic}/{partition} at {facts_offset}")
                        for record in records:
                            moved = by_offset.get(record.offset)
                            if moved is not None and moved not in out:
                                out[moved] = await self._extracted(record.value, moved)
            finally:
                self.fetcher.pause(tp)
        if wanted:
            log.info("facts_read_back", records=sum(len(w) for w in wanted.values()))
        return out

    # -- one assignment --------------------------------------------------------------------

    async def _extracted(self, value: bytes | None, source_offset: int) -> ArticleExtracted:
        """The facts of ``source_offset`` from its facts record, or, when that record is not
        their contract's JSON (the assign process dead-lettered it and folded the article
        from the log), extracted from the article itself: the same facts."""
        try:
            extracted = extracted_for_page(value or b"")
            if extracted.position.offset == source_offset:
                return extracted
        except ValueError:  # pydantic's ValidationError, bad JSON included
            pass
        return await self._from_log(source_offset)

    async def _from_log(self, source_offset: int) -> ArticleExtracted:
        """The facts of ``source_offset`` extracted from the article itself."""
        position = LogPosition(self.articles.topic, self.articles.partition, source_offset)
        article = await retried(functools.partial(read_article, self.settings.bootstrap_servers,
                                  position.topic, position.partition, position.offset),
                                f"{position.topic} offset {source_offset}")
        facts = await asyncio.to_thread(extract_record, article.key, article.value, position,
                                        max_bytes=self.settings.max_article_bytes)
        if facts.kind == DEAD:  # no assignment names a dead one: the log is not this state's
            raise LookupError(f"the article at {position} is a poison record, and an "
                              "assignment names it")
        log.warning("facts_extracted_from_log", source_offset=source_offset)
        return extracted_for_page(facts.value)

    async def _fold_head(self, queued: Queued[_Assignment]) -> None:
        assigned = queued.item.assigned
        source_offset = assigned.position.offset
        publishing = queued.offset >= self.until
        with structlog.contextvars.bound_contextvars(offset=source_offset,
                                                     assignment_offset=queued.offset):
            if self.pipeline.claim(LogPosition(self.settings.articles, 0, source_offset)):
                facts = await self._fetch(list(queued.needs))
                for merge in self.page.merges_moving_in(assigned):
                    log.info("story_moved_in", story_id=assigned.story_id,
                             absorbed_id=merge.story_id,
                             articles=len(merge.articles) + len(merge.withdrawn))
                events, refused = await asyncio.to_thread(self._fold_now, assigned, facts)
                if not publishing:
                    overlay_recorded(self.pipeline, events, self.recorded)
                else:
                    await self._publish(assigned, events, refused, queued.item.timestamp)
                self.folded += 1
            self.pipeline.pass_over(LogPosition(self.source.topic, self.partition,
                                                queued.offset))
            self.input.done(queued)
            self._note_facts_positions()
        self.last_timestamp = queued.item.timestamp
        self.snapshotter.record_folded(self.pipeline, self.source.topic, self.partition)
        if not publishing and queued.offset + 1 == self.until:
            # what was folded again is saved at once (as the fold's rebuild), so a crash
            # loop does not refold the same stretch from the same old snapshot
            self.snapshotter.rebuilt(self.pipeline, self.source.topic, self.partition,
                                     self.folded)
            self.probe.started = True
            log.info("state_ready", partition=self.partition, committed=self.until,
                     source=self.restored_from, records_folded=self.folded,
                     stories=len(self.pipeline.story_ids))

    def _fold_now(self, assigned: ArticleAssigned, facts: Mapping[int, ArticleExtracted]
                  ) -> tuple[list[PipelineEvent], tuple[str, str] | None]:
        """The page fold of one assignment, on a worker thread: its events, or why it was
        refused (as the fold process refuses one: a dead letter, no revision)."""
        def facts_at(position: FactsPosition) -> ArticleExtracted:
            return facts[position.offset]

        extracted = facts.get(assigned.facts.offset) if self.page.owns(assigned.story_id) \
            else None
        try:
            events = self.page.fold(assigned, extracted, facts_at)
        except ColdStoreFailed:
            raise  # the disk's failure, not the record's: no dead letter, the fold stops
        except Exception as exc:  # noqa: BLE001 - data, not a crash
            return [], (type(exc).__name__, str(exc) or repr(exc))
        finally:
            self.state.after_record()
        return events, None

    async def _publish(self, assigned: ArticleAssigned, events: list[PipelineEvent],
                       refused: tuple[str, str] | None, produced_at: float | None) -> None:
        if refused is not None:
            ARTICLES.labels("dead_letter").inc()
            position = assigned.position
            letter = await self.publisher.refused_letter(
                LogPosition(position.topic, position.partition, position.offset), *refused)
            await self.publisher.dead_letter(letter)
            return
        if events:
            ARTICLES.labels("folded").inc()
        for produced in events:
            await self.publisher.event(produced, produced_at)

    def _note_facts_positions(self) -> None:
        """Per facts partition, the offset below which nothing unfolded waits, as an
        applied position of the state: where reading resumes after a restart."""
        for partition, resume in self.input.resume_positions().items():
            if resume > 0:
                self.pipeline.pass_over(LogPosition(self.settings.facts, partition, resume - 1))

    # -- commits ---------------------------------------------------------------------------

    async def _commit(self, force: bool = False) -> None:
        """The assignments offset below which everything is folded and delivered (never
        below the commit it started from); at least every ``STAGE_HEARTBEAT`` seconds,
        moved or not, for ``storyline status``."""
        now = time.monotonic()
        position = max(self.until, self._next_assignment())
        moved = position != self.committed.get(self.source)
        if not (force or moved or now - self.last_sent >= STAGE_HEARTBEAT):
            return
        moved_at = time.time() if moved else self.moved_at
        try:
            await self.consumer.commit(commit_payload(
                {self.source: position}, self.pipeline.pipeline_version, stage=self.stage,
                moved_at=moved_at, log=self.pipeline.log_mark(
                    self.articles.topic, self.articles.partition) or self.first,
                parts=self.parts))
        except Exception as exc:  # noqa: BLE001 - a failed commit is retried next tick
            log.warning("commit_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self.committed[self.source] = position
        self.last_sent, self.moved_at = now, moved_at


def run_page(settings: Settings, partition: int) -> None:
    # before aiokafka and RocksDB start threads
    tune_malloc(settings.malloc_arena_max, settings.malloc_mmap_threshold)
    switch_kernels(settings)
    directory = page_state_dir(settings, partition)
    with own_state(directory), stopping_on_cold_store_failure(snapshot_dir(
            directory / "snapshots", settings.assignments, partition)):
        asyncio.run(beating(PageStage(settings, partition).run()))

