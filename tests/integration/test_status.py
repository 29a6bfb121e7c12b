"""`storyline status` on a real broker: what it says with no worker, a live one and a dead one.

The worker is the subprocess an operator starts; the status command runs as a subprocess
too, so the exit codes and messages are exactly what an operator (or a script) sees.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived
from storyline.domain.pipeline import PIPELINE_VERSION
from storyline.settings import Settings
from storyline.stream.logreader import end_offsets

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
SESSION_TIMEOUT = 6  # the broker's group.min.session.timeout.ms is 6 s
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
LINES = [
    "The River Arn burst its banks in Lowmere on March 3, 2025, flooding the old town.",
    "More than 2,000 residents of Lowmere were evacuated as the River Arn kept rising.",
    "Lowmere mayor Ines Varga said on March 5 that the Arn flood defences had failed.",
]


def articles(first: int, count: int) -> list[bytes]:
    return [canonical_bytes(ArticleReceived(
        uri=f"urn:status:{i}", version=1, source="Outlet", headline=None,
        body="\n".join(LINES[i % 3:] + LINES[: i % 3]),
        published=START + dt.timedelta(hours=i))) for i in range(first, first + count)]


@pytest.fixture()
def env(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    environment = dict(os.environ)
    environment.update({
        "STORYLINE_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "STORYLINE_TOPIC_PREFIX": topic_prefix,
        "STORYLINE_DATA_DIR": str(tmp_path / "data"),
        "STORYLINE_WORKER_SESSION_TIMEOUT": str(SESSION_TIMEOUT),
        "STORYLINE_LOG_LEVEL": "warning",
    })
    subprocess.run([*STORYLINE, "topics", "apply"], env=environment, check=True,
                   capture_output=True, timeout=120)
    yield environment


def produce(settings: Settings, values: list[bytes]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(settings.articles, key=b"k", value=value)
        finally:
            await producer.stop()

    asyncio.run(send())


def status(env: dict[str, str], *flags: str, timeout: float = 60
           ) -> tuple[int, str, float]:
    """(exit code, stdout and stderr, seconds it took)."""
    started = time.monotonic()
    result = subprocess.run([*STORYLINE, "status", *flags], env=env, capture_output=True,
                            text=True, timeout=timeout)
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def test_no_worker_is_said_at_once_and_wait_does_not_wait_for_ever(
    env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for(env)
    topic = settings.articles
    produce(settings, articles(0, 3))

    code, out, _ = status(env)
    assert code == 4, out
    assert f"no worker is consuming {topic}" in out
    assert "articles log: 3 records; worker committed: 0; lag: 3" in out
    assert "members 0" in out and "last commit: never" in out

    code, out, took = status(env, "--wait", "--timeout", "20", "--stuck-after", "5")
    assert code == 4, out
    assert f"no worker is consuming {topic}" in out
    assert took < 15, f"took {took:.1f} s: waited for the timeout instead of the grace"


def test_with_page_processes_no_worker_names_the_assign_leg_and_shows_every_page_leg(
        env: dict[str, str], settings_for: Callable[..., Settings]) -> None:
    """STORYLINE_PAGE_PROCESSES=2 and no worker: the worker's own group is not looked at
    (it never commits then); the assign process's is, and each assignments partition's page
    group (tests/integration/test_status_pages.py has them with a worker)."""
    from storyline.commands.status import assign_group, page_group

    settings = settings_for(env)
    pages = dict(env, STORYLINE_PAGE_PROCESSES="2")
    produce(settings, articles(0, 3))

    code, out, _ = status(pages)
    assert code == 4, out
    assert (f"assign (group {assign_group(settings)}): no worker is consuming "
            f"{settings.articles}: 3 records waiting") in out
    assert "articles log: 3 records; assign committed: 0; lag: 3" in out
    for partition in (0, 1):
        assert (f"assignments partition {partition}: 0 records; page-{partition} committed: 0; "
                "lag: 0") in out
        assert f"group {page_group(settings, partition)}: state Dead, members 0" in out
    assert "worker committed" not in out

    code, out, took = status(pages, "--wait", "--timeout", "20", "--stuck-after", "5")
    assert code == 4, out
    assert took < 15, f"took {took:.1f} s: waited for the timeout instead of the grace"


def test_a_missing_topic_is_an_error(
    env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    wrong = dict(env, STORYLINE_TOPIC_PREFIX=env["STORYLINE_TOPIC_PREFIX"] + "nope.")
    code, out, _ = status(wrong, "--wait", "--timeout", "20")
    assert code == 1, out
    assert "does not exist" in out
    # ... and asking did not create it (the broker auto-creates topics asked for by name)
    settings = settings_for(wrong)
    assert asyncio.run(end_offsets(settings.bootstrap_servers, settings.articles,
                                  missing_ok=True)) == {}
    code, out, _ = status(wrong)
    assert code == 1 and "does not exist" in out, out


def test_a_live_worker_then_a_dead_one(
    env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = settings_for(env)
    topic = settings.articles
    produce(settings, articles(0, 3))
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([*STORYLINE, "worker", "--single"], env=env, stdout=log.open("ab"),
                              stderr=subprocess.STDOUT)
    try:
        code, out, _ = status(env, "--wait", "--timeout", "40", "--stuck-after", "30")
        assert code == 0, out + log.read_text()[-3000:]
        assert "members 1" in out and "state Stable" in out
        assert "articles log: 3 records; worker committed: 3; lag: 0" in out
        assert "caught up" in out
        assert " s ago (pipeline " in out  # the worker's own commit metadata
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    killed = time.monotonic()

    # dead, but its static membership holds until the session times out (at the earliest
    # SESSION_TIMEOUT less one heartbeat interval after the kill): merely behind
    produce(settings, articles(3, 2))
    code, out, _ = status(env)
    assert "lag: 2" in out, out
    if time.monotonic() - killed < SESSION_TIMEOUT * 0.75 or "members 1" in out:
        assert code == 3, out
        assert "members 1" in out and "behind: 2 records waiting; 1 member consuming" in out
    else:  # a machine too slow to look before the session expired
        assert code == 4, out

    # once the session has expired the group is empty: --wait says so instead of waiting
    code, out, _ = status(env, "--wait", "--timeout", "30", "--stuck-after", "30",
                          "--grace", "0")
    assert code == 4, out
    assert f"no worker is consuming {topic}" in out and "members 0" in out
    assert time.monotonic() - killed < SESSION_TIMEOUT + 10
    code, out, _ = status(env)
    assert code == 4, out


def test_the_staged_worker_is_seen_by_its_commits_then_missed(
    env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    """The default worker (extract x N + fold) has no member in the group: the fold commits
    at least every STAGE_HEARTBEAT seconds with a stage marker, which is what says it is
    consuming; once it is gone, status says so after STAGE_ALIVE_SECONDS."""
    from storyline.commands.status import STAGE_ALIVE_SECONDS

    settings = settings_for(env)
    topic = settings.articles
    produce(settings, articles(0, 3))
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([*STORYLINE, "worker"], env=dict(
        env, STORYLINE_WORKER_METRICS_PORT="0"), stdout=log.open("ab"),
        stderr=subprocess.STDOUT)
    try:
        code, out, _ = status(env, "--wait", "--timeout", "120", "--stuck-after", "60",
                              "--grace", "45", timeout=150)
        assert code == 0, out + log.read_text()[-3000:]
        assert "articles log: 3 records; worker committed: 3; lag: 0" in out
        assert "the fold stage commits without membership, alive" in out
        assert "no worker" not in out
    finally:
        worker.send_signal(signal.SIGKILL)  # kill -9: its stages get SIGTERM and stop
        worker.wait()
    killed = time.monotonic()

    produce(settings, articles(3, 2))
    code, out, _ = status(env)
    if time.monotonic() - killed < STAGE_ALIVE_SECONDS - 5:
        assert code == 3 and "the fold stage consuming" in out, out
    code, out, _ = status(env, "--wait", "--timeout", "90", "--grace", "0", timeout=120)
    assert code == 4, out
    assert f"no worker is consuming {topic}" in out
    assert time.monotonic() - killed < STAGE_ALIVE_SECONDS + 15


def test_a_member_that_does_not_commit_is_stuck(
    env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    """A hung worker: in the group (it heartbeats), records waiting, no commit for long."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    from storyline.commands.status import worker_group
    from storyline.stream.offsets import CommitMetadata

    settings = settings_for(env)
    produce(settings, articles(0, 3))

    async def scenario() -> list[tuple[int, str, float]]:
        member = AIOKafkaConsumer(settings.articles, bootstrap_servers=kafka(env),
                                  group_id=worker_group(settings), enable_auto_commit=False,
                                  session_timeout_ms=SESSION_TIMEOUT * 1000,
                                  heartbeat_interval_ms=1000)
        await member.start()
        try:
            while not member.assignment():
                await asyncio.sleep(0.1)
            # its last commit, five minutes ago by its own metadata, reached offset 1
            when = time.time() - 300
            await member.commit({TopicPartition(settings.articles, 0): OffsetAndMetadata(
                1, CommitMetadata(when, PIPELINE_VERSION).encode())})
            await asyncio.sleep(1.2)  # the waiting record is older than --stuck-after
            # the member goes on heartbeating in this loop while the commands run
            return [await asyncio.to_thread(status, env, *flags) for flags in (
                ("--stuck-after", "1"),
                ("--stuck-after", "60"),
                ("--wait", "--timeout", "20", "--stuck-after", "2"),
            )]
        finally:
            await member.stop()

    (stuck, stuck_out, _), (behind, behind_out, _), (waited, wait_out, took) = (
        asyncio.run(scenario()))
    assert stuck == 5, stuck_out
    assert "commits stuck since " in stuck_out and "members 1" in stuck_out
    assert f"(pipeline {PIPELINE_VERSION})" in stuck_out and "lag: 2" in stuck_out
    assert behind == 3, behind_out  # below the threshold it is merely behind
    assert waited == 5, wait_out
    assert re.search(r"commits stuck since \d+ s", wait_out), wait_out
    assert took < 12, f"took {took:.1f} s"


def kafka(env: dict[str, str]) -> str:
    return env["STORYLINE_BOOTSTRAP_SERVERS"]
