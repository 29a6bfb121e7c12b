"""`storyline projector` on a topic that does not exist: it waits for the topic (the worker
makes it) but stops when told (SIGINT/SIGTERM set its stop event; it went on for up to 10
minutes), and ends with one line naming the topic, not a RuntimeError traceback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from storyline import cli
from storyline.errors import TopicMissing
from storyline.read import projector as projector_module
from storyline.read.projector import Projector
from storyline.read.store import open_store

MESSAGE = ("topic t.story-updates does not exist (is STORYLINE_TOPIC_PREFIX right? "
           "`storyline topics apply`)")


class NoTopicConsumer:
    """A consumer of a cluster without the topic."""

    def __init__(self, **options: Any) -> None:
        class Client:
            async def force_metadata_update(self) -> bool:
                return True
        self._client = Client()

    def partitions_for_topic(self, topic: str) -> None:
        return None


@pytest.fixture
def no_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    async def started(client: Any) -> Any:
        return client

    async def stop_consumer(consumer: Any) -> None:
        return None
    monkeypatch.setattr(projector_module, "AIOKafkaConsumer", NoTopicConsumer)
    monkeypatch.setattr(projector_module, "started", started)
    monkeypatch.setattr(projector_module, "stop_consumer", stop_consumer)


@pytest.mark.usefixtures("no_topic")
def test_a_stop_while_waiting_for_the_topic_ends_at_once(tmp_path: Path) -> None:
    projector = Projector(open_store(tmp_path / "r.sqlite3"), bootstrap="b:1",
                          topic="t.story-updates")

    async def stopped_after(seconds: float) -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await projector.run(stop)

    began = time.monotonic()
    with pytest.raises(TopicMissing) as missing:
        asyncio.run(stopped_after(0.3))
    assert time.monotonic() - began < 1.0
    assert str(missing.value) == MESSAGE


@pytest.mark.usefixtures("no_topic")
def test_the_wait_ends_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(projector_module, "TOPIC_WAIT_SECONDS", 1)
    monkeypatch.setenv("STORYLINE_TOPIC_PREFIX", "t.")
    monkeypatch.setenv("STORYLINE_PROJECTOR_METRICS_PORT", "0")
    monkeypatch.setenv("STORYLINE_DATA_DIR", str(tmp_path))
    from storyline.settings import get_settings
    get_settings.cache_clear()
    try:
        code = cli.main(["projector", "--database", str(tmp_path / "r.sqlite3")])
    finally:
        get_settings.cache_clear()
    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "storyline projector: " + MESSAGE.replace("t.story-updates", "t.storyline.story-updates"))
