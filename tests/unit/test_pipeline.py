"""The fold of the articles log into story revisions: determinism, chunking, idempotency."""

from __future__ import annotations

import datetime as dt

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import (
    ArticleReceived,
    ChangeReason,
    PubStatus,
    StoryPage,
    StoryUpdated,
)
from storyline.domain.pages import PageFolder, page_hash
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.domain.records import handle_record
from storyline.domain.upcasting import decode_event
from storyline.replay import fold_records

TOPIC = "storyline.articles"
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)

# Three unrelated stories, each told in several different articles.
STORIES = {
    "flood": [
        "The River Arn burst its banks in Lowmere on March 3, 2025, flooding the old town.",
        "More than 2,000 residents of Lowmere were evacuated as the River Arn kept rising.",
        "Lowmere mayor Ines Varga said on March 5 that the Arn flood defences had failed.",
        "Engineers began repairing the River Arn levee at Lowmere on March 9, 2025.",
    ],
    "strike": [
        "Bus and tram drivers in Castelford walked out on March 4, 2025 over pay.",
        "The Castelford transit strike left 300,000 commuters without trams on Tuesday.",
        "Union leader Tomas Berg said the Castelford drivers want a 9 percent raise.",
        "Castelford transit talks resumed on March 8, 2025, with the city council.",
    ],
    "recall": [
        "Norvik Devices recalled 120,000 Kettle Pro heaters on March 2, 2025 after fires.",
        "Norvik Devices said about 40 Kettle Pro heaters overheated in customers' homes.",
        "Regulators opened an inquiry into the Norvik Kettle Pro recall on March 6, 2025.",
        "Norvik Devices chief executive Lena Holm apologised for the Kettle Pro fires.",
    ],
}


def article(i: int, story: str, sentence: int, *, source: str = "Valley Courier",
            uri: str | None = None, version: int = 1,
            pubstatus: PubStatus = PubStatus.USABLE) -> ArticleReceived:
    lines = STORIES[story]
    # two consecutive sentences of the story: distinct articles overlap by at most one
    body = "\n".join([lines[sentence % len(lines)], lines[(sentence + 1) % len(lines)]])
    return ArticleReceived(
        uri=uri or f"urn:test:{story}:{i}",
        version=version,
        source=source,
        headline=None,
        body=body,
        published=START + dt.timedelta(hours=6 * i),
        pubstatus=pubstatus,
    )


def records(articles: list[ArticleReceived]) -> list[tuple[bytes | None, bytes | None,
                                                            LogPosition]]:
    return [(a.uri.encode(), canonical_bytes(a), LogPosition(TOPIC, 0, offset))
            for offset, a in enumerate(articles)]


# A log: a sequence of article events, some of them copies, corrections or withdrawals.
log_entries = st.lists(
    st.tuples(
        st.sampled_from(sorted(STORIES)),
        st.integers(min_value=0, max_value=7),
        st.sampled_from(["new", "new", "new", "copy", "correction", "withdrawal", "resend"]),
    ),
    min_size=1,
    max_size=14,
)


def build_log(entries: list[tuple[str, int, str]]) -> list[ArticleReceived]:
    log: list[ArticleReceived] = []
    for i, (story, sentence, kind) in enumerate(entries):
        earlier = [a for a in log if a.pubstatus is PubStatus.USABLE]
        if kind == "copy" and earlier:
            original = earlier[sentence % len(earlier)]
            log.append(original.model_copy(update={
                "uri": f"urn:test:copy:{i}", "source": "Wire Syndicate",
                "published": START + dt.timedelta(hours=6 * i)}))
        elif kind in {"correction", "withdrawal", "resend"} and earlier:
            original = earlier[sentence % len(earlier)]
            if kind == "resend":
                log.append(original)
            elif kind == "correction":
                log.append(original.model_copy(update={
                    "version": original.version + 1,
                    "body": original.body + "\nCorrection: the figure was revised.",
                    "published": START + dt.timedelta(hours=6 * i)}))
            else:
                log.append(original.model_copy(update={
                    "version": original.version + 1, "pubstatus": PubStatus.WITHDRAWN}))
        else:
            log.append(article(i, story, sentence))
    return log


def hashes(updates: list[StoryUpdated]) -> list[tuple[str, int, str]]:
    return [(u.story_id, u.revision, u.content_hash) for u in updates]


def updates_of(articles: list[ArticleReceived]) -> list[StoryUpdated]:
    rebuilt = fold_records(records(articles), max_bytes=1_000_000)
    return [e for e in rebuilt.events if isinstance(e, StoryUpdated)]


