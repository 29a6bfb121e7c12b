"""Reading a topic partition from a given offset up to a fixed end, without a consumer group.

Used by replay and by the worker's warm-up: both need "everything in the log up to here",
which a group consumer (with its committed offsets and rebalances) cannot promise.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from storyline.domain.events import Contract
from storyline.domain.upcasting import UndecodableEvent, decode_any
from storyline.errors import OperatorError, TopicMissing
from storyline.kafka.admin import cluster_topics
from storyline.kafka.clients import started, stop_consumer
from storyline.kafka.security import kafka_options

FETCH_TIMEOUT_MS = 1000
# How much a consumer fetches at a time, of one partition and in all. aiokafka holds a
# partition's fetched records until they are read, so this bounds what a catching-up
# consumer holds ahead of its work (64 MB a partition made an extract stripe hold the
# whole sample wire); it does not bound a record's size: the broker returns a record
# batch larger than the limit whole (fetch v3 on, KIP-74).
FETCH_PARTITION_BYTES = 1024 * 1024
FETCH_BYTES = 4 * 1024 * 1024
FETCH_LIMITS = {"fetch_max_bytes": FETCH_BYTES,
                "max_partition_fetch_bytes": FETCH_PARTITION_BYTES}


def new_standalone_consumer(bootstrap: str, **options: Any) -> AIOKafkaConsumer:
    """A consumer of no group that reads what a read_committed reader sees, from the first
    record on; ``options`` override the defaults (the fetch limits among them)."""
    return AIOKafkaConsumer(**{
        "bootstrap_servers": bootstrap, "group_id": None, "enable_auto_commit": False,
        "auto_offset_reset": "earliest", "isolation_level": "read_committed",
        **FETCH_LIMITS, **kafka_options(), **options})


@asynccontextmanager
async def standalone_consumer(bootstrap: str, **options: Any) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = new_standalone_consumer(bootstrap, **options)
    await started(consumer)
    try:
        yield consumer
    finally:
        await stop_consumer(consumer)


async def end_offsets(bootstrap: str, topic: str, *, missing_ok: bool = False
                      ) -> dict[int, int]:
    """partition -> end offset of ``topic``. A topic the cluster does not have is
    TopicMissing (a wrong STORYLINE_TOPIC_PREFIX read as an empty, healthy log), or {} with
    ``missing_ok`` (a topic that only some deployments write)."""
    async with standalone_consumer(bootstrap) as consumer:
        parts = consumer.partitions_for_topic(topic)
        if parts is None:
            # looked up among all topics, not by name (which would create it: cluster_topics)
            if topic not in await cluster_topics(consumer._client):
                if missing_ok:
                    return {}
                raise TopicMissing(topic)
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps) if tps else {}
        return {tp.partition: offset for tp, offset in ends.items()}


class LogTruncated(OperatorError, RuntimeError):
    """Records a reader needs were deleted from their log (by retention or delete-records)."""


def truncated_message(topic: str, partition: int, start: int, begins: int) -> str:
    return (f"{topic} partition {partition} now begins at offset {begins}: its records from "
            f"offset {start} to {begins - 1} were deleted (retention.ms, retention.bytes or "
            f"delete-records) and cannot be read. The articles log and the topics derived "
            f"from it must keep every record (retention.ms=-1 and retention.bytes=-1, as "
            f"deploy/topics.toml declares; `storyline topics apply --dry-run` shows a topic "
            f"that differs); reading on from the first record left would skip them without a "
            f"word")


class LogRewound(OperatorError, RuntimeError):
    """A log that ends before offsets already folded from it: the topic was deleted and made
    again (or its records removed), and the state belongs to the old log."""


def rewound_message(topic: str, partition: int, folded_to: int, end: int,
                    back_to: int | None = None) -> str:
    """``end``: where the log ends now; ``back_to``: the offset a consumer was moved back to
    (None: the log's end was looked at)."""
    found = (f"ends at offset {end}" if back_to is None
             else f"was read again from offset {back_to}")
    return (f"{topic} partition {partition} {found}, but its records up to "
            f"offset {folded_to - 1} were read before: the topic was deleted and made again "
            f"(or its records removed), and this state, its commits and the revisions "
            f"published belong to the old log. Records from the new one would be taken for "
            f"redeliveries and skipped. Restore the old topic, or run the workers on a new "
            f"STORYLINE_TOPIC_PREFIX (new topics, groups and state)")


def ensure_not_rewound(tp: TopicPartition, folded_to: int, end: int | None) -> None:
    """Raise LogRewound if ``tp``'s log ends (``end``; None: not known) before ``folded_to``,
    the offset below which records were already read from it."""
    if end is not None and end < folded_to:
        raise LogRewound(rewound_message(tp.topic, tp.partition, folded_to, end))


# What identifies a log: its first record as a read_committed reader sees it, (offset,
# timestamp in ms). A topic deleted and made again starts with another one (written later),
# however many records it holds by now: its end alone cannot tell it from the old log once
# it has grown past what was folded.
LogMark = tuple[int, int]


def replaced_message(topic: str, partition: int, folded: LogMark, found: LogMark) -> str:
    return (f"{topic} partition {partition} begins with another record than the log this "
            f"state was folded from (offset {found[0]} written at {found[1]} ms, not offset "
            f"{folded[0]} at {folded[1]} ms): the topic was deleted and made again, and this "
            f"state, its commits and the revisions published belong to the old log. Records "
            f"from the new one would be taken for redeliveries and skipped. Restore the old "
            f"topic, or run the workers on a new STORYLINE_TOPIC_PREFIX (new topics, groups "
            f"and state)")


def ensure_same_log(tp: TopicPartition, folded: LogMark | None, found: LogMark | None) -> None:
    """Raise LogRewound if the log's first record (``found``; None: none yet) is not the one
    the state or commit was made from (``folded``; None: not known, nothing to compare)."""
    if folded is not None and found is not None and folded != found:
        raise LogRewound(replaced_message(tp.topic, tp.partition, folded, found))


FIRST_RECORD_SECONDS = 30.0  # a fetch that brings nothing for this long: the broker is away


async def first_record(bootstrap: str, topic: str, partition: int) -> LogMark | None:
    """The (offset, timestamp ms) of the first record of a partition that a read_committed
    reader sees; None while there is none. KafkaTimeoutError (transient: ``retried`` asks
    again) when fetches bring nothing for FIRST_RECORD_SECONDS, so a caller never hangs."""
    tp = TopicPartition(topic, partition)
    async with standalone_consumer(bootstrap) as consumer:
        consumer.assign([tp])
        return await _first_of(consumer, tp, FIRST_RECORD_SECONDS)


async def _first_of(consumer: AIOKafkaConsumer, tp: TopicPartition, seconds: float
                    ) -> LogMark | None:
    """:func:`first_record` through ``consumer`` (started, ``tp`` assigned to it)."""
    begins = (await consumer.beginning_offsets([tp]))[tp]
    ends = (await consumer.end_offsets([tp]))[tp]
    if begins >= ends:
        return None
    consumer.seek(tp, begins)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batches = await consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS, max_records=1)
        for record in batches.get(tp, ()):
            return record.offset, record.timestamp
        if await consumer.position(tp) >= ends:  # only markers and aborted records
            return None
    raise KafkaTimeoutError(f"{tp.topic} partition {tp.partition}: no record fetched from "
                            f"offset {begins} in {seconds:.0f} s")


