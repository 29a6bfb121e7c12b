"""`storyline serve` in one process (API + projector) on a real broker: what is produced to
story-updates shows up on the API and on the SSE stream, once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryPage
from storyline.kafka.admin import admin_client
from storyline.read.config import ReadSettings
from storyline.read.local_server import serving
from storyline.read.samples import merge, story_history, updates
from storyline.read.store import open_store
from storyline.settings import Settings
from storyline.web.app import create_app

pytestmark = pytest.mark.integration


async def make_topics(bootstrap: str, settings: Settings) -> None:
    async with admin_client(bootstrap) as admin:
        await admin.create_topics([
            NewTopic(settings.story_updates, num_partitions=3, replication_factor=1),
            NewTopic(settings.dead_letters, num_partitions=1, replication_factor=1),
        ])


async def produce(bootstrap: str, topic: str, events: list[Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            key = getattr(event, "story_id", None) or event.survivor_id
            await producer.send_and_wait(topic, canonical_bytes(event), key=key.encode())
    finally:
        await producer.stop()


async def wait_for_revision(client: httpx.AsyncClient, story_id: str, revision: int) -> None:
    async with asyncio.timeout(30):
        while True:
            response = await client.get(f"/v1/stories/{story_id}")
            if response.status_code == 200 and response.json()["revision"] >= revision:
                return
            await asyncio.sleep(0.05)


async def test_produced_updates_reach_api_and_sse(kafka_bootstrap: str, topic_prefix: str,
                                                  tmp_path: Path) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    await make_topics(kafka_bootstrap, settings)
    history = story_history("live-a", 5)
    records = updates(history)
    await produce(kafka_bootstrap, settings.story_updates, records[:2])
    store = open_store(tmp_path / "read.sqlite3")
    app = create_app(store, settings=settings, read_settings=ReadSettings(),
                     run_projector=True)
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        await wait_for_revision(client, "live-a", 2)
        async with client.stream("GET", "/v1/events",
                                 headers={"Last-Event-ID": "1"}) as stream:
            lines = stream.aiter_lines()
            seen: list[tuple[str, int]] = []
            delays: list[float] = []

            async def next_event() -> dict[str, object]:
                async with asyncio.timeout(20):
                    while True:
                        line = await anext(lines)
                        if line.startswith("data: "):
                            data: dict[str, object] = orjson.loads(line[6:])
                            return data

            first = await next_event()  # replayed from the store
            seen.append((str(first["story_id"]), int(str(first["revision"]))))
            for revision in range(3, 6):
                started = time.perf_counter()
                await produce(kafka_bootstrap, settings.story_updates, [records[revision - 1]])
                got = await next_event()
                delays.append(time.perf_counter() - started)
                seen.append((str(got["story_id"]), int(str(got["revision"]))))
                # the stream carries the page the change made, whole
                assert StoryPage.model_validate(got) == history[revision - 1]
            assert seen == [("live-a", 2), ("live-a", 3), ("live-a", 4), ("live-a", 5)]
            # produce -> broker -> projector -> store -> SSE, on loopback
            assert max(delays) < 2.0, delays

        await produce(kafka_bootstrap, settings.story_updates,
                      [*updates(story_history("live-b", 1)), merge("live-a", "live-b", 5)])
        async with asyncio.timeout(30):
            while (await client.get("/v1/stories/live-b")).status_code != 308:
                await asyncio.sleep(0.05)
        revisions = (await client.get("/v1/stories/live-a/revisions")).json()["revisions"]
        assert [r["revision"] for r in revisions] == [5, 4, 3, 2, 1]
        head = await client.get("/v1/stories/live-a")
        assert StoryPage.model_validate(head.json()) == history[4]
        page = await client.get("/stories/live-a")
        assert page.status_code == 200 and "Timeline" in page.text
