"""The extract stage over Kafka with two stripes and the fold stage from the facts topic, on a
real broker and the timeline17 dev articles (docs/stages.md, step 3): the revisions are the
single-process worker's byte for byte, `replay --verify` passes, and a SIGKILLed extract
process restarted from its commit loses nothing.

Each stage runs as the subprocess an operator starts (`storyline worker --stage ...`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived, StoryUpdated
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.domain.records import handle_record
from storyline.domain.upcasting import decode_any, decode_event
from storyline.replay import records_from_files
from storyline.settings import Settings
from storyline.stream.extract_stage import extract_group
from storyline.stream.facts import FactsRecord
from storyline.stream.logreader import (
    FETCH_LIMITS,
    FETCH_PARTITION_BYTES,
    end_offsets,
    read_partition,
)
from storyline.stream.worker import app_id, story_key

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ARTICLES = (Path(__file__).resolve().parents[2].parent
            / "shared/data/timeline17-dev/articles.jsonl")
# enough for each kill to fall mid-log (the fold's after its snapshot at 50 records and past
# the first half), for several revisions of several stories and for both dead letters
COUNT = 120
POISON_AT = 37


@pytest.fixture()
def env(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    if not ARTICLES.exists():
        pytest.skip(f"{ARTICLES} is missing")
    environment = dict(os.environ)
    environment.update({
        "STORYLINE_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "STORYLINE_TOPIC_PREFIX": topic_prefix,
        "STORYLINE_DATA_DIR": str(tmp_path / "data"),
        "STORYLINE_COMMIT_INTERVAL": "0.2",
        "STORYLINE_SNAPSHOT_EVERY": "50",
        # the operations endpoints off: the default ports (9465 + i) are every test's, and
        # a stage of this test found its port held by another test's on the other worker
        # (tests that probe them set their own ports)
        "STORYLINE_WORKER_METRICS_PORT": "0",
    })
    subprocess.run([*STORYLINE, "topics", "apply"], env=environment, check=True,
                   capture_output=True, timeout=120)
    yield environment


async def produce(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                enable_idempotence=True, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for key, value in records:
            await producer.send(settings.articles, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


async def committed(settings: Settings, group: str, tp: TopicPartition) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        found = await consumer.committed(tp)
        return found if found is not None and found >= 0 else 0
    finally:
        await consumer.stop()


def start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*STORYLINE, "worker", *args], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(check: Callable[[], bool], what: str, timeout: float, logs: list[Path],
             running: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(p.poll() is None for p in running):
        if check():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs if p.exists())
    raise AssertionError(f"gave up waiting for {what} (timeout or a stage exited)\n{tails}")


async def read_values(settings: Settings, topic: str) -> list[tuple[int, bytes, object]]:
    out: list[tuple[int, bytes, object]] = []
    ends = await end_offsets(settings.bootstrap_servers, topic)
    for partition, end in sorted(ends.items()):
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           stop=end):
            out.append((partition, record.value, record.headers))
    return out


def log_with_poison(settings: Settings, count: int) -> list[tuple[bytes, bytes]]:
    """The first ``count`` dev articles as raw records, with a poison record at
    ``POISON_AT`` and, at the end, the first article again under its uri and version with
    other text: a ConflictingVersion dead letter, which the fold writes with the article's
    own record read back from the log."""
    log = records_from_files([ARTICLES], settings.articles, count)
    raw = [(key or b"", value or b"") for key, value, _ in log]
    raw.insert(POISON_AT, (b"k", b'{"event_type": "ArticleReceived", "uri": 42}'))
    first = decode_event(raw[0][1], ArticleReceived)
    conflicting = first.model_copy(update={"body": first.body + "\nOther text."})
    raw.append((raw[0][0], canonical_bytes(conflicting)))
    return raw


def test_two_extract_stripes_and_the_fold_give_the_workers_revisions(
        env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    settings = settings_for(env)
    raw = log_with_poison(settings, COUNT)
    total = len(raw)
    half = total // 2
    asyncio.run(produce(settings, raw[:half]))

    logs = [tmp_path / "extract-0.log", tmp_path / "extract-1.log", tmp_path / "fold.log"]
    stripe_1 = TopicPartition(settings.articles, 0)
    extract = [start(env, logs[i], "--stage", "extract", "--stripe", str(i), "--stripes", "2")
               for i in range(2)]
    fold = start(env, logs[2], "--stage", "fold")
    try:
        # SIGKILL stripe 1 as soon as it has committed something: no clean shutdown, its
        # sent-but-uncommitted records are written again after the restart
        wait_for(lambda: asyncio.run(committed(settings, extract_group(settings, 1, 2),
                                               stripe_1)) > 0,
                 "stripe 1 to commit", 180, logs, [*extract, fold])
        extract[1].send_signal(signal.SIGKILL)
        extract[1].wait()
        asyncio.run(produce(settings, raw[half:]))
        time.sleep(1.0)
        extract[1] = start(env, logs[1], "--stage", "extract", "--stripe", "1",
                           "--stripes", "2")
        # and SIGKILL the fold once it is past the first half: it rebuilds to its commit from
        # its snapshot and the log, resumes the facts at its committed offsets, and publishes
        # again what came after the commit (the same bytes)
        wait_for(lambda: asyncio.run(committed(settings, app_id(settings), stripe_1)) > half,
                 "the fold to pass the first half", 600, logs, [*extract, fold])
        fold.send_signal(signal.SIGKILL)
        fold.wait()
        fold = start(env, logs[2], "--stage", "fold")
        wait_for(lambda: asyncio.run(committed(settings, app_id(settings), stripe_1)) >= total,
                 "the fold to commit every source offset", 600, logs, [*extract, fold])
    finally:
        for process in (*extract, fold):
            stop(process)

    # replay --verify runs meanwhile (a process of its own; its verdict is asserted below)
    replay = subprocess.Popen([*STORYLINE, "replay", "--verify"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        check_stage_output(settings, raw, total)
        stdout, stderr = replay.communicate(timeout=600)
    finally:
        if replay.poll() is None:
            replay.kill()
            replay.wait()
    assert replay.returncode == 0, stdout + stderr
    assert "0 mismatched" in stdout and "0 missing" in stdout
    # each stage from its input topic: the assignments the fold wrote (again after its
    # SIGKILL: copies) are the assign stage's from the facts, and the page stage from those
    # assignments gives every published revision
    for stage in (["assign"], ["page"], ["page", "--processes", "2"]):
        result = subprocess.run([*STORYLINE, "replay", "--verify", "--stage", *stage],
                                env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 mismatched" in result.stdout and "0 missing" in result.stdout, result.stdout
        assert "0 unexpected" in result.stdout, result.stdout
    assert logs[1].read_text().count("extract_started") == 2
    restarted = [line for line in logs[2].read_text().splitlines() if "state_ready" in line]
    assert len(restarted) == 2 and '"source": "snapshot"' in restarted[1], restarted


def test_one_process_running_both_stripes_loses_nothing_to_a_sigkill(
        env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    """`--stage extract --stripe 0 --stripe 1`: the two stripes of a two-core machine's
    default worker in one process, each with its own group and commits; SIGKILLed once both
    have committed, restarted, and the facts and revisions are those of two processes."""
    settings = settings_for(env)
    raw = log_with_poison(settings, COUNT)
    total = len(raw)
    source = TopicPartition(settings.articles, 0)
    asyncio.run(produce(settings, raw[:total // 2]))
    logs = [tmp_path / "extract.log", tmp_path / "fold.log"]
    both = ("--stage", "extract", "--stripe", "0", "--stripe", "1", "--stripes", "2")
    extract = start(env, logs[0], *both)
    fold = start(env, logs[1], "--stage", "fold")
    groups = [extract_group(settings, stripe, 2) for stripe in range(2)]
    try:
        wait_for(lambda: all(asyncio.run(committed(settings, group, source)) > 0
                             for group in groups),
                 "both stripes to commit", 180, logs, [extract, fold])
        extract.send_signal(signal.SIGKILL)
        extract.wait()
        asyncio.run(produce(settings, raw[total // 2:]))
        extract = start(env, logs[0], *both)
        wait_for(lambda: asyncio.run(committed(settings, app_id(settings), source)) >= total,
                 "the fold to commit every source offset", 600, logs, [extract, fold])
        wait_for(lambda: all(asyncio.run(committed(settings, group, source)) >= total
                             for group in groups),
                 "both stripes to commit the end of the log", 60, logs, [extract, fold])
    finally:
        for process in (extract, fold):
            stop(process)
    check_stage_output(settings, raw, total)
    text = logs[0].read_text()
    assert text.count('"extract_started"') == 4 and text.count('"extract_stopped"') == 2


def check_stage_output(settings: Settings, raw: list[tuple[bytes, bytes]], total: int
                       ) -> None:
    """The facts, revisions and dead letters the stages wrote, against the single-process
    worker's core run in process."""
    # the facts topic: every source offset, each in its stripe's partition, no gaps
    facts = asyncio.run(read_values(settings, settings.facts))
    offsets: dict[int, set[bytes]] = {}
    for partition, value, headers in facts:
        record = FactsRecord.from_kafka(None, value, headers)  # type: ignore[arg-type]
        assert record.source_offset % 2 == partition
        offsets.setdefault(record.source_offset, set()).add(record.value)
    assert sorted(offsets) == list(range(total))
    assert all(len(values) == 1 for values in offsets.values())  # copies are identical

    # the single-process worker's revisions and dead letters (its core, in process), byte
    # for byte and in the same order per story
    pipeline = Pipeline()
    want: list[bytes] = []
    want_dead: list[bytes] = []
    for offset, (key, value) in enumerate(raw):
        outcome = handle_record(pipeline, key, value, LogPosition(settings.articles, 0, offset),
                                max_bytes=settings.max_article_bytes)
        want.extend(canonical_bytes(e) for e in outcome.events)
        if outcome.dead_letter is not None:
            want_dead.append(canonical_bytes(outcome.dead_letter))
    updates = asyncio.run(read_values(settings, settings.story_updates))
    published = list(dict.fromkeys(value for _, value, _ in updates))  # a redelivery: once
    assert sorted(published) == sorted(want)
    by_story: dict[bytes, list[bytes]] = {}
    for value in want:
        by_story.setdefault(story_key(decode_any(value)), []).append(value)  # type: ignore[arg-type]
    for value in published:
        assert by_story[story_key(decode_any(value))].pop(0) == value  # type: ignore[arg-type]
    assert sum(isinstance(decode_any(v), StoryUpdated) for v in want) >= COUNT // 2
    dead = [value for _, value, _ in asyncio.run(read_values(settings, settings.dead_letters))]
    assert dead == want_dead and len(dead) == 2
    assert b"ConflictingVersion" in dead[1]


