"""The read model: every revision of every story, queryable, with the log position it was
built from.

One interface, two back ends: SQLite (stdlib, WAL, a file under ``data_dir``; the default)
and PostgreSQL (psycopg 3, optional extra ``postgres``). Both run the same SQL; only the DDL,
the placeholder style and how a write transaction starts differ.

Exactly-once application rests on one rule: the records of a batch and the next offset of
each partition are written in the same transaction, and a record whose offset is below the
stored next offset is skipped. A consumer that restarts seeks to the stored offsets, so a
crash anywhere leaves the store either before or after the whole batch.

Every row written (revision, merge, split, dead letter) takes the next value of one global
sequence, ``seq``; the SSE stream uses it as its event id. A single projector writes a
store (PostgreSQL: enforced by an advisory lock), so ``seq`` order is commit order and a
reader that has seen ``seq = n`` never later finds a row below ``n`` appear.

The story-updates topic carries changes (``StoryUpdated``); the store keeps the whole page of
every revision (``StoryPage``), built from the page before and checked against the update's
hash chain. An update that does not follow the stored page (a gap, another hash) is rejected
to the dead letters, never stored half-applied.
"""

from __future__ import annotations

import abc
import datetime as dt
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryMerged, StoryPage, StoryUpdated
from storyline.domain.pages import PageChainBroken, apply_changes

log = structlog.get_logger(__name__)

MAX_PAGE = 200
#: The largest integer either back end can hold (SQLite INTEGER, PostgreSQL BIGINT): every
#: revision, seq and cursor a client sends is bounded by it, in the API and here again.
MAX_ID = 2**63 - 1
MIN_ID = -(2**63)


def storable(value: int) -> bool:
    """Whether ``value`` can be bound as an SQL integer parameter of either back end."""
    return MIN_ID <= value <= MAX_ID


def storable_text(value: str) -> bool:
    """Whether ``value`` can be a stored id: PostgreSQL text cannot hold NUL (psycopg refuses
    to send it), so no stored story has one, and a lookup of such an id finds nothing."""
    return "\x00" not in value


def _folded(text: str) -> str:
    """``text`` as a reader may type it: compatibility forms, accents and case folded
    ("İstanbul", "Café" composed or not, "HAUPTSTRASSE" → "istanbul", "cafe",
    "hauptstrasse"; "Hauptstraße" too)."""
    for _ in range(2):  # casefold can bring back a mark ("İ"), the second pass drops it
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(ch)).casefold()
    return text


def search_key(*parts: str) -> str:
    """Folded words (:func:`_folded`) separated by single spaces, padded with one space each
    side, so ``LIKE '% word %'`` is a whole-word match and no user text can act as a
    wildcard."""
    words = "".join(ch if ch.isalnum() else " " for ch in _folded(" ".join(parts))).split()
    return f" {' '.join(words)} "


#: How the stored search keys were made; a store with keys of another version has them made
#: again when opened (1: ``str.lower`` only, until session 27, so "Istanbul" did not find
#: "İstanbul" nor "cafe" "Café").
SEARCH_KEYS_VERSION = "2"


def search_keys(page: StoryPage) -> tuple[str, str]:
    """The page's keys for ``q`` (title, key phrases, summary) and for ``name`` (all of
    those, the timeline and the headlines)."""
    summary = " ".join(s.text for p in page.summary for s in p.sentences)
    keys = " ".join(p.key_phrase for p in page.summary)
    timeline = " ".join(e.text for e in page.timeline)
    headlines = " ".join(a.headline for a in page.articles)
    return (search_key(page.title, keys, summary),
            search_key(page.title, keys, summary, timeline, headlines))


