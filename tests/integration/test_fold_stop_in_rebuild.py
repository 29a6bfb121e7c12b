"""A fold stage asked to stop while it rebuilds its state stops then, not after the rebuild.

After its supervisor is SIGKILLed a fold gets SIGTERM from the kernel; its successor waits
for the state directory until it has gone (storyline.stream.statelock). A rebuild from
offset 0 takes minutes on a long log, and its result would be thrown away: it is cut short,
and nothing is committed (the state is short of the commit)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from storyline.replay import records_from_files
from storyline.settings import Settings
from storyline.stream.worker import app_id

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ARTICLES = (Path(__file__).resolve().parents[2].parent
            / "shared/data/timeline17-dev/articles.jsonl")
COUNT = 400


async def _prefill(settings: Settings) -> None:
    values = records_from_files([ARTICLES], settings.articles, COUNT)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for key, value, _ in values:
            await producer.send(settings.articles, key=key, value=value, partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    await _commit(settings, COUNT)


async def _commit(settings: Settings, offset: int | None = None) -> int:
    """Commit ``offset`` for the worker's group (None: only read what is committed)."""
    tp = TopicPartition(settings.articles, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                group_id=app_id(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        if offset is not None:
            await consumer.commit({tp: offset})
        found = await consumer.committed(tp)
        return int(found) if found is not None else -1
    finally:
        await consumer.stop()


def _events(log: Path) -> list[str]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(str(json.loads(line).get("event")))
            except ValueError:
                continue
    return out


@pytest.mark.skipif(not ARTICLES.exists(), reason=f"needs the dev corpus at {ARTICLES}")
def test_sigterm_during_the_rebuild_stops_the_fold_without_a_commit(
        kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update({"STORYLINE_BOOTSTRAP_SERVERS": kafka_bootstrap,
                "STORYLINE_TOPIC_PREFIX": topic_prefix,
                "STORYLINE_DATA_DIR": str(tmp_path / "data"),
                "STORYLINE_SNAPSHOT_EVERY": "0",  # the rebuild folds from offset 0
                "STORYLINE_WORKER_METRICS_PORT": "0"})
    subprocess.run([*STORYLINE, "topics", "apply"], env=env, check=True, capture_output=True,
                   timeout=120)
    settings = Settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    asyncio.run(_prefill(settings))
    log = tmp_path / "fold.log"
    fold = subprocess.Popen([*STORYLINE, "worker", "--stage", "fold"], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "rebuild_started" not in _events(log):
            assert fold.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        time.sleep(1.0)
        fold.send_signal(signal.SIGTERM)
        fold.wait(timeout=60)
    finally:
        if fold.poll() is None:
            fold.kill()
            fold.wait()
    events = _events(log)
    assert "rebuild_stopped" in events, log.read_text()[-3000:]
    # it never went on to fold: the rebuild was cut short, not run to its end
    assert "state_ready" not in events and "fold_started" not in events, events
    assert fold.returncode in (0, -signal.SIGTERM), log.read_text()[-3000:]
    assert asyncio.run(_commit(settings)) == COUNT