def pages_of(articles: list[ArticleReceived]) -> list[StoryPage]:
    """Every revision's whole page, as a consumer rebuilds it from the updates (checked
    against each update's hash chain on the way)."""
    folder = PageFolder()
    out = []
    for update in updates_of(articles):
        page = folder.apply(update)
        assert page is not None
        out.append(page)
    return out


PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(log_entries)
def test_the_same_log_folded_twice_gives_the_same_bytes(entries: list[tuple[str, int, str]]
                                                        ) -> None:
    log = build_log(entries)
    first = fold_records(records(log), max_bytes=1_000_000).events
    second = fold_records(records(log), max_bytes=1_000_000).events
    assert [canonical_bytes(e) for e in first] == [canonical_bytes(e) for e in second]


@PROPERTY
@given(log_entries, st.data())
def test_a_restart_anywhere_reproduces_the_rest_of_the_log(
        entries: list[tuple[str, int, str]], data: st.DataObject) -> None:
    """A worker that restarts at offset k rebuilds [0, k) silently, then processes the rest
    (possibly receiving some records again): its output equals the uninterrupted run's."""
    log = build_log(entries)
    all_records = records(log)
    k = data.draw(st.integers(min_value=0, max_value=len(log)), label="restart offset")
    redelivered_from = data.draw(st.integers(min_value=0, max_value=k), label="redelivery")

    uninterrupted = fold_records(all_records, max_bytes=1_000_000).events

    restarted = Pipeline()
    before = fold_records(all_records[:k], max_bytes=1_000_000, pipeline=restarted).events
    after = fold_records(all_records[redelivered_from:], max_bytes=1_000_000,
                         pipeline=restarted).events
    assert [canonical_bytes(e) for e in before + after] == [
        canonical_bytes(e) for e in uninterrupted]


def test_revisions_count_up_and_cite_every_article_once() -> None:
    log = [article(i, "flood", i) for i in range(4)]
    updates = pages_of(log)
    assert [u.revision for u in updates] == [1, 2, 3, 4]
    assert len({u.story_id for u in updates}) == 1
    last = updates[-1]
    assert last.article_count == 4
    assert [a.n for a in last.articles] == [1, 2, 3, 4]
    assert [a.uri for a in last.articles] == [a.uri for a in log]
    # every citation on the page points at an article of the list, with its number
    numbers = {a.uri: a.n for a in last.articles}
    for entry in last.timeline:
        for c in entry.citations:
            assert numbers[c.uri] == c.n
    for paragraph in last.summary:
        for sentence in paragraph.sentences:
            for c in sentence.citations:
                assert numbers[c.uri] == c.n


def test_unrelated_articles_make_separate_stories() -> None:
    log = [article(0, "flood", 0), article(1, "strike", 0), article(2, "recall", 0),
           article(3, "flood", 1), article(4, "strike", 1)]
    updates = updates_of(log)
    story_of = {u.cause.article_uri: u.story_id for u in updates}
    assert story_of[log[0].uri] == story_of[log[3].uri]
    assert story_of[log[1].uri] == story_of[log[4].uri]
    assert len({story_of[log[0].uri], story_of[log[1].uri], story_of[log[2].uri]}) == 3


def test_a_copy_is_counted_but_listed_once_as_also_carried_by() -> None:
    original = article(0, "flood", 1)
    copy = original.model_copy(update={"uri": "urn:test:syndicated", "source": "Wire Syndicate"})
    updates = pages_of([original, article(1, "flood", 2), copy])
    last = updates[-1]
    assert last.article_count == 3
    assert last.independent_count == 2
    assert [a.uri for a in last.articles] == [original.uri, "urn:test:flood:1"]
    assert last.articles[0].also_carried_by == ("Wire Syndicate",)
    assert last.diff.reason is ChangeReason.DUPLICATE


def test_redelivery_and_resend_make_no_new_revision() -> None:
    first = article(0, "flood", 0)
    pipeline = Pipeline()
    out = handle_record(pipeline, None, canonical_bytes(first), LogPosition(TOPIC, 0, 0),
                        max_bytes=1_000_000)
    assert len(out.events) == 1
    again = handle_record(pipeline, None, canonical_bytes(first), LogPosition(TOPIC, 0, 0),
                          max_bytes=1_000_000)
    assert again.events == [] and again.dead_letter is None
    resent = handle_record(pipeline, None, canonical_bytes(first), LogPosition(TOPIC, 0, 1),
                           max_bytes=1_000_000)
    assert resent.events == []


