"""The extract stage over Kafka (docs/stages.md, step 3): stripe i of N reads the
one-partition articles topic, handles the offsets o with ``o mod N == i`` and writes each
one's facts record (:func:`storyline.stream.facts.extract_record`) to partition i of the facts
topic.

One process may run several stripes (:func:`run_extracts`, ``storyline worker --stage extract
--stripe 0 --stripe 1``): each keeps its own consumer, producer and commits, so what is
written and committed does not depend on how stripes are packed into processes. A machine
whose fold is its bottleneck (two cores) gains nothing from a second extract process, and
each costs an interpreter and its libraries (~65 MB).

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
import contextlib
import functools
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from storyline.collector import Collector
from storyline.domain.pipeline import PIPELINE_VERSION, LogPosition
from storyline.kafka.articles_log import (
    ARTICLES_PARTITION,
    ArticlesOffTheLog,
    off_the_log_message,
    records_off_the_log,
    warn_if_the_log_loses_records,
)
from storyline.kafka.clients import stop_consumer
from storyline.kafka.security import kafka_options
from storyline.settings import Settings, switch_kernels
from storyline.stream.facts import SOURCE_OFFSET, extract_record
from storyline.stream.logreader import (
    FETCH_LIMITS,
    LogMark,
    LogRewound,
    LogWatch,
    ensure_not_rewound,
    ensure_not_truncated,
    first_record,
    read_partition,
    rewound_message,
    standalone_consumer,
)
from storyline.stream.offsets import commit_payload, ensure_commits_fit
from storyline.stream.reconnect import (
    BACKOFF_MAX,
    retried,
    start_client,
    topic_partitions,
    transient,
)
from storyline.stream.stage_ops import JoinedProbe, StageProbe, start_stage_operations
from storyline.stream.stripes import first_misplaced, misplaced_message

log = structlog.get_logger("storyline.extract")

MAX_REQUEST_BYTES = 16 * 1024 * 1024
IN_FLIGHT = 256  # facts records sent and not yet acknowledged, at most


class StripeMismatch(RuntimeError):
    """The facts topic's partition count is not the number of stripes."""


def extract_group(settings: Settings, stripe: int, stripes: int) -> str:
    return settings.topic(f"storyline-extract-{stripe}-of-{stripes}")


# records read from the end of a stripe's facts partition to check where they belong: two
# distinct source offsets of an older layout of N stripes already differ by N, which no
# larger count keeps in one partition
LAYOUT_PROBE = 16


async def ensure_facts_layout(settings: Settings, stripe: int, stripes: int) -> None:
    """Raise StripeMismatch if the newest records of facts partition ``stripe`` were written
    with another number of stripes (the topic's partitions added since): this stripe would
    append records of ``stripes`` stripes behind them, a partition of two layouts."""
    tp = TopicPartition(settings.facts, stripe)
    async with standalone_consumer(settings.bootstrap_servers) as consumer:
        begins = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
    offsets = [int(dict(record.headers).get(SOURCE_OFFSET, b"-1"))
               async for record in read_partition(settings.bootstrap_servers, tp.topic,
                                                  stripe, start=max(begins, end - LAYOUT_PROBE),
                                                  stop=end, whole=False)]
    misplaced = first_misplaced(stripe, (o for o in offsets if o >= 0), stripes)
    if misplaced is not None:
        raise StripeMismatch(misplaced_message(stripe, misplaced, stripes, settings.facts))


@dataclass(slots=True)
class ExtractStats:
    extracted: int = 0
    dead: int = 0
    skipped: int = 0  # other stripes' offsets


