"""Publish articles (and dead letters for items that are not) to Kafka with aiokafka.

Articles are canonical JSON keyed by uri on the articles topic; the idempotent producer
with ``acks=all`` means a retried send after a network hiccup is not written twice, and
batching (``linger_ms``) keeps a bulk ingest fast.

Compression is off by default: of the codecs aiokafka supports, only gzip needs no native
library (lz4, snappy and zstd do), and aiokafka runs it at level 9 on the event loop, which
cut producing from about 12,000 to 1,300 articles/s in benchmarks/bench_ingest.py. Where
disk matters, set ``compression.type`` on the topic and let the broker compress.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal

import structlog

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived, DeadLetter
from storyline.kafka.articles_log import ARTICLES_PARTITION
from storyline.kafka.clients import started
from storyline.kafka.security import kafka_options
from storyline.settings import Settings, get_settings

log = structlog.get_logger(__name__)

DEAD_LETTER_PAYLOAD_LIMIT = 64 * 1024
"""Bytes of the original item kept in a dead letter: enough to diagnose, small for the log."""

MAX_REQUEST_BYTES = 2 * 1024 * 1024
"""The articles topic's max.message.bytes (deploy/topics.toml): a 1 MB article plus the
event envelope."""


class BrokerUnavailable(RuntimeError):
    """The Kafka cluster could not be reached or refused the producer."""


class MissingTopic(BrokerUnavailable):
    """A topic the producer writes does not exist (and is not created by asking for it)."""


def dead_letter(reason: str, payload: bytes | str, *, key: str,
                stage: Literal["ingest", "http"] = "ingest",
                error_type: str = "InvalidArticle") -> DeadLetter:
    """A dead letter for an item that never made it onto the articles log."""
    raw = payload.encode("utf-8", errors="replace") if isinstance(payload, str) else payload
    truncated = len(raw) > DEAD_LETTER_PAYLOAD_LIMIT
    text = raw[:DEAD_LETTER_PAYLOAD_LIMIT].decode("utf-8", errors="replace")
    return DeadLetter(stage=stage, error_type=error_type, reason=reason, key=key,
                      payload=text, payload_truncated=truncated)


class ArticleProducer:
    """Async producer of ``ArticleReceived`` and ``DeadLetter`` events.

    ``enqueue`` returns as soon as the record is in a batch (await the returned future for
    its position); ``send`` waits for the broker's acknowledgement.
    """

    def __init__(self, settings: Settings | None = None, *, client_id: str = "storyline-ingest",
                 linger_ms: int = 10, compression: str | None = None,
                 start_timeout: float = 20.0) -> None:
        self.settings = settings or get_settings()
        self._client_id = client_id
        self._linger_ms = linger_ms
        self._compression = compression
        self._start_timeout = start_timeout
        self._producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        servers = self.settings.bootstrap_servers
        producer = AIOKafkaProducer(
            bootstrap_servers=servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=self._linger_ms,
            max_batch_size=256 * 1024,
            max_request_size=MAX_REQUEST_BYTES,
            compression_type=self._compression,
            **kafka_options(self.settings),
        )
        try:
            await asyncio.wait_for(started(producer), self._start_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            await producer.stop()
            detail = str(exc) or type(exc).__name__
            raise BrokerUnavailable(
                f"cannot reach the Kafka broker at {servers} ({detail}); start one with "
                "`storyline kafka up` or set STORYLINE_BOOTSTRAP_SERVERS") from exc
        missing = await self._missing_topics(producer)
        if missing:
            await producer.stop()
            raise MissingTopic(f"the topic {missing[0]} does not exist "
                               f"({self.settings.missing_topic_hint(missing[0])})")
        self._producer = producer
        log.debug("ingest.producer_started", bootstrap=servers)

    async def _missing_topics(self, producer: Any) -> list[str]:
        """The topics this producer writes that the cluster does not have (see
        ``cluster_topics``: asked for by name, the articles log would be made with the
        broker's defaults, a week's retention, and silently lose the source of record)."""
        from aiokafka.errors import KafkaError

        from storyline.kafka.admin import cluster_topics

        try:
            known = await asyncio.wait_for(cluster_topics(producer.client),
                                           self._start_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            await producer.stop()
            raise BrokerUnavailable(
                f"cannot read the topics of the Kafka cluster at "
                f"{self.settings.bootstrap_servers} ({str(exc) or type(exc).__name__})"
            ) from exc
        return [t for t in (self.settings.articles, self.settings.dead_letters)
                if t not in known]

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def __aenter__(self) -> ArticleProducer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def _running(self) -> Any:
        if self._producer is None:
            raise RuntimeError("ArticleProducer is not started: call start() first")
        return self._producer

    async def enqueue(self, article: ArticleReceived,
                      headers: Sequence[tuple[str, bytes]] = ()) -> asyncio.Future[Any]:
        """Add the article to a batch; the future resolves to aiokafka's RecordMetadata.
        ``headers`` (the record's provenance, e.g. which API key submitted it) travel with
        the record on the log and never into the event or a revision."""
        # Partition 0 whatever the topic's partition count: the articles log is one total
        # order, the one partition every stage reads. A topic made with more (a cluster's
        # default partition count) would otherwise scatter articles by their key's hash
        # onto partitions nothing folds.
        future: asyncio.Future[Any] = await self._running().send(
            self.settings.articles, canonical_bytes(article), key=article.uri.encode(),
            partition=ARTICLES_PARTITION, headers=list(headers) or None)
        return future

    async def send(self, article: ArticleReceived,
                   headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]:
        """Publish and wait for the acknowledgement: (partition, offset) on the log."""
        metadata = await (await self.enqueue(article, headers))
        return int(metadata.partition), int(metadata.offset)

    async def enqueue_dead_letter(self, letter: DeadLetter) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self._running().send(
            self.settings.dead_letters, canonical_bytes(letter),
            key=letter.key.encode() if letter.key else None)
        return future

    async def flush(self) -> None:
        await self._running().flush()