class MarkedState(Protocol):
    """What a fold's state says of the logs it folded (``Pipeline``'s)."""

    def log_mark(self, topic: str, partition: int) -> LogMark | None: ...
    def applied_offset(self, topic: str, partition: int) -> int | None: ...
    def mark_log(self, topic: str, partition: int, offset: int, timestamp: int) -> None: ...


async def mark_folded_log(state: MarkedState, bootstrap: str, tp: TopicPartition) -> None:
    """A state that has folded the first records of a log that was empty at start marks
    it, read from the log itself (never from a derived record: a facts record's timestamp
    is the facts topic's own when that topic stamps records with their append time); the
    broker away, at the next look."""
    if (state.log_mark(tp.topic, tp.partition) is not None
            or state.applied_offset(tp.topic, tp.partition) is None):
        return
    with contextlib.suppress(Exception):
        found = await first_record(bootstrap, tp.topic, tp.partition)
        if found is not None:
            state.mark_log(tp.topic, tp.partition, *found)


# How often a running reader looks at its log's first record, and how long one look may
# take before it is given up (the broker away: asked again at the next look)
WATCH_SECONDS = 1.0
WATCH_TIMEOUT_SECONDS = 5.0
WATCH_FETCH_BYTES = 64 * 1024


class LogWatch:
    """While a reader runs: whether its log still begins with the record it began with (a
    topic deleted and made again under it, then grown past its position before it fetched
    again, moves no consumer back, and nothing else tells the new log from the old). Asked
    of the broker at most every ``every`` seconds, through a consumer of its own kept
    between looks (a look is two offset requests and a one-record fetch); a reader asks
    before it uses records it fetched, so what it fetched after a pause (a process frozen,
    a long GC, the broker away) is looked at first. :meth:`close` stops the consumer."""

    def __init__(self, bootstrap: str, tp: TopicPartition, every: float = WATCH_SECONDS) -> None:
        self.bootstrap = bootstrap
        self.tp = tp
        self.every = every
        self._asked = time.monotonic()
        self._consumer: AIOKafkaConsumer | None = None

    async def check(self, mark: LogMark | None) -> None:
        """Raise LogRewound once the log begins with another record than ``mark``."""
        now = time.monotonic()
        if mark is None or now - self._asked < self.every:
            return
        self._asked = now
        try:
            found = await asyncio.wait_for(self._first(), WATCH_TIMEOUT_SECONDS)
        except Exception:  # noqa: BLE001 - the broker away: asked again next time, afresh
            await self.close()
            return
        ensure_same_log(self.tp, mark, found)

    async def _first(self) -> LogMark | None:
        if self._consumer is None:
            # small fetches (the broker still sends a first batch larger than the limit)
            consumer = new_standalone_consumer(
                self.bootstrap, fetch_max_bytes=WATCH_FETCH_BYTES,
                max_partition_fetch_bytes=WATCH_FETCH_BYTES)
            self._consumer = consumer
            await consumer.start()
            consumer.assign([self.tp])
        consumer = self._consumer
        # fetched only while looking: a consumer left running would read the whole log ahead
        consumer.resume(self.tp)
        try:
            return await _first_of(consumer, self.tp, WATCH_TIMEOUT_SECONDS)
        finally:
            consumer.pause(self.tp)

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await stop_consumer(consumer)


