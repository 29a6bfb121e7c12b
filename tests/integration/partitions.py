"""Partitions added to a topic that already holds records, as an operator's
`kafka-topics --alter --partitions N` would."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from storyline.domain.events import ArticleReceived
from storyline.ingest.producer import ArticleProducer
from storyline.settings import Settings

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]


async def grow_partitions(bootstrap_servers: str, topic: str, total: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(total_count=total)})
    finally:
        await admin.close()


def run(env: dict[str, str], *args: str, timeout: float = 120
        ) -> subprocess.CompletedProcess[str]:
    """`storyline ARGS` with ``env``, its output kept."""
    return subprocess.run([*STORYLINE, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


async def folded_then_grown(env: dict[str, str], settings: Settings, pages: int,
                            topic: Callable[[Settings], str], total: int,
                            worker: tuple[str, ...] = ()) -> Settings:
    """Four articles of one story folded by `storyline worker --page-processes PAGES
    [WORKER...]` to the last revision, the worker stopped; then ``topic`` grown to ``total``
    partitions (``settings``: those of ``env``)."""
    assert run(env, "topics", "apply").returncode == 0
    async with ArticleProducer(settings) as producer:
        for i in range(4):
            await producer.send(ArticleReceived(
                uri=f"urn:it:grown:{i}", version=1, source="Wire",
                body=f"Work on the harbour tunnel went on for a {i}th day.",
                published=dt.datetime(2026, 3, 1, 8, i, tzinfo=dt.UTC)))
    process = subprocess.Popen([*STORYLINE, "worker", "--page-processes", str(pages), *worker],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=ROOT)
    try:
        waited = run(env, "status", "--wait", "--timeout", "150", "--page-processes",
                     str(pages), timeout=200)
        assert waited.returncode == 0, waited
    finally:
        process.terminate()
        process.wait(timeout=90)
    await grow_partitions(settings.bootstrap_servers, topic(settings), total)
    return settings
