"""The read store: exactly-once application, history, aliases, queries; on SQLite always and
on PostgreSQL when a server can be had (STORYLINE_TEST_POSTGRES_URL, or a private cluster
started from Debian's postgresql binaries)."""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryUpdated
from storyline.domain.pages import page_of_full
from storyline.kafka.broker import free_port
from storyline.read.projector import decode_record
from storyline.read.samples import chained, merge, story_history, story_revision, updates
from storyline.read.store import Item, ReadStore, open_store, search_key

TOPIC = "storyline.story-updates"


def _pg_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    external = os.environ.get("STORYLINE_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    bin_dir = _pg_binaries()
    if bin_dir is None:
        pytest.skip("no PostgreSQL: set STORYLINE_TEST_POSTGRES_URL or install postgresql")
    # initdb refuses to run as root: the cluster belongs to the 'postgres' user when we are
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start a private PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="storyline-pg-"))
    if as_user:
        shutil.chown(root, user="postgres")
    port = free_port()
    data = root / "data"
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "storyline", "--no-sync", "-E", "UTF8"], check=True,
                   capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"),
                    "-w", "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://storyline@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadStore]:
    if request.param == "sqlite":
        opened = open_store(tmp_path / "read.sqlite3")
    else:
        import psycopg

        url = request.getfixturevalue("postgres_server")
        name = f"t{uuid.uuid4().hex[:10]}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        opened = open_store(url.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield opened
    finally:
        opened.close()


def item(partition: int, offset: int, event: object) -> Item:
    return decode_record(partition, offset, b"key", canonical_bytes(event))


def load(store: ReadStore, updates: list[StoryUpdated], partition: int = 0,
         start: int = 0) -> None:
    store.apply(TOPIC, [item(partition, start + i, u) for i, u in enumerate(updates)])


def test_every_revision_is_stored_once_with_positions(store: ReadStore) -> None:
    history = story_history(revisions=5)
    records = updates(history)
    assert records[0].changes.full and not any(r.changes.full for r in records[1:])
    result = store.apply(TOPIC, [item(1, 10 + i, u) for i, u in enumerate(records)])
    assert (result.applied, result.skipped, result.unchanged) == (5, 0, 0)
    assert store.positions(TOPIC) == {1: 15}
    assert [r.revision for r in store.revisions("story-kursk")] == [5, 4, 3, 2, 1]
    assert store.head_revision("story-kursk") == 5
    # every revision is rebuilt from the changes into the whole page, hash chain included
    assert [store.get_page("story-kursk", revision=r) for r in range(1, 6)] == history
    assert [r.content_hash for r in reversed(store.revisions("story-kursk"))] == \
        [p.content_hash for p in history]
    # redelivery of the same offsets is skipped by position, not re-applied
    again = store.apply(TOPIC, [item(1, 10 + i, u) for i, u in enumerate(records)])
    assert (again.applied, again.skipped) == (0, 5)
    assert len(store.events_after(0)) == 5


def test_same_revision_at_a_new_offset_is_a_no_op(store: ReadStore) -> None:
    records = updates(story_history(revisions=2))
    load(store, records)
    # a replay that reproduced the same page lands at later offsets
    result = store.apply(TOPIC, [item(0, 7, records[1])])
    assert (result.applied, result.unchanged, result.rejected) == (0, 1, [])
    assert store.positions(TOPIC) == {0: 8}
    assert len(store.events_after(0)) == 2


def test_same_revision_with_another_hash_is_rejected(store: ReadStore) -> None:
    history = story_history(revisions=2)
    load(store, updates(history))
    # a change that follows the stored revision 1 but makes another revision 2
    impostor = story_revision(revision=2, title="A different page under the same number")
    conflicting = updates([history[0], impostor])[1]
    assert not conflicting.changes.full
    assert conflicting.previous_hash == history[0].content_hash
    assert conflicting.content_hash != history[1].content_hash
    result = store.apply(TOPIC, [item(0, 5, conflicting)])
    assert (result.applied, result.unchanged) == (0, 0)
    [rejected] = result.rejected
    assert rejected.error_type == "RevisionConflict"
    assert "revision 2 of story-kursk" in rejected.reason
    assert store.get_page("story-kursk", revision=2) == history[1]
    assert store.rejected(TOPIC)[0][:3] == (0, 5, "RevisionConflict")
    assert store.positions(TOPIC) == {0: 6}
    assert len(store.events_after(0)) == 2


