"""An RSS item its publisher edited, polled again, on a real broker: it goes onto the log as
the next version of its uri and reaches the page as a correction, not a ConflictingVersion
dead letter (RSS has no version and no revision time; the edit used to come in as
version 1 again and was lost); the unchanged feed polled again sends nothing; the index the
ingest edge keeps is rebuilt from the log when it is gone."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_recreated_log import apply_topics, delete_topics

from storyline.domain.events import ArticleReceived, ChangeReason, StoryUpdated
from storyline.domain.stages import LogPosition
from storyline.domain.upcasting import decode_event
from storyline.ingest.versions import VersionIndex, index_path
from storyline.replay import fold_records
from storyline.settings import Settings
from storyline.stream.logreader import end_offsets, read_partition

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STORYLINE = [sys.executable, "-m", "storyline.cli"]
FEED = (ROOT / "samples/wire/feed.rss").read_text()
EDITED_URI = "urn:newsml:coastalradio.example:20260315:eastmoor-aid"
EDITED_HEADLINE = "National aid of $45 million approved for Eastmoor flood victims"


def edited(feed: str) -> str:
    """The feed as its publisher rebuilt it after correcting the first item."""
    out = feed.replace("<title>National aid approved for Eastmoor flood victims</title>",
                       f"<title>{EDITED_HEADLINE}</title>")
    out = out.replace("approved $40 million in disaster aid", "approved $45 million in "
                      "disaster aid")
    out = out.replace("Mon, 16 Mar 2026 09:00:00", "Mon, 16 Mar 2026 11:30:00")  # rebuilt
    assert out.count("45 million") == 2
    return out


def ingest(env: dict[str, str], path: Path) -> str:
    result = subprocess.run([*STORYLINE, "ingest", str(path)], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def applied(env: dict[str, str], settings: Settings) -> Settings:
    """``settings`` (``env``'s deployment's), its topics made."""
    apply_topics(env)
    return settings


def polls(tmp_path: Path) -> tuple[Path, Path]:
    """The sample feed as first polled, and as polled after its publisher's edit."""
    first, second = tmp_path / "poll-1.rss", tmp_path / "poll-2.rss"
    first.write_text(FEED)
    second.write_text(edited(FEED))
    return first, second


async def articles(settings: Settings) -> list[tuple[bytes | None, bytes | None, LogPosition]]:
    ends = await end_offsets(settings.bootstrap_servers, settings.articles)
    return [(r.key, r.value, LogPosition(settings.articles, 0, r.offset))
            async for r in read_partition(settings.bootstrap_servers, settings.articles, 0,
                                          stop=ends[0])]


