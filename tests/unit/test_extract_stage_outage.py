"""The extract stage's loop rides through a broker outage (storyline.stream.extract_stage):
a facts send that fails for good, a send that cannot even be queued and a failed commit
make it read and send again from the first record not acknowledged, never commit past it,
and never exit. Before, the first failed send raised out of the loop and the stripe's
process exited, taking the staged worker down in every broker bounce (chaos, stages-long).

The consumer and producer are fakes; the records are whatever ``extract_record`` makes of
them (replaced here: extraction is not the point)."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
)

from storyline.collector import Collector
from storyline.settings import Settings
from storyline.stream import extract_stage
from storyline.stream.extract_stage import ExtractStats, Sender, _loop
from storyline.stream.stage_ops import StageProbe

SOURCE = TopicPartition("articles", 0)
END = 40


@dataclass
class Record:
    offset: int
    key: bytes
    value: bytes
    timestamp: int = 0


class Consumer:
    """The articles partition 0..END-1, read from wherever it was last sought."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.at = 0
        self.commits: list[int] = []
        self.fail_commits = 0
        self.stop = stop

    async def getmany(self, tp: TopicPartition, timeout_ms: int, max_records: int
                      ) -> dict[TopicPartition, list[Record]]:
        if self.at >= END:
            await asyncio.sleep(0)
            return {}
        batch = [Record(o, b"k%d" % o, b"v%d" % o) for o in range(self.at,
                                                                  min(END, self.at + 7))]
        self.at = batch[-1].offset + 1
        return {tp: batch}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.at

    def highwater(self, tp: TopicPartition) -> int:
        return END

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise KafkaConnectionError("broker away")
        self.commits.append(offsets[SOURCE].offset)
        if self.commits[-1] >= END:
            self.stop.set()


class Producer:
    """Acknowledges each send, except the planned failures: by source offset, either the
    send raises at once (the queue cannot take it) or its future fails later; from
    ``poisoned_from`` on, every send of this producer fails (an idempotent producer after
    OutOfOrderSequenceNumber)."""

    def __init__(self, raise_at: set[int], fail_at: set[int], acked: list[int],
                 poisoned_from: int | None = None) -> None:
        self.raise_at = raise_at
        self.fail_at = fail_at
        self.acked = acked  # source offsets, in the order they arrived (all producers)
        self.poisoned_from = poisoned_from
        self.poisoned = False
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, *, key: bytes, value: bytes, partition: int,
                   headers: list[tuple[str, bytes]], timestamp_ms: int | None = None
                   ) -> asyncio.Future[object]:
        offset = int(value[1:])
        if offset in self.raise_at:
            self.raise_at.discard(offset)
            raise KafkaTimeoutError()
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.poisoned_from is not None and offset >= self.poisoned_from:
            self.poisoned = True
        if self.poisoned:
            future.set_exception(OutOfOrderSequenceNumber())
        elif offset in self.fail_at:
            self.fail_at.discard(offset)
            future.set_exception(NotLeaderForPartitionError())
        else:
            self.acked.append(offset)
            future.set_result(None)
        return future

    async def flush(self) -> None:
        return None


@dataclass
class Facts:
    key: bytes
    value: bytes
    kind: bytes = b"extracted"
    headers: tuple[()] = ()