def test_a_change_without_its_previous_revision_is_rejected(store: ReadStore) -> None:
    history = story_history(revisions=3)
    records = updates(history)
    assert not records[2].changes.full
    # revision 3 as a change, with only revision 1 stored: nothing to apply it to
    result = store.apply(TOPIC, [item(0, 0, records[0]), item(0, 1, records[2])])
    assert result.applied == 1
    [rejected] = result.rejected
    assert (rejected.offset, rejected.error_type) == (1, "PageChainBroken")
    assert "story-kursk@3" in rejected.reason
    assert store.rejected(TOPIC)[0][:3] == (0, 1, "PageChainBroken")
    assert store.positions(TOPIC) == {0: 2}
    # nothing of revision 3 was stored
    assert store.get_page("story-kursk", revision=3) is None
    assert [r.revision for r in store.revisions("story-kursk")] == [1]
    assert store.head_revision("story-kursk") == 1
    assert len(store.events_after(0)) == 1


def test_a_change_that_follows_another_page_is_rejected(store: ReadStore) -> None:
    history = story_history(revisions=3)
    impostor = story_revision(revision=2, title="Another revision 2")
    load(store, updates([history[0], impostor]))
    # the real revision 3 names the real revision 2's hash, not the stored one
    result = store.apply(TOPIC, [item(0, 2, updates(history)[2])])
    [rejected] = result.rejected
    assert rejected.error_type == "PageChainBroken"
    assert store.get_page("story-kursk", revision=3) is None
    assert store.head_revision("story-kursk") == 2
    assert store.get_page("story-kursk") == chained([history[0], impostor])[1]


def test_a_full_update_is_stored_without_its_predecessor(store: ReadStore) -> None:
    history = story_history(revisions=3)
    [full] = updates([history[2]])
    assert full.changes.full and full.previous_hash == history[1].content_hash
    result = store.apply(TOPIC, [item(0, 0, full)])
    assert (result.applied, result.rejected) == (1, [])
    assert store.get_page("story-kursk", revision=3) == history[2] == page_of_full(full)
    assert store.get_page("story-kursk", revision=2) is None
    assert [r.revision for r in store.revisions("story-kursk")] == [3]
    assert store.head_revision("story-kursk") == 3


def test_undecodable_records_are_rejected_and_passed(store: ReadStore) -> None:
    bad = decode_record(2, 0, None, b"{not json")
    tomb = decode_record(2, 1, b"k", None)
    array = decode_record(2, 2, b"k", b"[1, 2]")
    article = decode_record(2, 3, b"k", b'{"event_type": "DeadLetter", "schema_version": 1}')
    good = item(2, 4, updates([story_revision(revision=1)])[0])
    result = store.apply(TOPIC, [bad, tomb, array, article, good])
    assert [r.error_type for r in result.rejected] == ["UndecodableEvent"] * 4
    assert result.applied == 1
    assert store.positions(TOPIC) == {2: 5}


def test_a_retired_story_split_is_skipped_not_dead_lettered(store: ReadStore) -> None:
    old = (Path(__file__).resolve().parents[1] / "fixtures" / "events" / "StorySplit.v1.json")
    split = decode_record(3, 0, b"k", old.read_bytes())
    assert split.event is None and split.error is None and split.retired
    good = item(3, 1, updates([story_revision(revision=1)])[0])
    result = store.apply(TOPIC, [split, good])
    assert result.rejected == [] and result.skipped == 1 and result.applied == 1
    assert store.positions(TOPIC) == {3: 2}
    assert [e.kind for e in store.events_after(0)] == ["StoryUpdated"]


