"""Which log a state or a commit belongs to: the first record of the articles log, as a
read_committed reader sees it. A topic deleted and made again that has grown past what was
folded has an end no check can tell from the old log's; its first record tells."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError
from test_pipeline import TOPIC, build_log, records

from storyline.settings import Settings
from storyline.stream import logreader
from storyline.stream.logreader import LogRewound, ensure_same_log
from storyline.stream.offsets import (
    CommitMetadata,
    PipelineChanged,
    commit_payload,
    ensure_same_pipeline,
)
from storyline.stream.reconnect import transient
from storyline.stream.snapshots import write_snapshot
from storyline.stream.worker import WorkerState

TP = TopicPartition(TOPIC, 0)


def test_another_first_record_is_another_log() -> None:
    ensure_same_log(TP, (0, 1_000), (0, 1_000))
    ensure_same_log(TP, None, (0, 1_000))  # nothing known to compare: a state of before
    ensure_same_log(TP, (0, 1_000), None)  # an empty log: the end check says the rest
    with pytest.raises(LogRewound, match="begins with another record") as raised:
        ensure_same_log(TP, (0, 1_000), (0, 2_000))
    assert "STORYLINE_TOPIC_PREFIX" in str(raised.value)
    with pytest.raises(LogRewound):  # an aborted transaction first: another offset
        ensure_same_log(TP, (0, 1_000), (2, 1_000))


def test_a_commit_says_which_log_its_offsets_are_in() -> None:
    [meta] = commit_payload({TP: 5}, "v", log=(0, 1_733_400_000_123)).values()
    decoded = CommitMetadata.decode(meta.metadata)
    assert decoded is not None and decoded.log == (0, 1_733_400_000_123)
    [plain] = commit_payload({TP: 5}, "v").values()
    decoded = CommitMetadata.decode(plain.metadata)
    assert decoded is not None and decoded.log is None
    # a commit written before the mark reads as one without it
    old = CommitMetadata.decode('{"at": 1.0, "pipeline": "v"}')
    assert old is not None and old.log is None
    assert CommitMetadata.decode('{"at": 1.0, "pipeline": "v", "log": [1]}') is None


def test_a_state_marks_the_first_record_it_folds_and_keeps_it(tmp_path: Path) -> None:
    log = records(build_log([("flood", i, "new") for i in range(4)]))
    state = WorkerState(tmp_path / "a" / "cold")
    try:
        for k, v, p in log:
            state.fold_now(k, v, p, 2_000_000, timestamp=5_000 + p.offset)
        assert state.pipeline.log_mark(TOPIC, 0) == (0, 5_000)
        write_snapshot(state.pipeline, tmp_path / "snaps", TOPIC, 0)
        other = WorkerState(tmp_path / "b" / "cold")
        assert other.restore(tmp_path / "snaps", TOPIC, 0, before=len(log)) == len(log) - 1
        assert other.pipeline.log_mark(TOPIC, 0) == (0, 5_000)  # carried by the snapshot
        other.pipeline.mark_log(TOPIC, 0, 0, 9_999)  # never moved once set
        assert other.pipeline.log_mark(TOPIC, 0) == (0, 5_000)
        other.cold.close()
    finally:
        state.cold.close()
    # a state that began after the first record (no timestamp known) claims no mark
    later = WorkerState(tmp_path / "c" / "cold")
    try:
        for k, v, p in log:
            later.fold_now(k, v, p, 2_000_000)
        assert later.pipeline.log_mark(TOPIC, 0) is None
    finally:
        later.cold.close()


async def test_a_running_reader_asks_now_and_then_whether_its_log_was_made_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    firsts = [(0, 1_000)]
    asked: list[int] = []

    async def first(_watch: logreader.LogWatch) -> tuple[int, int] | None:
        asked.append(1)
        return firsts[-1]

    monkeypatch.setattr(logreader.LogWatch, "_first", first)
    watch = logreader.LogWatch("localhost:9", TP, every=0.0)
    await watch.check((0, 1_000))
    await watch.check(None)  # nothing folded yet: nothing to compare, nothing asked
    assert len(asked) == 1
    firsts.append((0, 2_000))  # deleted and made again, grown past the reader
    with pytest.raises(LogRewound, match="begins with another record"):
        await watch.check((0, 1_000))
    slow = logreader.LogWatch("localhost:9", TP, every=3600.0)
    await slow.check((0, 1_000))  # within its interval: the broker is not asked
    assert len(asked) == 2


async def test_a_broker_away_is_no_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    async def unreachable(_watch: logreader.LogWatch) -> None:
        raise ConnectionError("broker away")

    monkeypatch.setattr(logreader.LogWatch, "_first", unreachable)
    await logreader.LogWatch("localhost:9", TP, every=0.0).check((0, 1_000))


async def test_a_look_that_hangs_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A look the broker does not answer (its requests waiting out their timeouts) is given
    up after WATCH_TIMEOUT_SECONDS, no verdict: the reader's loop goes on."""
    async def hangs(_watch: logreader.LogWatch) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(logreader.LogWatch, "_first", hangs)
    monkeypatch.setattr(logreader, "WATCH_TIMEOUT_SECONDS", 0.05)
    started = time.monotonic()
    await logreader.LogWatch("localhost:9", TP, every=0.0).check((0, 1_000))
    assert time.monotonic() - started < 5