async def ensure_not_truncated(consumer: Any, tp: TopicPartition, start: int) -> None:
    """Raise LogTruncated if ``tp``'s log now begins after ``start`` (``consumer``: started):
    a consumer seeking there would be moved on to the first record left (auto_offset_reset
    "earliest"), skipping the deleted ones silently."""
    begins: int = (await consumer.beginning_offsets([tp]))[tp]
    if begins > start:
        raise LogTruncated(truncated_message(tp.topic, tp.partition, start, begins))


async def read_partition(
    bootstrap: str, topic: str, partition: int, *, start: int = 0, stop: int,
    whole: bool = True,
) -> AsyncGenerator[ConsumerRecord[bytes, bytes], None]:
    """Yield the records of one partition with ``start <= offset < stop``, in order.
    ``whole``: every one of them is needed (a fold, a replay), so a log whose records from
    ``start`` were deleted is an error (LogTruncated), not a read from the first record left;
    False: what is left will do (reading dead letters or story updates for a view)."""
    if stop <= start:
        return
    tp = TopicPartition(topic, partition)
    async with standalone_consumer(bootstrap) as consumer:
        consumer.assign([tp])
        if whole:
            await ensure_not_truncated(consumer, tp, start)
        consumer.seek(tp, start)
        while True:
            batches = await consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS, max_records=5000)
            for record in batches.get(tp, ()):
                if record.offset >= stop:
                    return
                yield record
            # transaction markers and compaction leave gaps: the position, not the last
            # record, says whether we are done
            if await consumer.position(tp) >= stop:
                return


async def read_events(bootstrap: str, topic: str, *, missing_ok: bool = False,
                      ) -> AsyncGenerator[Contract, None]:
    """Every event on ``topic`` up to its current end, partition by partition, upcast to the
    current contracts; records no contract can read are skipped (the worker dead-letters
    them where they enter). A missing topic: TopicMissing (none with ``missing_ok``)."""
    ends = await end_offsets(bootstrap, topic, missing_ok=missing_ok)
    for partition in sorted(ends):
        # closed with this one when a reader stops early (else left to the loop's shutdown)
        async with contextlib.aclosing(read_partition(
                bootstrap, topic, partition, stop=ends[partition], whole=False)) as records:
            async for record in records:
                if record.value is None:
                    continue
                try:
                    yield decode_any(record.value)
                except UndecodableEvent:
                    continue


async def read_article(bootstrap: str, topic: str, partition: int, offset: int
                       ) -> ConsumerRecord[bytes, bytes]:
    """The record at ``offset`` (a fold that cannot read the facts of an article extracts
    them from the article itself)."""
    records = read_partition(bootstrap, topic, partition, start=offset, stop=offset + 1)
    async with contextlib.aclosing(records):
        async for record in records:
            return record
    raise LookupError(f"{topic}/{partition} has no record at offset {offset}")