def test_a_failed_batch_leaves_nothing_behind(store: ReadStore,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    records = updates(story_history(revisions=3))
    insert = store._insert_event

    def failing_insert(conn: Any, kind: str, story_id: str, revision: int | None,
                       *args: Any) -> int:
        if revision == 3:  # the write of the batch's third record fails
            raise OSError("disk full")
        return insert(conn, kind, story_id, revision, *args)

    monkeypatch.setattr(store, "_insert_event", failing_insert)
    with pytest.raises(OSError, match="disk full"):
        store.apply(TOPIC, [item(0, i, u) for i, u in enumerate(records)])
    assert store.positions(TOPIC) == {}
    assert store.events_after(0) == []
    assert store.head_revision("story-kursk") is None


def test_out_of_order_revisions_keep_the_highest_as_head(store: ReadStore) -> None:
    history = story_history(revisions=3)
    # revision 3 whole (as a compacted snapshot would carry it), then 1 whole and 2 as a change
    [third] = updates([history[2]])
    result = store.apply(TOPIC, [item(0, 0, third), *[item(0, 1 + i, u) for i, u in
                                                        enumerate(updates(history[:2]))]])
    assert (result.applied, result.rejected) == (3, [])
    assert store.head_revision("story-kursk") == 3
    assert store.get_page("story-kursk") == history[2]
    assert [r.revision for r in store.revisions("story-kursk")] == [3, 2, 1]


def test_merges_resolve_through_chains_and_leave_listings(store: ReadStore) -> None:
    load(store, updates(story_history("story-a", 2)), partition=0)
    load(store, updates(story_history("story-b", 1)), partition=1)
    load(store, updates(story_history("story-c", 1)), partition=2)
    store.apply(TOPIC, [item(0, 2, merge("story-b", "story-a", 2)),
                        item(1, 1, merge("story-c", "story-b", 2))])
    assert store.resolve("story-a") == "story-c"
    assert store.resolve("story-b") == "story-c"
    assert store.resolve("story-c") is None
    assert [s.story_id for s in store.list_stories(limit=10)] == ["story-c"]
    # the absorbed story keeps its own history
    assert [r.revision for r in store.revisions("story-a")] == [2, 1]
    assert store.aliases_of("story-c") == ["story-b"]
    merged = [e for e in store.events_after(0) if e.kind == "StoryMerged"]
    assert [e.story_id for e in merged] == ["story-b", "story-c"]


def test_aliases_listed_on_a_revision_are_recorded(store: ReadStore) -> None:
    load(store, updates([story_revision("story-s", 1, aliases=("story-old",))]))
    assert store.resolve("story-old") == "story-s"


def test_as_of_picks_the_latest_revision_published_by_then(store: ReadStore) -> None:
    history = story_history(revisions=5)
    load(store, updates(history))
    # article 3 was published 2026-01-06 09:00, article 4 on 2026-01-26
    at = dt.datetime(2026, 1, 20, tzinfo=dt.UTC)
    picked = store.get_page("story-kursk", as_of=at)
    assert picked is not None and picked == history[2]
    exactly = store.get_page("story-kursk", as_of=dt.datetime(2026, 1, 6, 9, tzinfo=dt.UTC))
    assert exactly is not None and exactly.revision == 3
    assert store.get_page("story-kursk", as_of=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)) is None


def test_as_of_never_answers_with_a_page_that_holds_a_later_article(store: ReadStore) -> None:
    # revision 6 corrects article 1 (published 2025-12-13): its cause is an early article,
    # but its page already lists articles 3-5 of January and February
    history = story_history(revisions=6)
    load(store, updates(history))
    assert history[5].cause.article_uri == history[0].articles[0].uri
    for at, revision in ((dt.datetime(2025, 12, 14, tzinfo=dt.UTC), 2),
                         (dt.datetime(2026, 1, 20, tzinfo=dt.UTC), 3),
                         (dt.datetime(2026, 2, 5, 9, tzinfo=dt.UTC), 6),
                         (dt.datetime(2030, 1, 1, tzinfo=dt.UTC), 6)):
        page = store.get_page("story-kursk", as_of=at)
        assert page is not None and page.revision == revision, (at, page and page.revision)
        assert all(a.published <= at for a in page.articles)


def test_listing_pages_with_a_cursor_newest_first(store: ReadStore) -> None:
    for i in range(7):
        load(store, updates([story_revision(f"story-{i}", 1)]), partition=0, start=i)
    second_of_2 = updates(story_history("story-2", 2))[1]
    load(store, [second_of_2], partition=0, start=7)  # updated last
    first = store.list_stories(limit=3)
    # by the latest article (story-2's second), then by id where that is the same
    assert [s.story_id for s in first] == ["story-2", "story-6", "story-5"]
    second = store.list_stories(limit=3, after=first[-1].key)
    assert [s.story_id for s in second] == ["story-4", "story-3", "story-1"]
    third = store.list_stories(limit=3, after=second[-1].key)
    assert [s.story_id for s in third] == ["story-0"]


