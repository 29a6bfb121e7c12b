"""What a process that folds story pages does with what it folded: deliver it.

Shared by the fold process (:mod:`fold_stage`: assign + page) and the page processes
(:mod:`page_stage`): every record is sent and its acknowledgement awaited, retried until it
comes (the state has moved on already: giving up would lose a revision); the records one
article caused go out on their topics at once, each after the one before it on its topic
(:meth:`StoryPublisher.deliver_all`); a revision gets
its LLM summary when one is configured, and a whole page now and then on the story-pages
topic (:class:`~storyline.stream.worker.PageCheckpoints`); a dead letter names the
article's own record, read from the articles log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaProducer

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import DeadLetter, StoryMerged, StoryUpdated
from storyline.domain.pipeline import LogPosition, Pipeline, PipelineEvent
from storyline.domain.records import dead_letter
from storyline.kafka.security import kafka_options
from storyline.llm.summariser import summariser_from_settings
from storyline.metrics import DEAD_LETTERS, PRODUCE_TO_UPDATE, STORY_UPDATES
from storyline.settings import Settings
from storyline.stream.logreader import read_partition
from storyline.stream.worker import (
    MAX_REQUEST_BYTES,
    PUBLISH_BACKOFF_MAX,
    PageCheckpoints,
    absorbed_page_tombstone,
    story_key,
)

log = structlog.get_logger("storyline.publish")


@dataclass(frozen=True, slots=True)
class Prepared:
    """An event as it will be delivered: its bytes and, when due, its story's whole page."""

    event: PipelineEvent
    body: bytes
    page_body: bytes | None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to deliver (``value`` None: a tombstone, for a compacted topic)."""

    topic: str
    key: bytes
    value: bytes | None
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None
    timestamp_ms: int | None = None


def events_producer(settings: Settings) -> AIOKafkaProducer:
    """The producer a fold or page process delivers its events with: every in-sync replica
    acknowledges (``acks="all"``), idempotent (a retried send is written once), and large
    enough for the biggest page the service writes."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True,
        max_request_size=MAX_REQUEST_BYTES, **kafka_options())


