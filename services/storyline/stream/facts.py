"""The facts topic's records: what the extract stage writes for one articles-topic record and
how the fold side folds it, both without Kafka (the stages in :mod:`extract_stage` and
:mod:`fold_stage` move the bytes).

One record of the facts topic per articles-topic offset o, in partition ``o mod N``:

- key: the article's uri (a poison record: its own key);
- headers ``source-offset`` (o, decimal), ``pipeline-version`` (of the code that wrote it:
  a fold of another version would give other bytes than the single-process fold, so it
  refuses the record, :class:`StaleFacts`) and ``kind``: ``extracted`` (value: the
  ``ArticleExtracted`` JSON) or ``dead`` (value: the ``DeadLetter`` of a poison record, the
  one the single-process worker would publish; a dead marker, so the fold never waits for an
  offset that will not come).

:func:`fold_facts` does what :func:`storyline.domain.records.handle_record` does with the
raw record, on the extract stage's output: the same claim, assign and fold
(``Pipeline.process`` is ``extract`` + this), the same dead letters. The one thing it cannot
do alone is a dead letter raised by the assign or fold (a conflicting resend, a carried
extraction failure): that one names the article's own bytes, which the caller reads from
the articles log (:class:`Refused`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from storyline.domain.canonical import canonical_bytes
from storyline.domain.coldstore import ColdStoreFailed
from storyline.domain.contracts import (
    ArticleAssigned,
    ArticleExtracted,
    extracted_for_assign,
    read_extracted,
)
from storyline.domain.events import DeadLetter
from storyline.domain.extract.extractor import analysed_in_part
from storyline.domain.extract.tuning import EXTRACT
from storyline.domain.pipeline import PIPELINE_VERSION, LogPosition, Pipeline, PipelineEvent
from storyline.domain.records import dead_letter, decode_article
from storyline.domain.stages import ExtractionFailed, extract

log = structlog.get_logger(__name__)

SOURCE_OFFSET = "source-offset"
VERSION = "pipeline-version"
KIND = "kind"
EXTRACTED = b"extracted"
DEAD = b"dead"

Headers = list[tuple[str, bytes]]
M = TypeVar("M", ArticleExtracted, DeadLetter)


def extractor_of(pipeline_version: str) -> str:
    """The extractor part of a pipeline version (its last segment: ``extract-6+…``)."""
    return pipeline_version.rsplit("/", 1)[-1]


class StaleFacts(ValueError):
    """A facts record written by another pipeline version than this code's."""


class NotFactsRecord(ValueError):
    """A record on the facts topic without the headers the extract stage writes (another
    producer's, a tombstone): it names no source offset, so no fold can take it for the
    facts of one. The fold dead-letters it and reads on; the merge still waits for the
    extract stage's record of every offset."""


class UnreadableFacts(ValueError):
    """A facts record with the extract stage's headers whose value is not the facts of its
    source offset (not the contract's JSON, or another offset's). The facts are a function
    of the article alone, so the fold extracts the article from the log instead."""


@dataclass(frozen=True, slots=True)
class FactsRecord:
    key: bytes
    value: bytes
    kind: bytes
    source_offset: int

    @property
    def headers(self) -> Headers:
        return [(SOURCE_OFFSET, str(self.source_offset).encode()),
                (VERSION, PIPELINE_VERSION.encode()), (KIND, self.kind)]

    @staticmethod
    def from_kafka(key: bytes | None, value: bytes | None,
                   headers: Sequence[tuple[str, bytes]], *,
                   same_extractor: bool = False) -> FactsRecord:
        """The record; one written by another pipeline version is refused (``StaleFacts``),
        or with ``same_extractor`` (a replay of a later stage) only one written by another
        extractor: what the extract stage made is all a record holds."""
        found = dict(headers)
        if SOURCE_OFFSET not in found or found.get(KIND) not in (EXTRACTED, DEAD) \
                or not found[SOURCE_OFFSET].isdigit():
            raise NotFactsRecord(f"not a facts record: headers {sorted(found)}")
        written_by = found.get(VERSION, b"(none: before the header)").decode(errors="replace")
        if same_extractor and extractor_of(written_by) == extractor_of(PIPELINE_VERSION):
            return FactsRecord(key or b"", value or b"", found[KIND], int(found[SOURCE_OFFSET]))
        if written_by != PIPELINE_VERSION:
            raise StaleFacts(
                f"the facts of source offset {found[SOURCE_OFFSET].decode(errors='replace')} "
                f"were written by pipeline {written_by}, and this fold is {PIPELINE_VERSION}: "
                "its revisions would not be those of a fold from the log. Run this "
                "version's extract stages on a facts topic of its own (a new "
                "STORYLINE_TOPIC_PREFIX), as after any pipeline change (docs/stages.md)")
        return FactsRecord(key or b"", value or b"", found[KIND], int(found[SOURCE_OFFSET]))


