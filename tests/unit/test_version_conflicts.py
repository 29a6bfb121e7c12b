"""The same uri and version arriving again: the same content is a resend (nothing happens),
other content is a conflict, dead-lettered with the reason, never silently dropped."""

from __future__ import annotations

from test_pipeline import TOPIC, article, records

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import PubStatus, StoryUpdated
from storyline.domain.pipeline import LogPosition, Pipeline, content_fingerprint
from storyline.domain.records import handle_record
from storyline.replay import fold_records


def test_a_resend_of_the_same_content_is_idempotent() -> None:
    first = article(0, "flood", 0)
    rebuilt = fold_records(records([first, first, first.model_copy()]), max_bytes=1_000_000)
    assert rebuilt.dead_letters == 0
    assert sum(isinstance(e, StoryUpdated) for e in rebuilt.events) == 1


def test_the_same_version_with_other_text_is_a_dead_letter_with_the_reason() -> None:
    first = article(0, "flood", 0)
    changed = first.model_copy(update={"body": first.body + "\n15 people are missing."})
    pipeline = Pipeline()
    out = handle_record(pipeline, first.uri.encode(), canonical_bytes(first),
                        LogPosition(TOPIC, 0, 0), max_bytes=1_000_000)
    assert len(out.events) == 1
    page = pipeline.page(out.events[0].story_id)
    conflict = handle_record(pipeline, changed.uri.encode(), canonical_bytes(changed),
                             LogPosition(TOPIC, 0, 1), max_bytes=1_000_000)
    letter = conflict.dead_letter
    assert conflict.events == [] and letter is not None
    assert letter.error_type == "ConflictingVersion"
    assert first.uri in letter.reason and "version 1" in letter.reason
    assert f"{content_fingerprint(changed):016x}" in letter.reason
    assert f"{content_fingerprint(first):016x}" in letter.reason
    assert (letter.source_topic, letter.source_offset, letter.key) == (TOPIC, 1, first.uri)
    assert "15 people are missing" in letter.payload
    # the first version stands and the position is consumed: a redelivery changes nothing
    assert pipeline.page(out.events[0].story_id) == page
    assert pipeline.is_applied(LogPosition(TOPIC, 0, 1))
    again = handle_record(pipeline, None, canonical_bytes(changed), LogPosition(TOPIC, 0, 1),
                          max_bytes=1_000_000)
    assert again.dead_letter is None and again.events == []


def test_other_headline_source_or_time_conflict_too_and_replay_agrees() -> None:
    first = article(0, "strike", 0)
    variants = [first.model_copy(update={"headline": "Strike"}),
                first.model_copy(update={"source": "Other Outlet"}),
                first.model_copy(update={"published": first.published.replace(hour=23)})]
    log = [first, *variants, first]
    rebuilt = fold_records(records(log), max_bytes=1_000_000)
    assert rebuilt.dead_letters == 3
    again = fold_records(records(log), max_bytes=1_000_000)
    assert [canonical_bytes(e) for e in again.events] == [
        canonical_bytes(e) for e in rebuilt.events]


def test_a_higher_version_is_a_correction_and_an_older_one_changes_nothing() -> None:
    first = article(0, "recall", 0)
    corrected = first.model_copy(update={"version": 2, "body": first.body + "\nNow 130,000."})
    rebuilt = fold_records(records([first, corrected, first, corrected]), max_bytes=1_000_000)
    assert rebuilt.dead_letters == 0
    assert sum(isinstance(e, StoryUpdated) for e in rebuilt.events) == 2


def test_a_withdrawal_keeping_its_version_is_not_a_conflict() -> None:
    first = article(0, "recall", 0)
    withdrawn = first.model_copy(update={"pubstatus": PubStatus.WITHDRAWN, "body": ""})
    rebuilt = fold_records(records([first, withdrawn, first]), max_bytes=1_000_000)
    assert rebuilt.dead_letters == 0
    later = first.model_copy(update={"version": 2, "pubstatus": PubStatus.WITHDRAWN})
    revived = first.model_copy(update={"version": 2, "body": "Other text entirely, said."})
    rebuilt = fold_records(records([first, later, revived]), max_bytes=1_000_000)
    assert rebuilt.dead_letters == 0  # v2's content was never folded: nothing to compare
