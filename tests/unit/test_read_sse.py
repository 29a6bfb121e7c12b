"""Server-Sent Events over a real uvicorn server on loopback: replay, resume, live, filters."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryPage
from storyline.read.config import ReadSettings
from storyline.read.local_server import serving
from storyline.read.projector import Projector, decode_record
from storyline.read.samples import merge, story_history, story_revision, updates
from storyline.read.sse import (
    ChangeNotifier,
    InvalidLastEventId,
    parse_last_event_id,
    stream_events,
)
from storyline.read.store import MAX_ID, ReadStore, open_store
from storyline.settings import Settings
from storyline.web.app import create_app

TOPIC = "storyline.story-updates"


class Feed:
    """Writes through the projector's apply path, as the Kafka loop does."""

    def __init__(self, store: ReadStore, notifier: ChangeNotifier | None) -> None:
        self.store = store
        self.projector = Projector(store, bootstrap="unused:9", topic=TOPIC, notifier=notifier)
        self.offsets: dict[int, int] = {}

    async def write(self, event: Any, partition: int = 0) -> None:
        offset = self.offsets.get(partition, 0)
        self.offsets[partition] = offset + 1
        await self.projector.apply([decode_record(partition, offset, b"k",
                                                  canonical_bytes(event))])


class Frames:
    """Parses SSE frames from one streamed response (comments come back as 'comment')."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def line(self) -> str:
        return await anext(self.lines)

    async def take(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The next ``count`` frames, heartbeat comments included."""
        return await self._take(count, timeout, lambda events: len(events))

    async def events(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Frames up to the ``count``-th event with data; heartbeat comments that arrive
        meanwhile (every 0.3 s here) are returned too but do not count."""
        return await self._take(count, timeout, lambda events: len(only_events(events)))

    async def _take(self, count: int, timeout: float,
                    counted: Callable[[list[dict[str, Any]]], int]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        frame: dict[str, Any] = {}
        async with asyncio.timeout(timeout):
            while counted(events) < count:
                line = await anext(self.lines)
                if line == "":
                    if frame:
                        events.append(frame)
                    frame = {}
                elif line.startswith(":"):
                    events.append({"comment": line[1:].strip()})
                else:
                    name, _, value = line.partition(": ")
                    frame[name] = value
        return events


def only_events(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if "data" in f]


@pytest.fixture()
async def running(tmp_path: Path) -> AsyncIterator[tuple[str, Feed]]:
    store = open_store(tmp_path / "read.sqlite3")
    app = create_app(store, settings=Settings(),
                     read_settings=ReadSettings(sse_heartbeat_seconds=0.3))
    async with serving(app) as base:
        yield base, Feed(store, app.state.read.notifier)


async def test_live_updates_reach_a_subscriber_quickly(running: tuple[str, Feed]) -> None:
    base, feed = running
    async with httpx.AsyncClient(base_url=base, timeout=10) as client, \
            client.stream("GET", "/v1/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = Frames(response)
        assert await frames.line() == "retry: 1000"
        delays = []
        history = story_history(revisions=3)
        for revision, (page, record) in enumerate(zip(history, updates(history), strict=True),
                                                  start=1):
            started = time.perf_counter()
            await feed.write(record)
            [frame] = only_events(await frames.events(1))
            delays.append(time.perf_counter() - started)
            assert frame["event"] == "StoryUpdated"
            data = orjson.loads(frame["data"])
            # the frame carries the whole page the change made, not the change
            assert data["event_type"] == "StoryPage" and data["revision"] == revision
            assert StoryPage.model_validate(data) == page
            assert frame["id"] == f"0:{revision}"  # the record after it, partition 0
        assert max(delays) < 0.5, delays


async def test_resume_from_last_event_id_replays_what_was_missed(
        running: tuple[str, Feed]) -> None:
    base, feed = running
    records = updates(story_history(revisions=6))
    for record in records[:5]:
        await feed.write(record)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        async with client.stream("GET", "/v1/events", headers={"Last-Event-ID": "0:2"}) as r:
            reader = Frames(r)
            frames = only_events(await reader.events(3))
            assert [f["id"] for f in frames[:3]] == ["0:3", "0:4", "0:5"]
            assert [orjson.loads(f["data"])["revision"] for f in frames] == [3, 4, 5]
            # then live, with no gap and no repeat
            await feed.write(records[5])
            frames += only_events(await reader.events(1))
            assert [f["id"] for f in frames] == ["0:3", "0:4", "0:5", "0:6"]
        async with client.stream("GET", "/v1/events", params={"last_event_id": "0:5"}) as r:
            [frame] = only_events(await Frames(r).events(1))
            assert frame["id"] == "0:6"
        # the ids sent before (a row of this store) still resume where they were
        async with client.stream("GET", "/v1/events", headers={"Last-Event-ID": "4"}) as r:
            frames = only_events(await Frames(r).events(2))
            assert [f["id"] for f in frames] == ["0:5", "0:6"]


async def test_story_stream_follows_one_story_and_its_merges(
        running: tuple[str, Feed]) -> None:
    base, feed = running
    story_a = updates(story_history("story-a", 2))
    story_b = updates(story_history("story-b", 2))
    await feed.write(story_a[0], partition=0)
    await feed.write(story_b[0], partition=1)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client, \
            client.stream("GET", "/v1/stories/story-a/events",
                          headers={"Last-Event-ID": "0"}) as r:
        stream = Frames(r)
        # the stream fixes which stories it follows before its first line (the headers
        # come before it): a merge applied sooner is one it started after
        assert await stream.line() == "retry: 1000"
        await feed.write(story_b[1], partition=1)
        await feed.write(story_a[1], partition=0)
        await feed.write(merge("story-a", "story-b", 3), partition=1)
        frames = only_events(await stream.events(3))
        assert [(f["event"], orjson.loads(f["data"]).get("story_id",
                                                         orjson.loads(f["data"]).get(
                                                             "survivor_id")))
                for f in frames] == [("StoryUpdated", "story-a"), ("StoryUpdated", "story-a"),
                                     ("StoryMerged", "story-a")]


async def test_a_story_merged_away_while_followed_goes_on_as_its_survivor(
        running: tuple[str, Feed]) -> None:
    base, feed = running
    story_a = updates(story_history("story-a", 3))
    story_b = updates(story_history("story-b", 1))
    await feed.write(story_a[0], partition=0)
    await feed.write(story_b[0], partition=1)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client, \
            client.stream("GET", "/v1/stories/story-b/events") as r:
        frames = Frames(r)
        assert await frames.line() == "retry: 1000"
        await feed.write(merge("story-a", "story-b", 2), partition=1)
        await feed.write(story_a[1], partition=0)
        await feed.write(story_a[2], partition=0)
        got = only_events(await frames.events(3))
        assert [f["event"] for f in got] == ["StoryMerged", "StoryUpdated", "StoryUpdated"]
        merged = orjson.loads(got[0]["data"])
        assert (merged["absorbed_id"], merged["survivor_id"]) == ("story-b", "story-a")
        assert [orjson.loads(f["data"])["revision"] for f in got[1:]] == [2, 3]


async def test_a_quiet_story_gets_heartbeats_while_other_stories_are_busy(
        running: tuple[str, Feed]) -> None:
    base, feed = running
    await feed.write(updates(story_history("quiet", 1))[0], partition=0)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client, \
            client.stream("GET", "/v1/stories/quiet/events") as r:
        frames = Frames(r)
        assert await frames.line() == "retry: 1000"

        async def busy() -> None:  # another story every 50 ms, for 2 s (the heartbeat: 0.3 s)
            for i in range(40):
                await feed.write(updates(story_history(f"other-{i}", 1))[0], partition=1)
                await asyncio.sleep(0.05)

        writer = asyncio.create_task(busy())
        try:
            got = await frames.take(4, timeout=2.5)
        finally:
            writer.cancel()
        assert got == [{"comment": "heartbeat"}] * 4


async def test_a_stream_of_no_story_is_not_found(running: tuple[str, Feed]) -> None:
    base, feed = running
    await feed.write(updates(story_history("story-a", 1))[0])
    async with httpx.AsyncClient(base_url=base, timeout=10) as client, asyncio.timeout(5):
        response = await client.get("/v1/stories/no-such-story/events")
        assert response.status_code == 404
        assert "no-such-story" in response.json()["detail"]


async def test_idle_stream_sends_heartbeats(running: tuple[str, Feed]) -> None:
    base, _ = running
    async with httpx.AsyncClient(base_url=base, timeout=10) as client, \
            client.stream("GET", "/v1/events") as r:
        frames = await Frames(r).take(2, timeout=3)
        assert {"comment": "heartbeat"} in frames


async def test_without_projector_the_poller_delivers(tmp_path: Path) -> None:
    """An API process that does not run the projector notices rows written by another."""
    store = open_store(tmp_path / "read.sqlite3")
    writer = Feed(open_store(tmp_path / "read.sqlite3"), notifier=None)
    app = create_app(store, settings=Settings(),
                     read_settings=ReadSettings(sse_poll_seconds=0.02))
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client, \
            client.stream("GET", "/v1/events") as r:
        reader = Frames(r)
        await reader.line()
        started = time.perf_counter()
        await writer.write(updates([story_revision(revision=1)])[0])
        [frame] = only_events(await reader.events(1))
        assert frame["id"] == "0:1"
        assert time.perf_counter() - started < 1.0


def test_last_event_id_parsing() -> None:
    assert parse_last_event_id("17") == 17
    assert parse_last_event_id(" 3 ") == 3
    assert parse_last_event_id("0") == 0
    assert parse_last_event_id(str(MAX_ID)) == MAX_ID
    assert parse_last_event_id("") is None
    assert parse_last_event_id("  ") is None
    assert parse_last_event_id(None) is None
    assert parse_last_event_id("0:12,1:40,2:7") == {0: 12, 1: 40, 2: 7}
    assert parse_last_event_id(f"3:{MAX_ID}") == {3: MAX_ID}
    for bad in ["abc", "-4", "+4", "1_000", "1e3", "٣", "²", str(MAX_ID + 1),
                "99999999999999999999999", "0:1,0:2", "0:-1", "a:1", "0:1,", ",0:1",
                "0:1;1:2", f"0:{MAX_ID + 1}", "0:٣"]:
        with pytest.raises(InvalidLastEventId):
            parse_last_event_id(bad)


IMPOSSIBLE_IDS = ["99999999999999999999999", str(MAX_ID + 1), "abc", "-1", "1_0", "4",
                  "0:1,0:2", "0:x"]


async def test_an_impossible_last_event_id_is_a_clear_error_not_a_reconnect_loop(
        running: tuple[str, Feed]) -> None:
    """EventSource reconnects after ``retry`` whenever a 200 stream ends, but takes any other
    status as final: an id the feed cannot have sent (garbage, beyond 2**63-1, or beyond the
    newest event) must be a 400 with a reason, answered at once, never a stream."""
    base, feed = running
    for record in updates(story_history(revisions=3)):
        await feed.write(record)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for path in ["/v1/events", "/v1/stories/story-kursk/events"]:
            for value in IMPOSSIBLE_IDS:
                started = time.perf_counter()
                response = await client.get(path, headers={"Last-Event-ID": value})
                assert response.status_code == 400, (path, value, response.text)
                assert response.headers["content-type"] == "application/json"
                detail = response.json()["detail"]
                assert detail["field"] == "Last-Event-ID"
                assert "event id" in detail["message"]
                assert time.perf_counter() - started < 1.0
            ahead = await client.get(path, params={"last_event_id": 4})
            assert ahead.status_code == 400
            assert ahead.json()["detail"]["field"] == "last_event_id"
            assert "newest event is 3" in ahead.json()["detail"]["message"]
            for value in [str(MAX_ID + 1), "-1", "x", "0:1,0:1"]:
                invalid = await client.get(path, params={"last_event_id": value})
                assert invalid.status_code == 400, (path, value)
                assert invalid.json()["detail"]["field"] == "last_event_id"
        # the newest id itself is fine: the stream opens and waits for what comes next
        async with client.stream("GET", "/v1/events", headers={"Last-Event-ID": "3"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            reader = Frames(r)
            assert await reader.line() == "retry: 1000"
            await feed.write(updates(story_history(revisions=4))[3])
            [frame] = only_events(await reader.events(1))
            assert frame["id"] == "0:4"


async def test_notifier_wakes_waiters_and_times_out() -> None:
    notifier = ChangeNotifier(5)
    assert await notifier.wait_beyond(4, 0.01)
    assert not await notifier.wait_beyond(5, 0.01)
    waiter = asyncio.create_task(notifier.wait_beyond(5, 5))
    await asyncio.sleep(0)
    notifier.publish(3)  # stale: ignored
    await asyncio.sleep(0.01)
    assert not waiter.done()
    notifier.publish(6)
    assert await waiter


def _frames_of(store: ReadStore, after: str | None, count: int) -> list[dict[str, str]]:
    """The first ``count`` event frames of a stream of ``store`` resumed after ``after``
    (as the API parses it), then whatever else comes within two heartbeats (a repeat)."""
    async def read() -> list[dict[str, str]]:
        stop = asyncio.Event()
        frames: list[dict[str, str]] = []
        heartbeats = 0
        frame: dict[str, str] = {}
        stream = stream_events(store, ChangeNotifier(store.max_seq()),
                               after=parse_last_event_id(after), heartbeat=0.01, stop=stop)
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                for line in chunk.decode().split("\n"):
                    if line.startswith(": heartbeat"):
                        heartbeats += 1
                    elif line == "" and frame:
                        if "data" in frame:  # not the opening ``retry``
                            frames.append(frame)
                        frame = {}
                    elif ": " in line:
                        name, _, value = line.partition(": ")
                        frame[name] = value
                if len(frames) >= count and heartbeats >= 2:
                    break
        return frames
    return asyncio.run(read())


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_stream_resumed_on_another_replica_misses_nothing_and_repeats_nothing(
        tmp_path: Path, data: st.DataObject) -> None:
    """Two API replicas project the same topic, each applying the partitions in its own
    interleaving. A subscriber that read part of the feed from one and reconnects to the
    other with the last id it got receives exactly the events it had not seen. (With the
    store's ``seq`` as the id it got a gap or repeats whenever the interleavings differ.)"""
    counts = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3), label="records")
    per_part = [[decode_record(p, offset, b"k", canonical_bytes(event))
                 for offset, event in enumerate(updates(story_history(f"story-{p}", n)))]
                for p, n in enumerate(counts)]
    total = sum(counts)
    stores = []
    for name in ("a", "b"):
        order = data.draw(st.permutations([p for p, n in enumerate(counts) for _ in range(n)]),
                          label=f"interleaving {name}")
        # (a file of its own for each example: hypothesis runs them all in one tmp_path)
        store = open_store(Path(tempfile.mkdtemp(dir=tmp_path)) / f"{name}.sqlite3")
        taken = [0] * len(counts)
        for p in order:
            store.apply(TOPIC, [per_part[p][taken[p]]])
            taken[p] += 1
        stores.append(store)
    first, other = stores
    seen = data.draw(st.integers(1, total), label="events read before the reconnect")
    head = _frames_of(first, "0", total)[:seen]
    rest = _frames_of(other, head[-1]["id"], total - seen)

    def events(frames: list[dict[str, str]]) -> list[tuple[str, int]]:
        pages = [orjson.loads(f["data"]) for f in frames]
        return [(page["story_id"], page["revision"]) for page in pages]

    got = events(head) + events(rest)
    assert len(got) == len(set(got)) == total, (head, rest)
    for p, n in enumerate(counts):  # and each story in order
        assert [r for s, r in got if s == f"story-{p}"] == list(range(1, n + 1))
