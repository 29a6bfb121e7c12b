"""`storyline status` on a real broker when the page stage runs as processes of its own
(`STORYLINE_PAGE_PROCESSES=2`, `storyline worker --page-processes 2`: extract x N, assign,
page x 2 under one supervisor). The worker's own group then never commits: status watches
the articles log against the assign process's group and each partition of the assignments
topic against its page process's group, says "caught up" once every revision is published,
and misses the worker once it is gone.

The worker and the status command are the subprocesses an operator starts, so the exit codes
and messages are exactly what an operator (or a script) sees.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from test_stages_kafka import (
    ARTICLES,
    committed,
    env,
    produce,
    start,
    stop,
)
from test_status import status

from storyline.replay import records_from_files
from storyline.settings import Settings
from storyline.stream.fold_stage import fold_group
from storyline.stream.logreader import end_offsets
from storyline.stream.page_stage import page_group

pytestmark = pytest.mark.integration

__all__ = ["env"]  # the fixture, shared with test_stages_kafka

PAGES = 2  # the assignments topic's partitions (deploy/topics.toml)
FIRST = 30  # articles the worker folds while status --wait watches
MORE = 5  # articles produced once it is gone
# every STEP-th article of the file: a few of its timelines, so stories (hence assignments)
# of both page partitions, where its first articles are all one story's
STEP = 40


@pytest.fixture()
def pages_env(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The staged worker's environment with the page stage as processes; status reads the
    same STORYLINE_PAGE_PROCESSES, as an operator's shell has it for both."""
    yield dict(env, STORYLINE_PAGE_PROCESSES=str(PAGES), STORYLINE_WORKER_METRICS_PORT="0")


def page_commits(settings: Settings) -> dict[int, tuple[int, int]]:
    """partition -> (end of that assignments partition, its page group's commit)."""
    ends = asyncio.run(end_offsets(settings.bootstrap_servers, settings.assignments))
    return {p: (end, asyncio.run(committed(settings, page_group(settings, p),
                                           TopicPartition(settings.assignments, p))))
            for p, end in sorted(ends.items())}


def test_status_watches_the_assign_and_page_processes_then_misses_them(
        pages_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    from storyline.commands.status import STAGE_ALIVE_SECONDS

    settings = settings_for(pages_env)
    log = records_from_files([ARTICLES], settings.articles, STEP * (FIRST + MORE))
    raw = [(key or b"", value or b"") for key, value, _ in log[::STEP]]
    assert len(raw) == FIRST + MORE
    asyncio.run(produce(settings, raw[:FIRST]))

    worker_log = tmp_path / "worker.log"
    worker = start(pages_env, worker_log, "--page-processes", str(PAGES))
    try:
        # five processes start on a small machine: generous limits, none of which is what
        # ends the wait when all goes well (caught up does)
        code, out, _ = status(pages_env, "--wait", "--timeout", "300", "--stuck-after", "120",
                              "--grace", "120", timeout=360)
        tail = worker_log.read_text()[-3000:]
        assert code == 0, out + tail
        assert "caught up, every revision is published" in out, out
        assert f"articles log: {FIRST} records; assign committed: {FIRST}; lag: 0" in out, out
        assert f"group {fold_group(settings, pages=False)}: " in out
        assert "no worker" not in out, out
        # both page legs, each committed to the end of its partition of the assignments
        found = {int(p): (int(end), int(done)) for p, end, done in re.findall(
            r"assignments partition (\d+): (\d+) records; page-\1 committed: (\d+); lag: 0",
            out)}
        assert sorted(found) == list(range(PAGES)), out
        assert all(end == done for end, done in found.values()), out
        assert all(end > 0 for end, _ in found.values()), out  # each has stories
        for partition in range(PAGES):
            assert f"group {page_group(settings, partition)}: " in out, out
        # what the report says is what the page groups have committed
        assert {p: end for p, (end, _) in page_commits(settings).items()} == {
            p: end for p, (end, _) in found.items()}
    finally:
        stop(worker)  # SIGTERM: the supervisor passes it on to every stage
    assert worker.returncode == 0, worker_log.read_text()[-3000:]
    stopped = time.monotonic()

    asyncio.run(produce(settings, raw[FIRST:]))
    # the stages' last commits are fresh: they look alive, merely behind, for a while
    code, out, _ = status(pages_env)
    if time.monotonic() - stopped < STAGE_ALIVE_SECONDS - 5:
        assert code == 3, out
        assert "the assign stage consuming" in out, out
    # once that has passed, --wait says so instead of waiting out its timeout
    code, out, _ = status(pages_env, "--wait", "--timeout", "90", "--grace", "0", timeout=120)
    assert code == 4, out
    assert time.monotonic() - stopped < STAGE_ALIVE_SECONDS + 20
    # and one look, with small thresholds, as well: the assign leg is the one with records
    # waiting (nothing new was assigned, so the page legs have nothing to do)
    code, out, _ = status(pages_env, "--stuck-after", "5", "--grace", "0")
    assert code == 4, out
    assert (f"assign (group {fold_group(settings, pages=False)}): no worker is consuming "
            f"{settings.articles}: {MORE} records waiting") in out, out
    assert f"articles log: {FIRST + MORE} records; assign committed: {FIRST}; lag: {MORE}" in out
    for partition in range(PAGES):
        assert re.search(rf"assignments partition {partition}: \d+ records; "
                         rf"page-{partition} committed: \d+; lag: 0", out), out
