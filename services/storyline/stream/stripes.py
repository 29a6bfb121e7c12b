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

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class MisplacedRecord(ValueError):
    """A record in a partition its source offset does not belong to (the facts topic's
    partition count is not the number of stripes the extract stage ran with)."""


def stripe_of(offset: int, stripes: int) -> int:
    return offset % stripes


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
            raise MisplacedRecord(f"source offset {offset} arrived in partition {partition}; "
                                  f"with {self.stripes} stripes it belongs in "
                                  f"{stripe_of(offset, self.stripes)}")
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

    @property
    def waiting_for(self) -> int:
        """The source offset the merge needs next."""
        return self.next

    def pending(self, partition: int) -> list[T]:
        """The records of ``partition`` that arrived ahead of their turn."""
        return list(self._pending[partition].values())

    def pending_count(self, partition: int) -> int:
        return len(self._pending[partition])
