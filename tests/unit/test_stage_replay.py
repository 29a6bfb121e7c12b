"""Replay of one stage from its input topic (docs/stages.md, step 4), without a broker: the
assignments the fold writes are the assign stage's replay from the facts, and the page
stage replayed from those assignments gives the fold's revisions; a record that is not the
replay's is caught."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_page_citations import ScriptedClusterer, scripted_entries, scripted_log
from test_pipeline import PROPERTY, records

from storyline.domain.canonical import canonical_bytes
from storyline.domain.contracts import ArticleAssigned
from storyline.domain.events import StoryUpdated
from storyline.domain.pipeline import PIPELINE_VERSION, Pipeline
from storyline.replay import RebuiltLog
from storyline.stage_replay import (
    AssignReplay,
    Expected,
    PageReplay,
    Published,
    assignments_by_source_offset,
    facts_needed,
    in_source_order,
    merged_replays,
    replay_page_partition,
    verify_assignments,
)
from storyline.stream.assignments import (
    StaleAssignment,
    assignment_records,
    read_assignment,
)
from storyline.stream.facts import (
    VERSION,
    FactsRecord,
    StaleFacts,
    extract_record,
    fold_facts,
)

PARTITIONS = 2
Plan = dict[str, tuple[str, str | None, tuple[str, ...]]]


def replay_assign(facts: list[FactsRecord], partitions: int, pipeline: Pipeline
                  ) -> dict[int, Expected]:
    """The assign stage's replay over ``facts`` in source order, as the command runs it."""
    replay = AssignReplay(partitions, pipeline)
    for record in facts:
        replay.add(record)
    return replay.expected


def replay_page(assignments: dict[int, ArticleAssigned], facts: dict[int, FactsRecord]
                ) -> RebuiltLog:
    """The page stage's replay over the assignments in source order, each with its facts
    (the command pairs them from two streams in source order)."""
    replay = PageReplay()
    for offset in sorted(assignments):
        assigned = assignments[offset]
        replay.fold(assigned, facts.get(assigned.facts.offset))
    return replay.rebuilt


def in_order(facts: dict[int, FactsRecord]) -> list[FactsRecord]:
    return [facts[offset] for offset in sorted(facts)]


def scripted(plan: Plan) -> Pipeline:
    pipeline = Pipeline()
    pipeline.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    return pipeline


def staged_run(entries: list[tuple[str, int, int]]
               ) -> tuple[dict[int, FactsRecord], list[Published], list[StoryUpdated], Plan]:
    """The log through extract_record and the fold stage's fold_facts (as its process runs
    them): the facts by source offset, the assignments records it writes, its revisions."""
    log, plan = scripted_log(entries)
    fold = scripted(plan)
    facts: dict[int, FactsRecord] = {}
    published: list[Published] = []
    revisions: list[StoryUpdated] = []
    for key, value, position in records(log):
        record = extract_record(key, value, position, max_bytes=1_000_000)
        facts[position.offset] = record
        folded = fold_facts(fold, record, position)
        if folded.assigned is not None:
            published += [Published(r.partition, r.source_offset, r.value, tuple(r.headers))
                          for r in assignment_records(folded.assigned, PARTITIONS)]
        revisions += [e for e in folded.events if isinstance(e, StoryUpdated)]
    return facts, published, revisions, plan


@PROPERTY
@given(scripted_entries)
def test_the_stages_replayed_alone_give_what_the_fold_wrote(
        entries: list[tuple[str, int, int]]) -> None:
    facts, published, revisions, plan = staged_run(entries)
    expected = replay_assign(in_order(facts), PARTITIONS, scripted(plan))
    result = verify_assignments(expected, published)
    assert result.ok and result.identical == len(published)
    # a merge's record is in its story's partition and in each merged story's
    assert len(published) == sum(len(e.partitions) for e in expected.values())

    rebuilt = replay_page(assignments_by_source_offset(published), facts)
    assert [canonical_bytes(u) for u in rebuilt.events if isinstance(u, StoryUpdated)] == [
        canonical_bytes(u) for u in revisions]


@PROPERTY
@given(scripted_entries, st.integers(min_value=2, max_value=3))
def test_the_page_stage_replayed_by_partitions_gives_the_one_replays_events(
        entries: list[tuple[str, int, int]], partitions: int) -> None:
    facts, published, _, _ = staged_run(entries)
    assignments = assignments_by_source_offset(published)
    one = replay_page(assignments, facts)
    # each partition given only the facts it says it reads
    parts = merged_replays([
        replay_page_partition(p, partitions, assignments,
                              {o: facts[o] for o in facts_needed(p, partitions, assignments)})
        for p in range(partitions)])
    assert [canonical_bytes(e) for e in parts.events] == [
        canonical_bytes(e) for e in one.events]
    assert parts.records == one.records


