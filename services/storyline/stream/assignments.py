"""The assignments topic's records (docs/stages.md, step 4): what the assign stage writes
for one articles-topic record that changes a story, without Kafka.

One ``ArticleAssigned`` per such record (resends and older versions change nothing and
have none), in the page partition of its story (:func:`~storyline.domain.partitions.
page_partition` over the topic's partitions) and, when it merges stories, a copy in the
partition of each merged story, whose page partition lets the story go:

- key: the story id;
- value: the ``ArticleAssigned`` in canonical JSON: a function of the facts topic, so a
  record written again after a crash is the same bytes;
- headers ``source-offset`` (the articles-topic offset, decimal) and ``pipeline-version``
  (a page stage of another version would fold other bytes: it refuses the record, as the
  fold refuses facts of another version, :class:`StaleAssignment`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storyline.domain.canonical import canonical_bytes
from storyline.domain.contracts import ArticleAssigned
from storyline.domain.partitions import page_partition, partitions_of
from storyline.domain.pipeline import PIPELINE_VERSION
from storyline.stream.facts import SOURCE_OFFSET, VERSION, Headers, extractor_of


class StaleAssignment(ValueError):
    """An assignments record written by another pipeline version than this code's."""


class NotAnAssignment(ValueError):
    """A record on the assignments topic that is not the assign stage's (no
    ``source-offset`` header, no value, not an ``ArticleAssigned`` of that offset): another
    producer's. The assign stage's records carry the broker's checksums, so such a record
    never stands for an article: the page process dead-letters it and reads on."""


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    partition: int
    key: bytes
    value: bytes
    source_offset: int

    @property
    def headers(self) -> Headers:
        return [(SOURCE_OFFSET, str(self.source_offset).encode()),
                (VERSION, PIPELINE_VERSION.encode())]


def assignment_records(assigned: ArticleAssigned, partitions: int) -> list[AssignmentRecord]:
    """The records of ``assigned`` on a topic of ``partitions`` partitions: its story's
    partition first, then each merged story's, each once."""
    value = canonical_bytes(assigned)
    key = assigned.story_id.encode()
    return [AssignmentRecord(p, key, value, assigned.position.offset)
            for p in partitions_of(assigned, lambda s: page_partition(s, partitions))]


def read_assignment(value: bytes | None, headers: Sequence[tuple[str, bytes]], *,
                    same_extractor: bool = False) -> ArticleAssigned:
    """The assignment of one record, refusing one of another pipeline version; with
    ``same_extractor`` (a replay of the page stage: a new page stage over what the assign
    stage decided) only one written over another extractor's facts."""
    found = dict(headers)
    if SOURCE_OFFSET not in found or value is None:
        raise NotAnAssignment(f"not an assignments record: headers {sorted(found)}"
                              + (", no value" if value is None else ""))
    written_by = found.get(VERSION, b"(none)").decode(errors="replace")
    stale = (extractor_of(written_by) != extractor_of(PIPELINE_VERSION) if same_extractor
             else written_by != PIPELINE_VERSION)
    if stale:
        raise StaleAssignment(
            f"the assignment of source offset {found[SOURCE_OFFSET].decode(errors='replace')} "
            f"was written by pipeline {written_by}, and this code is {PIPELINE_VERSION}: "
            "replay the page stage with the version that wrote it, or run this version's "
            "stages on topics of their own (a new STORYLINE_TOPIC_PREFIX)")
    try:
        assigned = ArticleAssigned.model_validate_json(value)
    except ValueError as exc:  # pydantic's ValidationError, bad JSON included
        raise NotAnAssignment(f"not an ArticleAssigned: {str(exc)[:300]}") from exc
    if str(assigned.position.offset).encode() != found[SOURCE_OFFSET]:
        raise NotAnAssignment(f"the assignment of offset {assigned.position.offset} carries the "
                         f"header source-offset {found[SOURCE_OFFSET]!r}")
    return assigned
