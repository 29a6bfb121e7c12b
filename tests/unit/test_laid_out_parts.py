"""The partition counts a stage's commits say it was laid out by: the story updates and
pages topics are among them (a story's next updates written to another partition than its
earlier ones can be read before them), and the commits of before, which name the facts and
assignments topics only, are still read and compared on those two."""

from __future__ import annotations

import pytest

from storyline.settings import Settings
from storyline.stream.offsets import CommitMetadata, PartitionsChanged, ensure_same_parts

TOPICS = Settings(topic_prefix="t.").laid_out_topics


def test_the_laid_out_topics_are_the_stage_and_output_topics() -> None:
    assert TOPICS == ("t.storyline.facts", "t.storyline.assignments",
                      "t.storyline.story-updates", "t.storyline.story-pages")


def test_a_commit_says_every_count_and_reads_back() -> None:
    meta = CommitMetadata(1.0, "v", "fold", None, None, (2, 3, 3, 3))
    assert CommitMetadata.decode(meta.encode()) == meta


def test_a_commit_of_before_names_two_counts() -> None:
    old = '{"at": 1.0, "parts": [2, 3], "pipeline": "v", "stage": "fold", "moved": null}'
    decoded = CommitMetadata.decode(old)
    assert decoded is not None and decoded.parts == (2, 3)
    ensure_same_parts("g", decoded.parts, (2, 3, 6, 3), TOPICS)  # compared on those two
    with pytest.raises(PartitionsChanged) as raised:
        ensure_same_parts("g", decoded.parts, (2, 4, 3, 3), TOPICS)
    assert "t.storyline.assignments has 4 partitions, 3 when group g committed" in str(
        raised.value)


def test_story_updates_grown_under_a_stage_is_refused() -> None:
    ensure_same_parts("g", (2, 3, 3, 3), (2, 3, 3, 3), TOPICS)
    with pytest.raises(PartitionsChanged) as raised:
        ensure_same_parts("g", (2, 3, 3, 3), (2, 3, 6, 4), TOPICS)
    said = str(raised.value)
    assert "t.storyline.story-updates has 6 partitions, 3 when group g committed" in said
    assert "t.storyline.story-pages has 4 partitions, 3 when group g committed" in said
    assert "new STORYLINE_TOPIC_PREFIX" in said


def test_the_single_worker_says_only_its_output_topics() -> None:
    """It reads no facts or assignments: those counts are not said (null), never compared,
    and its story updates and pages are."""
    meta = CommitMetadata(1.0, "v", None, None, (0, 1), (None, None, 3, 3))
    assert '"parts": [null, null, 3, 3]' in meta.encode()
    decoded = CommitMetadata.decode(meta.encode())
    assert decoded == meta
    assert decoded is not None and decoded.parts is not None
    ensure_same_parts("w", decoded.parts, (None, None, 3, 3), TOPICS)
    ensure_same_parts("w", decoded.parts, (8, 8, 3, 3), TOPICS)  # not its topics
    with pytest.raises(PartitionsChanged) as raised:
        ensure_same_parts("w", decoded.parts, (None, None, 6, 3), TOPICS)
    said = str(raised.value)
    assert "t.storyline.story-updates has 6 partitions, 3 when group w committed" in said
    assert "storyline.facts" not in said and "storyline.assignments" not in said


def test_counts_without_their_topics_are_a_mistake_not_a_pass() -> None:
    """A caller giving the counts it found but not the topics they are of would compare
    nothing (and let any grown topic through)."""
    with pytest.raises(ValueError, match="4 partition counts, 0 topics"):
        ensure_same_parts("g", (2, 3, 3, 3), (2, 3, 6, 3), ())