def test_stage_all_runs_extract_and_fold_as_processes_and_stops_on_sigterm(
        env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    """`storyline worker --stage all`: two extract stripes and the fold under one
    supervisor, which passes SIGTERM on; the revisions verify."""
    settings = settings_for(env)
    log = records_from_files([ARTICLES], settings.articles, 40)
    raw = [(key or b"", value or b"") for key, value, _ in log]
    asyncio.run(produce(settings, raw))
    logs = [tmp_path / "all.log"]
    supervisor = start(env, logs[0], "--stage", "all")
    source = TopicPartition(settings.articles, 0)
    try:
        wait_for(lambda: asyncio.run(committed(settings, app_id(settings), source)) >= len(raw),
                 "the fold to commit every source offset", 600, logs, [supervisor])
    finally:
        supervisor.send_signal(signal.SIGTERM)
        code = supervisor.wait(timeout=90)
    assert code == 0, logs[0].read_text()[-3000:]
    text = logs[0].read_text()
    assert text.count('"extract_stopped"') == 2 and '"fold_stopped"' in text
    result = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mismatched" in result.stdout and "0 missing" in result.stdout


def test_an_extract_stripe_on_missing_topics_stops_and_creates_none(
        env: dict[str, str], settings_for: Callable[..., Settings]) -> None:
    """A wrong prefix: the stripe says which topic is missing and leaves the cluster as it
    was (the broker auto-creates a topic asked for by name, with its own partition count)."""
    from storyline.stream.extract_stage import run_extract
    from storyline.stream.logreader import end_offsets

    wrong = settings_for(env, topic_prefix=env["STORYLINE_TOPIC_PREFIX"] + "typo.",
                         stage_metrics_port=0, worker_metrics_port=0)
    with pytest.raises(RuntimeError, match="does not exist: storyline topics apply"):
        asyncio.run(asyncio.wait_for(run_extract(wrong, 0, 2), timeout=60))
    for topic in (wrong.articles, wrong.facts):
        assert asyncio.run(end_offsets(wrong.bootstrap_servers, topic, missing_ok=True)) == {}, (
            topic)


def test_a_record_larger_than_a_fetch_is_read_whole(
    env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    """The stages fetch at most FETCH_PARTITION_BYTES of a partition at a time (their
    memory ahead of the work), and a facts record may be larger (up to the topic's 16 MB):
    the broker hands it over whole, to the group consumers the stages use and to replay."""
    settings = settings_for(env)
    big = bytes(range(256)) * (5 * FETCH_PARTITION_BYTES // 256)  # > FETCH_BYTES too
    values = [b"before", big, b"after"]

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                    max_request_size=8 * FETCH_PARTITION_BYTES)
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(settings.facts, value=value, partition=0)
        finally:
            await producer.stop()
        replayed = [v for _, v, _ in await read_values(settings, settings.facts)]
        tp = TopicPartition(settings.facts, 0)
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                    group_id=settings.topic("big-record"),
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    isolation_level="read_committed", **FETCH_LIMITS)
        await consumer.start()
        grouped: list[bytes] = []
        try:
            consumer.assign([tp])
            deadline = time.monotonic() + 60
            while len(grouped) < len(values) and time.monotonic() < deadline:
                batches = await consumer.getmany(tp, timeout_ms=500)
                grouped.extend(record.value or b"" for record in batches.get(tp, ()))
        finally:
            await consumer.stop()
        return replayed, grouped

    replayed, grouped = asyncio.run(scenario())
    assert replayed == values
    assert grouped == values