def test_a_listing_is_in_the_same_order_in_every_store(store: ReadStore,
                                                        tmp_path: Path) -> None:
    """Two replicas of the API, each projecting the topic in its own interleaving of the
    partitions: the same pages, the same cursors (a next_cursor from one pages on at the
    other; with the store's ``seq`` as the cursor it skipped or repeated stories)."""
    other = open_store(tmp_path / "other.sqlite3")
    records = {p: [item(p, k, updates(story_history(f"story-{p}{k}", 1))[0])
                   for k in range(2)] for p in range(3)}
    for target, parts in ((store, [0, 1, 2]), (other, [2, 1, 0])):
        for p in parts:  # one partition after the other, in another order
            target.apply(TOPIC, records[p])
    mine = store.list_stories(limit=4)
    theirs = other.list_stories(limit=4)
    assert [s.story_id for s in mine] == [s.story_id for s in theirs]
    assert [s.story_id for s in other.list_stories(limit=4, after=mine[-1].key)] == [
        s.story_id for s in store.list_stories(limit=4, after=mine[-1].key)]
    assert len({s.story_id for s in mine}
               | {s.story_id for s in other.list_stories(limit=4, after=mine[-1].key)}) == 6


def test_text_and_name_filters(store: ReadStore) -> None:
    load(store, updates([story_revision("story-k", 1)]), start=0)
    load(store, updates([story_revision("story-o", 1, title="Oil spill reaches the coast")]),
         start=1)
    # both summaries speak of Kursk; only one title does
    assert [s.story_id for s in store.list_stories(limit=10, q="kurs")] == ["story-o",
                                                                           "story-k"]
    assert [s.story_id for s in store.list_stories(limit=10, q="continue oper")] == ["story-k"]
    assert [s.story_id for s in store.list_stories(limit=10, q="OIL SPILL")] == ["story-o"]
    # names are whole words: 'Kim' matches, 'Ki' does not
    assert {s.story_id for s in store.list_stories(limit=10, name="Kim")} == {"story-k",
                                                                             "story-o"}
    assert store.list_stories(limit=10, name="Ki") == []
    # wildcards in user text are only text
    assert store.list_stories(limit=10, q="%") == store.list_stories(limit=10)
    assert search_key("50%_off it's") == " 50 off it s "


def test_search_finds_names_as_readers_type_them(store: ReadStore) -> None:
    for i, title in enumerate(("Earthquake shakes İstanbul", "Café fire in Lyon",
                               "Hauptstraße closed")):
        load(store, updates([story_revision(f"story-{i}", 1, title=title)]), start=i)

    def found(**query: str) -> list[str]:
        return [s.story_id for s in store.list_stories(limit=10, **query)]

    for typed in ("Istanbul", "istanbul", "İSTANBUL"):
        assert found(q=typed) == ["story-0"] and found(name=typed) == ["story-0"], typed
    for typed in ("Café", "Cafe\u0301", "cafe", "CAFÉ"):  # composed, decomposed, plain
        assert found(q=typed) == ["story-1"] and found(name=typed) == ["story-1"], typed
    for typed in ("HAUPTSTRASSE", "hauptstraße", "Hauptstrasse"):
        assert found(q=typed) == ["story-2"], typed


def test_a_store_with_search_keys_of_before_makes_them_again(tmp_path: Path) -> None:
    path = tmp_path / "read.sqlite3"
    store = open_store(path)
    load(store, updates([story_revision("story-i", 1, title="Earthquake shakes İstanbul")]))
    # the store as session 26 left it: keys by str.lower, no version written
    conn = store._conn()
    conn.execute("UPDATE stories SET text_key = ?, name_key = ?",
                 (" earthquake shakes i stanbul ", " earthquake shakes i stanbul "))
    conn.execute("DELETE FROM meta")
    assert store.list_stories(limit=10, q="istanbul") == []
    store.close()
    again = open_store(path)
    assert [s.story_id for s in again.list_stories(limit=10, q="istanbul")] == ["story-i"]
    again.close()


def test_events_after_filters_by_story(store: ReadStore) -> None:
    load(store, updates(story_history("story-a", 2)), partition=0)
    load(store, updates(story_history("story-b", 2)), partition=1)
    rows = store.events_after(0, story_ids=["story-b"])
    assert [(r.story_id, r.seq) for r in rows] == [("story-b", 3), ("story-b", 4)]
    assert [r.seq for r in store.events_after(2, limit=1)] == [3]
    assert store.max_seq() == 4


def test_store_reopens_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    first = open_store(path)
    load(first, updates(story_history(revisions=2)))
    first.close()
    second = open_store(path)
    assert second.positions(TOPIC) == {0: 2}
    assert second.head_revision("story-kursk") == 2


