"""Records of another producer on the stages' own topics, on a real broker.

The facts and assignments topics are logs between the stages, but nothing stops another
producer (a tool pointed at the wrong topic, a test run against production) from writing to
them. Such a record used to stop the fold, assign or page process that met it
(``ValueError: not a facts record``, a pydantic ValidationError); its supervisor started it
again on the same record six times and then stopped every stage, for good. Now a record
that names no source offset (no headers, a tombstone) is dead-lettered and passed over, and
a facts record whose value cannot be the facts of the offset it names (garbage, another
schema version, another offset's facts, a broken dead marker) is dead-lettered and that
offset folded from the article itself (the facts are a function of the article), so the
revisions are still the fold of the articles log (``replay --verify``).

Repro scripts: /tmp/faults/poison_facts.sh, /tmp/faults/poison_pages.sh (the review).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from background import poll, running
from test_recreated_log import apply_topics, article, send

from storyline.domain.events import DeadLetter, StoryUpdated
from storyline.domain.pipeline import PIPELINE_VERSION
from storyline.settings import Settings
from storyline.stream.logreader import read_events, read_partition

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]
STRIPES = 2  # deploy/topics.toml: the facts and assignments topics' partitions


def _headers(source_offset: int, kind: bytes) -> list[tuple[str, bytes]]:
    return [("source-offset", str(source_offset).encode()),
            ("pipeline-version", PIPELINE_VERSION.encode()), ("kind", kind)]


async def _facts_value(settings: Settings, partition: int) -> bytes:
    """A facts record the extract stage wrote (another offset's facts, for a forgery)."""
    async for record in read_partition(settings.bootstrap_servers, settings.facts, partition,
                                       stop=1):
        assert record.value is not None
        return record.value
    raise AssertionError("no facts record yet")


async def _poison(settings: Settings, next_offset: int, *, assignments: bool) -> list[str]:
    """Write the poison; the error types the stages must dead-letter it with."""
    other = await _facts_value(settings, 0)
    future = json.loads(other)
    future["schema_version"] = 99
    future["position"]["offset"] = next_offset + 3
    facts = settings.facts
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers,
                                max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        records: list[tuple[str, int, bytes | None, list[tuple[str, bytes]] | None]] = [
            (facts, 0, b"not a facts record", None),
            (facts, 1, None, None),  # a tombstone without headers
            (facts, 0, b"x" * (2 * 1024 * 1024), None),  # large
            # the records of offsets not written yet, so they come before the extract stage's
            (facts, next_offset % STRIPES, b"garbage{", _headers(next_offset, b"extracted")),
            (facts, (next_offset + 1) % STRIPES, b'{"x": 1}',
             _headers(next_offset + 1, b"dead")),
            (facts, (next_offset + 2) % STRIPES, other,
             _headers(next_offset + 2, b"extracted")),
            (facts, (next_offset + 3) % STRIPES, json.dumps(future).encode(),
             _headers(next_offset + 3, b"extracted")),
        ]
        if assignments:
            for partition in range(STRIPES):
                records += [
                    (settings.assignments, partition, b"not an assignment", None),
                    (settings.assignments, partition, None, None),
                    (settings.assignments, partition, b'{"schema_version": 7}',
                     _headers(999_999, b"x")[:2]),
                ]
        for topic, partition, value, headers in records:
            await producer.send_and_wait(topic, value, key=b"poison", partition=partition,
                                         headers=headers)
    finally:
        await producer.stop()
    expected = ["NotFactsRecord"] * 3 + ["UnreadableFacts"] * 4
    return expected + (["NotAnAssignment"] * 3 * STRIPES if assignments else [])


@pytest.mark.parametrize("page_processes", ["0", "2"], ids=["fold", "page-processes"])
async def test_records_of_another_producer_on_the_stage_topics_are_dead_letters(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
    page_processes: str,
) -> None:
    env = dict(command_env, STORYLINE_LOG_LEVEL="info", STORYLINE_COMMIT_INTERVAL="0.5",
               STORYLINE_PAGE_PROCESSES=page_processes)
    settings = settings_for(env)
    apply_topics(env)
    await send(settings, [article("bridge", i) for i in range(4)])
    with running([*STORYLINE, "worker"], env, tmp_path / "worker.log", ROOT) as logged:
        assert poll(lambda: logged().count('"story_updated"') >= 4, 150), logged()[-3000:]
        expected = await _poison(settings, 4, assignments=page_processes != "0")
        await send(settings, [article("bridge", i) for i in range(4, 10)])
        assert poll(lambda: logged().count('"story_updated"') >= 10, 150), logged()[-5000:]
        status = subprocess.run([*STORYLINE, "status", "--wait", "--timeout", "60"], env=env,
                                capture_output=True, text=True, timeout=120, cwd=ROOT)
        text = logged()
    assert "exited with" not in text, text[-5000:]  # no stage process died
    assert status.returncode == 0, status
    letters = [event async for event in read_events(settings.bootstrap_servers,
                                                     settings.dead_letters)
               if isinstance(event, DeadLetter)]
    assert sorted(letter.error_type for letter in letters) == sorted(expected), letters
    revisions = [(event.story_id, event.revision) async for event in read_events(
        settings.bootstrap_servers, settings.story_updates) if isinstance(event, StoryUpdated)]
    assert sorted(r for _, r in revisions) == list(range(1, 11)), revisions  # every article
    verify = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert verify.returncode == 0 and "0 mismatched" in verify.stdout, verify



async def test_the_stage_replays_pass_over_records_of_another_producer(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    """``replay --stage assign|page`` read the facts and assignments topics as the live
    stages do: a record that names no source offset is passed over. They used to stop at
    it ("a record of the assign stage's input cannot be read: not a facts record")."""
    env = dict(command_env, STORYLINE_LOG_LEVEL="info", STORYLINE_COMMIT_INTERVAL="0.5",
               STORYLINE_PAGE_PROCESSES="2")
    settings = settings_for(env)
    apply_topics(env)
    await send(settings, [article("bridge", i) for i in range(3)])
    with running([*STORYLINE, "worker"], env, tmp_path / "worker.log", ROOT) as logged:
        assert poll(lambda: logged().count('"story_updated"') >= 3, 150), logged()[-3000:]
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        await producer.start()
        try:
            for topic in (settings.facts, settings.assignments):
                for partition in range(STRIPES):
                    await producer.send_and_wait(topic, b"junk", key=b"k", partition=partition)
                    await producer.send_and_wait(topic, None, key=b"k", partition=partition)
        finally:
            await producer.stop()
        await send(settings, [article("bridge", i) for i in range(3, 6)])
        assert poll(lambda: logged().count('"story_updated"') >= 6, 150), logged()[-3000:]
        subprocess.run([*STORYLINE, "status", "--wait", "--timeout", "60"], env=env,
                       capture_output=True, timeout=120, cwd=ROOT)
    for stage in ("assign", "page"):
        replay = subprocess.run([*STORYLINE, "replay", "--stage", stage, "--verify"], env=env,
                                capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert replay.returncode == 0 and "0 mismatched" in replay.stdout, (stage, replay)
