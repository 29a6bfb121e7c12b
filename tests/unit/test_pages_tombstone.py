"""An absorbed story's last whole page leaves the compacted pages topic: the publisher sends
a tombstone (key = the absorbed id, value None) right after the StoryMerged, so a reader that
starts from ``story-pages`` does not show a story merged away as a live one."""

from __future__ import annotations

from typing import Any

from storyline.domain.pipeline import Pipeline
from storyline.read.samples import merge, story_history, updates
from storyline.settings import Settings
from storyline.stream.publishing import StoryPublisher
from storyline.stream.worker import absorbed_page_tombstone


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send_and_wait(self, topic: str, key: bytes, value: bytes | None,
                            **_: Any) -> None:
        self.sent.append((topic, key, value))


async def test_a_merge_takes_the_absorbed_storys_page_off_the_pages_topic() -> None:
    settings = Settings(topic_prefix="t.")
    producer = RecordingProducer()
    publisher = StoryPublisher(settings, producer, Pipeline)  # type: ignore[arg-type]
    merged = merge("story-a", "story-b", 3)
    await publisher.send(publisher.prepare(merged), None)
    assert [(topic, key) for topic, key, _ in producer.sent] == [
        (settings.story_updates, b"story-a"), (settings.story_pages, b"story-b")]
    assert producer.sent[1][2] is None  # a tombstone
    # an update is no tombstone of anything
    producer.sent.clear()
    await publisher.send(publisher.prepare(updates(story_history("story-c", 1))[0]), None)
    assert all(value is not None for _, _, value in producer.sent)


def test_the_faust_worker_and_the_stages_take_the_same_key() -> None:
    assert absorbed_page_tombstone(merge("story-a", "story-b", 3)) == (b"story-b", None)
