"""Server-Sent Events of story updates, resumable by ``Last-Event-ID``.

The event id names the story-updates records the subscriber has been sent up to, per
partition (``0:12,1:40,2:7``: the next offset of each), not a row of one store: every API
replica projects the topic into a store of its own, in its own interleaving of the
partitions, so a ``seq`` means another event on another replica, and an EventSource that
reconnected through a load balancer to another replica got a gap or repeats. A plain
integer (the ``seq`` ids sent before) is still read, as a row of this store. A subscriber
first replays every stored event past its id, then sleeps on a :class:`ChangeNotifier`
until the store advances.
The notifier is poked directly by a projector running in the same process (milliseconds),
or, when the API runs without one, by :func:`poll_store`, which looks at ``max(seq)`` every
few tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence

import structlog

from storyline.read.store import MAX_ID, EventRow, ReadStore

log = structlog.get_logger(__name__)

REPLAY_BATCH = 500


class ChangeNotifier:
    """The highest ``seq`` known to be committed, and a way to wait for it to move.

    Lives on one event loop; ``publish`` must be called from that loop."""

    def __init__(self, seq: int = 0) -> None:
        self.seq = seq
        self._changed = asyncio.Event()

    def publish(self, seq: int) -> None:
        if seq <= self.seq:
            return
        self.seq = seq
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_beyond(self, seq: int, timeout: float) -> bool:
        """True once the store holds a row after ``seq``; False on timeout."""
        if self.seq > seq:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.seq > seq


async def poll_store(store: ReadStore, notifier: ChangeNotifier, interval: float) -> None:
    """Bridge from a projector in another process: notice new rows by polling."""
    while True:
        try:
            notifier.publish(await asyncio.to_thread(store.max_seq))
        except Exception as exc:  # noqa: BLE001 - keep serving; the next poll may succeed
            log.warning("sse.poll_failed", error=str(exc))
        await asyncio.sleep(interval)


Positions = dict[int, int]  # partition of story-updates -> next offset the reader is due


def encode_positions(positions: Positions) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))


def format_event(row: EventRow, positions: Positions) -> bytes:
    """The frame of ``row``, its id the positions once it is sent. Bodies are canonical
    JSON: one line, so one ``data:`` field carries it."""
    return (f"id: {encode_positions(positions)}\nevent: {row.kind}\n"
            f"data: {row.body}\n\n").encode()


class InvalidLastEventId(ValueError):
    """A ``Last-Event-ID`` this feed cannot have sent."""


# The longest id this feed sends: ~140 partitions of story-updates at their longest
# offsets (a deployment has a few dozen at most); a longer one is not this feed's.
MAX_EVENT_ID_CHARS = 4096
_SEQ_ID = re.compile(r"[0-9]{1,19}")
_POSITION = r"[0-9]{1,9}:[0-9]{1,19}"
_POSITIONS_ID = re.compile(rf"{_POSITION}(?:,{_POSITION})*")


def parse_last_event_id(value: str | None) -> int | Positions | None:
    """The event id to resume after: positions (``0:12,1:40``), or a ``seq`` of this store
    (a decimal integer, as ids were before); None when absent or blank (EventSource sends
    no header before its first event). Anything else (signs, ``_``, non-ASCII digits,
    numbers beyond ``MAX_ID``, a partition twice) raises :class:`InvalidLastEventId`."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    shown = text if len(text) <= 40 else text[:40] + "..."
    if _SEQ_ID.fullmatch(text) is not None:
        parsed = int(text)
        if parsed > MAX_ID:
            raise InvalidLastEventId(f"Last-Event-ID {text} is beyond the largest event id "
                                     f"{MAX_ID}")
        return parsed
    if len(text) > MAX_EVENT_ID_CHARS or _POSITIONS_ID.fullmatch(text) is None:
        raise InvalidLastEventId(
            f"Last-Event-ID {shown!r} is not an event id of this feed (partition:offset "
            f"pairs, comma separated, or a decimal integer from 0 to {MAX_ID})")
    positions: Positions = {}
    for pair in text.split(","):
        part, offset = (int(n) for n in pair.split(":"))
        if part in positions or offset > MAX_ID:
            raise InvalidLastEventId(f"Last-Event-ID {shown!r} is not an event id of this "
                                     f"feed (partition {part} twice, or an offset beyond "
                                     f"{MAX_ID})")
        positions[part] = offset
    return positions


def start_of(store: ReadStore, after: int | Positions | None
             ) -> tuple[Positions, int | None]:
    """Where a stream resuming after ``after`` begins: the positions its first frame
    continues, and this store's ``seq`` below which it is done (None: found from the
    positions). None: from now (the records applied so far)."""
    if after is None:
        return store.record_positions(), None
    if isinstance(after, int):  # a row of this store (the ids sent before positions)
        return store.positions_through(after), after
    return dict(after), None


def followed_ids(store: ReadStore, story_id: str) -> list[str]:
    """The stories whose events a stream of ``story_id`` sends: the one it lives on now
    (itself, or the survivor it was merged into) and every story merged into that one."""
    target = store.resolve(story_id) or story_id
    return sorted({target, *store.aliases_of(target)})


async def stream_events(
    store: ReadStore,
    notifier: ChangeNotifier,
    *,
    after: int | Positions | None,
    story_ids: Sequence[str] = (),
    story: str | None = None,
    heartbeat: float = 15.0,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[bytes]:
    """Replay the events past ``after`` (see :func:`parse_last_event_id`; None: from now),
    then follow live: every event, those of ``story_ids``, or those of ``story`` and the
    stories merged into it (:func:`followed_ids`). A story merged away while followed goes
    on as its survivor: the ``StoryMerged`` that absorbed it, then the survivor's events
    after it, as a reconnect would give them. A comment line goes out whenever
    ``heartbeat`` seconds passed without a line, so proxies do not close a quiet stream,
    however busy the other stories are."""
    # where it starts is fixed before the client hears anything: what is written once it
    # has the first line comes after it
    positions, last = await asyncio.to_thread(start_of, store, after)
    if story is not None:
        story_ids = await asyncio.to_thread(followed_ids, store, story)
    clock = asyncio.get_running_loop().time
    yield b"retry: 1000\n\n"
    quiet_since = clock()
    while stop is None or not stop.is_set():
        # read the notifier before the query: a row committed while the query runs then
        # still counts as news, and the loop queries again instead of sleeping past it
        seen = notifier.seq
        rows = await asyncio.to_thread(
            store.events_from, positions, after_seq=last, story_ids=story_ids,
            merged_away=story_ids if story is not None else (), limit=REPLAY_BATCH)
        moved = False
        for row in rows:
            # a store applies each partition in offset order: an event's record is past
            # every one sent before it on its partition
            positions[row.part] = row.offset + 1
            yield format_event(row, positions)
            last = row.seq
            if story is not None and row.story_id not in story_ids:
                # a followed story was merged into this one: its events follow from here
                survivor = await asyncio.to_thread(followed_ids, store, row.story_id)
                story_ids = sorted({*story_ids, *survivor})
                moved = True
        if rows:
            quiet_since = clock()
        if moved or len(rows) == REPLAY_BATCH:
            continue
        if not story_ids and last is not None:
            seen = max(seen, last)
        # rows of other stories wake the loop without a line for this stream
        left = heartbeat - (clock() - quiet_since)
        if left <= 0 or not await notifier.wait_beyond(seen, left):
            yield b": heartbeat\n\n"
            quiet_since = clock()
