"""What a page process has read and not folded yet: its bookkeeping, without I/O.

A page process (:mod:`storyline.stream.page_stage`) reads partition P of the assignments topic
and every partition of the facts topic forward. This class decides, from what has arrived,
which assignment is folded next and with which facts, which facts records can be dropped,
and where reading resumes after a restart, so that nothing is skipped and nothing is folded
twice whatever order the partitions' records arrive in. It is plain deterministic Python,
tested on its own (``tests/unit/test_page_input.py``: arrivals interleaved at random, copies
written again after crashes, restarts from snapshots).

- The facts of source offset o are the first record with that ``source-offset`` in facts
  partition ``o mod stripes``; a later one is a copy (an extract stripe resent it).
- Assignments come in source order; one whose source offset is not above the last folded is
  a copy (the assign side wrote it again after a crash) and is passed over.
- An assignment is ready once its own article's facts partition has been read past its source
  offset, and each article a merge moves here from another partition (read back by position)
  has been read past or is in the caller's index of positions (``indexed``: after a restart
  a partition with nothing new is never read past an old offset again).
- A facts record waits until no assignment still to come can point at it: the next
  assignment's source offset is above it (or, with none queued, the last one read is).
- Per facts partition, reading resumes at the first record still waiting, else after the
  last one read: everything before it was folded or is not this partition's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from storyline.stream.stripes import MisplacedRecord, misplaced_message, stripe_of

R = TypeVar("R")  # a facts record
A = TypeVar("A")  # an assignment


@dataclass(frozen=True, slots=True)
class Waiting(Generic[R]):
    """A facts record read and perhaps still needed, with its offset on its partition."""

    record: R
    offset: int


@dataclass(frozen=True, slots=True)
class Queued(Generic[A]):
    """An assignment read and not folded yet."""

    offset: int  # on the assignments partition
    source_offset: int
    own: int | None  # its article's source offset, when this partition folds it
    moved: tuple[int, ...]  # the articles a merge moves here from another partition
    item: A

    @property
    def needs(self) -> tuple[int, ...]:
        """The source offsets whose facts its fold reads."""
        return self.moved if self.own is None else (self.own, *self.moved)


class PageInput(Generic[R, A]):
    def __init__(self, stripes: int, resume: Mapping[int, int], folded_to: int,
                 indexed: Callable[[int], bool]) -> None:
        """``resume``: per facts partition, the offset reading starts from; ``folded_to``: the
        last source offset folded (-1: none), both as the state (its snapshot) says;
        ``indexed``: whether the position of a source offset's facts record is known."""
        if stripes < 1:
            raise ValueError(f"a facts topic has at least one partition, not {stripes}")
        self.stripes = stripes
        self.queue: deque[Queued[A]] = deque()
        self.waiting: dict[int, dict[int, Waiting[R]]] = {p: {} for p in range(stripes)}
        self.passed = dict.fromkeys(range(stripes), -1)  # highest source offset read
        self.consumed = {p: resume.get(p, 0) for p in range(stripes)}  # next offset to read
        self.read_to = folded_to  # highest source offset of the assignments read
        self.folded_to = folded_to
        self.indexed = indexed

    # -- arrivals --------------------------------------------------------------------------

    def assignment(self, offset: int, source_offset: int, own: int | None,
                   moved: Iterable[int], item: A) -> None:
        self.queue.append(Queued(offset, source_offset, own, tuple(moved), item))
        self.read_to = max(self.read_to, source_offset)

    def facts(self, partition: int, offset: int, source_offset: int, record: R | None) -> bool:
        """A facts record read from ``partition`` at ``offset`` (``record`` None: a dead one,
        which no assignment points at). True when it is the first of its source offset: the
        caller keeps where it is, for merges that read it back. A record of another
        partition's stripe (partitions added to a facts topic already written) is refused,
        MisplacedRecord: a merge would read it back from the partition it belongs in, at this
        offset, and fold another article's facts."""
        if stripe_of(source_offset, self.stripes) != partition:
            raise MisplacedRecord(misplaced_message(partition, source_offset, self.stripes))
        self.consumed[partition] = offset + 1
        if source_offset <= self.passed[partition]:
            return False  # a copy written again after a crash of its extract stripe
        self.passed[partition] = source_offset
        if record is not None and source_offset > self.read_to_bound():
            self.waiting[partition][source_offset] = Waiting(record, offset)
        return True

    # -- folding ---------------------------------------------------------------------------

    def is_copy(self, queued: Queued[A]) -> bool:
        return queued.source_offset <= self.folded_to

    def head(self) -> Queued[A] | None:
        """The next assignment to fold, once it is ready; None while there is none."""
        if not self.queue:
            return None
        queued = self.queue[0]
        if self.is_copy(queued):
            return queued
        if all(self._available(queued, o) for o in queued.needs):
            return queued
        return None

    def read_past(self, source_offset: int) -> bool:
        """Whether the facts partition of ``source_offset`` was read past its first record."""
        return self.passed[source_offset % self.stripes] >= source_offset

    def _available(self, queued: Queued[A], source_offset: int) -> bool:
        return self.read_past(source_offset) or (source_offset != queued.own
                                                  and self.indexed(source_offset))

    def waiting_record(self, source_offset: int) -> Waiting[R] | None:
        """The record of ``source_offset`` if it is still waiting (else: read it back)."""
        return self.waiting[source_offset % self.stripes].get(source_offset)

    def done(self, queued: Queued[A]) -> None:
        """``queued`` (the head) is folded, or passed over as a copy."""
        if not self.queue or self.queue[0] is not queued:
            raise ValueError("only the head of the queue is folded")
        self.queue.popleft()
        self.folded_to = max(self.folded_to, queued.source_offset)
        self.forget()

    def read_to_bound(self) -> int:
        """Facts records at or below this source offset are never needed from memory."""
        bound = self.queue[0].source_offset if self.queue else self.read_to + 1
        return max(bound - 1, self.folded_to)

    def forget(self) -> None:
        """Drop the waiting facts no assignment still to come can point at."""
        bound = self.read_to_bound()
        for waiting in self.waiting.values():
            for source_offset in [o for o in waiting if o <= bound]:
                del waiting[source_offset]

    # -- flow and positions ----------------------------------------------------------------

    def needed_partitions(self) -> set[int]:
        """The facts partitions the next assignment still waits for."""
        if not self.queue or self.is_copy(self.queue[0]):
            return set()
        head = self.queue[0]
        return {o % self.stripes for o in head.needs if not self._available(head, o)}

    def waiting_count(self, partition: int) -> int:
        return len(self.waiting[partition])

    def resume_positions(self) -> dict[int, int]:
        """Per facts partition, where reading resumes after a restart from now."""
        out = {}
        for partition, waiting in self.waiting.items():
            out[partition] = (next(iter(waiting.values())).offset if waiting
                              else self.consumed[partition])
        return out