async def test_an_edited_rss_item_is_the_next_version_and_a_correction_on_the_page(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    env = command_env
    settings = applied(env, settings_for(env))
    first, second = polls(tmp_path)

    ingest(env, first)
    out = ingest(env, second)
    assert "produced 1 to" in out, out
    records = await articles(settings)
    events = [decode_event(value, ArticleReceived) for _, value, _ in records if value]
    assert [(e.uri, e.version) for e in events][2:] == [(EDITED_URI, 2)]
    assert events[2].headline == EDITED_HEADLINE

    # the pipeline (replay's fold, and `storyline replay` itself): a correction, no dead letter
    rebuilt = fold_records(records, max_bytes=settings.max_article_bytes)
    assert rebuilt.dead_letters == 0
    updates = [e for e in rebuilt.events if isinstance(e, StoryUpdated)]
    last = updates[-1]
    assert last.diff.reason is ChangeReason.SOURCE_CORRECTION
    assert (last.cause.article_uri, last.cause.article_version) == (EDITED_URI, 2)
    page = rebuilt.pipeline.page(last.story_id)
    assert page is not None
    shown = page.model_dump_json()
    assert EDITED_HEADLINE in shown and "45 million" in shown and "40 million" not in shown
    replay = subprocess.run([*STORYLINE, "replay"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "0 dead letters" in replay.stdout, replay.stdout

    # polled again unchanged, twice (the second after the index is gone: rebuilt from the
    # log), and a stale copy of the old feed: nothing more on the log
    out = ingest(env, second)
    assert "produced 0 to" in out and "2 unchanged feed items not sent" in out, out
    for index in (Path(env["STORYLINE_DATA_DIR"]) / "ingest").glob("*.sqlite3*"):
        index.unlink()
    assert "produced 0 to" in ingest(env, second)
    assert "produced 0 to" in ingest(env, first)
    assert len(await articles(settings)) == 3


async def test_feed_items_sent_by_other_paths_count_and_a_new_log_rebuilds_the_index(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    """The index is the log's: versions written by others (here a producer writing version 4
    directly) are counted, and a topic deleted and made again is noticed (its first record
    differs) and the index rebuilt, not taken for the old log."""
    from storyline.ingest.feeds import parse_feed
    from storyline.ingest.producer import ArticleProducer

    env = command_env
    settings = applied(env, settings_for(env))
    feed = tmp_path / "feed.rss"
    feed.write_text(FEED)
    ingest(env, feed)
    parsed = [item.article for item in parse_feed(FEED.encode()) if item.article]
    async with ArticleProducer(settings) as producer:
        await producer.send(parsed[0].model_copy(update={"version": 4, "body": "Other text."}))
    feed.write_text(edited(FEED))
    assert "produced 1 to" in ingest(env, feed)
    records = await articles(settings)
    assert decode_event(records[-1][1] or b"", ArticleReceived).version == 5

    # the topic deleted and made again, and grown past the offset the index had read up
    # to before this poll: its first record tells the new log from the old
    await delete_topics(settings, [settings.articles])
    apply_topics(env)
    others = [parsed[1].model_copy(update={"uri": f"urn:it:other:{i}"}) for i in range(6)]
    async with ArticleProducer(settings) as producer:
        for other in others:
            await producer.send(other)
    out = ingest(env, feed)
    assert "produced 2 to" in out, out  # the new log has neither item: both version 1
    assert [decode_event(v or b"", ArticleReceived).version
            for _, v, _ in await articles(settings)] == [1] * 8


async def test_concurrent_runs_on_one_index_take_turns(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    """Three polls of the edited feed at once (an overlapping cron): the second waits for the
    first's lock, reads its record back from the log, and sends nothing; without the lock
    both would pick version 2 (here the same content: a resend; from two feeds that disagree,
    a ConflictingVersion)."""
    env = command_env
    settings = applied(env, settings_for(env))
    first, second = polls(tmp_path)
    ingest(env, first)
    # held here while the three start, so that all three reach it and race for it
    held = VersionIndex(index_path(Path(env["STORYLINE_DATA_DIR"]), settings.articles))
    runs = [subprocess.Popen([*STORYLINE, "ingest", str(second)], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
    time.sleep(6)
    assert all(run.poll() is None for run in runs)  # waiting for the lock
    held.close()
    outs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outs
    assert sorted("produced 1 to" in out for out, _ in outs) == [False, False, True], outs
    records = await articles(settings)
    assert [decode_event(v or b"", ArticleReceived).version for _, v, _ in records] == [1, 1, 2]


UNDATED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Town Radio</title>
<pubDate>{when}</pubDate><item><guid>urn:town:1</guid><title>Bridge closed</title>
<description>{text}</description></item></channel></rss>"""


async def test_an_item_dated_by_its_channel_keeps_its_first_date(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    """An item without a date of its own takes the channel's pubDate, which moves when the
    publisher adds items: that alone is no new version, and an edit keeps the first date."""
    env = command_env
    settings = applied(env, settings_for(env))
    feed = tmp_path / "town.rss"
    polls = [("Sun, 15 Mar 2026 08:00:00 +0000", "The bridge is closed."),
             ("Sun, 15 Mar 2026 12:00:00 +0000", "The bridge is closed."),
             ("Mon, 16 Mar 2026 07:00:00 +0000", "The bridge is closed until Friday.")]
    produced = []
    for when, text in polls:
        feed.write_text(UNDATED.format(when=when, text=text))
        out = ingest(env, feed)
        produced.append(out.split("produced ")[1].split(" ")[0])
    assert produced == ["1", "0", "1"]
    events = [decode_event(v or b"", ArticleReceived) for _, v, _ in await articles(settings)]
    assert [(e.version, e.published.isoformat(), e.body) for e in events] == [
        (1, "2026-03-15T08:00:00+00:00", "The bridge is closed."),
        (2, "2026-03-15T08:00:00+00:00", "The bridge is closed until Friday.")]
