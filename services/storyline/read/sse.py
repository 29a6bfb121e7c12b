"""Server-Sent Events of story updates, resumable by ``Last-Event-ID``.

The event id is the read store's global ``seq``. A subscriber first replays every stored
row after its last id, then sleeps on a :class:`ChangeNotifier` until the store advances.
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


def format_event(row: EventRow) -> bytes:
    # bodies are canonical JSON: one line, so one ``data:`` field carries it
    return f"id: {row.seq}\nevent: {row.kind}\ndata: {row.body}\n\n".encode()


class InvalidLastEventId(ValueError):
    """A ``Last-Event-ID`` this feed cannot have sent."""


_EVENT_ID = re.compile(r"[0-9]{1,19}")


def parse_last_event_id(value: str | None) -> int | None:
    """The event id to resume after; None when the header is absent or blank (EventSource
    sends no header before its first event). Event ids are the decimal ``seq`` of the store,
    so anything else (signs, ``_``, non-ASCII digits, more than ``MAX_ID``) raises
    :class:`InvalidLastEventId` with the reason."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _EVENT_ID.fullmatch(text) is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise InvalidLastEventId(f"Last-Event-ID {shown!r} is not an event id of this feed "
                                 f"(a decimal integer from 0 to {MAX_ID})")
    parsed = int(text)
    if parsed > MAX_ID:
        raise InvalidLastEventId(f"Last-Event-ID {text} is beyond the largest event id "
                                 f"{MAX_ID}")
    return parsed


async def stream_events(
    store: ReadStore,
    notifier: ChangeNotifier,
    *,
    after: int,
    story_ids: Sequence[str] = (),
    heartbeat: float = 15.0,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[bytes]:
    """Replay rows after ``after``, then follow live; a comment line every ``heartbeat``
    seconds keeps proxies from closing an idle stream."""
    yield b"retry: 1000\n\n"
    last = after
    while stop is None or not stop.is_set():
        # read the notifier before the query: a row committed while the query runs then
        # still counts as news, and the loop queries again instead of sleeping past it
        seen = notifier.seq
        rows = await asyncio.to_thread(store.events_after, last, story_ids=story_ids,
                                       limit=REPLAY_BATCH)
        for row in rows:
            yield format_event(row)
            last = row.seq
        if len(rows) == REPLAY_BATCH:
            continue
        if not story_ids:
            seen = max(seen, last)
        if not await notifier.wait_beyond(seen, heartbeat):
            yield b": heartbeat\n\n"
