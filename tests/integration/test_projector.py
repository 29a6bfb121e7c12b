"""The projector against a real Kafka broker: exactly once across restarts and crashes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import DeadLetter, StoryUpdated
from storyline.kafka.admin import admin_client
from storyline.read import projector as projector_module
from storyline.read.projector import Projector
from storyline.read.samples import merge, story_history, story_revision, updates
from storyline.read.store import ApplyResult, ReadStore, SqliteStore, open_store
from storyline.settings import Settings

pytestmark = pytest.mark.integration


async def make_topics(bootstrap: str, settings: Settings) -> None:
    async with admin_client(bootstrap) as admin:
        await admin.create_topics([
            NewTopic(settings.story_updates, num_partitions=3, replication_factor=1),
            NewTopic(settings.dead_letters, num_partitions=1, replication_factor=1),
        ])


async def produce(bootstrap: str, topic: str, events: list[Any]) -> list[tuple[int, int]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = []
        for event in events:
            key = getattr(event, "story_id", None) or event.survivor_id
            meta = await producer.send_and_wait(topic, canonical_bytes(event),
                                                key=key.encode())
            sent.append((meta.partition, meta.offset))
        return sent
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[bytes] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            values += [r.value for r in batch.get(tp, []) if r.value is not None]
        return values
    finally:
        await consumer.stop()


def projector_for(store: ReadStore, bootstrap: str, settings: Settings) -> Projector:
    return Projector(store, bootstrap=bootstrap, topic=settings.story_updates,
                     dead_letters_topic=settings.dead_letters)


def stored(store: ReadStore, story_ids: list[str]) -> dict[str, list[int]]:
    return {s: sorted(r.revision for r in store.revisions(s)) for s in story_ids}


def interleaved(ids: list[str], revisions: int) -> list[StoryUpdated]:
    """The records of revisions 1..``revisions`` of each story, the stories interleaved:
    each story's first revision whole, the later ones as changes."""
    histories = {s: story_history(s, revisions) for s in ids}
    return updates([histories[s][r] for r in range(revisions) for s in ids])


async def test_restart_neither_duplicates_nor_skips(kafka_bootstrap: str, topic_prefix: str,
                                                    tmp_path: Path) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    await make_topics(kafka_bootstrap, settings)
    ids = [f"story-{i}" for i in range(6)]
    await produce(kafka_bootstrap, settings.story_updates, interleaved(ids, 3))

    path = tmp_path / "read.sqlite3"
    first = await projector_for(open_store(path), kafka_bootstrap, settings).run(
        until_caught_up=True)
    assert (first.applied, first.unchanged, first.rejected) == (18, 0, [])
    store = open_store(path)
    assert stored(store, ids) == {s: [1, 2, 3] for s in ids}
    used = {p for p in store.positions(settings.story_updates)}
    assert len(used) > 1, "keys spread over several partitions"

    # more revisions, a redelivered page (same hash), a conflicting page and a merge
    conflicting = updates([story_history("story-1", 1)[0],
                           story_revision("story-1", 2,
                                          title="Not the page stored as revision 2")])[1]
    later = [*interleaved(ids, 5)[18:], updates(story_history("story-0", 3))[2],
             conflicting, merge("story-2", "story-3", 5)]
    await produce(kafka_bootstrap, settings.story_updates, later)
    second = await projector_for(open_store(path), kafka_bootstrap, settings).run(
        until_caught_up=True)
    assert second.applied == 12 + 1
    assert second.unchanged == 1
    assert [r.error_type for r in second.rejected] == ["RevisionConflict"]
    assert stored(store, ids) == {s: [1, 2, 3, 4, 5] for s in ids}
    assert store.resolve("story-3") == "story-2"
    head = store.get_page("story-1")
    assert head == story_history("story-1", 5)[4]

    # a third start finds nothing new and changes nothing
    third = await projector_for(open_store(path), kafka_bootstrap, settings).run(
        until_caught_up=True)
    assert (third.applied, third.unchanged, third.skipped) == (0, 0, 0)
    assert len(store.events_after(0, limit=1000)) == 30 + 1

    letters = [DeadLetter.model_validate_json(v) for v in
               await read_all(kafka_bootstrap, settings.dead_letters)]
    assert [(d.stage, d.error_type, d.source_topic) for d in letters] == [
        ("projector", "RevisionConflict", settings.story_updates)]
    assert "Not the page stored as revision 2" in letters[0].payload


class CrashingStore(SqliteStore):
    """Dies inside the transaction of its n-th batch, like a process killed mid-write."""

    def __init__(self, path: Path, crash_on: int) -> None:
        super().__init__(path)
        self.calls = 0
        self.crash_on = crash_on

    def apply(self, topic: str, items: Any) -> ApplyResult:
        self.calls += 1
        if self.calls == self.crash_on:
            def boom(*_: Any) -> None:
                raise RuntimeError("killed mid-transaction")
            original = self._apply_one
            self._apply_one = lambda conn, t, item, now, result: (  # type: ignore[method-assign]
                original(conn, t, item, now, result) if item is not items[-1] else boom())
        return super().apply(topic, items)


async def test_crash_mid_batch_is_resumed_exactly(kafka_bootstrap: str, topic_prefix: str,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    await make_topics(kafka_bootstrap, settings)
    ids = [f"crash-{i}" for i in range(4)]
    await produce(kafka_bootstrap, settings.story_updates, interleaved(ids, 4))
    monkeypatch.setattr(projector_module, "MAX_BATCH", 3)
    path = tmp_path / "read.sqlite3"
    crashing = CrashingStore(path, crash_on=3)
    crashing.migrate()
    with pytest.raises(RuntimeError, match="killed mid-transaction"):
        await projector_for(crashing, kafka_bootstrap, settings).run(until_caught_up=True)
    partial = open_store(path)
    before = sum(len(v) for v in stored(partial, ids).values())
    assert 0 < before < 16
    resumed = await projector_for(open_store(path), kafka_bootstrap, settings).run(
        until_caught_up=True)
    assert resumed.applied == 16 - before
    assert resumed.unchanged == 0 and resumed.skipped == 0
    assert stored(partial, ids) == {s: [1, 2, 3, 4] for s in ids}
    seqs = [e.seq for e in partial.events_after(0, limit=100)]
    assert seqs == sorted(set(seqs)) and len(seqs) == 16


async def test_projector_command_until_caught_up(kafka_bootstrap: str, topic_prefix: str,
                                                 tmp_path: Path) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    await make_topics(kafka_bootstrap, settings)
    await produce(kafka_bootstrap, settings.story_updates,
                  updates(story_history("cli-story", 3)))
    database = tmp_path / "cli.sqlite3"
    env = {**os.environ, "STORYLINE_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "STORYLINE_TOPIC_PREFIX": topic_prefix, "STORYLINE_LOG_FORMAT": "json"}
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "storyline.cli", "projector",
                         "--until-caught-up", "--database", str(database)],
        capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"applied": 3' in proc.stderr
    store = open_store(database)
    assert store.head_revision("cli-story") == 3
    assert store.positions(settings.story_updates) != {}