class StoryPublisher:
    """Delivers the events of a pipeline (``pipeline()`` gives the current one: a restart
    from a snapshot replaces it) with ``producer``."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer,
                 pipeline: Callable[[], Pipeline]) -> None:
        self.settings = settings
        self.producer = producer
        self._pipeline = pipeline
        self.checkpoints = PageCheckpoints(settings.page_checkpoint_revisions)
        self.summariser, self.llm_client = summariser_from_settings(settings.llm)

    async def aclose(self) -> None:
        if self.llm_client is not None:
            await self.llm_client.aclose()

    async def deliver(self, topic: str, key: bytes, value: bytes | None, *,
                      partition: int | None = None,
                      headers: list[tuple[str, bytes]] | None = None,
                      timestamp_ms: int | None = None) -> None:
        """Send and wait for the broker's ack, retrying until it comes (``value`` None: a
        tombstone, for a compacted topic)."""
        delay = 0.2
        while True:
            try:
                await self.producer.send_and_wait(topic, key=key, value=value,
                                                  partition=partition, headers=headers,
                                                  timestamp_ms=timestamp_ms)
                return
            except Exception as exc:  # noqa: BLE001 - any send failure is retried the same way
                log.warning("publish_retry", topic=topic, error=f"{type(exc).__name__}: {exc}",
                            retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, PUBLISH_BACKOFF_MAX)

    async def deliver_all(self, outgoing: Sequence[Outgoing]) -> None:
        """Deliver ``outgoing`` as :meth:`deliver` does, each record once the one before it
        on the same topic is acknowledged, records for different topics at once. On every
        topic (so on every partition) the order is the list's, whatever is retried; an
        article's assignment, story update and page, each on its own topic, cost one round
        trip instead of three (and as many wake-ups of an event loop that shares the GIL with
        the fold's thread: the fold process's deliveries lagged its folds by 2.5 ms an
        article when sent one by one)."""
        last: dict[str, asyncio.Task[None]] = {}

        async def after(previous: asyncio.Task[None] | None, record: Outgoing) -> None:
            if previous is not None:
                await previous
            await self.deliver(record.topic, record.key, record.value,
                               partition=record.partition, headers=record.headers,
                               timestamp_ms=record.timestamp_ms)

        for record in outgoing:
            last[record.topic] = asyncio.create_task(after(last.get(record.topic), record))
        try:
            await asyncio.gather(*last.values())
        finally:  # stopped while delivering: nothing is left sending behind the caller
            for task in last.values():
                task.cancel()

    def dead_letter_record(self, letter: DeadLetter) -> Outgoing:
        """``letter`` as the record to deliver, counted and logged."""
        DEAD_LETTERS.labels("worker", letter.error_type).inc()
        log.warning("dead_letter", error_type=letter.error_type, reason=letter.reason,
                    source_offset=letter.source_offset)
        return Outgoing(self.settings.dead_letters, (letter.key or "").encode(),
                        canonical_bytes(letter))

    async def dead_letter(self, letter: DeadLetter) -> None:
        await self.deliver_all([self.dead_letter_record(letter)])

    async def refused_letter(self, position: LogPosition, error_type: str, reason: str
                             ) -> DeadLetter:
        """The dead letter of an article the assign or page fold refused: it names the
        article's own record, read from the log."""
        async for record in read_partition(self.settings.bootstrap_servers, position.topic,
                                           position.partition, start=position.offset,
                                           stop=position.offset + 1):
            return dead_letter(position, record.key, record.value or b"", error_type, reason)
        raise LookupError(f"{position} is not in the articles log")

    async def event(self, produced: PipelineEvent, produced_at: float | None) -> None:
        if isinstance(produced, StoryUpdated):
            produced = await self._summarised(produced)
        await self.send(self.prepare(produced), produced_at)

    def prepare(self, produced: PipelineEvent) -> Prepared:
        """The bytes to deliver for ``produced`` (as it is: with an LLM summariser,
        :meth:`event` puts the summary in first), and the story's whole page when one is due,
        read from the pipeline now: a caller that folds the next record while this one is
        delivered prepares before it folds, and sends after."""
        body = canonical_bytes(produced)
        page_body = None
        if isinstance(produced, StoryUpdated) and self.checkpoints.due(produced.story_id,
                                                                       len(body)):
            page = self._pipeline().page(produced.story_id)
            if page is not None and page.revision == produced.revision:
                page_body = canonical_bytes(page)
                self.checkpoints.written(produced.story_id, len(page_body))
        return Prepared(produced, body, page_body)

    async def send(self, prepared: Prepared, produced_at: float | None) -> None:
        """Deliver what :meth:`prepare` made: the event, and its page or tombstone."""
        await self.deliver_all(self.records(prepared))
        self.sent(prepared, produced_at)

    def records(self, prepared: Prepared) -> list[Outgoing]:
        """The records that deliver ``prepared``: the event on the story updates, and on the
        story pages the story's page when one is due, or the tombstone of a story merged
        into another."""
        produced = prepared.event
        records = [Outgoing(self.settings.story_updates, story_key(produced), prepared.body)]
        if isinstance(produced, StoryMerged):
            key, value = absorbed_page_tombstone(produced)
            records.append(Outgoing(self.settings.story_pages, key, value))
        elif isinstance(produced, StoryUpdated) and prepared.page_body is not None:
            records.append(Outgoing(self.settings.story_pages, produced.story_id.encode(),
                                    prepared.page_body))
        return records

    def sent(self, prepared: Prepared, produced_at: float | None) -> None:
        """Count and log a story update once :meth:`records` are delivered."""
        produced = prepared.event
        if not isinstance(produced, StoryUpdated):
            return
        STORY_UPDATES.inc()
        if produced_at:
            PRODUCE_TO_UPDATE.observe(max(0.0, time.time() - produced_at))
        log.info("story_updated", story_id=produced.story_id, revision=produced.revision,
                 article_id=produced.cause.article_uri, articles=produced.article_count,
                 bytes=len(prepared.body))

    async def _summarised(self, update: StoryUpdated) -> StoryUpdated:
        pipeline = self._pipeline()
        page = pipeline.page(update.story_id)
        if page is None or not self.summariser.enabled:
            return update
        result = await self.summariser.summarise(page)
        if result.record is None:
            return update
        await self.deliver(self.settings.summaries, update.story_id.encode(),
                           canonical_bytes(result.record))
        return pipeline.replace_summary(update, result.update.summary)
