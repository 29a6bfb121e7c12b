"""The projector: story-updates topic -> read store, exactly once per record.

It assigns itself every partition of the topic (no consumer group: the store, not the
group coordinator, holds the positions) and seeks each to the next offset recorded in the
store, so a restart resumes exactly after the last committed batch. Each batch is applied
in one store transaction together with the new positions (see :mod:`storyline.read.store`).

After a commit it wakes SSE subscribers in the same process through
:class:`storyline.read.sse.ChangeNotifier`; that in-process hop is what keeps the
write -> subscriber latency in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import DeadLetter, StoryMerged, StoryUpdated
from storyline.domain.upcasting import RetiredEvent, UndecodableEvent, decode_any
from storyline.errors import OperatorError, TopicMissing
from storyline.kafka.clients import started, stop_consumer
from storyline.kafka.security import kafka_options
from storyline.metrics import DEAD_LETTERS, PROJECTED, Health, record_lag
from storyline.read.sse import ChangeNotifier
from storyline.read.store import AnotherTopic, ApplyResult, Item, ReadStore, Rejected

log = structlog.get_logger(__name__)

MAX_BATCH = 500
MAX_PAYLOAD_IN_DEAD_LETTER = 64 * 1024
LAG_EVERY_SECONDS = 1.0
TOPIC_WAIT_SECONDS = 600  # a topic not there yet (the worker makes it) is waited for this long


def decode_record(partition: int, offset: int, key: bytes | None, value: bytes | None) -> Item:
    raw = value or b""
    key_text = key.decode("utf-8", "replace") if key else None
    if value is None:
        return Item(partition, offset, raw, error="tombstone on story-updates", key=key_text)
    try:
        event = decode_any(value)
    except RetiredEvent as exc:
        # a retired event type (StorySplit): nothing to apply, nothing wrong with the record
        return Item(partition, offset, raw, key=key_text, retired=str(exc))
    except UndecodableEvent as exc:
        return Item(partition, offset, raw, error=str(exc), key=key_text)
    except Exception as exc:  # noqa: BLE001 - a poison record must not stop the projector
        return Item(partition, offset, raw, error=f"{type(exc).__name__}: {exc}", key=key_text)
    if not isinstance(event, StoryUpdated | StoryMerged):
        return Item(partition, offset, raw,
                    error=f"{type(event).__name__} does not belong on story-updates",
                    key=key_text)
    return Item(partition, offset, raw, event=event, key=key_text)


class StoreOfAnotherTopic(OperatorError, RuntimeError):
    """The read store holds the pages of another story-updates topic than the projector's."""


def another_topic_message(topic: str, held: str) -> str:
    return (f"the read store holds the pages of {held}, not of {topic}: two deployments' "
            f"pages cannot share a store (their stories have the same ids, and each "
            f"deployment's revisions would be refused as conflicts with the other's). Give "
            f"this one a store of its own (STORYLINE_READ_DATABASE_URL, or another "
            f"STORYLINE_DATA_DIR)")


def dead_letter(topic: str, rejected: Rejected) -> DeadLetter:
    payload = rejected.raw[:MAX_PAYLOAD_IN_DEAD_LETTER]
    return DeadLetter(
        stage="projector",
        error_type=rejected.error_type,
        reason=rejected.reason,
        source_topic=topic,
        source_partition=rejected.partition,
        source_offset=rejected.offset,
        key=rejected.key,
        payload=payload.decode("utf-8", "replace"),
        payload_truncated=len(payload) < len(rejected.raw),
    )


