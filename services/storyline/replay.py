"""Replay: fold the articles log from offset 0 through the core, in process.

``--verify`` checks every ``StoryUpdated`` ever published against the rebuilt one (same
revision, same hash, same bytes), and that the published changes, applied in log order,
rebuild pages that match their hashes and chain; ``--publish TOPIC`` writes the rebuilt
revisions to another topic, so a new core or extractor version can be replayed beside the
one in production.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storyline.collector import Collector
from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryUpdated, SummaryGenerated
from storyline.domain.pages import PageChainBroken, PageFolder
from storyline.domain.pipeline import LogPosition, Pipeline, PipelineEvent
from storyline.domain.records import handle_record
from storyline.ingest.files import iter_file
from storyline.llm.summariser import apply_recorded
from storyline.replay_extract import ParallelExtraction
from storyline.replay_extract import Record as Record  # re-exported: it was defined here
from storyline.replay_extract import extract_processes as extract_processes_for
from storyline.settings import Settings
from storyline.stream.facts import FactsRecord, fold_facts
from storyline.stream.logreader import end_offsets, read_events, read_partition


@dataclass(slots=True)
class RebuiltLog:
    pipeline: Pipeline
    records: int = 0
    dead_letters: int = 0
    seconds: float = 0.0
    revisions: dict[tuple[str, int], StoryUpdated] = field(default_factory=dict)
    events: list[PipelineEvent] = field(default_factory=list)
    # the heap frozen as it grows (storyline.collector): the long replays of the commands
    collector: Collector | None = None
    extract_processes: int = 0  # that extracted the records beside the fold (0: none)

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass(slots=True)
class Differences:
    """What a replay found published that it does not reproduce, and the reverse."""

    checked: int = 0
    identical: int = 0
    mismatched: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.unexpected or self.missing)


@dataclass(slots=True)
class Verification(Differences):
    redeliveries: int = 0  # the same revision published twice with the same hash
    # pipeline versions that published revisions, when not the one that rebuilt them
    other_versions: set[str] = field(default_factory=set)


def records_from_files(paths: Sequence[Path], topic: str, limit: int | None = None
                       ) -> list[Record]:
    """Article files as the records a topic would hold, offsets from 0 (benchmarks, tests):
    what an ingest into a fresh topic would write, without a broker (provenance
    ``via="file"`` included, as ``storyline ingest`` writes it)."""
    return list(iter_records_from_files(paths, topic, limit))


def iter_records_from_files(paths: Sequence[Path], topic: str, limit: int | None = None
                            ) -> Iterator[Record]:
    """:func:`records_from_files` one record at a time, for logs too large to hold."""
    offset = 0
    for path in paths:
        for item in iter_file(path):
            if limit is not None and offset >= limit:
                return
            if item.article is not None:
                yield (item.article.uri.encode(), canonical_bytes(item.article.received("file")),
                       LogPosition(topic, 0, offset))
                offset += 1


def fold_records(
    records: list[Record], *, max_bytes: int,
    pipeline: Pipeline | None = None,
) -> RebuiltLog:
    """The in-process fold over records already read (also what tests and evals use)."""
    rebuilt = RebuiltLog(pipeline=pipeline or Pipeline())
    started = time.perf_counter()
    for key, value, position in records:
        _fold_one(rebuilt, key, value, position, max_bytes)
    rebuilt.seconds = time.perf_counter() - started
    return rebuilt


def _fold_one(rebuilt: RebuiltLog, key: bytes | None, value: bytes | None,
              position: LogPosition, max_bytes: int,
              recorded: dict[tuple[str, int], SummaryGenerated] | None = None) -> None:
    outcome = handle_record(rebuilt.pipeline, key, value, position, max_bytes=max_bytes)
    _folded(rebuilt, outcome.events, outcome.dead_letter is not None, recorded)


def _fold_extracted(rebuilt: RebuiltLog, facts: FactsRecord, position: LogPosition,
                    recorded: dict[tuple[str, int], SummaryGenerated] | None) -> None:
    """:func:`_fold_one` of a record extracted elsewhere (``facts``, as the extract stage
    writes it), folded as the staged worker's fold process folds it: the same events."""
    folded = fold_facts(rebuilt.pipeline, facts, position)
    _folded(rebuilt, folded.events,
            folded.dead_letter is not None or folded.refused is not None, recorded)


def _folded(rebuilt: RebuiltLog, events: list[PipelineEvent], dead: bool,
            recorded: dict[tuple[str, int], SummaryGenerated] | None) -> None:
    rebuilt.records += 1
    if rebuilt.collector is not None:
        rebuilt.collector.folded()
    if dead:
        rebuilt.dead_letters += 1
    for event in overlay_recorded(rebuilt.pipeline, events, recorded):
        rebuilt.events.append(event)
        if isinstance(event, StoryUpdated):
            rebuilt.revisions[(event.story_id, event.revision)] = event


