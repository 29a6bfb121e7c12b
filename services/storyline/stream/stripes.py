"""The articles log's order back from its stripes (docs/stages.md, "The order").

The extract stage runs as N processes; process i handles the articles-topic offsets o with
``o mod N == i`` and writes their facts to partition i of the facts topic. The facts of one
partition come in source order, except that an extract process restarted from its commit
writes a few again (identical records, later in the partition). :class:`StripeMerge` takes
records from the N partitions in whatever order they arrive and hands them on in source
order, each source offset once: offset o only from partition ``o mod N``, never skipping
one that has not arrived (the merge blocks instead), dropping copies of what it handed on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class MisplacedRecord(ValueError):
    """A record in a partition its source offset does not belong to (the facts topic's
    partition count is not the number of stripes the extract stage ran with)."""


# what an operator reads after the offset: the usual cause, and what to do instead
ADDED_PARTITIONS = ("the facts topic's partitions were added after facts were written "
                    "(its partition count fixes the stripes of a deployment for good); run "
                    "another count as a new deployment: a new STORYLINE_TOPIC_PREFIX with "
                    "STORYLINE_SOURCE_PREFIX naming the articles topic (docs/kafka.md)")


def stripe_of(offset: int, stripes: int) -> int:
    return offset % stripes


def misplaced_message(partition: int, offset: int, stripes: int, topic: str = "") -> str:
    where = f"{topic} partition {partition}" if topic else f"partition {partition}"
    return (f"source offset {offset} arrived in {where}; with {stripes} stripes it belongs "
            f"in {stripe_of(offset, stripes)}: {ADDED_PARTITIONS}")


def first_misplaced(partition: int, offsets: Iterable[int], stripes: int) -> int | None:
    """The first of ``offsets`` (source offsets read from facts ``partition``) that does not
    belong there with ``stripes`` stripes; None: all do."""
    return next((o for o in offsets if stripe_of(o, stripes) != partition), None)


class StripeMerge(Generic[T]):
    """A k-way merge of N stripes by source offset, starting at ``start``."""

    def __init__(self, stripes: int, start: int = 0) -> None:
        if stripes < 1:
            raise ValueError("at least one stripe")
        self.stripes = stripes
        self.next = start  # the source offset handed on next
        self._pending: list[dict[int, T]] = [{} for _ in range(stripes)]

    def add(self, partition: int, offset: int, item: T) -> bool:
        """Take the record for source ``offset`` from ``partition``; False when it is a copy
        of one handed on or waiting already (a redelivery)."""
        if stripe_of(offset, self.stripes) != partition:
            raise MisplacedRecord(misplaced_message(partition, offset, self.stripes))
        waiting = self._pending[partition]
        if offset < self.next or offset in waiting:
            return False
        waiting[offset] = item
        return True

    def ready(self) -> Iterator[tuple[int, T]]:
        """The records that can be handed on now, in source order; stops at the first
        offset that has not arrived."""
        while True:
            waiting = self._pending[stripe_of(self.next, self.stripes)]
            if self.next not in waiting:
                return
            offset = self.next
            item = waiting.pop(offset)
            self.next = offset + 1
            yield offset, item

    def has_ready(self) -> bool:
        """Whether :meth:`ready` would hand a record on now."""
        return self.next in self._pending[stripe_of(self.next, self.stripes)]

    @property
    def waiting_for(self) -> int:
        """The source offset the merge needs next."""
        return self.next

    def pending(self, partition: int) -> list[T]:
        """The records of ``partition`` that arrived ahead of their turn."""
        return list(self._pending[partition].values())

    def pending_count(self, partition: int) -> int:
        return len(self._pending[partition])
