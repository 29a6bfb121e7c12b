"""``storyline replay --verify`` against a worker that committed past what it published, on a
real broker (the review of 2026-12-06: a full disk made the fold dead-letter every later
article and commit past it; ``/tmp/faults/disk_full.sh`` on the old code: 155 of 300 articles
lost, verify "OK")."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata
from background import poll, running
from test_recreated_log import apply_topics, article, send
from test_replaced_log import commit_again

from storyline.settings import Settings
from storyline.stream.worker import app_id

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]


async def test_verify_finds_revisions_lost_after_the_last_one_published(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    """A worker that commits past articles it never published (before 2026-12-06, every
    article after a cold store failure: dead-lettered, committed, "caught up") is caught by
    ``replay --verify``: the revisions caused below the worker's commit must be published.
    It used to count as missing only the revisions caused before the last one published,
    so a loss at the tail of the log passed as OK."""
    env = dict(command_env, STORYLINE_LOG_LEVEL="info", STORYLINE_COMMIT_INTERVAL="0.5")
    settings = settings_for(env)
    apply_topics(env)
    await send(settings, [article("bridge", i) for i in range(3)])
    with running([*STORYLINE, "worker"], env, tmp_path / "worker.log", ROOT) as logged:
        assert poll(lambda: logged().count('"story_updated"') >= 3, 150), logged()[-3000:]
    ok = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                        text=True, timeout=300, cwd=ROOT)
    assert ok.returncode == 0, ok
    await send(settings, [article("bridge", i) for i in range(3, 5)])
    # the worker's commit as a worker that lost the two would leave it
    source = TopicPartition(settings.articles, 0)
    await commit_again(settings, app_id(settings), {source: OffsetAndMetadata(5, "")})
    lost = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert lost.returncode == 1, lost
    assert "2 missing" in lost.stdout, lost
