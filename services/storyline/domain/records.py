"""From a raw record of the articles topic to the events it causes.

Shared by the streaming worker and by replay, so a poison record is handled the same way in
both: it becomes a ``DeadLetter`` (with the reason and its log position) instead of an
exception, and the state is left as the pipeline leaves it; replay meets the same record at
the same position and does exactly the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storyline.domain.coldstore import ColdStoreFailed
from storyline.domain.events import ArticleReceived, DeadLetter
from storyline.domain.pipeline import LogPosition, Pipeline, PipelineEvent
from storyline.domain.stages import ExtractionFailed
from storyline.domain.upcasting import UndecodableEvent, decode_event

DEAD_LETTER_PAYLOAD_LIMIT = 64 * 1024  # enough to diagnose, small enough for any topic


@dataclass(slots=True)
class RecordOutcome:
    events: list[PipelineEvent] = field(default_factory=list)
    dead_letter: DeadLetter | None = None
    article: ArticleReceived | None = None


def handle_record(
    pipeline: Pipeline,
    key: bytes | None,
    value: bytes | None,
    position: LogPosition,
    *,
    max_bytes: int,
    pages: bool = True,
) -> RecordOutcome:
    if pipeline.is_applied(position):
        return RecordOutcome()  # dealt with before: a redelivery changes nothing
    decoded = decode_article(key, value, position, max_bytes=max_bytes)
    if isinstance(decoded, DeadLetter):
        pipeline.pass_over(position)
        return RecordOutcome(dead_letter=decoded)
    article = decoded
    try:
        events = pipeline.process(article, position, pages=pages)
    except ColdStoreFailed:
        raise  # the disk's failure, not the record's: no dead letter, the fold stops
    except Exception as exc:  # noqa: BLE001 - any core failure must become data, not a crash
        # an extraction failure carried from the extract stage, under its own error's name
        error_type = exc.error_type if isinstance(exc, ExtractionFailed) else type(exc).__name__
        return RecordOutcome(
            article=article,
            dead_letter=dead_letter(position, key, value or b"", error_type, str(exc) or repr(exc)),
        )
    return RecordOutcome(events=events, article=article)


def decode_article(key: bytes | None, value: bytes | None, position: LogPosition, *,
                   max_bytes: int) -> ArticleReceived | DeadLetter:
    """The article a raw record carries, or the dead letter of a poison record (no value,
    oversized, undecodable): a function of the record alone, so the extract stage decides
    it as the single-process worker does."""
    if value is None:
        return dead_letter(position, key, b"", "EmptyRecord", "record has no value (tombstone?)")
    if len(value) > max_bytes:
        return dead_letter(position, key, value, "OversizedArticle",
                           f"record is {len(value)} bytes, the limit is {max_bytes}")
    try:
        return decode_event(value, ArticleReceived)
    except UndecodableEvent as exc:
        return dead_letter(position, key, value, "UndecodableEvent", str(exc))
    except Exception as exc:  # noqa: BLE001 - a decoder bug must not stop the log either
        return dead_letter(position, key, value, type(exc).__name__, str(exc) or repr(exc))


def dead_letter(position: LogPosition, key: bytes | None, value: bytes, error_type: str,
                reason: str) -> DeadLetter:
    truncated = len(value) > DEAD_LETTER_PAYLOAD_LIMIT
    return DeadLetter(
        stage="worker",
        error_type=error_type,
        reason=reason,
        source_topic=position.topic,
        source_partition=position.partition,
        source_offset=position.offset,
        key=key.decode("utf-8", "replace") if key is not None else None,
        payload=value[:DEAD_LETTER_PAYLOAD_LIMIT].decode("utf-8", "replace"),
        payload_truncated=truncated,
    )