async def run_extracts(settings: Settings, own: Sequence[int], stripes: int
                       ) -> list[ExtractStats]:
    """Run the stripes ``own`` of ``stripes`` in this process until SIGTERM/SIGINT; the
    first to fail stops the others (the process exits, and each resumes at its commit).

    Each stripe serves its operations endpoints on its own port (9466 + i), as a process of
    its own would; on a port set for the process (``STORYLINE_STAGE_METRICS_PORT``, a
    container per stage) one set of endpoints answers for all of them: live and ready when
    each is."""
    if not own or len(set(own)) != len(own):
        raise ValueError(f"stripes to run: {list(own)}")
    stop = asyncio.Event()
    probes = {stripe: StageProbe(f"extract-{stripe}", settings.ready_max_lag)
              for stripe in own}
    shared = settings.stage_metrics_port != 0 and len(own) > 1
    operations = (start_stage_operations(settings, JoinedProbe(list(probes.values())),
                                         1 + own[0]) if shared else None)
    # one collector for the process: the freezes are the whole heap's, whichever stripe
    collector = Collector(settings.gc_freeze_every, settings.gc_collect_growth)
    runs = [asyncio.ensure_future(run_extract(settings, stripe, stripes, stop=stop,
                                              probe=probes[stripe], serve=not shared,
                                              collector=collector))
            for stripe in own]
    try:
        return list(await asyncio.gather(*runs))
    finally:
        stop.set()
        # the others stop at their next poll and commit what was acknowledged
        await asyncio.gather(*runs, return_exceptions=True)
        if operations is not None:
            operations.stop()


async def run_extract(settings: Settings, stripe: int, stripes: int, *,
                      stop: asyncio.Event | None = None, probe: StageProbe | None = None,
                      serve: bool = True, collector: Collector | None = None) -> ExtractStats:
    """Run stripe ``stripe`` of ``stripes`` until ``stop`` is set (or SIGTERM/SIGINT);
    ``serve``: its operations endpoints on its own port; ``collector``: the process's (one
    of its own by default)."""
    if not 0 <= stripe < stripes:
        raise ValueError(f"stripe {stripe} of {stripes}")
    switch_kernels(settings)  # term counts and shingles
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    source = TopicPartition(settings.articles, ARTICLES_PARTITION)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=extract_group(
            settings, stripe, stripes),
        enable_auto_commit=False, auto_offset_reset="earliest",
        **FETCH_LIMITS,
        isolation_level="read_committed", **kafka_options())

    def make_producer() -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True,
            max_request_size=MAX_REQUEST_BYTES, linger_ms=5, **kafka_options())

    sender = Sender(make_producer, make_producer())
    probe = probe or StageProbe(f"extract-{stripe}", settings.ready_max_lag)
    operations = start_stage_operations(settings, probe, 1 + stripe) if serve else None
    await start_client(consumer, "articles consumer")
    await start_client(sender.producer, "facts producer")
    stats = ExtractStats()
    checks: list[asyncio.Task[list[str]]] = []
    try:
        # A topic asked for by name is created where the broker auto-creates topics (Kafka's
        # default), with the broker's partition count: both are looked up first, from every
        # topic's metadata (the consumer tracks none yet), before the producer names one, so
        # that a wrong prefix is an error and not new topics.
        articles = await retried(
            functools.partial(topic_partitions, consumer, settings.articles),
            f"{settings.articles} partitions")
        off_the_log = await retried(
            functools.partial(records_off_the_log, consumer, settings.articles),
            f"{settings.articles} records off the log")
        if off_the_log:
            raise ArticlesOffTheLog(off_the_log_message(settings.articles, off_the_log))
        if len(articles) > 1:
            log.warning("articles_topic_partitions", topic=settings.articles,
                        partitions=len(articles), read=ARTICLES_PARTITION)
        partitions = len(await retried(
            functools.partial(topic_partitions, consumer, settings.facts),
            f"{settings.facts} partitions"))
        if partitions != stripes:
            raise StripeMismatch(f"{settings.facts} has {partitions} partitions, the extract "
                                 f"stage runs {stripes} stripes: they must be equal")
        # the count alone does not say the topic was made with it: partitions added to a
        # facts topic already written would mix two layouts in it, which every later
        # rebuild and page process refuses (or misreads) far from the cause
        await retried(functools.partial(ensure_facts_layout, settings, stripe, stripes),
                      f"{settings.facts} layout")
        consumer.assign([source])
        committed = await retried(lambda: consumer.committed(source), "committed offset")
        start = committed if committed is not None and committed >= 0 else 0
        # articles deleted before they were extracted are an error, not a skip; and so is a
        # commit beyond the log's end (the topic made again under this group)
        await retried(functools.partial(ensure_not_truncated, consumer, source, start),
                      f"{settings.articles} log start")
        ends = await retried(functools.partial(consumer.end_offsets, [source]),
                             f"{settings.articles} log end")
        ensure_not_rewound(source, start, ends.get(source))
        # and a log made again that has grown past the commit: it begins with another record
        # than the one the commits say (CommitMetadata.log)
        first = await retried(functools.partial(first_record, settings.bootstrap_servers,
                                                source.topic, source.partition),
                              f"{settings.articles} first record")
        group = extract_group(settings, stripe, stripes)
        await ensure_commits_fit(settings.bootstrap_servers, group, source, first,
                                 PIPELINE_VERSION, settings.source_topic_prefix)
        consumer.seek(source, start)
        log.info("extract_started", stripe=stripe, stripes=stripes, from_offset=start)
        if stripe == 0:  # one process says it; in the background: a check, not a condition
            checks.append(asyncio.create_task(warn_if_the_log_loses_records(
                settings.bootstrap_servers, settings.articles)))
        probe.started = True
        if collector is None:
            collector = Collector(settings.gc_freeze_every, settings.gc_collect_growth)
        await _loop(settings, consumer, sender, source, stripe, stripes, start, stop, stats,
                    probe, first, collector)
    finally:
        for check in checks:
            check.cancel()
        if operations is not None:
            operations.stop()
        await sender.producer.stop()
        await stop_consumer(consumer)
        log.info("extract_stopped", stripe=stripe, stripes=stripes, extracted=stats.extracted,
                 dead=stats.dead)
    return stats


