"""Kafka calls of the stage processes that wait for the broker instead of failing.

The single-process worker rides through a broker outage (faust reconnects; its sends are
retried until acknowledged). The stage processes (``storyline worker --stage``) must as
well: one that exits in a broker bounce takes the whole staged worker down with it (the
supervisor stops the rest), and every restart rebuilds the fold's state. A call here is
retried, with a growing pause, on the errors an outage gives (connection refused, no
leader, timeouts); any other error is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

log = structlog.get_logger("storyline.reconnect")

T = TypeVar("T")
BACKOFF_MAX = 5.0


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is what a broker that is away (or electing a leader) gives."""
    return isinstance(exc, (KafkaConnectionError, KafkaTimeoutError)) or (
        isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False)))


async def retried(call: Callable[[], Awaitable[T]], what: str) -> T:
    """``await call()``, again after a pause for as long as it fails transiently."""
    delay = 0.5
    while True:
        try:
            return await call()
        except Exception as exc:  # transient ones are retried, others raised
            if not transient(exc):
                raise
            log.warning("kafka_retry", what=what, error=f"{type(exc).__name__}: {exc}",
                        retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)


async def start_client(client: Any, what: str) -> None:
    """``client.start()`` of an aiokafka consumer or producer, waiting for the broker: a
    failed bootstrap leaves the client as it was, so starting it again is allowed."""
    await retried(client.start, f"{what} start")


async def topic_partitions(consumer: Any, topic: str) -> list[int]:
    """The partitions of ``topic`` as ``consumer`` (an ``AIOKafkaConsumer``) knows them,
    its metadata refreshed once if it has none yet; a topic that does not exist is an error
    the operator fixes with ``storyline topics apply``."""
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
    if not found:
        raise RuntimeError(f"the topic {topic} does not exist: storyline topics apply")
    return sorted(found)


async def partition_counts(consumer: Any, topics: Sequence[str]) -> tuple[int, ...]:
    """How many partitions each of ``topics`` has (``topic_partitions``), each tracked by
    ``consumer``'s metadata first: an assigned consumer's metadata follows only its
    assigned topics."""
    counts = []
    for topic in topics:
        if not consumer.partitions_for_topic(topic):
            await consumer._client.add_topic(topic)
        counts.append(len(await topic_partitions(consumer, topic)))
    return tuple(counts)


async def committed_offset(consumer: Any, tp: Any) -> int:
    """The offset ``consumer``'s group committed for ``tp`` (0: none), retried through a
    broker outage."""
    found = await retried(lambda: consumer.committed(tp), "committed offset")
    return int(found) if found is not None and found >= 0 else 0
