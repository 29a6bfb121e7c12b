"""The extract stage over Kafka (docs/stages.md, step 3): stripe i of N reads the
one-partition articles topic, handles the offsets o with ``o mod N == i`` and writes each
one's facts record (:func:`storyline.stream.facts.extract_record`) to partition i of the facts
topic.

Stateless. Each stripe has a consumer group of its own (``storyline-extract-<i>-of-<N>``,
prefixed), with the articles partition assigned by hand, and commits offset C only when
every record below C is either not its stripe or written to the facts topic and
acknowledged by the broker (``acks=all``, idempotent producer, so one stripe's records are in
source order in its partition). After a crash it resumes at its commit and writes the
records after it again: identical bytes (the record is a function of the article), which
the fold side drops by source offset.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import deque
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from storyline.domain.pipeline import PIPELINE_VERSION, LogPosition
from storyline.kafka.security import kafka_options
from storyline.settings import Settings
from storyline.stream.facts import extract_record
from storyline.stream.logreader import MAX_FETCH_BYTES, stop_consumer
from storyline.stream.offsets import commit_payload
from storyline.stream.stage_ops import StageProbe, start_stage_operations

log = structlog.get_logger("storyline.extract")

MAX_REQUEST_BYTES = 16 * 1024 * 1024
IN_FLIGHT = 256  # facts records sent and not yet acknowledged, at most


class StripeMismatch(RuntimeError):
    """The facts topic's partition count is not the number of stripes."""


def extract_group(settings: Settings, stripe: int, stripes: int) -> str:
    return settings.topic(f"storyline-extract-{stripe}-of-{stripes}")


@dataclass(slots=True)
class ExtractStats:
    extracted: int = 0
    dead: int = 0
    skipped: int = 0  # other stripes' offsets


async def facts_partitions(producer: AIOKafkaProducer, topic: str) -> int:
    found = await producer.partitions_for(topic)
    return len(found)


async def run_extract(settings: Settings, stripe: int, stripes: int, *,
                      stop: asyncio.Event | None = None) -> ExtractStats:
    """Run stripe ``stripe`` of ``stripes`` until ``stop`` is set (or SIGTERM/SIGINT)."""
    if not 0 <= stripe < stripes:
        raise ValueError(f"stripe {stripe} of {stripes}")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    source = TopicPartition(settings.articles, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=extract_group(
            settings, stripe, stripes),
        enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_bytes=MAX_FETCH_BYTES, max_partition_fetch_bytes=MAX_FETCH_BYTES,
        isolation_level="read_committed", **kafka_options())
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True,
        max_request_size=MAX_REQUEST_BYTES, linger_ms=5, **kafka_options())
    probe = StageProbe(f"extract-{stripe}", settings.ready_max_lag)
    operations = start_stage_operations(settings, probe, 1 + stripe)
    await consumer.start()
    await producer.start()
    stats = ExtractStats()
    try:
        partitions = await facts_partitions(producer, settings.facts)
        if partitions != stripes:
            raise StripeMismatch(f"{settings.facts} has {partitions} partitions, the extract "
                                 f"stage runs {stripes} stripes: they must be equal")
        consumer.assign([source])
        committed = await consumer.committed(source)
        start = committed if committed is not None and committed >= 0 else 0
        consumer.seek(source, start)
        log.info("extract_started", stripe=stripe, stripes=stripes, from_offset=start)
        probe.started = True
        await _loop(settings, consumer, producer, source, stripe, stripes, start, stop, stats,
                    probe)
    finally:
        if operations is not None:
            operations.stop()
        await producer.stop()
        await stop_consumer(consumer)
        log.info("extract_stopped", stripe=stripe, stripes=stripes, extracted=stats.extracted,
                 dead=stats.dead)
    return stats


async def _loop(settings: Settings, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                source: TopicPartition, stripe: int, stripes: int, start: int,
                stop: asyncio.Event, stats: ExtractStats, probe: StageProbe) -> None:
    in_flight: deque[tuple[int, asyncio.Future[object]]] = deque()
    consumed = start  # every offset below it was read (and sent, when it is this stripe's)
    committed = start
    last_commit = time.monotonic()
    last_timestamp: float | None = None  # produce time of the last record read

    async def commit(force: bool = False) -> None:
        nonlocal committed, last_commit
        while in_flight and in_flight[0][1].done():
            in_flight.popleft()[1].result()  # a send that failed for good raises here
        safe = in_flight[0][0] if in_flight else consumed
        now = time.monotonic()
        if safe > committed and (force or now - last_commit >= settings.commit_interval):
            await consumer.commit(commit_payload({source: safe}, PIPELINE_VERSION))
            committed, last_commit = safe, now

    while not stop.is_set():
        probe.watch.beat()
        batches = await consumer.getmany(source, timeout_ms=500, max_records=100)
        for record in batches.get(source, ()):
            offset = record.offset
            last_timestamp = record.timestamp / 1000 if record.timestamp else last_timestamp
            if offset % stripes != stripe:
                stats.skipped += 1
                consumed = offset + 1
                continue
            facts = extract_record(record.key, record.value,
                                   LogPosition(source.topic, source.partition, offset),
                                   max_bytes=settings.max_article_bytes)
            sent = await producer.send(settings.facts, key=facts.key, value=facts.value,
                                       partition=stripe, headers=facts.headers)
            in_flight.append((offset, sent))
            consumed = offset + 1
            if facts.kind == b"dead":
                stats.dead += 1
            else:
                stats.extracted += 1
            if len(in_flight) >= IN_FLIGHT:
                await in_flight[0][1]
            else:
                await asyncio.sleep(0)  # extraction is CPU: let the producer send meanwhile
            await commit()
            if stop.is_set():
                break
        if not batches:
            consumed = max(consumed, await consumer.position(source))
        await commit()
        probe.observe(source.topic, source.partition, end=consumer.highwater(source),
                      position=consumed, last_timestamp=last_timestamp)
    await producer.flush()
    await commit(force=True)
