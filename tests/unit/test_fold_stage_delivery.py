"""The fold stage folds the next record while the broker acknowledges the last one's events
(``FoldStage._fold``), without a broker: a publisher whose sends wait until the test lets
them go. One record is delivered at a time, in order (its records on their topics at once),
and the commits never pass a record whose events are not all acknowledged: a SIGKILL then
refolds and publishes it again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from test_pipeline import build_log, records

from storyline.settings import Settings
from storyline.stream import fold_stage
from storyline.stream.facts import extract_record
from storyline.stream.publishing import Outgoing, StoryPublisher
from storyline.stream.stripes import StripeMerge


class HeldPublisher(StoryPublisher):
    """The real publisher but for its one send: sends are recorded when asked and
    acknowledged only when the test releases them."""

    def __init__(self, settings: Settings, stage: fold_stage.FoldStage) -> None:
        super().__init__(settings, None, lambda: stage.state.pipeline)  # type: ignore[arg-type]
        self.names = {settings.assignments: "assignment", settings.story_updates: "update",
                      settings.story_pages: "page", settings.dead_letters: "dead letter"}
        self.asked: list[str] = []  # what was sent, in the order the sends began
        self.acked: list[str] = []
        self.release = asyncio.Event()
        self.fail = False

    async def deliver(self, topic: str, key: bytes, value: bytes | None, **_: object) -> None:
        name = self.names[topic]
        self.asked.append(name)
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the broker refused it")
        self.acked.append(name)


def _stage(tmp_path: Path) -> tuple[fold_stage.FoldStage, HeldPublisher, list[tuple]]:  # type: ignore[type-arg]
    settings = Settings(data_dir=tmp_path, snapshot_fork=False, snapshot_every=1000)
    stage = fold_stage.FoldStage(settings)
    publisher = HeldPublisher(settings, stage)
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


def test_the_next_run_folds_while_the_last_is_acknowledged_and_commits_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of one record each (``RUN_SECONDS`` 0, as when a fold is slower than a run):
    the second folds while the first is delivered, its sends wait for the first's
    acknowledgements, and the commits stay below every record not delivered."""
    monkeypatch.setattr(fold_stage, "RUN_SECONDS", 0.0)
    stage, publisher, log = _stage(tmp_path)

    async def scenario() -> None:
        facts_0, facts_1 = stage.facts
        for offset in (0, 1):  # what arrived, in source order
            stage.merge.add(offset % 2, offset, _waiting(log, offset))
            stage.consumed[stage.facts[offset % 2]] = offset // 2 + 1
        await asyncio.wait_for(stage._fold_run(), 30)  # not held by the broker
        await asyncio.sleep(0.05)
        # record 0's sends asked for at once (one on each topic: the story's first page is
        # due), none acknowledged: the commits stay below it
        assert publisher.asked == ["assignment", "update", "page"] and not publisher.acked
        assert stage._due()[stage.source] == 0 and stage._due()[facts_0] == 0
        # record 1 folds meanwhile (the fold is not held by the broker) ...
        second = asyncio.create_task(stage._fold_run())
        await asyncio.sleep(0.5)
        assert stage.folded == 2 and stage._due()[facts_1] == 0
        # ... but its sends wait for record 0's: one run's delivery at a time, in order
        assert not second.done() and publisher.asked == ["assignment", "update", "page"]
        publisher.release.set()
        await second
        await stage._delivered()
        assert publisher.acked == publisher.asked == ["assignment", "update", "page"] * 2
        assert stage._due()[stage.source] == 2 and not stage.undelivered

    asyncio.run(scenario())
    stage.state.cold.close()


def test_a_run_folds_every_ready_record_in_one_hand_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fold_stage, "RUN_SECONDS", 60.0)
    stage, publisher, log = _stage(tmp_path)
    handovers = 0
    to_thread = asyncio.to_thread

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal handovers
        handovers += 1
        return await to_thread(*args, **kwargs)

    monkeypatch.setattr(fold_stage.asyncio, "to_thread", counted)

    async def scenario() -> None:
        for offset in (0, 1, 2):
            stage.merge.add(offset % 2, offset, _waiting(log, offset))
            stage.consumed[stage.facts[offset % 2]] = offset // 2 + 1
        await asyncio.wait_for(stage._fold_run(), 30)
        assert handovers == 1 and stage.folded == 3 and not stage.merge.has_ready()
        # all three folded, none delivered: the commits stay below the first, and below
        # each facts partition's first record not delivered
        assert stage._due()[stage.source] == 0
        assert stage._due()[stage.facts[0]] == 0 and stage._due()[stage.facts[1]] == 0
        publisher.release.set()
        await stage._delivered()
        assert publisher.acked.count("update") == 3
        assert stage._due()[stage.source] == 3 and stage._due()[stage.facts[0]] == 2

    asyncio.run(scenario())
    stage.state.cold.close()


