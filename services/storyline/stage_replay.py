"""Replay one stage from its input topic (docs/stages.md, step 4): ``storyline replay
--stage assign|page [--verify]``.

- **assign**: the assign stage from the facts topic (nothing extracted again): every
  ``ArticleAssigned`` it writes, checked against the assignments topic (same bytes, in the
  partitions it belongs in, none missing up to the last one published).
- **page**: the page stage from the assignments topic and the facts they point at (nothing
  extracted or clustered again): every revision, checked against the story updates as the
  end-to-end replay checks them. So a new page-stage version (summary, title, timeline) is
  replayed from what the assign stage decided, without re-running it.

An assignment's ``facts`` position is its article's source position (partition, offset);
the facts of source offset o are the first record with that ``source-offset`` header on the
facts topic (partition o mod N; a redelivered copy after it is the same bytes).
The pure parts (:class:`AssignReplay`, :func:`verify_assignments`, :class:`PageReplay`,
:func:`replay_page_partition`) run without a broker; the rest reads the topics. One replay
process reads the facts as a stream, keeping none of them; N page partitions in N processes
each keep the facts of their own stories and of the stories merged into them.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import AsyncGenerator, Container, Mapping
from dataclasses import dataclass, field

from aiokafka import ConsumerRecord

from storyline.collector import Collector
from storyline.domain.canonical import canonical_bytes
from storyline.domain.contracts import (
    ArticleAssigned,
    ArticleExtracted,
    FactsPosition,
    extracted_for_assign,
    extracted_for_page,
)
from storyline.domain.events import StoryMerged, StoryUpdated, SummaryGenerated
from storyline.domain.partitions import PagePartition, page_partition, partitions_of
from storyline.domain.pipeline import Pipeline
from storyline.domain.upcasting import decode_any
from storyline.replay import Differences, RebuiltLog, overlay_recorded
from storyline.settings import Settings
from storyline.stream.assignments import read_assignment
from storyline.stream.facts import DEAD, SOURCE_OFFSET, VERSION, FactsRecord, NotFactsRecord
from storyline.stream.logreader import end_offsets, read_partition


@dataclass(frozen=True, slots=True)
class Published:
    """One record of the assignments topic."""

    partition: int
    source_offset: int
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(slots=True)
class AssignVerification(Differences):
    copies: int = 0  # the same record again in a partition (a redelivery after a crash)


@dataclass(frozen=True, slots=True)
class Expected:
    value: bytes
    partitions: tuple[int, ...]


class AssignReplay:
    """The assign stage fed the facts records one by one, in source order: source offset ->
    its assignment's bytes and the assignments partitions it goes to (records that change no
    story, and those the assign stage refuses, have none)."""

    def __init__(self, partitions: int, pipeline: Pipeline | None = None) -> None:
        self.partitions = partitions
        self.pipeline = pipeline or Pipeline()
        self.expected: dict[int, Expected] = {}
        self.records = 0

    def add(self, record: FactsRecord) -> None:
        self.records += 1
        if record.kind == DEAD:
            return
        extracted = extracted_for_assign(record.value)
        try:
            assigned = self.pipeline.assigner.assign(extracted)
        except Exception:  # noqa: BLE001 - refused (a dead letter of the fold), no record
            return
        if assigned is not None:
            route = partitions_of(assigned, lambda s: page_partition(s, self.partitions))
            self.expected[record.source_offset] = Expected(canonical_bytes(assigned),
                                                           tuple(route))


def verify_assignments(expected: Mapping[int, Expected], published: list[Published]
                       ) -> AssignVerification:
    result = AssignVerification()
    seen: set[tuple[int, int]] = set()
    for record in published:
        result.checked += 1
        label = f"source offset {record.source_offset} in partition {record.partition}"
        wanted = expected.get(record.source_offset)
        key = (record.partition, record.source_offset)
        if wanted is None:
            result.unexpected.append(label)
        elif record.partition not in wanted.partitions:
            result.mismatched.append(f"{label}: belongs in {list(wanted.partitions)}")
        elif record.value != wanted.value:
            result.mismatched.append(f"{label}: other bytes than the replay's")
        elif key in seen:
            result.copies += 1
        else:
            result.identical += 1
        seen.add(key)
    reached = max((r.source_offset for r in published), default=-1)
    for offset, wanted in sorted(expected.items()):
        for partition in wanted.partitions:
            if offset <= reached and (partition, offset) not in seen:
                result.missing.append(f"source offset {offset} in partition {partition}")
    return result


class PageReplay:
    """The page stage fed each assignment with its facts record, in source order."""

    def __init__(self, recorded: dict[tuple[str, int], SummaryGenerated] | None = None,
                 collector: Collector | None = None) -> None:
        self.rebuilt = RebuiltLog(pipeline=Pipeline(), collector=collector)
        self.recorded = recorded

    def fold(self, assigned: ArticleAssigned, record: FactsRecord | None) -> None:
        rebuilt = self.rebuilt
        if record is None or record.kind == DEAD or record.source_offset != assigned.facts.offset:
            raise LookupError(f"the assignment of source offset {assigned.position.offset} "
                              f"points at facts {assigned.facts.offset}, which the facts "
                              "topic lacks")
        extracted = extracted_for_page(record.value)
        rebuilt.records += 1
        if rebuilt.collector is not None:
            rebuilt.collector.folded()
        try:
            events = rebuilt.pipeline.fold(assigned, extracted)
        except Exception:  # noqa: BLE001 - as the fold: a dead letter, no revision
            rebuilt.dead_letters += 1
            return
        for event in overlay_recorded(rebuilt.pipeline, list(events), self.recorded):
            rebuilt.events.append(event)
            if isinstance(event, StoryUpdated):
                rebuilt.revisions[(event.story_id, event.revision)] = event


@dataclass(slots=True)
class PartitionReplay:
    """What one page partition's replay gives: its events as (source offset, index among the
    record's events, canonical bytes), and its counts."""

    partition: int
    events: list[tuple[int, int, bytes]] = field(default_factory=list)
    records: int = 0
    dead_letters: int = 0
    stories: int = 0
    fold_seconds: float = 0.0
    read_seconds: float = 0.0


