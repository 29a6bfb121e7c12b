"""The API on a real broker: an article POSTed with a hashed key lands on the log once, with
the key's id as its provenance (in the event and a header); /readyz follows the in-process
projector."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import NewTopic

from storyline.domain.events import ArticleReceived, Provenance
from storyline.domain.upcasting import decode_event
from storyline.ingest.http import HEADER_KEY_ID, HEADER_VIA
from storyline.kafka.admin import admin_client
from storyline.read.config import ReadSettings
from storyline.read.local_server import serving
from storyline.read.store import open_store
from storyline.settings import Settings
from storyline.stream.logreader import end_offsets, read_partition
from storyline.web.app import create_app
from storyline.web.keys import new_key

pytestmark = pytest.mark.integration

NINJS = {
    "uri": "urn:wire:ops-1", "version": "1", "type": "text",
    "firstcreated": "2026-02-05T09:00:00Z", "versioncreated": "2026-02-05T09:00:00Z",
    "pubstatus": "usable", "language": "en",
    "headlines": [{"role": "main", "value": "Dam holds after storm"}],
    "infosources": [{"name": "Wire"}],
    "bodies": [{"role": "main", "contenttype": "text/plain",
                "value": "The Arn dam held on March 3, 2025.\nEngineers inspected it."}],
}


async def test_post_provenance_idempotence_and_readiness(kafka_bootstrap: str,
                                                         topic_prefix: str,
                                                         tmp_path: Path) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    async with admin_client(kafka_bootstrap) as admin:
        await admin.create_topics([
            NewTopic(settings.articles, num_partitions=1, replication_factor=1),
            NewTopic(settings.story_updates, num_partitions=2, replication_factor=1),
            NewTopic(settings.dead_letters, num_partitions=1, replication_factor=1)])
    secret, entry = new_key("wire-desk")
    app = create_app(open_store(tmp_path / "read.sqlite3"), settings=settings,
                     read_settings=ReadSettings(api_keys=entry), run_projector=True)
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        headers = {"X-API-Key": secret}
        first = await client.post("/v1/articles", json=NINJS, headers=headers)
        again = await client.post("/v1/articles", json=NINJS, headers=headers)
        assert first.status_code == again.status_code == 202, first.text
        assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
        assert again.json()["offset"] == first.json()["offset"]

        async with asyncio.timeout(30):
            while (await client.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.2)
        ready = (await client.get("/readyz")).json()
        assert ready["lag"] == {"0": 0, "1": 0}
        metrics = (await client.get("/metrics")).text
        assert (f'storyline_consumer_lag_records{{consumer="projector",partition="1",'
                f'topic="{settings.story_updates}"}} 0.0') in metrics

    assert await end_offsets(kafka_bootstrap, settings.articles) == {0: 1}  # written once
    records = [r async for r in read_partition(kafka_bootstrap, settings.articles, 0, stop=1)]
    assert dict(records[0].headers) == {HEADER_VIA: b"http", HEADER_KEY_ID: b"wire-desk"}
    # the event itself records the key's id (the durable record), never its secret or hash
    event = decode_event(records[0].value, ArticleReceived)
    assert event.provenance == Provenance(via="http", api_key_id="wire-desk")
    assert secret.encode() not in records[0].value
    assert entry.split("$")[-1].encode() not in records[0].value
