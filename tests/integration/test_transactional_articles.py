"""Articles written to the log in a producer's transaction, on a real broker. The log of
record is what a read_committed reader sees: `storyline replay`, the stages and `storyline
status` read it so. The single-process worker (faust, at least once) read it
read_uncommitted, so an aborted transaction's articles became stories that replay never
made, and `replay --verify` rejected them. Now every reader sees the committed log."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from background import poll, running
from test_recreated_log import article

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived
from storyline.ingest.producer import ArticleProducer
from storyline.settings import Settings

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]


async def in_transaction(settings: Settings, articles: list[ArticleReceived], *,
                         commit: bool) -> None:
    """``articles`` on the log's partition in one transaction, committed or aborted."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers,
                                transactional_id=f"it-txn-{commit}", enable_idempotence=True)
    await producer.start()
    try:
        await producer.begin_transaction()
        for item in articles:
            await producer.send_and_wait(settings.articles, canonical_bytes(item),
                                         key=item.uri.encode(), partition=0)
        if commit:
            await producer.commit_transaction()
        else:
            await producer.abort_transaction()
    finally:
        await producer.stop()


async def test_an_aborted_transaction_on_the_log_is_never_folded(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    env = dict(command_env, STORYLINE_LOG_LEVEL="info")
    settings = settings_for(env)
    subprocess.run([*STORYLINE, "topics", "apply"], env=env, capture_output=True, timeout=120,
                   cwd=ROOT, check=True)
    async with ArticleProducer(settings) as producer:
        await producer.send(article("bridge", 0))
    await in_transaction(settings, [article("ghost", i) for i in range(3)], commit=False)
    await in_transaction(settings, [article("tunnel", 0)], commit=True)
    async with ArticleProducer(settings) as producer:
        await producer.send(article("bridge", 1))

    with running([*STORYLINE, "worker", "--single"], env, tmp_path / "worker.log",
                 ROOT) as logged:
        assert poll(lambda: "urn:it:again:bridge:1" in logged(), 120), logged()[-3000:]
        text = logged()
    folded = [line for line in text.splitlines() if '"story_updated"' in line]
    assert not any("urn:it:again:ghost" in line for line in folded), folded
    assert any("urn:it:again:tunnel:0" in line for line in folded), folded
    assert len(folded) == 3, folded

    verify = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