def test_postgres_allows_one_projector_per_store(postgres_server: str) -> None:
    from storyline.read.store import PostgresStore

    first, second = PostgresStore(postgres_server), PostgresStore(postgres_server)
    try:
        assert first.acquire_writer()
        assert not second.acquire_writer()
    finally:
        first.release_writer()
        second.release_writer()
    third = PostgresStore(postgres_server)
    assert third.acquire_writer()
    third.release_writer()


def test_api_serves_from_either_store(store: ReadStore) -> None:
    from fastapi.testclient import TestClient

    from storyline.read.config import ReadSettings
    from storyline.settings import Settings
    from storyline.web.app import create_app

    load(store, updates(story_history(revisions=3)))
    app = create_app(store, settings=Settings(), read_settings=ReadSettings())
    with TestClient(app) as client:
        assert client.get("/v1/stories/story-kursk").json()["revision"] == 3
        assert client.get("/v1/stories/story-kursk",
                          params={"as_of": "2025-12-13T12:00:00Z"}).json()["revision"] == 1
        assert "Timeline" in client.get("/stories/story-kursk").text
        assert [s["story_id"] for s in client.get("/v1/stories").json()["stories"]] == \
            ["story-kursk"]


def test_events_are_found_by_the_records_they_came_from(store: ReadStore) -> None:
    """What a resuming SSE reader asks (its id names records, not this store's rows): the
    events of records at or past per-partition positions, in this store's order."""
    a = updates(story_history("story-a", 3))
    b = updates(story_history("story-b", 2))
    store.apply(TOPIC, [item(1, 0, b[0]), item(0, 0, a[0])])
    store.apply(TOPIC, [item(0, 1, a[1]), item(1, 1, b[1]), item(0, 2, a[2])])
    assert store.record_positions() == {0: 3, 1: 2}

    def found(positions: dict[int, int], **kw: Any) -> list[tuple[int, int]]:
        return [(r.part, r.offset) for r in store.events_from(positions, **kw)]

    assert found({}) == [(1, 0), (0, 0), (0, 1), (1, 1), (0, 2)]  # this store's order
    assert found({0: 1, 1: 1}) == [(0, 1), (1, 1), (0, 2)]
    assert found({0: 2}) == [(1, 0), (1, 1), (0, 2)]  # a partition left out: all of it
    assert found({0: 3, 1: 2}) == []  # seen everything: nothing, until more comes
    assert found({0: 9, 1: 9}) == []  # past what this store has (another replica sent it)
    assert found({0: 1, 1: 1}, story_ids=["story-b"]) == [(1, 1)]
    assert found({}, limit=2) == [(1, 0), (0, 0)]
    # the rows after a seq, for a reader that took the earlier ones here
    rows = store.events_from({})
    assert found({0: 0, 1: 0}, after_seq=rows[2].seq) == [(1, 1), (0, 2)]
    # a seq id of before: the positions through that row
    assert store.positions_through(rows[2].seq) == {0: 2, 1: 1}
    assert store.positions_through(0) == {}


async def test_a_projector_of_another_topic_is_refused_at_its_first_write(
        tmp_path: Path) -> None:
    """Two deployments' projectors started at once on one empty store both pass the check at
    start (no other topic there yet): the write itself refuses the second, with nothing of it
    applied. Before, both applied, each deployment's revisions rejected as conflicts with the
    other's (/tmp/upgrade/repro_f7_store_race.sh: 250 rejections in one run)."""
    from storyline.read.projector import Projector, StoreOfAnotherTopic

    opened = open_store(tmp_path / "read.sqlite3")
    try:
        old = Projector(opened, bootstrap="127.0.0.1:1", topic="storyline.story-updates")
        new = Projector(opened, bootstrap="127.0.0.1:1", topic="v2.storyline.story-updates")
        records = updates(story_history(revisions=3))
        await old.apply([item(0, i, u) for i, u in enumerate(records)])
        with pytest.raises(StoreOfAnotherTopic, match=r"holds the pages of storyline\.story"):
            await new.apply([item(0, i, u) for i, u in enumerate(records)])
        assert new.refused is not None and old.refused is None
        assert opened.projected_topics() == ["storyline.story-updates"]
        assert old.totals.applied == 3 and not new.totals.rejected
        await old.apply([item(0, 3 + i, u) for i, u in enumerate(records)])  # still its own
    finally:
        opened.close()