def test_a_record_other_than_the_replays_is_caught() -> None:
    facts, published, _, plan = staged_run(
        [("new", 0, 0), ("new", 1, 1), ("copy", 0, 0), ("merge", 2, 2), ("new", 0, 3)])
    expected = replay_assign(in_order(facts), PARTITIONS, scripted(plan))
    assert verify_assignments(expected, published).ok

    again = verify_assignments(expected, [*published, published[0]])  # a redelivery
    assert again.ok and again.copies == 1

    tampered = ArticleAssigned.model_validate_json(published[0].value).model_copy(
        update={"duplicate_of": "urn:test:other"})
    first = published[0]
    changed = Published(first.partition, first.source_offset, canonical_bytes(tampered),
                        first.headers)
    assert verify_assignments(expected, [changed, *published[1:]]).mismatched

    moved = Published(1 - first.partition, first.source_offset, first.value, first.headers)
    if moved.partition not in expected[first.source_offset].partitions:
        assert verify_assignments(expected, [moved, *published[1:]]).mismatched

    assert verify_assignments(expected, published[:1] + published[2:]).missing
    assert verify_assignments({}, published).unexpected


def test_an_assignment_of_another_pipeline_version_is_refused() -> None:
    """By the live stages always; by a replay of the page stage only when written over
    another extractor's facts (a new page stage replays over the old assignments)."""
    facts, published, _, _ = staged_run([("new", 0, 0)])
    record = published[0]
    assert read_assignment(record.value, record.headers).uri

    def written_by(version: str, headers: tuple[tuple[str, bytes], ...]
                   ) -> list[tuple[str, bytes]]:
        return [(k, version.encode() if k == VERSION else v) for k, v in headers]

    release, core, extractor = PIPELINE_VERSION.split("/")
    new_page_stage = written_by(f"{release}/core-0+00000000.00000000/{extractor}",
                                record.headers)
    other_extractor = written_by(f"{release}/{core}/extract-0+00000000", record.headers)
    for headers in (new_page_stage, other_extractor):
        with pytest.raises(StaleAssignment, match=re.escape(PIPELINE_VERSION)):
            read_assignment(record.value, headers)
    assert read_assignment(record.value, new_page_stage, same_extractor=True).uri
    with pytest.raises(StaleAssignment):
        read_assignment(record.value, other_extractor, same_extractor=True)

    fact = facts[0]
    for headers, accepted in ((written_by(f"{release}/core-0+0.0/{extractor}", fact.headers),
                               True),
                              (written_by(f"{release}/{core}/extract-0+0", fact.headers),
                               False)):
        with pytest.raises(StaleFacts):
            FactsRecord.from_kafka(fact.key, fact.value, headers)
        if accepted:
            assert FactsRecord.from_kafka(fact.key, fact.value, headers,
                                          same_extractor=True) == fact
        else:
            with pytest.raises(StaleFacts):
                FactsRecord.from_kafka(fact.key, fact.value, headers, same_extractor=True)


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=40, unique=True),
       st.integers(min_value=1, max_value=3), st.data())
def test_the_facts_partitions_merge_in_source_order_without_copies(
        offsets: list[int], stripes: int, data: st.DataObject) -> None:
    """Each stripe writes its source offsets in order; after a crash it writes a stretch
    again (copies): the merge gives every offset once, in order."""
    offsets.sort()
    written: dict[int, list[int]] = {}
    for stripe in range(stripes):
        mine = [o for o in offsets if o % stripes == stripe]
        out: list[int] = []
        at, crashes = 0, 0
        while at < len(mine):
            step = data.draw(st.integers(min_value=1, max_value=4), label="written")
            out += mine[at:at + step]
            at = min(at + step, len(mine))
            if crashes < 3:  # a crash: the stripe writes its last few records again
                back = data.draw(st.integers(min_value=0, max_value=3), label="again")
                crashes += back > 0
                at -= min(back, at)
        written[stripe] = out

    async def stripe(values: list[int]) -> AsyncGenerator[FactsRecord, None]:
        for value in values:
            yield FactsRecord(b"", str(value).encode(), b"extracted", value)

    async def merged() -> list[int]:
        return [f.source_offset
                async for f in in_source_order({p: stripe(v) for p, v in written.items()})]

    assert asyncio.run(merged()) == offsets


def test_the_page_replay_takes_a_process_a_core_when_the_log_pays_for_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``replay --stage page`` without ``--processes``: one process a core for 256
    assignments or more (the revisions are the same bytes for any number), one below."""
    from storyline import processes
    from storyline.commands import replay as replay_command
    from storyline.settings import Settings
    from storyline.stream import logreader

    held: dict[int, int] = {}

    async def ends(bootstrap: str, topic: str, **_: object) -> dict[int, int]:
        assert topic.endswith("storyline.assignments")
        return held

    monkeypatch.setattr(logreader, "end_offsets", ends)
    monkeypatch.setattr(processes, "usable_cores", lambda: 4)
    settings = Settings()

    def chosen(asked: int | None) -> int:
        return asyncio.run(replay_command._page_processes(settings, asked))

    held.update({0: 200, 1: 56})
    assert chosen(None) == 4 and chosen(1) == 1 and chosen(3) == 3
    held.update({0: 199})
    assert chosen(None) == 1  # 255 assignments: one process