@pytest.mark.parametrize("stripe", [0, 1])
async def test_failed_sends_and_commits_are_retried_from_the_first_unacknowledged(
        monkeypatch: pytest.MonkeyPatch, stripe: int) -> None:
    monkeypatch.setattr(extract_stage, "extract_record",
                        lambda key, value, position, max_bytes: Facts(key, value))
    monkeypatch.setattr(extract_stage, "BACKOFF_MAX", 0.01)
    stop = asyncio.Event()
    consumer = Consumer(stop)
    consumer.fail_commits = 2
    mine = [o for o in range(END) if o % 2 == stripe]
    acked: list[int] = []
    # the planned failures are shared: each happens once, whichever producer sends it
    raise_at, fail_at = {mine[3]}, {mine[8], mine[14]}
    producer = Producer(raise_at, fail_at, acked)
    sender = Sender(lambda: Producer(raise_at, fail_at, acked), producer)  # type: ignore[arg-type]
    settings = Settings(commit_interval=0.0)
    stats = ExtractStats()
    await asyncio.wait_for(
        _loop(settings, consumer, sender, SOURCE, stripe, 2, 0,  # type: ignore[arg-type]
              stop, stats, StageProbe("extract-test", 1000)), timeout=30)
    # each failure got a new producer, and the old one was stopped
    assert sender.renewed == 3 and producer.stopped
    # every offset of the stripe arrived, in order of first arrival; repeats are copies
    assert sorted(set(producer.acked)) == mine
    first = list(dict.fromkeys(producer.acked))
    assert first == mine
    # commits only grow, and each one is below the first offset not acknowledged then
    assert consumer.commits == sorted(consumer.commits) and consumer.commits[-1] == END
    for committed in consumer.commits:
        below = [o for o in mine if o < committed]
        assert set(below) <= set(producer.acked)


async def test_a_stage_client_waits_for_the_broker_at_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage process started while the broker is away (the supervisor restarted in a
    bounce) waits for it instead of exiting ("Unable to bootstrap")."""
    from storyline.stream import reconnect

    monkeypatch.setattr(reconnect, "BACKOFF_MAX", 0.01)

    class Client:
        def __init__(self, failures: list[Exception]) -> None:
            self.failures = failures
            self.started = False

        async def start(self) -> None:
            if self.failures:
                raise self.failures.pop(0)
            self.started = True

    client = Client([KafkaConnectionError("Unable to bootstrap"), KafkaTimeoutError()])
    await reconnect.start_client(client, "test")
    assert client.started and not client.failures
    with pytest.raises(ValueError):
        await reconnect.start_client(Client([ValueError("not an outage")]), "test")


async def test_a_producer_that_fails_every_send_after_a_bounce_is_replaced(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """stages-long: after a broker restart stripe 1's idempotent producer had every send
    refused (OutOfOrderSequenceNumber); resending through it never ended."""
    monkeypatch.setattr(extract_stage, "extract_record",
                        lambda key, value, position, max_bytes: Facts(key, value))
    monkeypatch.setattr(extract_stage, "BACKOFF_MAX", 0.01)
    stop = asyncio.Event()
    consumer = Consumer(stop)
    acked: list[int] = []
    poisoned = Producer(set(), set(), acked, poisoned_from=20)
    made: list[Producer] = []

    def make() -> Producer:
        made.append(Producer(set(), set(), acked))
        return made[-1]

    sender = Sender(make, poisoned)  # type: ignore[arg-type]
    await asyncio.wait_for(
        _loop(Settings(commit_interval=0.0), consumer, sender,  # type: ignore[arg-type]
              SOURCE, 0, 1, 0, stop, ExtractStats(), StageProbe("extract-test", 1000)),
        timeout=30)
    assert sorted(set(acked)) == list(range(END)) and consumer.commits[-1] == END
    assert poisoned.stopped and len(made) == 1 and made[0].started



async def test_the_stripe_counts_each_record_it_extracts_in_the_process_collector(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The extract process's heap (its caches of names, stems and terms) is frozen as it
    goes, as the fold's is: the loop counts each record it extracts, not the other stripe's."""
    monkeypatch.setattr(extract_stage, "extract_record",
                        lambda key, value, position, max_bytes: Facts(key, value))
    stop = asyncio.Event()
    acked: list[int] = []
    heap = Collector(freeze_every=4, collect_growth=0)
    try:
        await asyncio.wait_for(
            _loop(Settings(commit_interval=0.0), Consumer(stop),  # type: ignore[arg-type]
                  Sender(lambda: Producer(set(), set(), acked),  # type: ignore[arg-type]
                         Producer(set(), set(), acked)),
                  SOURCE, 1, 2, 0, stop, ExtractStats(), StageProbe("extract-test", 1000),
                  None, heap), timeout=30)
    finally:
        gc.unfreeze()
    assert heap.records == END // 2 and heap.freezes == 1 + (END // 2) // 4