class Projector:
    def __init__(self, store: ReadStore, *, bootstrap: str, topic: str,
                 dead_letters_topic: str | None = None,
                 notifier: ChangeNotifier | None = None) -> None:
        self.store = store
        self.bootstrap = bootstrap
        self.topic = topic
        self.dead_letters_topic = dead_letters_topic
        self.notifier = notifier
        self.totals = ApplyResult()
        self._producer: AIOKafkaProducer | None = None
        # per partition: records behind the end of the log (None: end not known yet),
        # replaced whole by the loop, read by /readyz; None: not consuming
        self.lags: dict[int, int | None] | None = None
        self._last_timestamps: dict[int, float] = {}
        self.refused: str | None = None  # why it will not project into this store

    async def apply(self, items: Sequence[Item]) -> ApplyResult:
        """Apply decoded records (the Kafka-free part of the path, also used by benchmarks);
        StoreOfAnotherTopic when the store took another topic's records meanwhile."""
        try:
            result = await asyncio.to_thread(self.store.apply, self.topic, items)
        except AnotherTopic as exc:
            self.refused = another_topic_message(self.topic, exc.held)
            raise StoreOfAnotherTopic(self.refused) from None
        if self.notifier is not None and result.last_seq is not None:
            self.notifier.publish(result.last_seq)
        PROJECTED.labels("applied").inc(result.applied)
        PROJECTED.labels("unchanged").inc(result.unchanged)
        PROJECTED.labels("skipped").inc(result.skipped)
        PROJECTED.labels("rejected").inc(len(result.rejected))
        self.totals.applied += result.applied
        self.totals.unchanged += result.unchanged
        self.totals.skipped += result.skipped
        for rejected in result.rejected:
            log.error("projector.rejected", partition=rejected.partition,
                      offset=rejected.offset, error_type=rejected.error_type,
                      reason=rejected.reason)
            DEAD_LETTERS.labels("projector", rejected.error_type).inc()
            await self._send_dead_letter(rejected)
        self.totals.rejected += result.rejected
        return result

    async def _send_dead_letter(self, rejected: Rejected) -> None:
        # The rejection is already durable in the store (same transaction as the offsets);
        # the topic copy is for the operators' DLQ tooling and may be retried by hand.
        if self.dead_letters_topic is None:
            return
        try:
            if self._producer is None:
                self._producer = await started(AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap, acks="all", **kafka_options()))
            await self._producer.send_and_wait(
                self.dead_letters_topic, canonical_bytes(dead_letter(self.topic, rejected)),
                key=(rejected.key or "").encode())
        except Exception as exc:  # noqa: BLE001 - the store keeps the rejection anyway
            log.error("projector.dead_letter_failed", error=str(exc), offset=rejected.offset)

    async def _consumer(self, stop: asyncio.Event | None = None,
                        ) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
        """The consumer of the topic, from the stored positions. A topic not there yet is
        waited for (TOPIC_WAIT_SECONDS), unless ``stop`` is set meanwhile: TopicMissing."""
        held = [t for t in await asyncio.to_thread(self.store.projected_topics)
                if t != self.topic]
        if held:
            self.refused = another_topic_message(self.topic, held[0])
            raise StoreOfAnotherTopic(self.refused)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            fetch_max_wait_ms=100,
            **kafka_options(),
        )
        await started(consumer)
        try:
            partitions: set[int] = set()
            stopped = stop or asyncio.Event()
            for _ in range(TOPIC_WAIT_SECONDS):
                partitions = consumer.partitions_for_topic(self.topic) or set()
                if partitions or stopped.is_set():
                    break
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(self.topic) or set()
                if partitions:
                    break
                log.info("projector.waiting_for_topic", topic=self.topic)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopped.wait(), 1.0)
            if not partitions:
                raise TopicMissing(self.topic)
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            stored = await asyncio.to_thread(self.store.positions, self.topic)
            for tp in tps:
                if tp.partition in stored:
                    consumer.seek(tp, stored[tp.partition])
                else:
                    await consumer.seek_to_beginning(tp)
            log.info("projector.started", topic=self.topic, positions=stored)
            return consumer, tps
        except BaseException:
            await stop_consumer(consumer)
            raise

    async def run(self, stop: asyncio.Event | None = None, *,
                  until_caught_up: bool = False) -> ApplyResult:
        """Consume until ``stop`` is set (or, with ``until_caught_up``, until every partition
        has reached the end offsets seen at start)."""
        consumer, tps = await self._consumer(stop)
        try:
            targets: dict[TopicPartition, int] = {}
            if until_caught_up:
                targets = await consumer.end_offsets(tps)
            measured = 0.0
            while stop is None or not stop.is_set():
                if until_caught_up and await _reached(consumer, targets):
                    break
                batches = await consumer.getmany(timeout_ms=200, max_records=MAX_BATCH)
                for tp, records in batches.items():
                    if records and records[-1].timestamp:
                        self._last_timestamps[tp.partition] = records[-1].timestamp / 1000
                items = [
                    decode_record(r.partition, r.offset, r.key, r.value)
                    for tp in sorted(batches, key=lambda t: t.partition)
                    for r in batches[tp]
                ]
                if items:
                    await self.apply(items)
                if time.monotonic() - measured >= LAG_EVERY_SECONDS:
                    measured = time.monotonic()
                    await self._measure_lag(consumer, tps)
        finally:
            self.lags = None
            await stop_consumer(consumer)
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None
        return self.totals


    async def _measure_lag(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]
                           ) -> None:
        lags: dict[int, int | None] = {}
        for tp in tps:
            lags[tp.partition] = record_lag(
                "projector", tp.topic, tp.partition, end=consumer.highwater(tp),
                position=await consumer.position(tp),
                last_timestamp=self._last_timestamps.get(tp.partition))
        self.lags = lags

    def readiness(self, max_lag: int, outage: str | None = None) -> Health:
        """Ready: the read store answers, and every partition of story-updates is at most
        ``max_lag`` records behind the end of the log (and, for the projector's own
        process, no broker ``outage`` is going on; the API keeps serving what it has)."""
        detail: dict[str, Any] = {"max_lag": max_lag}
        try:
            detail["last_event_id"] = self.store.max_seq()
        except Exception as exc:  # noqa: BLE001 - any failure means the store is not usable
            return Health(False, {**detail, "reasons": [
                f"read store unreachable: {type(exc).__name__}: {exc}"]})
        lags = self.lags
        detail["lag"] = None if lags is None else {str(p): lag for p, lag in lags.items()}
        if lags is None:
            reasons = ["projector is not consuming (yet)"]
        else:
            reasons = [f"partition {p}: end of the log not known yet" if lag is None else
                       f"partition {p}: {lag} records behind"
                       for p, lag in sorted(lags.items()) if lag is None or lag > max_lag]
        if self.refused is not None:
            reasons.insert(0, self.refused)
        if outage is not None:
            reasons.append(outage)
        if reasons:
            detail["reasons"] = reasons
        return Health(not reasons, detail)


async def _reached(consumer: AIOKafkaConsumer, targets: dict[TopicPartition, int]) -> bool:
    for tp, end in targets.items():
        if await consumer.position(tp) < end:
            return False
    return True