def test_a_failed_delivery_is_the_stages_failure(tmp_path: Path) -> None:
    stage, publisher, log = _stage(tmp_path)

    async def scenario() -> None:
        stage.merge.add(0, 0, _waiting(log, 0))
        await asyncio.wait_for(stage._fold_run(), 30)
        publisher.fail = True
        publisher.release.set()
        with pytest.raises(RuntimeError, match="refused"):
            await stage._delivered()
        assert stage._due()[stage.source] == 0  # never committed past it

    asyncio.run(scenario())
    stage.state.cold.close()


def test_records_go_out_on_their_topics_at_once_and_in_order_on_each(tmp_path: Path) -> None:
    """``deliver_all``: a record waits for the one before it on its topic only, and keeps
    its place on that topic when its first send fails and is retried."""
    settings = Settings(data_dir=tmp_path)
    acked: list[str] = []
    started: list[str] = []
    attempts: dict[str, int] = {}
    gates = {name: asyncio.Event() for name in ("u1", "u2", "p1", "p2")}

    class Producer:
        async def send_and_wait(self, topic: str, key: bytes, value: bytes | None,
                                **_: object) -> None:
            name = key.decode()
            started.append(name)
            attempts[name] = attempts.get(name, 0) + 1
            await gates[name].wait()
            if name == "u1" and attempts[name] == 1:
                raise RuntimeError("not the leader")  # retried by deliver, in place
            acked.append(name)

    publisher = StoryPublisher(settings, Producer(), lambda: None)  # type: ignore[arg-type]
    outgoing = [Outgoing(settings.story_updates, b"u1", b""),
                Outgoing(settings.story_pages, b"p1", b""),
                Outgoing(settings.story_updates, b"u2", b""),
                Outgoing(settings.story_pages, b"p2", None)]

    async def scenario() -> None:
        delivering = asyncio.create_task(publisher.deliver_all(outgoing))
        await asyncio.sleep(0.05)
        assert started == ["u1", "p1"]  # one on each topic at once
        gates["p1"].set()
        await asyncio.sleep(0.05)
        assert acked == ["p1"] and started == ["u1", "p1", "p2"]  # u2 waits for u1
        gates["p2"].set()
        gates["u2"].set()  # u2 may not pass u1, which fails once and is retried
        gates["u1"].set()
        await asyncio.wait_for(delivering, 5)
        assert attempts["u1"] == 2
        assert [n for n in acked if n.startswith("u")] == ["u1", "u2"]
        assert [n for n in acked if n.startswith("p")] == ["p1", "p2"]

    asyncio.run(scenario())


def test_the_loop_takes_a_due_full_collection_when_no_record_is_ready(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full collection due at a freeze is made by the loop once the merge has nothing
    ready, not in the middle of a backlog (the records queued behind it would wait)."""
    stage, _, log = _stage(tmp_path)
    seen: list[tuple[bool, int]] = []  # at each fetch: a record ready, collections so far

    class Consumer:
        def __init__(self, stop: asyncio.Event) -> None:
            self.stop = stop
            self.fetches = 0

        async def getmany(self, *_: object, **__: object) -> dict[TopicPartition, list[Any]]:
            self.fetches += 1
            seen.append((stage.merge.has_ready(), stage.state.collector.collections))
            if self.fetches == 1:  # a record arrives; the collection is due meanwhile
                stage.merge.add(0, 0, _waiting(log, 0))
                stage.state.collector.full_due = True
            else:
                self.stop.set()
            return {}

    async def nothing() -> None:
        return None

    heap = stage.state.collector
    collect_full = heap._collect_full
    folded_at_collection: list[int] = []

    def collected() -> None:
        folded_at_collection.append(stage.folded)
        collect_full()

    async def scenario() -> None:
        stop = asyncio.Event()
        stage.consumer = Consumer(stop)  # type: ignore[assignment]
        monkeypatch.setattr(stage, "_observe", nothing)
        monkeypatch.setattr(heap, "_collect_full", collected)
        await asyncio.wait_for(stage._loop(stop), 30)
        if stage.delivery is not None:
            stage.publisher.release.set()  # type: ignore[attr-defined]
            await stage.delivery

    asyncio.run(scenario())
    # the record was folded first, then the collection made, before the next fetch
    assert stage.folded == 1 and folded_at_collection == [1]
    assert seen == [(False, 0), (False, 1)] and not heap.full_due
    stage.state.cold.close()