def test_correction_keeps_the_citation_number_and_withdrawal_removes_the_article() -> None:
    a0, a1 = article(0, "recall", 0), article(1, "recall", 2)
    corrected = a0.model_copy(update={"version": 2, "body": a0.body + "\nIt was 130,000."})
    withdrawn = a1.model_copy(update={"version": 2, "pubstatus": PubStatus.WITHDRAWN})
    updates = pages_of([a0, a1, corrected, withdrawn])
    assert [u.diff.reason for u in updates] == [
        ChangeReason.NEW_ARTICLE, ChangeReason.NEW_ARTICLE, ChangeReason.SOURCE_CORRECTION,
        ChangeReason.SOURCE_WITHDRAWAL]
    assert updates[2].articles[0].version == 2 and updates[2].articles[0].n == 1
    assert [a.uri for a in updates[3].articles] == [a0.uri]
    assert updates[3].article_count == 1


def test_poison_records_become_dead_letters_with_their_position() -> None:
    pipeline = Pipeline()
    bad = handle_record(pipeline, b"k", b"{not json", LogPosition(TOPIC, 0, 5),
                        max_bytes=1_000_000)
    assert bad.dead_letter is not None
    assert bad.dead_letter.source_offset == 5 and bad.dead_letter.source_topic == TOPIC
    big = handle_record(pipeline, b"k", b"x" * 2000, LogPosition(TOPIC, 0, 6), max_bytes=1000)
    assert big.dead_letter is not None and big.dead_letter.error_type == "OversizedArticle"
    good = handle_record(pipeline, None, canonical_bytes(article(0, "flood", 0)),
                         LogPosition(TOPIC, 0, 7), max_bytes=1_000_000)
    assert len(good.events) == 1


def test_every_revision_hash_covers_its_content() -> None:
    pages = pages_of([article(0, "strike", 0), article(1, "strike", 1)])
    for page in pages:
        assert page_hash(page) == page.content_hash
        tampered = page.model_copy(update={"title": page.title + "!"})
        assert page_hash(tampered) != page.content_hash
        unchained = page.model_copy(update={"previous_hash": "sha256:" + "0" * 64})
        assert page_hash(unchained) != page.content_hash


def _with_published(a: ArticleReceived, published: str) -> bytes:
    """``a`` as a producer writing to the topic directly might send it."""
    payload = orjson.loads(canonical_bytes(a))
    payload["published"] = published
    return orjson.dumps(payload)


def _fold_raw(values: list[bytes]) -> list[bytes | str]:
    pipeline = Pipeline()
    out: list[bytes | str] = []
    for offset, value in enumerate(values):
        handled = handle_record(pipeline, b"k", value, LogPosition(TOPIC, 0, offset),
                                max_bytes=1_000_000)
        if handled.dead_letter is not None:
            out.append(handled.dead_letter.reason)
        out.extend(canonical_bytes(e) for e in handled.events)
    return out


def test_a_time_without_an_offset_or_with_a_local_one_is_the_same_instant_in_utc() -> None:
    """A naive time used to fail its article and every later one of its story (naive and
    aware times cannot be compared): dead letters for good articles, for ever."""
    a0, a1, a2 = (article(i, "flood", i) for i in range(3))
    aware = [canonical_bytes(a) for a in (a0, a1, a2)]
    naive = _with_published(a0, a0.published.replace(tzinfo=None).isoformat())
    local = _with_published(a1, a1.published.astimezone(
        dt.timezone(dt.timedelta(hours=-5))).isoformat())
    assert b"+00:00" not in naive and b"-05:00" in local
    expected = _fold_raw(aware)
    assert len(expected) == 3 and all(isinstance(e, bytes) for e in expected)
    assert _fold_raw([naive, local, aware[2]]) == expected


def test_a_time_the_core_cannot_date_is_a_dead_letter_that_leaves_no_trace() -> None:
    a0, a1, a2 = (article(i, "flood", i) for i in range(3))
    far = _with_published(a1.model_copy(update={"uri": "urn:test:far"}), "9999-12-31T23:00:00Z")
    with_far = _fold_raw([canonical_bytes(a0), far, canonical_bytes(a2)])
    assert isinstance(with_far[1], str)
    assert "outside the years 100 to 9899" in with_far[1], with_far[1]
    folder = PageFolder()
    pages = [folder.apply(decode_event(e, StoryUpdated)) for e in with_far
             if isinstance(e, bytes)]
    assert [[a.uri for a in p.articles] for p in pages if p is not None] == [
        [a0.uri], [a0.uri, a2.uri]]
