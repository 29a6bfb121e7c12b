"""A topic the cluster does not have is not an empty log: `story list`, `replay` and
`replay --stage page` read a wrong STORYLINE_TOPIC_PREFIX as "0 stories" and exited 0. It is
looked up among all topics (asked for by name, the broker would create it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from storyline import cli
from storyline.errors import TopicMissing
from storyline.stream import logreader

MESSAGE = ("topic t.story-updates does not exist (is STORYLINE_TOPIC_PREFIX right? "
           "`storyline topics apply`)")


class Metadata:
    def topics(self) -> set[str]:
        return {"t.articles"}


class Client:
    def __init__(self) -> None:
        self.forced = 0

    async def fetch_all_metadata(self) -> Metadata:
        return Metadata()

    async def force_metadata_update(self) -> bool:
        self.forced += 1  # asked for by name: the broker may create the topic
        return True


class Consumer:
    def __init__(self) -> None:
        self._client = Client()

    def partitions_for_topic(self, topic: str) -> None:
        return None


@pytest.fixture
def consumer(monkeypatch: pytest.MonkeyPatch) -> Consumer:
    made = Consumer()

    @contextlib.asynccontextmanager
    async def standalone_consumer(bootstrap: str, **options: Any) -> AsyncIterator[Consumer]:
        yield made
    monkeypatch.setattr(logreader, "standalone_consumer", standalone_consumer)
    return made


def test_a_missing_topic_has_no_end_offsets(consumer: Consumer) -> None:
    with pytest.raises(TopicMissing) as missing:
        asyncio.run(logreader.end_offsets("b:1", "t.story-updates"))
    assert str(missing.value) == MESSAGE
    assert consumer._client.forced == 0


def test_a_topic_some_deployments_never_write_may_be_missing(consumer: Consumer) -> None:
    assert asyncio.run(logreader.end_offsets("b:1", "t.summaries", missing_ok=True)) == {}


def test_reading_the_events_of_a_missing_topic_fails(consumer: Consumer) -> None:
    async def events() -> list[Any]:
        return [event async for event in logreader.read_events("b:1", "t.story-updates")]
    with pytest.raises(TopicMissing):
        asyncio.run(events())


@pytest.mark.usefixtures("consumer")
def test_story_list_on_a_missing_topic_is_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from storyline.settings import get_settings
    monkeypatch.setenv("STORYLINE_TOPIC_PREFIX", "t.")
    get_settings.cache_clear()
    try:
        assert cli.main(["story", "list"]) == 1
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().err.splitlines()[-1] == "storyline story: " + MESSAGE.replace(
        "t.story-updates", "t.storyline.story-updates")