def extract_record(key: bytes | None, value: bytes | None, position: LogPosition, *,
                   max_bytes: int) -> FactsRecord:
    """The facts record of one articles-topic record: a function of that record alone."""
    decoded = decode_article(key, value, position, max_bytes=max_bytes)
    if isinstance(decoded, DeadLetter):
        return FactsRecord(key or b"", canonical_bytes(decoded), DEAD, position.offset)
    try:
        extracted = extract(decoded, position)
    except Exception as exc:  # noqa: BLE001 - as the worker: a core failure is a dead letter
        letter = dead_letter(position, key, value or b"", type(exc).__name__,
                             str(exc) or repr(exc))
        return FactsRecord(key or b"", canonical_bytes(letter), DEAD, position.offset)
    if analysed_in_part(decoded) and extracted.failure is None:
        # what an editor asks when a fact of a long page is not on the story's page
        log.info("article_analysed_in_part", article_id=decoded.uri, offset=position.offset,
                 body_chars=len(decoded.body), analysed_chars=EXTRACT.analysed_chars)
    return FactsRecord(decoded.uri.encode(), extracted.model_dump_json().encode(), EXTRACTED,
                       position.offset)


@dataclass(frozen=True, slots=True)
class Refused:
    """The assign or fold raised for this article: a dead letter of the article's own
    record (``dead_letter(position, key, value, error_type, reason)``)."""

    error_type: str
    reason: str


@dataclass(slots=True)
class FoldedFacts:
    events: list[PipelineEvent] = field(default_factory=list)
    dead_letter: DeadLetter | None = None
    refused: Refused | None = None
    # the assign stage's output for the record (None when it changed no story), also when
    # the fold then refused it: the assignments topic is the assign stage's log
    assigned: ArticleAssigned | None = None
    # an article that changes no story: an older version than the one folded, or a resend
    unchanged: bool = False


def fold_facts(pipeline: Pipeline, record: FactsRecord, position: LogPosition, *,
               pages: bool = True) -> FoldedFacts:
    """Fold the facts record of ``position`` into ``pipeline`` as ``handle_record`` folds the
    article; a redelivery (a position already applied) changes nothing. ``pages=False``:
    assign only (the page stage runs in processes of its own, :mod:`page_stage`)."""
    if pipeline.is_applied(position):
        return FoldedFacts()
    if record.kind == DEAD:
        letter = _read(DeadLetter.model_validate_json, "DeadLetter", record, position)
        if letter.source_offset != position.offset:
            raise UnreadableFacts(f"the dead marker of offset {letter.source_offset} "
                                  f"given as source offset {position.offset}")
        pipeline.pass_over(position)
        return FoldedFacts(dead_letter=letter)
    # an assign process reads only what the assign stage reads (the fold process both)
    extracted = _read(read_extracted if pages else extracted_for_assign,
                      "ArticleExtracted", record, position)
    if extracted.position.offset != position.offset:
        raise UnreadableFacts(f"the facts of offset {extracted.position.offset} given as "
                              f"source offset {position.offset}")
    pipeline.claim(position)
    assigned = None
    try:
        assigned = pipeline.assigner.assign(extracted)
        events = [] if assigned is None or not pages else pipeline.fold(assigned, extracted)
    except ColdStoreFailed:
        raise  # the disk's failure, not the record's: no dead letter, the fold stops
    except Exception as exc:  # noqa: BLE001 - as handle_record: data, not a crash
        error_type = exc.error_type if isinstance(exc, ExtractionFailed) else type(exc).__name__
        return FoldedFacts(refused=Refused(error_type, str(exc) or repr(exc)),
                           assigned=assigned)
    return FoldedFacts(events=events, assigned=assigned, unchanged=assigned is None)


def _read(read: Callable[[bytes], M], name: str, record: FactsRecord, position: LogPosition
          ) -> M:
    """The record's value read as the contract ``name`` (``read``), before the pipeline is
    touched: a value that is not (garbage, another schema) raises :class:`UnreadableFacts`,
    never a half-folded state."""
    try:
        return read(record.value)
    except ValueError as exc:  # pydantic's ValidationError, bad JSON included
        raise UnreadableFacts(f"the facts record of source offset {position.offset} is no "
                              f"{name}: {str(exc)[:300]}") from exc
