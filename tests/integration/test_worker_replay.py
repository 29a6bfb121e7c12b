"""The whole write path on a real broker: articles in, worker, story-updates out, replay.

The worker runs as the subprocess a user starts (`storyline worker`), with its own topic
prefix and data directory, so the test sees exactly what an operator sees.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived, DeadLetter, StoryUpdated
from storyline.domain.pages import PageFolder
from storyline.domain.upcasting import decode_any
from storyline.settings import Settings
from storyline.stream.logreader import end_offsets, read_partition

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
FLOOD = [
    "The River Arn burst its banks in Lowmere on March 3, 2025, flooding the old town.",
    "More than 2,000 residents of Lowmere were evacuated as the River Arn kept rising.",
    "Lowmere mayor Ines Varga said on March 5 that the Arn flood defences had failed.",
]
STRIKE = [
    "Bus and tram drivers in Castelford walked out on March 4, 2025 over pay.",
    "The Castelford transit strike left 300,000 commuters without trams on Tuesday.",
    "Union leader Tomas Berg said the Castelford drivers want a 9 percent raise.",
]


def make_articles(n: int) -> list[ArticleReceived]:
    out = []
    for i in range(n):
        lines = FLOOD if i % 2 == 0 else STRIKE
        out.append(ArticleReceived(
            uri=f"urn:it:{i}", version=1, source=f"Outlet {i % 3}",
            headline=None, body="\n".join(lines[i % 3:] + lines[: i % 3]),
            published=START + dt.timedelta(hours=i)))
    return out


@pytest.fixture()
def env(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    environment = dict(os.environ)
    environment.update({
        "STORYLINE_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "STORYLINE_TOPIC_PREFIX": topic_prefix,
        "STORYLINE_DATA_DIR": str(tmp_path / "data"),
    })
    subprocess.run([*STORYLINE, "topics", "apply"], env=environment, check=True,
                   capture_output=True, timeout=120)
    yield environment


async def produce(settings: Settings, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(settings.articles, key=b"k", value=value)
    finally:
        await producer.stop()


async def read_all(settings: Settings, topic: str) -> list[bytes]:
    out: list[bytes] = []
    ends = await end_offsets(settings.bootstrap_servers, topic)
    for partition, end in sorted(ends.items()):
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           stop=end):
            out.append(record.value)
    return out


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*STORYLINE, "worker", *args], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)


def wait_caught_up(env: dict[str, str], timeout: float = 180) -> None:
    result = subprocess.run([*STORYLINE, "status", "--wait", "--timeout", str(timeout)],
                            env=env, capture_output=True, text=True, timeout=timeout + 30)
    assert result.returncode == 0, result.stdout + result.stderr


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def test_worker_publishes_revisions_that_replay_verifies(
    env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = settings_for(env)
    articles = make_articles(8)
    values = [canonical_bytes(a) for a in articles[:5]]
    values.insert(2, b'{"event_type": "ArticleReceived", "uri": 42}')  # poison record
    asyncio.run(produce(settings, values))

    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        wait_caught_up(env)
        # a restart in the middle of the log: the rest must continue the same revisions
        stop(worker)
        conflicting = articles[1].model_copy(update={"body": articles[1].body + "\nOther."})
        asyncio.run(produce(settings, [canonical_bytes(a) for a in articles[5:]]
                            + [canonical_bytes(articles[0])]  # and one re-sent item
                            + [canonical_bytes(conflicting)]))  # same version, other text
        worker = start_worker(env, log)
        wait_caught_up(env)
    finally:
        stop(worker)

    updates = [decode_any(v) for v in asyncio.run(read_all(settings, settings.story_updates))]
    revisions = [u for u in updates if isinstance(u, StoryUpdated)]
    by_story: dict[str, list[int]] = {}
    for u in revisions:
        by_story.setdefault(u.story_id, []).append(u.revision)
    assert len(by_story) == 2, log.read_text()[-3000:]
    assert sorted(len(set(r)) for r in by_story.values()) == [4, 4]
    assert max(u.article_count for u in revisions) == 4

    dead = [decode_any(v) for v in asyncio.run(read_all(settings, settings.dead_letters))]
    assert len(dead) == 2 and all(isinstance(d, DeadLetter) for d in dead)
    poison, conflict = sorted(dead, key=lambda d: d.source_offset or 0)
    assert isinstance(poison, DeadLetter) and isinstance(conflict, DeadLetter)
    assert poison.source_offset == 2 and "field" in poison.reason
    assert conflict.source_offset == 10 and conflict.error_type == "ConflictingVersion"
    assert articles[1].uri in conflict.reason and "other content" in conflict.reason
    assert '"dead_letter"' in log.read_text() or "dead_letter" in log.read_text()

    started = time.perf_counter()
    result = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 mismatched" in result.stdout and "0 missing" in result.stdout
    assert f"{len(set((u.story_id, u.revision) for u in revisions))} identical" in result.stdout
    assert time.perf_counter() - started < 120
    # the articles extracted in a process of their own (a short log stays in process by
    # default): the same verdict, the poison record and the conflict dead letters again
    apart = subprocess.run([*STORYLINE, "replay", "--verify", "--extract-processes", "1"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert apart.returncode == 0, apart.stdout + apart.stderr
    assert "extracted in 1 process)" in apart.stdout and "2 dead letters" in apart.stdout
    def verdict(out: str) -> list[str]:  # all but the timed line
        return [line for line in out.splitlines() if not line.startswith("replayed ")]

    assert verdict(apart.stdout) == verdict(result.stdout)

    shown = subprocess.run([*STORYLINE, "story", "show", revisions[-1].story_id],
                           env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    page = PageFolder()
    for update in revisions:
        page.apply(update)
    assert page.pages[revisions[-1].story_id].title in shown.stdout
    assert "Timeline" in shown.stdout


def test_replay_verify_fails_on_a_forged_revision(
    env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = settings_for(env)
    asyncio.run(produce(settings, [canonical_bytes(a) for a in make_articles(3)]))
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        wait_caught_up(env)
    finally:
        stop(worker)
    published = [decode_any(v) for v in asyncio.run(read_all(settings, settings.story_updates))]
    genuine = next(u for u in published if isinstance(u, StoryUpdated))
    forged = genuine.model_copy(update={"changes": genuine.changes.model_copy(
        update={"title": "Forged"})})

    async def publish_forgery() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(settings.story_updates, key=b"x",
                                         value=canonical_bytes(forged))
        finally:
            await producer.stop()

    asyncio.run(publish_forgery())
    result = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1
    assert "1 mismatched" in result.stdout
    # a revision that does not follow its story's last: a reader of the pages stops there,
    # saying which story, and nothing else
    last = max((u for u in published if isinstance(u, StoryUpdated)
                and u.story_id == genuine.story_id), key=lambda u: u.revision)
    forged = last.model_copy(update={"revision": last.revision + 1,
                                     "previous_hash": "sha256:" + "0" * 64})
    asyncio.run(publish_forgery())
    listed = subprocess.run([*STORYLINE, "story", "list"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 2, listed
    assert listed.stderr.startswith(f"cannot rebuild {genuine.story_id}: "), listed.stderr
    assert len(listed.stderr.strip().splitlines()) == 1, listed.stderr  # (no closing errors)


def test_a_restart_folds_from_the_newest_snapshot(
    env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = settings_for(env)
    env = dict(env, STORYLINE_SNAPSHOT_EVERY="2")
    articles = make_articles(9)
    asyncio.run(produce(settings, [canonical_bytes(a) for a in articles[:6]]))
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        wait_caught_up(env)
        newest = f"{5:020d}.snap"  # short of 2 records, taken when the stream went quiet
        deadline = time.monotonic() + 30
        while (not any(p.name == newest for p in (tmp_path / "data").rglob("*.snap"))
               and time.monotonic() < deadline):
            time.sleep(0.2)
    finally:
        stop(worker)
    snapshot_files = sorted((tmp_path / "data" / "worker").rglob("*.snap"))
    assert [p.name for p in snapshot_files][-1] == f"{5:020d}.snap", log.read_text()[-3000:]
    assert len(snapshot_files) <= 3  # pruned to snapshot_keep

    asyncio.run(produce(settings, [canonical_bytes(a) for a in articles[6:]]))
    worker = start_worker(env, log)
    try:
        wait_caught_up(env)
    finally:
        stop(worker)
    text = log.read_text()
    # JSON lines, some behind the terminal codes of faust's spinner
    events = [json.loads(line[line.index("{"):]) for line in text.splitlines()
              if line.rstrip().endswith("}") and "{" in line]
    ready = [e for e in events if e.get("event") == "state_ready"]
    assert ready and ready[-1]["source"] == "snapshot", text[-3000:]
    # the SIGTERM committed offset 6: the state came from the snapshot at 5 and nothing of
    # the log was folded again
    assert ready[-1]["committed"] == 6
    assert ready[-1]["from_offset"] == 6
    assert ready[-1]["records_folded"] == 0

    result = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    # (once seen with 6 of 9 under load, not reproduced alone: the worker's log says why)
    assert "9 identical" in result.stdout, result.stdout + "\n" + log.read_text()[-6000:]
