"""The page stage partitioned by story id (docs/stages.md, "Merges across page partitions").

Each page partition folds the stories whose id it owns (:func:`page_partition`), from the
assignments sent to it: those of its stories, and those that merge one of its stories into
a story of another partition. A merge is one assignment seen by both sides: the absorbed
story's partition lets the story go; the survivor's partition rebuilds what the merge moves
from the facts topic (:mod:`storyline.domain.page.handover`), so no state crosses partitions
out of band and each partition's output is a function of its own input. Interleaved in the
order of the assignments, the partitions' events are the events of one fold, byte for byte,
however many partitions there are (``tests/unit/test_page_partitions.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from storyline.domain.coldstore import ColdStore
from storyline.domain.contracts import Absorbed, ArticleAssigned, ArticleExtracted
from storyline.domain.page.handover import FactsAt, moved_from_facts
from storyline.domain.pipeline import Pipeline, PipelineEvent

PartitionOf = Callable[[str], int]


def page_partition(story_id: str, partitions: int) -> int:
    """The page partition that folds ``story_id``: CRC-32 of the id modulo the partitions,
    the same in every process and every Python (the built-in ``hash`` of a str is seeded per
    process)."""
    if partitions < 1:
        raise ValueError(f"a page stage has at least one partition, not {partitions}")
    return zlib.crc32(story_id.encode("utf-8")) % partitions


def partitions_of(assigned: ArticleAssigned, partition_of: PartitionOf) -> list[int]:
    """The page partitions an assignment goes to: its story's, then the partitions of the
    stories it merges, each once."""
    return list(dict.fromkeys((partition_of(assigned.story_id),
                               *(partition_of(m.story_id) for m in assigned.merges))))


class PagePartition:
    """One partition of the page stage: the states of the stories it owns (a
    :class:`Pipeline` whose fold alone is used; the assign stage runs elsewhere)."""

    def __init__(self, partition: int, partitions: int, cold: ColdStore | None = None,
                 partition_of: PartitionOf | None = None, pipeline: Pipeline | None = None
                 ) -> None:
        self.partition = partition
        self.partitions = partitions
        self.partition_of: PartitionOf = (partition_of if partition_of is not None
                                          else lambda story_id: page_partition(story_id,
                                                                               partitions))
        # (a pipeline restored from a snapshot of this partition: its stories, its store)
        self.pipeline = pipeline if pipeline is not None else Pipeline(cold=cold)

    def owns(self, story_id: str) -> bool:
        return self.partition_of(story_id) == self.partition

    def merges_moving_in(self, assigned: ArticleAssigned) -> list[Absorbed]:
        """The merges of ``assigned`` that bring here a story folded on another partition
        (its articles' facts are read back by position): none unless this partition owns
        the surviving story."""
        if not self.owns(assigned.story_id):
            return []
        return [merge for merge in assigned.merges if not self.owns(merge.story_id)]

    def fold(self, assigned: ArticleAssigned, extracted: ArticleExtracted | None,
             facts_at: FactsAt) -> list[PipelineEvent]:
        """Fold ``assigned`` here: with its article's ``extracted`` when this partition owns
        its story (None otherwise: the facts are read only where they fold); ``facts_at``
        reads the facts of the articles of a story merged in from another partition."""
        if not self.owns(assigned.story_id):
            for merge in assigned.merges:
                if self.owns(merge.story_id):
                    self.pipeline.let_go(merge.story_id)
            return []
        if extracted is None:
            raise ValueError(f"the assignment of {assigned.uri} v{assigned.version} folds on "
                             f"partition {self.partition}, which needs its facts")
        return self.pipeline.fold(assigned, extracted,
                                  moved_in=lambda merge: moved_from_facts(merge, facts_at))