def replay_page_partition(partition: int, partitions: int,
                          assignments: Mapping[int, ArticleAssigned],
                          facts: Mapping[int, FactsRecord],
                          recorded: dict[tuple[str, int], SummaryGenerated] | None = None,
                          collector: Collector | None = None) -> PartitionReplay:
    """The page stage's partition ``partition`` of ``partitions`` over the assignments (in
    source order) that go to it: a story merged in from another partition is rebuilt from
    the facts, so the partitions' events together are :func:`replay_page`'s."""
    page = PagePartition(partition, partitions)
    out = PartitionReplay(partition)

    def facts_at(position: FactsPosition) -> ArticleExtracted:
        return _extracted(facts, position.offset)

    started = time.process_time()
    for offset in sorted(assignments):
        assigned = assignments[offset]
        if partition not in partitions_of(assigned, page.partition_of):
            continue
        mine = page.owns(assigned.story_id)
        extracted = _extracted(facts, assigned.facts.offset) if mine else None
        out.records += mine
        if collector is not None:
            collector.folded()
        try:
            events = page.fold(assigned, extracted, facts_at)
        except Exception:  # noqa: BLE001 - as the fold: a dead letter, no revision
            out.dead_letters += 1
            continue
        for index, event in enumerate(overlay_recorded(page.pipeline, list(events), recorded)):
            out.events.append((offset, index, canonical_bytes(event)))
    out.fold_seconds = time.process_time() - started
    out.stories = len(page.pipeline.story_ids)
    return out


def facts_needed(partition: int, partitions: int, assignments: Mapping[int, ArticleAssigned]
                 ) -> set[int]:
    """The source offsets whose facts page partition ``partition`` reads: the articles of
    its stories, and those of every story merged into one of them from another partition."""
    def route(story_id: str) -> int:
        return page_partition(story_id, partitions)

    wanted: set[int] = set()
    for assigned in assignments.values():
        if route(assigned.story_id) != partition:
            continue
        wanted.add(assigned.facts.offset)
        for merge in assigned.merges:
            if route(merge.story_id) != partition:
                wanted.update(m.facts.offset for m in (*merge.articles, *merge.withdrawn))
    return wanted


def _extracted(facts: Mapping[int, FactsRecord], offset: int) -> ArticleExtracted:
    record = facts.get(offset)
    if record is None or record.kind == DEAD:
        raise LookupError(f"the facts of source offset {offset} are not on the facts topic")
    return extracted_for_page(record.value)


def merged_replays(replays: list[PartitionReplay]) -> RebuiltLog:
    """The partitions' events in the order of the log (a record's events all come from its
    story's partition), as the one-process replay gives them."""
    rebuilt = RebuiltLog(pipeline=Pipeline())
    for _, _, value in sorted(e for r in replays for e in r.events):
        event = decode_any(value)
        if not isinstance(event, StoryUpdated | StoryMerged):
            raise TypeError(f"a page partition gave a {type(event).__name__}")
        rebuilt.events.append(event)
        if isinstance(event, StoryUpdated):
            rebuilt.revisions[(event.story_id, event.revision)] = event
    rebuilt.records = sum(r.records for r in replays)
    rebuilt.dead_letters = sum(r.dead_letters for r in replays)
    return rebuilt