def micros(moment: dt.datetime) -> int:
    """UTC microseconds since the epoch: sorts and compares the same in both databases."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def cause_published(update: StoryPage) -> dt.datetime:
    """When the article that caused this revision was published: a listed article's or one
    of its copies' time; the story's latest publication time for a cause the page does not
    list (a withdrawn article's notice)."""
    uri = update.cause.article_uri
    for article in update.articles:
        if article.uri == uri:
            return article.published
        for copy in article.copies:
            if copy.uri == uri:
                return copy.published
    return update.published_last


@dataclass(frozen=True, slots=True)
class Item:
    """One consumed record, decoded (``event``) or not (``error`` says why)."""

    partition: int
    offset: int
    raw: bytes
    event: StoryUpdated | StoryMerged | None = None
    error: str | None = None
    key: str | None = None
    retired: str | None = None  # a retired event type (upcasting.RETIRED): skipped


@dataclass(slots=True)
class Rejected:
    """A record the projector could not apply, to be dead-lettered."""

    partition: int
    offset: int
    key: str | None
    reason: str
    error_type: str
    raw: bytes


@dataclass(slots=True)
class ApplyResult:
    applied: int = 0
    unchanged: int = 0
    skipped: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    last_seq: int | None = None


@dataclass(frozen=True, slots=True)
class StoryRow:
    story_id: str
    revision: int
    seq: int
    title: str
    article_count: int
    independent_count: int
    published_last: str

    @property
    def key(self) -> StoryKey:
        """Where it stands in a listing: by its latest article, then its id."""
        return self.published_last, self.story_id


# A listing's order (latest article first, then story id, both descending): the same in
# every store projected from the topic, unlike ``seq``, so a cursor from one API replica
# pages on at another.
StoryKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class RevisionRow:
    seq: int
    story_id: str
    revision: int
    content_hash: str
    reason: str
    article_count: int
    independent_count: int
    title: str
    cause_published: str
    written_at: float


@dataclass(frozen=True, slots=True)
class EventRow:
    seq: int
    kind: str
    story_id: str
    body: str
    part: int = 0  # the story-updates record it came from: partition, offset
    offset: int = 0


_REVISION_COLUMNS = ("seq, story_id, revision, content_hash, reason, article_count, "
                     "independent_count, title, cause_published_iso, written_at")


class AnotherTopic(RuntimeError):
    """The store holds the pages of another story-updates topic (``held``) than the one a
    batch comes from: two deployments' pages, whose stories have the same ids."""

    def __init__(self, held: str) -> None:
        super().__init__(held)
        self.held = held


class ReadStore(abc.ABC):
    """The SQL shared by both back ends (written with ``?`` placeholders)."""

    placeholder = "?"
    reads_open_transactions = False

    def __init__(self) -> None:
        self._local = threading.local()
        self._write_lock = threading.Lock()

    # -- connections -------------------------------------------------------------------------

    @abc.abstractmethod
    def _connect(self) -> Any: ...

    @abc.abstractmethod
    def _ddl(self) -> Sequence[str]: ...

    @abc.abstractmethod
    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[None]: ...

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._conn()
        cur = conn.execute(self._sql(sql), tuple(params))
        rows: list[tuple[Any, ...]] = cur.fetchall()
        if self.reads_open_transactions:
            # PostgreSQL opens a transaction for every read; ending it releases the snapshot
            conn.rollback()
        return rows

    def migrate(self) -> None:
        conn = self._conn()
        with self._transaction(conn):
            for statement in self._ddl():
                conn.execute(statement)
            self._make_search_keys(conn)

    def _make_search_keys(self, conn: Any) -> None:
        """Make every story's search keys again from its head page when they were made by
        another version of :func:`search_key` (once, when the store is opened)."""
        row = conn.execute(self._sql("SELECT value FROM meta WHERE name = ?"),
                           ("search_keys",)).fetchone()
        if row is not None and row[0] == SEARCH_KEYS_VERSION:
            return
        heads = conn.execute(self._sql("SELECT s.story_id, e.body FROM stories s "
                                       "JOIN events e ON e.seq = s.seq")).fetchall()
        for story_id, body in heads:
            text_key, name_key = search_keys(StoryPage.model_validate(orjson.loads(body)))
            conn.execute(self._sql("UPDATE stories SET text_key = ?, name_key = ? "
                                   "WHERE story_id = ?"), (text_key, name_key, story_id))
        conn.execute(self._sql(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) "
            "DO UPDATE SET value = excluded.value"), ("search_keys", SEARCH_KEYS_VERSION))
        if heads:
            log.info("read_store.search_keys_made_again", stories=len(heads),
                     version=SEARCH_KEYS_VERSION)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- the projector's side ----------------------------------------------------------------

    def projected_topics(self) -> list[str]:
        """The topics whose records this store holds (it has positions in them), sorted."""
        return sorted(str(row[0]) for row in
                      self._fetchall("SELECT DISTINCT topic FROM positions"))

    def positions(self, topic: str) -> dict[int, int]:
        rows = self._fetchall("SELECT part, next_offset FROM positions WHERE topic = ?", (topic,))
        return {int(p): int(o) for p, o in rows}

    def apply(self, topic: str, items: Sequence[Item]) -> ApplyResult:
        """Apply a batch and advance the positions, all in one transaction; AnotherTopic
        (nothing applied) when the store holds the records of another topic."""
        result = ApplyResult()
        if not items:
            return result
        with self._write_lock:
            conn = self._conn()
            with self._transaction(conn):
                # in the write transaction, not only when a projector starts: two projectors
                # of two deployments started at once on one empty store both found no other
                # topic there, then applied each other's revisions as conflicts (SQLite's
                # BEGIN IMMEDIATE makes this check and the writes one step; PostgreSQL has
                # one writer per store, acquire_writer)
                other = conn.execute(self._sql(
                    "SELECT topic FROM positions WHERE topic <> ? LIMIT 1"), (topic,)).fetchone()
                if other is not None:
                    raise AnotherTopic(str(other[0]))
                positions = {
                    int(p): int(o)
                    for p, o in conn.execute(
                        self._sql("SELECT part, next_offset FROM positions WHERE topic = ?"),
                        (topic,)).fetchall()
                }
                now = time.time()
                for item in items:
                    if item.offset < positions.get(item.partition, 0):
                        result.skipped += 1
                        continue
                    positions[item.partition] = item.offset + 1
                    self._apply_one(conn, topic, item, now, result)
                for part, next_offset in sorted(positions.items()):
                    conn.execute(self._sql(
                        "INSERT INTO positions (topic, part, next_offset) VALUES (?, ?, ?) "
                        "ON CONFLICT (topic, part) DO UPDATE SET next_offset = excluded.next_offset"
                    ), (topic, part, next_offset))
        return result

    def _apply_one(self, conn: Any, topic: str, item: Item, now: float,
                   result: ApplyResult) -> None:
        event = item.event
        if event is None and item.retired is not None:
            result.skipped += 1  # e.g. a StorySplit: no version produced one, nothing to apply
            log.info("retired event skipped", topic=topic, partition=item.partition,
                     offset=item.offset, reason=item.retired)
        elif event is None:
            self._reject(conn, topic, item, "UndecodableEvent", item.error or "undecodable",
                         now, result)
        elif isinstance(event, StoryUpdated):
            self._apply_update(conn, topic, item, event, now, result)
        elif isinstance(event, StoryMerged):
            seq = self._insert_event(conn, "StoryMerged", event.survivor_id, None, None, None,
                                     canonical_bytes(event).decode(), topic, item, now)
            self._add_alias(conn, event.absorbed_id, event.survivor_id, seq)
            result.applied += 1
            result.last_seq = seq

    def _apply_update(self, conn: Any, topic: str, item: Item, event: StoryUpdated, now: float,
                      result: ApplyResult) -> None:
        existing = conn.execute(self._sql(
            "SELECT content_hash FROM events WHERE kind = 'StoryUpdated' AND story_id = ? "
            "AND revision = ?"), (event.story_id, event.revision)).fetchone()
        if existing is not None:
            if existing[0] == event.content_hash:
                result.unchanged += 1  # a redelivery or a replay that reproduced the page
                return
            self._reject(conn, topic, item, "RevisionConflict",
                         f"revision {event.revision} of {event.story_id} is stored with hash "
                         f"{existing[0]}, this record has {event.content_hash}", now, result)
            return
        before_body = None
        if event.revision > 1:
            row = conn.execute(self._sql(
                "SELECT body FROM events WHERE kind = 'StoryUpdated' AND story_id = ? "
                "AND revision = ?"), (event.story_id, event.revision - 1)).fetchone()
            before_body = row[0] if row is not None else None
        before = (StoryPage.model_validate(orjson.loads(before_body))
                  if before_body is not None else None)
        try:
            if before is not None and event.changes.full and event.previous_hash not in (
                    None, before.content_hash):
                raise PageChainBroken(
                    f"{event.story_id}@{event.revision} follows {event.previous_hash}, "
                    f"revision {before.revision} is stored with {before.content_hash}")
            page = apply_changes(None if event.changes.full else before, event)
        except PageChainBroken as exc:
            self._reject(conn, topic, item, "PageChainBroken", str(exc), now, result)
            return
        self._store_page(conn, topic, item, page, event.diff.reason.value, now, result)

    def _store_page(self, conn: Any, topic: str, item: Item, event: StoryPage, reason: str,
                    now: float, result: ApplyResult) -> None:
        published = cause_published(event)
        seq = self._insert_event(conn, "StoryUpdated", event.story_id, event.revision,
                                 event.content_hash, published,
                                 canonical_bytes(event).decode("utf-8"), topic, item, now)
        conn.execute(self._sql(
            "INSERT INTO revisions (seq, story_id, revision, content_hash, reason, article_count,"
            " independent_count, title, cause_published, cause_published_iso, written_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            (seq, event.story_id, event.revision, event.content_hash, reason,
             event.article_count, event.independent_count, event.title, micros(published),
             published.isoformat(), now))
        text_key, name_key = search_keys(event)
        conn.execute(self._sql(
            "INSERT INTO stories (story_id, revision, seq, title, article_count, "
            "independent_count, published_last, text_key, name_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (story_id) DO UPDATE SET revision = excluded.revision, "
            "seq = excluded.seq, title = excluded.title, "
            "article_count = excluded.article_count, "
            "independent_count = excluded.independent_count, "
            "published_last = excluded.published_last, text_key = excluded.text_key, "
            "name_key = excluded.name_key WHERE stories.revision < excluded.revision"),
            (event.story_id, event.revision, seq, event.title, event.article_count,
             event.independent_count, event.published_last.isoformat(), text_key, name_key))
        for alias in event.aliases:
            self._add_alias(conn, alias, event.story_id, seq)
        result.applied += 1
        result.last_seq = seq

    def _insert_event(self, conn: Any, kind: str, story_id: str, revision: int | None,
                      content_hash: str | None, published: dt.datetime | None, body: str,
                      topic: str, item: Item, now: float) -> int:
        row = conn.execute(self._sql(
            "INSERT INTO events (kind, story_id, revision, content_hash, body, topic, part, "
            "record_offset, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq"),
            (kind, story_id, revision, content_hash, body, topic, item.partition, item.offset,
             now)).fetchone()
        return int(row[0])

    def _add_alias(self, conn: Any, absorbed: str, survivor: str, seq: int) -> None:
        if absorbed == survivor:
            return
        conn.execute(self._sql(
            "INSERT INTO aliases (absorbed_id, survivor_id, seq) VALUES (?, ?, ?) "
            "ON CONFLICT (absorbed_id) DO UPDATE SET survivor_id = excluded.survivor_id, "
            "seq = excluded.seq WHERE aliases.survivor_id <> excluded.survivor_id"),
            (absorbed, survivor, seq))

    def _reject(self, conn: Any, topic: str, item: Item, error_type: str, reason: str,
                now: float, result: ApplyResult) -> None:
        conn.execute(self._sql(
            "INSERT INTO rejected (topic, part, record_offset, error_type, reason, written_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (topic, part, record_offset) DO NOTHING"),
            (topic, item.partition, item.offset, error_type, reason, now))
        result.rejected.append(Rejected(item.partition, item.offset, item.key, reason,
                                        error_type, item.raw))

    # -- the API's side ----------------------------------------------------------------------

    def max_seq(self) -> int:
        rows = self._fetchall("SELECT MAX(seq) FROM events")
        return int(rows[0][0] or 0)

    def resolve(self, story_id: str) -> str | None:
        """The survivor an absorbed id now lives on (following merges of merges), or None
        when ``story_id`` was never merged away."""
        if not storable_text(story_id):
            return None
        target: str | None = None
        seen = {story_id}
        current = story_id
        for _ in range(64):
            rows = self._fetchall("SELECT survivor_id FROM aliases WHERE absorbed_id = ?",
                                  (current,))
            if not rows or rows[0][0] in seen:
                break
            current = target = str(rows[0][0])
            seen.add(current)
        return target

    def list_stories(self, *, limit: int, after: StoryKey | None = None,
                     q: str | None = None, name: str | None = None) -> list[StoryRow]:
        """Stories by their latest article, newest first (then by id); those after ``after``
        in that order (the last key of the previous page)."""
        where = ["story_id NOT IN (SELECT absorbed_id FROM aliases)"]
        params: list[Any] = []
        if after is not None:
            if not (storable_text(after[0]) and storable_text(after[1])):
                return []
            where.append("(published_last < ? OR (published_last = ? AND story_id < ?))")
            params += [after[0], after[0], after[1]]
        if q and search_key(q).strip():
            # substring of the words, so 'kurs' finds 'Kursk'
            where.append("text_key LIKE ?")
            params.append(f"%{search_key(q).strip()}%")
        if name and search_key(name).strip():
            where.append("name_key LIKE ?")
            params.append(f"%{search_key(name)}%")
        params.append(min(max(limit, 1), MAX_PAGE))
        rows = self._fetchall(
            "SELECT story_id, revision, seq, title, article_count, independent_count, "
            f"published_last FROM stories WHERE {' AND '.join(where)} "
            "ORDER BY published_last DESC, story_id DESC LIMIT ?", params)
        return [StoryRow(str(r[0]), int(r[1]), int(r[2]), str(r[3]), int(r[4]), int(r[5]),
                         str(r[6])) for r in rows]

    def head_revision(self, story_id: str) -> int | None:
        if not storable_text(story_id):
            return None
        rows = self._fetchall("SELECT revision FROM stories WHERE story_id = ?", (story_id,))
        return int(rows[0][0]) if rows else None

    def get_body(self, story_id: str, *, revision: int | None = None,
                 as_of: dt.datetime | None = None) -> str | None:
        """The stored JSON of a revision: the head, a given one, or the page as it stood at
        ``as_of``: the latest revision before the first whose cause article was published
        after it."""
        if not storable_text(story_id):
            return None
        if revision is not None:
            if not storable(revision):
                return None
            sql = ("SELECT body FROM events WHERE kind = 'StoryUpdated' AND story_id = ? "
                   "AND revision = ?")
            params: tuple[Any, ...] = (story_id, revision)
        elif as_of is not None:
            # the page as it stood before the first article published after ``as_of``
            # joined: a later revision caused by an earlier article (a correction, a
            # withdrawal) already holds that later article, so it is not the page of then
            sql = ("SELECT e.body FROM revisions r JOIN events e ON e.seq = r.seq "
                   "WHERE r.story_id = ? AND r.revision < COALESCE((SELECT MIN(revision) "
                   "FROM revisions WHERE story_id = ? AND cause_published > ?), ?) "
                   "ORDER BY r.revision DESC LIMIT 1")
            params = (story_id, story_id, micros(as_of), MAX_ID)
        else:
            sql = ("SELECT e.body FROM stories s JOIN events e ON e.seq = s.seq "
                   "WHERE s.story_id = ?")
            params = (story_id,)
        rows = self._fetchall(sql, params)
        return str(rows[0][0]) if rows else None

    def get_page(self, story_id: str, *, revision: int | None = None,
                 as_of: dt.datetime | None = None) -> StoryPage | None:
        body = self.get_body(story_id, revision=revision, as_of=as_of)
        return None if body is None else StoryPage.model_validate(orjson.loads(body))

    def revisions(self, story_id: str, *, limit: int = 1000,
                  before_revision: int | None = None) -> list[RevisionRow]:
        if not storable_text(story_id):
            return []
        params: list[Any] = [story_id]
        extra = ""
        if before_revision is not None and before_revision <= MIN_ID:
            return []
        if before_revision is not None and before_revision <= MAX_ID:
            extra = " AND revision < ?"
            params.append(before_revision)
        params.append(limit)
        rows = self._fetchall(
            f"SELECT {_REVISION_COLUMNS} FROM revisions WHERE story_id = ?{extra} "
            "ORDER BY revision DESC LIMIT ?", params)
        return [RevisionRow(int(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), int(r[5]),
                            int(r[6]), str(r[7]), str(r[8]), float(r[9])) for r in rows]

    def record_positions(self) -> dict[int, int]:
        """Per partition of the story-updates topic, the next offset not yet applied: every
        event of an earlier record is stored (the projector commits both together)."""
        rows = self._fetchall("SELECT part, MAX(next_offset) FROM positions GROUP BY part")
        return {int(p): int(o) for p, o in rows}

    def positions_through(self, seq: int) -> dict[int, int]:
        """Per partition, the next offset after the events up to ``seq`` (partitions with
        none there are left out: all their events come after it)."""
        rows = self._fetchall("SELECT part, MAX(record_offset) FROM events WHERE seq <= ? "
                              "GROUP BY part", (min(max(seq, MIN_ID), MAX_ID),))
        return {int(p): int(o) + 1 for p, o in rows}

    def events_from(self, positions: Mapping[int, int], *, after_seq: int | None = None,
                    story_ids: Sequence[str] = (), merged_away: Sequence[str] = (),
                    limit: int = 500) -> list[EventRow]:
        """The events of records at or past ``positions`` (partition -> offset; a partition
        left out: all of its records), in this store's order (``seq``), only those after
        ``after_seq`` when given (a reader that took the earlier ones already). The same
        ``positions`` name the same records in every store projected from the topic,
        whatever order each applied its partitions in. With ``story_ids``, only theirs, and
        the event that first named each of ``merged_away`` an alias (its ``StoryMerged``:
        the survivor's event)."""
        if story_ids:
            story_ids = [s for s in story_ids if storable_text(s)]
            merged_away = [s for s in merged_away if storable_text(s)]
            if not story_ids:
                return []
        known = sorted(positions.items())
        wanted = " OR ".join(["(part = ? AND record_offset >= ?)" for _ in known]
                             + ([f"part NOT IN ({', '.join('?' for _ in known)})"] if known
                                else ["1 = 1"]))
        flat: list[Any] = [v for pair in known for v in pair] + [p for p, _ in known]
        if after_seq is None:  # from the first such event, found by position
            firsts = [self._fetchall("SELECT MIN(seq) FROM events WHERE part = ? AND "
                                     "record_offset >= ?", (p, o))[0][0] for p, o in known]
            if known:
                firsts.append(self._fetchall(
                    f"SELECT MIN(seq) FROM events WHERE part NOT IN "
                    f"({', '.join('?' for _ in known)})", [p for p, _ in known])[0][0])
            else:
                firsts.append(self._fetchall("SELECT MIN(seq) FROM events")[0][0])
            found = [int(f) for f in firsts if f is not None]
            if not found:
                return []
            after_seq = min(found) - 1
        params: list[Any] = [max(after_seq, MIN_ID), *flat]
        where = f"seq > ? AND ({wanted})"
        if story_ids:
            where += f" AND (story_id IN ({', '.join('?' for _ in story_ids)})"
            params += list(story_ids)
            if merged_away:
                where += (" OR seq IN (SELECT seq FROM aliases WHERE absorbed_id IN "
                          f"({', '.join('?' for _ in merged_away)}))")
                params += list(merged_away)
            where += ")"
        params.append(limit)
        rows = self._fetchall(
            f"SELECT seq, kind, story_id, body, part, record_offset FROM events WHERE {where} "
            "ORDER BY seq LIMIT ?", params)
        return [EventRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]))
                for r in rows]

    def events_after(self, seq: int, *, story_ids: Sequence[str] = (),
                     limit: int = 500) -> list[EventRow]:
        """Rows of the feed after ``seq``, oldest first; for one story (and the ids merged
        into it) when ``story_ids`` is given."""
        if seq >= MAX_ID:
            return []
        return self.events_from({}, after_seq=seq, story_ids=story_ids, limit=limit)

    def aliases_of(self, survivor: str) -> list[str]:
        if not storable_text(survivor):
            return []
        rows = self._fetchall(
            "SELECT absorbed_id FROM aliases WHERE survivor_id = ? ORDER BY absorbed_id",
            (survivor,))
        return [str(r[0]) for r in rows]

    def rejected(self, topic: str) -> list[tuple[int, int, str, str]]:
        rows = self._fetchall(
            "SELECT part, record_offset, error_type, reason FROM rejected WHERE topic = ? "
            "ORDER BY part, record_offset", (topic,))
        return [(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]


_COMMON_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS revisions (seq BIGINT PRIMARY KEY, story_id TEXT NOT NULL, "
    "revision INTEGER NOT NULL, content_hash TEXT NOT NULL, reason TEXT NOT NULL, "
    "article_count INTEGER NOT NULL, independent_count INTEGER NOT NULL, title TEXT NOT NULL, "
    "cause_published BIGINT NOT NULL, cause_published_iso TEXT NOT NULL, "
    "written_at DOUBLE PRECISION NOT NULL, UNIQUE (story_id, revision))",
    "CREATE TABLE IF NOT EXISTS stories (story_id TEXT PRIMARY KEY, revision INTEGER NOT NULL,"
    " seq BIGINT NOT NULL, title TEXT NOT NULL, article_count INTEGER NOT NULL, "
    "independent_count INTEGER NOT NULL, published_last TEXT NOT NULL, text_key TEXT NOT NULL,"
    " name_key TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS stories_by_seq ON stories (seq)",
    "CREATE INDEX IF NOT EXISTS stories_by_latest ON stories (published_last, story_id)",
    "CREATE TABLE IF NOT EXISTS aliases (absorbed_id TEXT PRIMARY KEY, "
    "survivor_id TEXT NOT NULL, seq BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS aliases_by_survivor ON aliases (survivor_id)",
    "CREATE TABLE IF NOT EXISTS positions (topic TEXT NOT NULL, part INTEGER NOT NULL, "
    "next_offset BIGINT NOT NULL, PRIMARY KEY (topic, part))",
    "CREATE TABLE IF NOT EXISTS rejected (topic TEXT NOT NULL, part INTEGER NOT NULL, "
    "record_offset BIGINT NOT NULL, error_type TEXT NOT NULL, reason TEXT NOT NULL, "
    "written_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (topic, part, record_offset))",
)
_EVENT_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS events_revision ON events (story_id, revision) "
    "WHERE kind = 'StoryUpdated'",
    "CREATE INDEX IF NOT EXISTS events_by_story ON events (story_id, seq)",
    # where a resuming reader's positions begin (SSE ids name records, not this store's seq)
    "CREATE INDEX IF NOT EXISTS events_by_record ON events (part, record_offset)",
)
_EVENTS_COLUMNS = ("kind TEXT NOT NULL, story_id TEXT NOT NULL, revision INTEGER, "
                   "content_hash TEXT, body TEXT NOT NULL, topic TEXT NOT NULL, "
                   "part INTEGER NOT NULL, record_offset BIGINT NOT NULL, "
                   "written_at DOUBLE PRECISION NOT NULL")


