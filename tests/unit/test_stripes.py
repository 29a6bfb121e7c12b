"""The extract stage's stripes merged back into source order (docs/stages.md, step 3), and
the facts records folded like the raw records: no broker here (the real one is in
tests/integration/test_stages_kafka.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_pipeline import PROPERTY, START, STORIES, TOPIC, build_log, log_entries, records

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived, PubStatus
from storyline.domain.extract.tuning import EXTRACT
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.domain.records import dead_letter, handle_record
from storyline.stream import facts as facts_module
from storyline.stream.facts import FactsRecord, extract_record, fold_facts
from storyline.stream.stripes import MisplacedRecord, StripeMerge


@st.composite
def striped_arrivals(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, int]]]:
    """N stripes, a log of n offsets, and an arrival order: each partition's records in
    source order, partitions interleaved at random, some records delivered again later
    (an extract process restarted from an older commit)."""
    stripes = draw(st.integers(min_value=1, max_value=4))
    n = draw(st.integers(min_value=0, max_value=40))
    queues = [[o for o in range(n) if o % stripes == p] for p in range(stripes)]
    for p, queue in enumerate(queues):
        if queue and draw(st.booleans()):
            cut = draw(st.integers(min_value=0, max_value=len(queue) - 1))
            back = draw(st.integers(min_value=0, max_value=cut))
            queues[p] = queue[:cut] + queue[back:]  # a restart rewrites [back, cut)
    arrivals: list[tuple[int, int]] = []
    heads = [0] * stripes
    while any(heads[p] < len(queues[p]) for p in range(stripes)):
        live = [p for p in range(stripes) if heads[p] < len(queues[p])]
        p = draw(st.sampled_from(live))
        arrivals.append((p, queues[p][heads[p]]))
        heads[p] += 1
    return stripes, n, arrivals


@given(striped_arrivals())
def test_any_interleaving_of_the_stripes_gives_source_order(
        case: tuple[int, int, list[tuple[int, int]]]) -> None:
    stripes, n, arrivals = case
    merge: StripeMerge[str] = StripeMerge(stripes)
    out: list[int] = []
    arrived: set[int] = set()
    for partition, offset in arrivals:
        merge.add(partition, offset, f"facts of {offset}")
        arrived.add(offset)
        assert merge.has_ready() == (merge.waiting_for in arrived)
        for ready, item in merge.ready():
            assert item == f"facts of {ready}"
            out.append(ready)
    assert out == list(range(n))
    assert merge.waiting_for == n
    assert all(merge.pending_count(p) == 0 for p in range(stripes))


@given(striped_arrivals(), st.data())
def test_a_missing_offset_blocks_rather_than_skips(
        case: tuple[int, int, list[tuple[int, int]]], data: st.DataObject) -> None:
    stripes, n, arrivals = case
    if n == 0:
        return
    missing = data.draw(st.integers(min_value=0, max_value=n - 1))
    merge: StripeMerge[int] = StripeMerge(stripes)
    out: list[int] = []
    for partition, offset in arrivals:
        if offset != missing:
            merge.add(partition, offset, offset)
            out.extend(o for o, _ in merge.ready())
    assert out == list(range(missing))
    assert merge.waiting_for == missing
    assert not merge.has_ready()
    # it arrives at last: the rest follows at once, in order
    merge.add(missing % stripes, missing, missing)
    assert merge.has_ready()
    out.extend(o for o, _ in merge.ready())
    assert out == list(range(n))


def test_a_merge_resumes_at_its_start_and_drops_what_is_before() -> None:
    merge: StripeMerge[int] = StripeMerge(2, start=5)
    assert not merge.add(0, 4, 4)  # folded before the restart: a copy
    assert merge.add(0, 6, 6)
    assert [o for o, _ in merge.ready()] == []
    assert merge.add(1, 5, 5)
    assert not merge.add(1, 5, 5)
    assert [o for o, _ in merge.ready()] == [5, 6]
    with pytest.raises(MisplacedRecord):
        merge.add(0, 7, 7)


def fold_by_facts(log: list[tuple[bytes | None, bytes | None, LogPosition]],
                  pipeline: Pipeline | None = None) -> list[bytes]:
    """As the fold stage does: each raw record through the extract stage's bytes and back
    (the headers too), then ``fold_facts``; a refused article's dead letter from its record."""
    pipeline = pipeline or Pipeline()
    out: list[bytes] = []
    for key, value, position in log:
        written = extract_record(key, value, position, max_bytes=1_000_000)
        record = FactsRecord.from_kafka(written.key, written.value, written.headers)
        folded = fold_facts(pipeline, record, position)
        if folded.refused is not None:
            out.append(canonical_bytes(dead_letter(position, key, value or b"",
                                                   folded.refused.error_type,
                                                   folded.refused.reason)))
        if folded.dead_letter is not None:
            out.append(canonical_bytes(folded.dead_letter))
        out.extend(canonical_bytes(e) for e in folded.events)
    return out