async def fold_log(rebuilt: RebuiltLog, records: AsyncIterator[Record], *, max_bytes: int,
                   extract_processes: int = 0,
                   recorded: dict[tuple[str, int], SummaryGenerated] | None = None) -> None:
    """Fold ``records`` (a log's, in order) into ``rebuilt``: extracted in this process, or
    in ``extract_processes`` processes of their own (:mod:`storyline.replay_extract`) while
    this one folds; the same revisions either way."""
    if extract_processes == 0:
        async for key, value, position in records:
            _fold_one(rebuilt, key, value, position, max_bytes, recorded)
        return
    async with ParallelExtraction(extract_processes, max_bytes) as extraction:
        async for (_, _, position), facts in extraction.extracted(records):
            _fold_extracted(rebuilt, facts, position, recorded)


def overlay_recorded(pipeline: Pipeline, events: list[PipelineEvent],
                     recorded: dict[tuple[str, int], SummaryGenerated] | None
                     ) -> list[PipelineEvent]:
    """The events with the LLM summaries the live worker published for them: taken from the
    log instead of calling the model again (replay, and the worker's rebuild)."""
    if not recorded:
        return events
    out: list[PipelineEvent] = []
    for event in events:
        if isinstance(event, StoryUpdated):
            record = recorded.get((event.story_id, event.revision))
            page = pipeline.page(event.story_id)
            if record is not None and page is not None:
                summarised = apply_recorded(record, page)  # checks it belongs to this page
                event = pipeline.replace_summary(event, summarised.summary)
        out.append(event)
    return out


async def recorded_summaries(settings: Settings) -> dict[tuple[str, int], SummaryGenerated]:
    return {
        (event.story_id, event.revision): event
        # the summaries topic: written only with the LLM summary on
        async for event in read_events(settings.bootstrap_servers, settings.summaries,
                                       missing_ok=True)
        if isinstance(event, SummaryGenerated)
    }


async def rebuild_from_kafka(settings: Settings, extract_processes: int | None = None
                             ) -> RebuiltLog:
    """Every revision of the articles log, folded from offset 0; ``extract_processes``: see
    :func:`storyline.replay_extract.extract_processes` (None: as many as the cores allow)."""
    rebuilt = RebuiltLog(pipeline=Pipeline(),
                         collector=Collector(settings.gc_freeze_every, settings.gc_collect_growth))
    recorded = await recorded_summaries(settings)
    topic = settings.articles
    ends = await end_offsets(settings.bootstrap_servers, topic)
    rebuilt.extract_processes = extract_processes_for(sum(ends.values()), extract_processes)

    async def records() -> AsyncIterator[Record]:
        for partition in sorted(ends):
            async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                               start=0, stop=ends[partition]):
                yield record.key, record.value, LogPosition(topic, partition, record.offset)

    started = time.perf_counter()
    await fold_log(rebuilt, records(), max_bytes=settings.max_article_bytes,
                   extract_processes=rebuilt.extract_processes, recorded=recorded)
    rebuilt.seconds = time.perf_counter() - started
    return rebuilt


async def published_updates(settings: Settings) -> AsyncIterator[StoryUpdated]:
    async for event in read_events(settings.bootstrap_servers, settings.story_updates):
        if isinstance(event, StoryUpdated):
            yield event


def verify(rebuilt: RebuiltLog, published: list[StoryUpdated], *,
           committed: int | None = None) -> Verification:
    """Every published revision must be rebuilt identically; every rebuilt revision caused by
    a record the worker has already processed must have been published: a record before the
    last one that caused a published revision, or, given the worker group's ``committed``
    offset on the articles log (every record below it folded and its events acknowledged),
    a record below that. Without the commit, revisions lost after the last one published
    (every article from some offset on dead-lettered, say) went unseen: 155 of 300 articles
    lost on a full disk, and "OK" (2026-12-06)."""
    result = Verification()
    seen: set[tuple[str, int]] = set()
    folder = PageFolder()
    first_copy: dict[tuple[str, int], bytes] = {}
    for update in published:
        key = (update.story_id, update.revision)
        result.checked += 1
        label = f"{update.story_id}@{update.revision}"
        if update.pipeline_version != rebuilt.pipeline.pipeline_version:
            result.other_versions.add(update.pipeline_version)
        expected = rebuilt.revisions.get(key)
        declared = update.content_hash
        raw = canonical_bytes(update)
        if key in first_copy:
            if first_copy[key] == raw:
                result.redeliveries += 1
            else:
                result.mismatched.append(f"{label}: published twice with different bytes")
            continue
        first_copy[key] = raw
        try:
            folder.apply(update)
            chain_error = None
        except PageChainBroken as exc:
            chain_error = str(exc)
        if chain_error is not None:
            result.mismatched.append(f"{label}: {chain_error}")
        elif expected is None:
            result.unexpected.append(label)
        elif expected.content_hash != declared:
            result.mismatched.append(
                f"{label}: published {declared[:19]} rebuilt {expected.content_hash[:19]}")
        elif canonical_bytes(expected) != raw:
            result.mismatched.append(f"{label}: same hash, different bytes")
        else:
            result.identical += 1
        seen.add(key)
    reached = max((u.cause.offset for u in published), default=-1)
    if committed is not None:
        reached = max(reached, committed - 1)
    for key, expected in sorted(rebuilt.revisions.items()):
        if key not in seen and expected.cause.offset <= reached:
            result.missing.append(f"{key[0]}@{key[1]}")
    return result