class SqliteStore(ReadStore):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a process crash; only an OS crash can lose the
        # last transactions, and then positions roll back with them (same transaction).
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _ddl(self) -> Sequence[str]:
        return (
            f"CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            f"{_EVENTS_COLUMNS})",
            *_COMMON_DDL,
            *_EVENT_INDEXES,
        )

    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


class PostgresStore(ReadStore):
    placeholder = "%s"
    reads_open_transactions = True

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._lock_conn: Any = None

    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise RuntimeError(
                "a postgresql:// read store needs psycopg: pip install 'storyline[postgres]'"
            ) from exc
        return psycopg.connect(self.url)

    def _ddl(self) -> Sequence[str]:
        return (
            f"CREATE TABLE IF NOT EXISTS events (seq BIGSERIAL PRIMARY KEY, {_EVENTS_COLUMNS})",
            *_COMMON_DDL,
            *_EVENT_INDEXES,
        )

    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[None]:
        conn.rollback()  # leave any read snapshot behind
        with conn.transaction():
            yield

    def acquire_writer(self) -> bool:
        """One projector per store: seq order is commit order only with a single writer."""
        import psycopg

        self._lock_conn = psycopg.connect(self.url, autocommit=True)
        row = self._lock_conn.execute("SELECT pg_try_advisory_lock(7468207201)").fetchone()
        return bool(row and row[0])

    def release_writer(self) -> None:
        if self._lock_conn is not None:
            self._lock_conn.close()  # the session lock goes with its connection
            self._lock_conn = None

    def close(self) -> None:
        super().close()
        self.release_writer()


def open_store(target: str | Path) -> ReadStore:
    """``postgresql://...`` opens PostgreSQL; anything else is a SQLite file path."""
    text = str(target)
    store: ReadStore
    if text.startswith(("postgresql://", "postgres://")):
        store = PostgresStore(text)
    else:
        store = SqliteStore(Path(text))
    store.migrate()
    return store