def fold_raw(log: list[tuple[bytes | None, bytes | None, LogPosition]]) -> list[bytes]:
    pipeline = Pipeline()
    out: list[bytes] = []
    for key, value, position in log:
        outcome = handle_record(pipeline, key, value, position, max_bytes=1_000_000)
        if outcome.dead_letter is not None:
            out.append(canonical_bytes(outcome.dead_letter))
        out.extend(canonical_bytes(e) for e in outcome.events)
    return out


@PROPERTY
@given(log_entries, st.data())
def test_the_facts_fold_like_the_raw_records(entries: list[tuple[str, int, str]],
                                              data: st.DataObject) -> None:
    """Every event and dead letter byte for byte, with poison records anywhere and some
    records delivered twice."""
    log = records(build_log(entries))
    for _ in range(data.draw(st.integers(min_value=0, max_value=2))):
        at = data.draw(st.integers(min_value=0, max_value=len(log)))
        poison: bytes | None = data.draw(st.sampled_from(
            [None, b"not json", b'{"event_type": "ArticleReceived", "uri": 42}']))
        log.insert(at, (b"k", poison, LogPosition("t", 0, 0)))
    log = [(k, v, LogPosition("storyline.articles", 0, o)) for o, (k, v, _) in enumerate(log)]
    again = data.draw(st.lists(st.integers(min_value=0, max_value=len(log) - 1), max_size=3))
    delivered = list(log)
    for i in sorted(again, reverse=True):
        delivered.insert(i + 1, log[i])  # a redelivery right after: changes nothing
    assert fold_by_facts(delivered) == fold_raw(log)


def test_conflicts_and_withdrawals_fold_like_the_raw_records() -> None:
    first = ArticleReceived(uri="urn:test:a", version=1, source="Valley Courier",
                            body=STORIES["flood"][0], published=START)
    other = first.model_copy(update={"body": STORIES["flood"][1]})
    withdrawn = first.model_copy(update={"version": 2, "pubstatus": PubStatus.WITHDRAWN})
    log = records([first, first, other, withdrawn, withdrawn, first])
    assert fold_by_facts(log) == fold_raw(log)
    assert any(b"ConflictingVersion" in b for b in fold_raw(log))


def test_a_facts_record_without_its_headers_is_refused() -> None:
    with pytest.raises(ValueError, match="not a facts record"):
        FactsRecord.from_kafka(b"k", b"{}", [("kind", b"extracted")])


def test_facts_of_another_pipeline_version_are_refused_by_name() -> None:
    """A fold of facts an older extract stage wrote (a field it did not carry yet, another
    extractor) would publish other revisions than the fold from the log: refused."""
    written = extract_record(None, b"not json", LogPosition(TOPIC, 0, 7), max_bytes=1_000)
    assert FactsRecord.from_kafka(written.key, written.value, written.headers) == written
    for headers in ([(k, v) for k, v in written.headers if k != facts_module.VERSION],
                    [(k, b"storyline-0.1/core-1/extract-1" if k == facts_module.VERSION else v)
                     for k, v in written.headers]):
        with pytest.raises(facts_module.StaleFacts, match="source offset 7 were written by "
                           r"pipeline .*STORYLINE_TOPIC_PREFIX"):
            FactsRecord.from_kafka(written.key, written.value, headers)


def test_an_article_analysed_in_part_says_so_in_the_extract_stages_log() -> None:
    sentence = "Another 1,200 homes were flooded on Monday, officials said.\n"
    long = ArticleReceived(uri="urn:test:long", version=1, source="Test Wire",
                           body=sentence * (EXTRACT.analysed_chars // len(sentence) + 10),
                           published=START)
    short = long.model_copy(update={"uri": "urn:test:short", "body": sentence * 3})
    with capture_logs() as logged:
        for offset, article in enumerate([short, long]):
            extract_record(article.uri.encode(), canonical_bytes(article),
                           LogPosition(TOPIC, 0, offset), max_bytes=1_000_000)
    cut = [entry for entry in logged if entry["event"] == "article_analysed_in_part"]
    assert [(entry["article_id"], entry["offset"]) for entry in cut] == [("urn:test:long", 1)]
    assert cut[0]["body_chars"] == len(long.body) > cut[0]["analysed_chars"]
