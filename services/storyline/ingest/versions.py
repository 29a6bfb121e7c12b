"""The versions a feed item goes in under: an index of the articles log at the ingest edge.

RSS 2.0 has no version and no revision time, so an item its publisher edited came in again
as version 1 with other content: a ``ConflictingVersion`` dead letter, the correction lost.
Which version an edited item is can only be known from what the log already holds for its
uri, so ``storyline ingest`` keeps, per articles topic, an index of the log: uri -> every
version on it with that version's publication time and content fingerprint
(``domain.fingerprint``, the pipeline's own test of "same content"). It is derived from the
log only (nothing this process sends is written to it; the next run reads those records
back) and is brought up to the log's end before the first feed item of a run is decided:

- kept in SQLite (``STORYLINE_DATA_DIR/ingest/<articles topic>.versions.sqlite3``), so a
  run looks up the uris of its items (an index lookup each) and reads only the records
  appended since the last run, never the whole log (a feed polled every minute for months);
- rebuilt from offset 0 when missing, when the log is not the one it was built from (its
  first record differs: the topic was made again), when the log ends before it (rewound)
  or when records after its offset were deleted;
- one run at a time per index: a run holds an exclusive ``flock`` on it from the catch-up
  to its last acknowledged send, so a second run on this host waits, then reads the first
  one's records back before deciding (runs on other hosts or with other data dirs are not
  serialised: docs/ingest.md "Edited feed items").

:func:`decide` is the rule, a function of the item and what the log holds for its uri.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from storyline.domain.events import ArticleReceived
from storyline.domain.fingerprint import content_fingerprint
from storyline.domain.upcasting import UndecodableEvent, decode_event
from storyline.kafka.articles_log import ARTICLES_PARTITION

SCHEMA_VERSION = 2
LOCK_WAIT_SECONDS = 300.0  # a run that holds the index longer than this is taken as hung
CATCH_UP_BATCH = 5000
STALL_SECONDS = 30.0  # a catch-up that fetches nothing for this long: the broker is away

# version -> (content fingerprint, publication time) of its first record on the log
Versions = Mapping[int, tuple[int, dt.datetime]]


class IndexBusy(RuntimeError):
    """Another ingest run holds the index for longer than LOCK_WAIT_SECONDS."""


def decide(article: ArticleReceived, *, versionless: bool, known: Versions,
           undated: bool = False) -> ArticleReceived | None:
    """``article`` under the version it goes in under, given the versions of its uri on the
    log; None: it is not to be sent.

    ``versionless``: the wire gave no version (an RSS item, an Atom entry without
    ``published``). Its content already on the log under any version of the uri is not sent
    again: the same item polled again, or an older text a stale copy of the feed still
    serves (a CDN, a lagging mirror), which as a new version would flip the page back and
    forth at every poll. Other content is a correction: the version after the newest.
    ``undated``: the item has no publication time of its own (it was given the channel's,
    which moves when the publisher adds items, or an Atom entry's ``updated``); it keeps
    the time the log has for it (its newest version's), so a moved date alone is no new
    version, and an edit does not re-date the article.
    An item with a version of its own keeps it; it is not sent only when that very version
    with that content is on the log (the pipeline would drop it as a resend anyway), and a
    different content under it stays a ConflictingVersion dead letter, as the wire said.
    """
    if not known:
        return article
    newest = max(known)
    if undated and known[newest][1] != article.published:
        article = article.model_copy(update={"published": known[newest][1]})
    fingerprint = content_fingerprint(article)
    if not versionless:
        same = article.version in known and known[article.version][0] == fingerprint
        return None if same else article
    if any(seen == fingerprint for seen, _ in known.values()):
        return None
    return article.model_copy(update={"version": max(article.version, newest + 1)})


def _signed(fingerprint: int) -> int:
    """A 64-bit unsigned fingerprint as SQLite's signed INTEGER."""
    return fingerprint - (1 << 64) if fingerprint >= 1 << 63 else fingerprint


def _unsigned(stored: int) -> int:
    return stored + (1 << 64) if stored < 0 else stored


def index_path(data_dir: Path, articles_topic: str) -> Path:
    return data_dir / "ingest" / f"{articles_topic}.versions.sqlite3"


class VersionIndex:
    """The SQLite index of one articles topic, locked for this process while open."""

    def __init__(self, path: Path, *, lock_wait: float = LOCK_WAIT_SECONDS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock: IO[bytes] | None = _lock(path.with_name(path.name + ".lock"), lock_wait)
        self.db = sqlite3.connect(path, isolation_level=None)
        # the default rollback journal, not WAL: one run at a time gains nothing from WAL,
        # and a WAL file left beside a deleted index would be replayed into the new one
        self.db.execute("PRAGMA synchronous=NORMAL")  # a lost tail is read again from the log
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
        if self._meta("schema") != SCHEMA_VERSION:  # new, or of another layout: made anew
            self.db.execute("DROP TABLE IF EXISTS versions")
            self.db.execute("CREATE TABLE versions (uri TEXT NOT NULL, version INTEGER NOT "
                            "NULL, fingerprint INTEGER NOT NULL, published TEXT NOT NULL, "
                            "PRIMARY KEY (uri, version)) WITHOUT ROWID")
            self.reset()  # and read from the log's first record
        # what this run sent: the index itself is only ever written from the log
        self._sent: dict[str, dict[int, tuple[int, dt.datetime]]] = {}

    # -- the log position it covers ----------------------------------------------------

    def _meta(self, key: str) -> int | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    @property
    def upto(self) -> int:
        """The next offset of the log to read: every record before it is in the index."""
        return self._meta("upto") or 0

    @property
    def mark(self) -> tuple[int, int] | None:
        """(offset, timestamp ms) of the log's first record when the index was built."""
        offset, stamp = self._meta("first_offset"), self._meta("first_timestamp")
        return None if offset is None or stamp is None else (offset, stamp)

    def reset(self) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM versions")
            self.db.execute("DELETE FROM meta")
            self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def add(self, records: Iterable[tuple[bytes | None, int]], *, upto: int,
            mark: tuple[int, int] | None) -> int:
        """Fold log records (value, offset) into the index, then say it covers the log up to
        ``upto``; one transaction. Returns how many articles it read."""
        rows = []
        for value, _offset in records:
            if value is None:
                continue
            try:
                article = decode_event(value, ArticleReceived)
            except UndecodableEvent:
                continue  # the pipeline dead-letters it; nothing of it is on a page
            rows.append((article.uri, article.version, _signed(content_fingerprint(article)),
                         article.published.isoformat()))
        with self.db:
            self.db.execute("BEGIN")
            # the first record of a uri and version is the one the pipeline folds
            self.db.executemany("INSERT OR IGNORE INTO versions VALUES (?, ?, ?, ?)", rows)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('upto', ?)", (upto,))
            if mark is not None:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('first_offset', ?)",
                                (mark[0],))
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('first_timestamp', ?)",
                                (mark[1],))
        return len(rows)

    # -- deciding ----------------------------------------------------------------------

    def known(self, uri: str) -> dict[int, tuple[int, dt.datetime]]:
        versions = {version: (_unsigned(fp), dt.datetime.fromisoformat(published))
                    for version, fp, published in self.db.execute(
                        "SELECT version, fingerprint, published FROM versions WHERE uri = ?",
                        (uri,))}
        for version, sent in self._sent.get(uri, {}).items():
            versions.setdefault(version, sent)
        return versions

    def decide(self, article: ArticleReceived, *, versionless: bool,
               undated: bool = False) -> ArticleReceived | None:
        """:func:`decide` on what the log holds for the uri and what this run sent of it
        (the same guid twice in a feed, or a feed given twice), which it remembers."""
        decided = decide(article, versionless=versionless, known=self.known(article.uri),
                         undated=undated)
        if decided is not None:
            self._sent.setdefault(decided.uri, {}).setdefault(
                decided.version, (content_fingerprint(decided), decided.published))
        return decided

    def close(self) -> None:
        self.db.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()  # releases the flock


def _lock(path: Path, wait: float) -> IO[bytes]:
    handle = path.open("ab")
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise IndexBusy(f"another storyline ingest has held {path} for over "
                                f"{wait:.0f} s; is it hung?") from None
            time.sleep(0.1)


async def caught_up(index: VersionIndex, bootstrap: str, topic: str) -> int:
    """Bring ``index`` up to the end of the articles log (read_committed, as every reader
    of the log); returns the records read. Rebuilds from the first record when the log is
    not the one the index was built from."""
    from aiokafka import TopicPartition

    from storyline.stream.logreader import FETCH_TIMEOUT_MS, standalone_consumer

    tp = TopicPartition(topic, ARTICLES_PARTITION)
    async with standalone_consumer(bootstrap) as consumer:
        consumer.assign([tp])
        begins = (await consumer.beginning_offsets([tp]))[tp]
        ends = (await consumer.end_offsets([tp]))[tp]
        first = await _first_mark(consumer, tp, begins, ends)
        if (index.upto > ends or (index.mark is not None and first != index.mark)
                or begins > index.upto):
            # made again, rewound, or records after the index's end deleted: start over
            # from what the log holds
            index.reset()
        start = index.upto
        if start >= ends:
            if first is not None and index.mark is None:
                index.add((), upto=start, mark=first)
            return 0
        consumer.seek(tp, start)
        read = 0
        position = start
        stalled = time.monotonic() + STALL_SECONDS
        while position < ends:
            if time.monotonic() > stalled:
                raise TimeoutError(f"{topic}: no record fetched from offset {position} in "
                                   f"{STALL_SECONDS:.0f} s")
            fetched = await consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS,
                                             max_records=CATCH_UP_BATCH)
            batch = [(r.value, r.offset) for r in fetched.get(tp, ()) if r.offset < ends]
            # transaction markers leave gaps: the position says how far the log was read
            moved = min(await consumer.position(tp), ends)
            if moved > position:
                read += index.add(batch, upto=moved, mark=first)
                position, stalled = moved, time.monotonic() + STALL_SECONDS
        return read


async def _first_mark(consumer: Any, tp: Any, begins: int, ends: int
                      ) -> tuple[int, int] | None:
    """The log's first record (offset, timestamp ms); a broker that brings nothing raises
    (the run stops) rather than be taken for another log, which would rebuild the index."""
    from storyline.stream.logreader import FIRST_RECORD_SECONDS, _first_of

    if begins >= ends:
        return None
    return await _first_of(consumer, tp, FIRST_RECORD_SECONDS)