class Sender:
    """The facts producer, replaced by a new one whenever a send has failed for good.

    An idempotent producer whose batch failed is not usable again: after a broker restart
    its next batch can be refused with OutOfOrderSequenceNumber, and every later one is
    (the broker expects a sequence the producer has moved past), so resending through it
    would fail for ever (stages-long: stripe 1 stuck on one offset, 40 tries in 30 s, until
    a kill restarted it). A new producer has a new producer id and starts its sequences
    afresh; what the old one still delivers are copies the fold drops."""

    def __init__(self, make: Callable[[], AIOKafkaProducer], producer: AIOKafkaProducer
                 ) -> None:
        self.make = make
        self.producer = producer
        self.renewed = 0

    async def renew(self) -> None:
        old, self.producer = self.producer, self.make()
        self.renewed += 1
        # dropped whatever stop() says; its failed batches may hold it up to the request
        # timeout
        with contextlib.suppress(Exception):
            await asyncio.wait_for(old.stop(), timeout=10)
        await start_client(self.producer, "facts producer")


async def _loop(settings: Settings, consumer: AIOKafkaConsumer, sender: Sender,
                source: TopicPartition, stripe: int, stripes: int, start: int,
                stop: asyncio.Event, stats: ExtractStats, probe: StageProbe,
                mark: LogMark | None = None, collector: Collector | None = None) -> None:
    """Read ``source`` from ``start``, send the facts of this stripe's records, commit what
    was acknowledged, until ``stop``. ``collector`` counts each record extracted: the caches
    of names, stems and terms are most of the process's heap, and a full collection walked
    all of them (~50 ms, seven times over timeline17-dev, two of them at its first long
    pages); frozen now and then, a collection walks only what came since (docs/benchmarks.md,
    session 32)."""
    in_flight: deque[tuple[int, asyncio.Future[object]]] = deque()
    consumed = start  # every offset below it was read (and sent, when it is this stripe's)
    committed = start
    last_commit = time.monotonic()
    last_timestamp: float | None = None  # produce time of the last record read
    backoff = 0.5  # pause before sending again after a failed send; doubles while failing

    def settle() -> int | None:
        """Drop the acknowledged sends at the head; the offset of the first one that failed
        for good (the broker away longer than the producer's timeouts), if any."""
        nonlocal backoff
        while in_flight and in_flight[0][1].done():
            offset, sent = in_flight[0]
            if sent.cancelled() or sent.exception() is not None:
                return offset
            in_flight.popleft()
            backoff = 0.5
        return None

    async def rewind(offset: int, exc: BaseException | None) -> None:
        """Read and send again from ``offset``, the first record not acknowledged, through
        a new producer (see :class:`Sender`): the records after it that did arrive are
        written again, identical, and the fold drops them as copies. Nothing is committed
        past it meanwhile."""
        nonlocal consumed, backoff
        error = "" if exc is None else f"{type(exc).__name__}: {exc}"
        log.warning("facts_send_failed", stripe=stripe, offset=offset, error=error,
                    retry_in=backoff)
        for _, sent in in_flight:
            if sent.done() and not sent.cancelled():
                sent.exception()  # retrieved: no "never retrieved" warning at exit
        in_flight.clear()
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX)
        await sender.renew()
        consumer.seek(source, offset)
        consumed = offset

    async def commit(force: bool = False) -> bool:
        """Commit what is safe; False when a send failed and the stripe rewound instead."""
        nonlocal committed, last_commit
        failed = settle()
        if failed is not None:
            head = in_flight[0][1]
            await rewind(failed, None if head.cancelled() else head.exception())
            return False
        safe = in_flight[0][0] if in_flight else consumed
        now = time.monotonic()
        if safe > committed and (force or now - last_commit >= settings.commit_interval):
            try:
                await consumer.commit(commit_payload({source: safe}, PIPELINE_VERSION,
                                                     log=mark))
            except Exception as exc:  # the next tick commits it again
                if not transient(exc):
                    raise
                log.warning("commit_failed", stripe=stripe,
                            error=f"{type(exc).__name__}: {exc}")
                return True
            committed, last_commit = safe, now
        return True

    log_watch = LogWatch(settings.bootstrap_servers, source)
    try:
        while not stop.is_set():
            probe.watch.beat()
            batches = await consumer.getmany(source, timeout_ms=500, max_records=100)
            if batches:  # a log made again under this stripe is refused before it is used
                await log_watch.check(mark)
            for record in batches.get(source, ()):
                offset = record.offset
                if offset < consumed:  # only a log made again moves the consumer back
                    raise LogRewound(rewound_message(source.topic, source.partition, consumed,
                                                     offset, back_to=offset))
                last_timestamp = record.timestamp / 1000 if record.timestamp else last_timestamp
                if mark is None:  # the log was empty at start: this is its first record
                    mark = (offset, record.timestamp)
                if offset % stripes != stripe:
                    stats.skipped += 1
                    consumed = offset + 1
                    continue
                facts = extract_record(record.key, record.value,
                                       LogPosition(source.topic, source.partition, offset),
                                       max_bytes=settings.max_article_bytes)
                try:
                    # the article's produce time, carried: the later stages' lag and the
                    # produce-to-update latency count from when the article was written
                    sent = await sender.producer.send(settings.facts, key=facts.key,
                                                      value=facts.value, partition=stripe,
                                                      headers=facts.headers,
                                                      timestamp_ms=record.timestamp or None)
                except Exception as exc:  # transient ones rewind, others raise
                    if not transient(exc):
                        raise
                    await rewind(in_flight[0][0] if in_flight else offset, exc)
                    break
                in_flight.append((offset, sent))
                consumed = offset + 1
                if facts.kind == b"dead":
                    stats.dead += 1
                else:
                    stats.extracted += 1
                if collector is not None:
                    collector.folded()
                if len(in_flight) >= IN_FLIGHT:
                    await asyncio.wait([in_flight[0][1]])
                else:
                    await asyncio.sleep(0)  # extraction is CPU: let the producer send meanwhile
                if not await commit():
                    break
                if stop.is_set():
                    break
            else:
                if not batches:
                    consumed = max(consumed, await consumer.position(source))
                await commit()
            probe.observe(source.topic, source.partition, end=consumer.highwater(source),
                          position=consumed, last_timestamp=last_timestamp)
        try:
            await sender.producer.flush()
        except Exception as exc:  # what was not acknowledged is not committed
            if not transient(exc):
                raise
        await commit(force=True)
    finally:
        await log_watch.close()
