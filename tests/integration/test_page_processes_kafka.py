"""The page stage as processes of its own, on a real broker (docs/stages.md, "The page stage
as processes"): two extract stripes, the assign process and one page process per partition
of the assignments topic, each the subprocess an operator starts (`storyline worker --stage
assign`, `--stage page --partition P`). The revisions are the single-process worker's byte
for byte, `replay --verify` passes, and a page process SIGKILLed mid-log and started again
rebuilds from its snapshot and its commit and loses nothing; so does the assign process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson
from aiokafka import TopicPartition
from test_stages_kafka import (
    STORYLINE,
    check_stage_output,
    committed,
    env,
    log_with_poison,
    produce,
    start,
    stop,
    wait_for,
)

from storyline.domain.partitions import page_partition
from storyline.settings import Settings
from storyline.stream.facts import SOURCE_OFFSET
from storyline.stream.fold_stage import fold_group
from storyline.stream.logreader import end_offsets, read_partition
from storyline.stream.page_stage import page_group

__all__ = ["env"]  # the fixture, shared with test_stages_kafka

# timeline17-dev's first 260 articles hold three merges of a story of page partition 1 into
# one of partition 0 (source offsets 184, 241, 248, before the poison record is inserted):
# page 0 reads the moved articles' facts back from the facts topic
COUNT = 260


def pages_done(settings: Settings) -> bool:
    """Every page process has committed the end of its assignments partition."""
    ends = asyncio.run(end_offsets(settings.bootstrap_servers, settings.assignments))
    return all(asyncio.run(committed(settings, page_group(settings, p),
                                     TopicPartition(settings.assignments, p))) >= end
               for p, end in ends.items())


async def timestamps(settings: Settings, topic: str) -> dict[int, set[int]]:
    """Source offset -> the CreateTimes of its records on ``topic`` (the articles topic: the
    record's own offset)."""
    out: dict[int, set[int]] = {}
    for partition, end in (await end_offsets(settings.bootstrap_servers, topic)).items():
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           stop=end):
            found = dict(record.headers).get(SOURCE_OFFSET)
            offset = record.offset if found is None else int(found)
            out.setdefault(offset, set()).add(record.timestamp)
    return out


async def records(settings: Settings, topic: str) -> list[tuple[bytes, bytes | None]]:
    """(key, value) of every record of ``topic``, partition by partition, in offset order."""
    out: list[tuple[bytes, bytes | None]] = []
    for partition, end in (await end_offsets(settings.bootstrap_servers, topic)).items():
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           stop=end):
            out.append((record.key or b"", record.value))
    return out


def test_assign_and_two_page_processes_give_the_workers_revisions(
        env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_for(env)
    raw = log_with_poison(settings, COUNT)
    total = len(raw)
    half = total // 2
    asyncio.run(produce(settings, raw[:half]))

    names = ["extract-0", "extract-1", "assign", "page-0", "page-1"]
    logs = [tmp_path / f"{name}.log" for name in names]
    commands = [["--stage", "extract", "--stripe", "0", "--stripes", "2"],
                ["--stage", "extract", "--stripe", "1", "--stripes", "2"],
                ["--stage", "assign"],
                ["--stage", "page", "--partition", "0"],
                ["--stage", "page", "--partition", "1"]]
    processes = [start(env, logs[i], *commands[i]) for i in range(len(commands))]
    source = TopicPartition(settings.articles, 0)
    page_0 = TopicPartition(settings.assignments, 0)
    try:
        # SIGKILL page 0 once it has committed past its snapshot at 50 records: it restores
        # the snapshot, folds again up to its commit and publishes again, the same bytes,
        # what came after
        wait_for(lambda: asyncio.run(committed(settings, page_group(settings, 0), page_0)) > 60,
                 "page 0 to commit", 300, logs, processes)
        processes[3].send_signal(signal.SIGKILL)
        processes[3].wait()
        asyncio.run(produce(settings, raw[half:]))
        processes[3] = start(env, logs[3], *commands[3])
        # and the assign process, past the first half: the assignments after its commit are
        # written again (copies, which the page processes skip)
        wait_for(lambda: asyncio.run(committed(settings, fold_group(settings, pages=False),
                                               source)) > half,
                 "the assign process to pass the first half", 300, logs, processes)
        processes[2].send_signal(signal.SIGKILL)
        processes[2].wait()
        processes[2] = start(env, logs[2], *commands[2])
        wait_for(lambda: asyncio.run(committed(settings, fold_group(settings, pages=False),
                                               source)) >= total,
                 "the assign process to commit every source offset", 300, logs, processes)
        wait_for(lambda: pages_done(settings), "the page processes to commit their partitions",
                 300, logs, processes)
    finally:
        for process in processes:
            stop(process)

    check_stage_output(settings, raw, total)
    # the facts and the assignments carry the article's produce time (the page processes'
    # lag and produce-to-update latency count from it), copies written after kills too
    produced = asyncio.run(timestamps(settings, settings.articles))
    for topic in (settings.facts, settings.assignments):
        carried = asyncio.run(timestamps(settings, topic))
        assert carried and all(stamps == produced[o] for o, stamps in carried.items()), topic
    result = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mismatched" in result.stdout and "0 missing" in result.stdout, result.stdout
    # every story merged away had its last whole page taken off the compacted pages topic
    absorbed = {orjson.loads(value)["absorbed_id"].encode()
                for _, value in asyncio.run(records(settings, settings.story_updates))
                if value is not None and b'"event_type":"StoryMerged"' in value}
    latest = dict(asyncio.run(records(settings, settings.story_pages)))
    assert len(absorbed) >= 3 and all(latest.get(key, b"") is None for key in absorbed), (
        absorbed, {key: latest.get(key) is None for key in absorbed})
    page_log = logs[3].read_text()
    assert page_log.count('"page_started"') == 2, page_log[-3000:]
    restarted = [line for line in page_log.splitlines() if '"page_started"' in line][1]
    assert '"source": "snapshot"' in restarted, restarted
    assert '"state_ready"' in page_log  # the restarted one folded its tail up to the commit
    # page 0 heard of every story merged into one of its stories from the other partition
    # (their number follows the clustering of the first articles: counted from the log)
    moved_in = sum(1 for _, value in asyncio.run(records(settings, settings.story_updates))
                   if value is not None and b'"event_type":"StoryMerged"' in value
                   and page_partition(orjson.loads(value)["survivor_id"], 2) == 0
                   and page_partition(orjson.loads(value)["absorbed_id"], 2) == 1)
    assert moved_in >= 1
    assert page_log.count('"story_moved_in"') == moved_in, page_log[-3000:]
    assert '"facts_read_back"' in page_log  # by position, from the facts topic
    for name, text in zip(names, (p.read_text() for p in logs), strict=True):
        assert '"level": "error"' not in text, f"{name}: {text[-3000:]}"
