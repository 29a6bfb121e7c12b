"""A reader that has read what it wanted stops cleanly while the broker is away.

aiokafka's ``consumer.stop()`` hands the caller the CancelledError of a fetch task that was
waiting out its retry backoff; the fold stage's rebuild died of it in a chaos run's broker
bounce (its state read to the commit, the broker went, the reader's ``stop()`` raised).
On a private broker of its own (it is stopped)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from storyline.kafka.broker import BrokerConfig, LocalBroker
from storyline.stream.logreader import standalone_consumer

pytestmark = pytest.mark.integration


def test_a_reader_stops_cleanly_while_the_broker_is_away(
        make_broker_config: Callable[[Path], BrokerConfig], tmp_path: Path) -> None:
    broker = LocalBroker(make_broker_config(tmp_path / "broker"))
    broker.start()
    try:
        asyncio.run(_read_then_stop_during_outage(broker))
    finally:
        broker.stop(wipe=True)


async def _read_then_stop_during_outage(broker: LocalBroker) -> None:
    from aiokafka import TopicPartition

    topic = "outage-reader"
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(topic, value=b"%d" % n, partition=0)
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)
    # a long backoff: the failed fetch is surely still waiting when stop() comes
    async with standalone_consumer(broker.bootstrap, retry_backoff_ms=10_000) as consumer:
        consumer.assign([tp])
        consumer.seek(tp, 0)
        read: list[bytes] = []
        while len(read) < 3:
            batches = await consumer.getmany(tp, timeout_ms=1000)
            read += [record.value or b"" for record in batches.get(tp, ())]
        assert read == [b"0", b"1", b"2"]
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(2.0)  # the next fetch fails and its task sleeps the backoff
    # reaching here is the point: leaving the block stopped the consumer without raising
