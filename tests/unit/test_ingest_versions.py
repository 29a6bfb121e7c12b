"""The version a feed item goes in under (storyline.ingest.versions): RSS has no version and
no revision time, so an edited item polled again was version 1 with other content, a
ConflictingVersion dead letter. Now the articles log's versions of its uri decide."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived
from storyline.domain.fingerprint import content_fingerprint
from storyline.domain.stages import content_fingerprint as stages_fingerprint
from storyline.ingest.feeds import parse_feed
from storyline.ingest.versions import IndexBusy, VersionIndex, decide, index_path

ITEM = ArticleReceived(uri="urn:x:1", version=1, source="Wire", headline="Aid approved",
                       body="The government approved $40 million.",
                       published=dt.datetime(2026, 3, 15, 16, 20, tzinfo=dt.UTC))
EDIT = ITEM.model_copy(update={"body": "The government approved $45 million."})
AGAIN = ITEM.model_copy(update={"body": "The government approved $50 million."})


def fp(article: ArticleReceived) -> tuple[int, dt.datetime]:
    """What the log holds of a version: its fingerprint and publication time."""
    return content_fingerprint(article), article.published


def version(decided: ArticleReceived | None) -> int | None:
    return None if decided is None else decided.version


def test_the_fingerprint_is_the_pipelines() -> None:
    assert content_fingerprint is stages_fingerprint


@pytest.mark.parametrize(("known", "expected"), [
    ({}, 1),  # a new uri: as parsed
    ({1: fp(ITEM)}, None),  # polled again unchanged: not sent
    ({1: fp(EDIT)}, 2),  # edited since: the next version
    ({1: fp(ITEM), 2: fp(AGAIN)}, None),  # an older text (a stale copy of the feed)
    ({1: fp(AGAIN), 7: fp(EDIT)}, 8),  # versions written by others count
])
def test_a_versionless_item(known: dict[int, int], expected: int | None) -> None:
    assert version(decide(ITEM, versionless=True, known=known)) == expected


def test_an_item_with_a_version_of_its_own_keeps_it() -> None:
    atom = ITEM.model_copy(update={"version": 3601})
    assert decide(atom, versionless=False, known={3601: fp(atom)}) is None
    # other content under the same version: sent as the wire said (a ConflictingVersion)
    assert version(decide(atom, versionless=False, known={3601: fp(EDIT)})) == 3601
    assert version(decide(atom, versionless=False, known={1: fp(atom)})) == 3601


def test_an_item_dated_by_its_channel_keeps_the_logs_date() -> None:
    """The channel's pubDate moves when the publisher adds items: an item without a date of
    its own would be another version at every move (and its story re-dated)."""
    moved = ITEM.model_copy(update={"published": ITEM.published + dt.timedelta(hours=5)})
    assert decide(moved, versionless=True, known={1: fp(ITEM)}, undated=True) is None
    assert version(decide(moved, versionless=True, known={1: fp(ITEM)})) == 2  # if dated
    edit = EDIT.model_copy(update={"published": moved.published})
    sent = decide(edit, versionless=True, known={1: fp(ITEM)}, undated=True)
    assert sent is not None and (sent.version, sent.published) == (2, ITEM.published)
    # a new item keeps the channel's date: the log has none for it
    assert decide(moved, versionless=True, known={}, undated=True) == moved


def record(article: ArticleReceived) -> bytes:
    return canonical_bytes(article.received("file"))


def test_the_index_reads_the_log_and_remembers_this_runs_sends(tmp_path: Path) -> None:
    path = index_path(tmp_path, "p.storyline.articles")
    index = VersionIndex(path)
    # the first record of a uri and version is what the pipeline folds; a conflicting
    # resend after it (written before this fix) and records no contract reads change nothing
    assert index.add([(record(ITEM), 0), (record(EDIT), 1), (b"not json", 2), (None, 3)],
                     upto=4, mark=(0, 1000)) == 2
    assert index.known(ITEM.uri) == {1: fp(ITEM)}
    assert (index.upto, index.mark) == (4, (0, 1000))
    assert index.decide(ITEM, versionless=True) is None
    sent = index.decide(EDIT, versionless=True)
    assert sent is not None and sent.version == 2 and sent.body == EDIT.body
    # the same guid again in this run (or the feed given twice): decided by what was sent
    assert index.decide(EDIT, versionless=True) is None
    third = index.decide(AGAIN, versionless=True)
    assert third is not None and third.version == 3
    index.close()
    # only the log is kept: this run's sends are read back from it by the next run
    index = VersionIndex(path)
    assert index.known(ITEM.uri) == {1: fp(ITEM)}
    index.reset()
    assert (index.upto, index.mark, index.known(ITEM.uri)) == (0, None, {})
    index.close()


def test_one_run_at_a_time(tmp_path: Path) -> None:
    path = index_path(tmp_path, "p.storyline.articles")
    first = VersionIndex(path)
    with pytest.raises(IndexBusy, match="another storyline ingest"):
        VersionIndex(path, lock_wait=0.2)
    first.close()
    VersionIndex(path, lock_wait=0.2).close()


RSS = b"""<rss version="2.0"><channel><title>Radio</title>
<pubDate>Mon, 16 Mar 2026 09:00:00 +0000</pubDate>
<item><guid>urn:r:1</guid><title>T</title><pubDate>Sun, 15 Mar 2026 16:20:00 +0000</pubDate>
</item><item><guid>urn:r:2</guid><title>Dated by the channel</title></item>
</channel></rss>"""
ATOM = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>
<entry><id>urn:a:1</id><title>Revised</title><published>2026-03-15T10:00:00Z</published>
<updated>2026-03-15T11:00:00Z</updated></entry>
<entry><id>urn:a:2</id><title>Dated once</title><updated>2026-03-15T11:00:00Z</updated></entry>
</feed>"""


def test_which_feed_items_have_no_version_or_date_of_their_own() -> None:
    assert [(i.article.version, i.versionless, i.undated)
            for i in parse_feed(RSS) if i.article] == [(1, True, False), (1, True, True)]
    assert [(i.article.version, i.versionless, i.undated)
            for i in parse_feed(ATOM) if i.article] == [(3601, False, False), (1, True, True)]