def replay_partition_from_kafka(partition: int, partitions: int) -> PartitionReplay:
    """One page partition's replay in a process of its own: it reads the topics itself
    (the settings come from the environment, as the parent's)."""
    import asyncio

    from storyline.replay import recorded_summaries
    from storyline.settings import get_settings, switch_kernels

    settings = get_settings()
    switch_kernels(settings)
    started = time.perf_counter()

    async def read() -> tuple[dict[int, FactsRecord], dict[int, ArticleAssigned],
                              dict[tuple[str, int], SummaryGenerated]]:
        published, _ = await published_assignments(settings)
        assignments = assignments_by_source_offset(published)
        wanted = facts_needed(partition, partitions, assignments)
        facts = await facts_by_source_offset(settings, wanted)
        return facts, assignments, await recorded_summaries(settings)

    facts, assignments, recorded = asyncio.run(read())
    read_seconds = time.perf_counter() - started
    replay = replay_page_partition(
        partition, partitions, assignments, facts, recorded,
        Collector(settings.gc_freeze_every, settings.gc_collect_growth))
    replay.read_seconds = read_seconds
    return replay


# -- reading the topics ----------------------------------------------------------------------


def _facts_record(record: ConsumerRecord[bytes, bytes]) -> FactsRecord | None:
    """The facts record, or None for another producer's record (no facts headers), which
    the live stages dead-letter and pass over (``NotFactsRecord``): so does a replay."""
    try:
        return FactsRecord.from_kafka(record.key, record.value, record.headers,
                                      same_extractor=True)
    except NotFactsRecord:
        return None


async def facts_by_source_offset(settings: Settings, wanted: Container[int] | None = None
                                 ) -> dict[int, FactsRecord]:
    """The facts records of the source offsets ``wanted`` (default: all), the first one of
    each source offset."""
    out: dict[int, FactsRecord] = {}
    topic = settings.facts
    ends = await end_offsets(settings.bootstrap_servers, topic)
    for partition in sorted(ends):
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           stop=ends[partition]):
            facts = _facts_record(record)
            if facts is None or (wanted is not None and facts.source_offset not in wanted):
                continue
            out.setdefault(facts.source_offset, facts)
    return out


async def facts_in_source_order(settings: Settings) -> AsyncGenerator[FactsRecord, None]:
    """Every facts record once, in source order, as the topic is read (nothing kept)."""
    topic = settings.facts
    ends = await end_offsets(settings.bootstrap_servers, topic)

    async def partition_facts(partition: int) -> AsyncGenerator[FactsRecord, None]:
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           stop=ends[partition]):
            facts = _facts_record(record)
            if facts is not None:
                yield facts

    merged = in_source_order({p: partition_facts(p) for p in sorted(ends)})
    try:
        async for facts in merged:
            yield facts
    finally:
        await merged.aclose()


async def in_source_order(partitions: dict[int, AsyncGenerator[FactsRecord, None]]
                          ) -> AsyncGenerator[FactsRecord, None]:
    """The facts records of the partitions merged by source offset, each source offset once:
    in a partition a record whose source offset is not above the last one taken from it is a
    copy written again after a crash (the same bytes), and is skipped."""
    last = dict.fromkeys(partitions, -1)
    heads: list[tuple[int, int, FactsRecord]] = []

    async def advance(partition: int) -> None:
        async for facts in partitions[partition]:  # resumes where the last call returned
            if facts.source_offset > last[partition]:
                last[partition] = facts.source_offset
                heapq.heappush(heads, (facts.source_offset, partition, facts))
                return

    try:
        for partition in partitions:
            await advance(partition)
        while heads:
            _, partition, facts = heapq.heappop(heads)
            yield facts
            await advance(partition)
    finally:
        for reader in partitions.values():
            await reader.aclose()


async def published_assignments(settings: Settings) -> tuple[list[Published], int]:
    """Every record of the assignments topic, partition by partition, and the partitions."""
    out: list[Published] = []
    topic = settings.assignments
    ends = await end_offsets(settings.bootstrap_servers, topic)
    for partition in sorted(ends):
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           stop=ends[partition]):
            headers = tuple(record.headers)
            found = dict(headers).get(SOURCE_OFFSET, b"")
            if record.value is None or not found.isdigit():
                # another producer's record, which the page processes dead-letter and pass
                # over (NotAnAssignment): it names no article
                continue
            out.append(Published(partition, int(found), record.value, headers))
    return out, len(ends)


def written_by(published: list[Published]) -> set[str]:
    """The pipeline versions that wrote the records."""
    return {dict(r.headers).get(VERSION, b"(none)").decode(errors="replace") for r in published}


def assignments_by_source_offset(published: list[Published]) -> dict[int, ArticleAssigned]:
    """The assignments, one per source offset (a merge's copies in other partitions, and
    redelivered copies, are the same record)."""
    out: dict[int, ArticleAssigned] = {}
    for record in published:
        if record.source_offset not in out:
            out[record.source_offset] = read_assignment(record.value, record.headers,
                                                       same_extractor=True)
    return out
