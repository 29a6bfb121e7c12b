"""The fold stage folds the next record while the broker acknowledges the last one's events
(``FoldStage._fold``), without a broker: a publisher whose sends wait until the test lets
them go. One record is delivered at a time, in order, and the commits never pass a record
whose events are not all acknowledged: a SIGKILL then refolds and publishes it again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition
from test_pipeline import build_log, records

from storyline.domain.events import StoryUpdated
from storyline.domain.pipeline import PipelineEvent
from storyline.settings import Settings
from storyline.stream import fold_stage
from storyline.stream.facts import extract_record
from storyline.stream.publishing import Prepared
from storyline.stream.stripes import StripeMerge


class HeldPublisher:
    """Sends are recorded when asked and acknowledged only when the test releases them."""

    def __init__(self) -> None:
        self.summariser = SimpleNamespace(enabled=False)
        self.asked: list[str] = []  # what was sent, in the order the sends began
        self.acked: list[str] = []
        self.release = asyncio.Event()
        self.fail = False

    def prepare(self, event: PipelineEvent) -> Prepared:
        return Prepared(event, b"", None)

    async def send(self, prepared: Prepared, produced_at: float | None) -> None:
        event = prepared.event
        name = "update" if isinstance(event, StoryUpdated) else type(event).__name__
        self.asked.append(name)
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the broker refused it")
        self.acked.append(name)

    async def deliver(self, topic: str, key: bytes, value: bytes, **_: object) -> None:
        self.asked.append("assignment")
        await self.release.wait()
        self.acked.append("assignment")


def _stage(tmp_path: Path) -> tuple[fold_stage.FoldStage, HeldPublisher, list[tuple]]:  # type: ignore[type-arg]
    settings = Settings(data_dir=tmp_path, snapshot_fork=False, snapshot_every=1000)
    stage = fold_stage.FoldStage(settings)
    publisher = HeldPublisher()
    stage.publisher = publisher  # type: ignore[assignment]
    stage.facts = [TopicPartition(settings.facts, p) for p in range(2)]
    stage.merge = StripeMerge(2)
    stage.consumed = {tp: 0 for tp in stage.facts}
    stage.assignment_partitions = 1
    stage.state.ready.add(stage._source_key)
    log = records(build_log([("flood", i, "new") for i in range(3)]))
    return stage, publisher, log


def _waiting(log: list[tuple], offset: int) -> fold_stage._Waiting:  # type: ignore[type-arg]
    key, value, position = log[offset]
    facts = extract_record(key, value, position, max_bytes=1_000_000)
    return fold_stage._Waiting(facts, facts_offset=offset // 2, timestamp=None)


def test_the_next_record_folds_while_the_last_is_acknowledged_and_commits_wait(
        tmp_path: Path) -> None:
    stage, publisher, log = _stage(tmp_path)

    async def scenario() -> None:
        facts_0 = stage.facts[0]
        for offset in (0, 1):  # what the merge hands on, in source order
            stage.merge.add(offset % 2, offset, _waiting(log, offset))
            stage.consumed[stage.facts[offset % 2]] = offset // 2 + 1
        ready = list(stage.merge.ready())
        await asyncio.wait_for(stage._fold(*ready[0]), 30)  # not held by the broker
        await asyncio.sleep(0.05)
        # record 0's first send asked for and not acknowledged: the commits stay below it
        assert publisher.asked == ["assignment"] and not publisher.acked
        assert stage._due()[stage.source] == 0 and stage._due()[facts_0] == 0
        # record 1 folds meanwhile (the fold is not held by the broker) ...
        folding = asyncio.create_task(stage._fold(*ready[1]))
        await asyncio.sleep(0.5)
        assert stage.folded == 2
        # ... but its sends wait for record 0's: one record's delivery at a time, in order
        assert not folding.done() and publisher.asked == ["assignment"]
        publisher.release.set()
        await folding
        await stage._delivered()
        assert publisher.acked == publisher.asked == ["assignment", "update"] * 2
        assert stage._due()[stage.source] == 2 and stage.delivering is None

    asyncio.run(scenario())
    stage.state.cold.close()


def test_a_failed_delivery_is_the_stages_failure(tmp_path: Path) -> None:
    stage, publisher, log = _stage(tmp_path)

    async def scenario() -> None:
        stage.merge.add(0, 0, _waiting(log, 0))
        await asyncio.wait_for(stage._fold(*next(stage.merge.ready())), 30)
        publisher.fail = True
        publisher.release.set()
        with pytest.raises(RuntimeError, match="refused"):
            await stage._delivered()
        assert stage._due()[stage.source] == 0  # never committed past it

    asyncio.run(scenario())
    stage.state.cold.close()