async def test_a_first_record_that_never_comes_is_a_timeout_not_a_hang(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A fetch that brings nothing (the broker away after the offsets were read): the look
    gives up with a transient error, which ``retried`` asks again and LogWatch lets pass."""

    class Silent:
        def assign(self, _tps: list[TopicPartition]) -> None: ...
        def seek(self, _tp: TopicPartition, _offset: int) -> None: ...
        async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[Any, int]:
            return dict.fromkeys(tps, 0)
        async def end_offsets(self, tps: list[TopicPartition]) -> dict[Any, int]:
            return dict.fromkeys(tps, 5)
        async def getmany(self, *_tps: TopicPartition, **_kw: Any) -> dict[Any, list[Any]]:
            return {}
        async def position(self, _tp: TopicPartition) -> int:
            return 0

    @contextlib.asynccontextmanager
    async def silent(_bootstrap: str) -> AsyncIterator[Silent]:
        yield Silent()

    monkeypatch.setattr(logreader, "standalone_consumer", silent)
    monkeypatch.setattr(logreader, "FIRST_RECORD_SECONDS", 0.05)
    with pytest.raises(KafkaTimeoutError):
        await logreader.first_record("localhost:9", TOPIC, 0)
    assert transient(KafkaTimeoutError())
    await logreader.LogWatch("localhost:9", TP, every=0.0).check((0, 1_000))  # no verdict


def test_commits_of_another_pipeline_version_are_refused_with_the_way_on() -> None:
    ensure_same_pipeline("g", "storyline-0.1.0/core-16", "storyline-0.1.0/core-16", "")
    ensure_same_pipeline("g", None, "storyline-0.1.0/core-16", "")  # nothing said: no verdict
    with pytest.raises(PipelineChanged) as refused:
        ensure_same_pipeline("storyline-worker", "storyline-0.1.0/core-15",
                             "storyline-0.1.0/core-16", "news.")
    said = str(refused.value)
    assert "group storyline-worker were made by pipeline storyline-0.1.0/core-15" in said
    assert "this is storyline-0.1.0/core-16" in said
    assert "STORYLINE_SOURCE_PREFIX='news.'" in said


def test_a_deployment_beside_another_reads_its_articles_and_writes_its_own_topics() -> None:
    alone = Settings(topic_prefix="news.")
    assert alone.articles == "news.storyline.articles"
    assert alone.source_topic_prefix == "news."
    beside = Settings(topic_prefix="news.v2.", source_prefix="news.")
    assert beside.articles == "news.storyline.articles"
    assert beside.story_updates == "news.v2.storyline.story-updates"
    assert beside.facts == "news.v2.storyline.facts"
    assert Settings(topic_prefix="v2.", source_prefix="").articles == "storyline.articles"
