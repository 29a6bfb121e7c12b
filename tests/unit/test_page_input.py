"""The page process's bookkeeping (``storyline.stream.page_input.PageInput``) over scripted
topics: whatever order the partitions' records arrive in, with copies written again after
crashes of the extract stripes and of the assign side, and with restarts from snapshots taken
at any record boundary, every assignment of the partition is folded exactly once, in source
order, with its own facts and the facts of the articles a merge moves in; nothing is
skipped."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from storyline.stream.page_input import PageInput
from storyline.stream.stripes import MisplacedRecord


@dataclass(frozen=True)
class Assignment:
    source_offset: int
    own: int | None
    moved: tuple[int, ...]


@dataclass
class Scenario:
    stripes: int
    facts: list[list[tuple[int, bool]]]  # per partition: (source offset, dead), copies included
    assignments: list[Assignment]  # partition P's, copies included
    expected: list[int]  # the source offsets P folds, in order
    steps: list[tuple[str, int]] = field(default_factory=list)


def _with_copies(items: list[object], cuts: list[int]) -> list[object]:
    """``items`` as written with crashes: at each cut, a suffix written again."""
    out: list[object] = []
    written = 0
    for cut in sorted(cuts):
        cut = min(cut, len(items))
        out.extend(items[written:cut])
        written = max(written, cut)
        out.extend(items[max(0, cut - 2):cut])  # the last unacknowledged ones, again
    out.extend(items[written:])
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    stripes = draw(st.integers(1, 3))
    count = draw(st.integers(1, 24))
    kinds = draw(st.lists(st.sampled_from(["dead", "other", "mine", "mine", "copy-here"]),
                          min_size=count, max_size=count))
    assignments: list[Assignment] = []
    for offset, kind in enumerate(kinds):
        if kind == "mine":
            others = [o for o in range(offset) if kinds[o] == "other"]
            moved = tuple(draw(st.lists(st.sampled_from(others), max_size=3, unique=True))
                          ) if others and draw(st.booleans()) else ()
            assignments.append(Assignment(offset, offset, tuple(sorted(moved))))
        elif kind == "copy-here":  # a merge of a story of P into another partition's
            assignments.append(Assignment(offset, None, ()))
    facts = []
    for partition in range(stripes):
        mine = [(o, kinds[o] == "dead") for o in range(partition, count, stripes)]
        cuts = draw(st.lists(st.integers(0, len(mine)), max_size=2))
        facts.append(_with_copies(mine, cuts))  # type: ignore[arg-type]
    cuts = draw(st.lists(st.integers(0, len(assignments)), max_size=2))
    written = _with_copies(assignments, cuts)  # type: ignore[arg-type]
    expected = [a.source_offset for a in assignments]
    streams = ["assign", *(f"facts{p}" for p in range(stripes))]
    steps = draw(st.lists(st.tuples(st.sampled_from([*streams, "snapshot", "crash"]),
                                    st.integers(1, 4)), max_size=60))
    return Scenario(stripes, facts, written, expected,  # type: ignore[arg-type]
                    [(name, n) for name, n in steps])


class Run:
    """A page process over the scenario's topics: its state (what it folded, the store of
    facts positions), its readers, and its snapshots."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.folded: list[int] = []
        self.index: dict[int, tuple[int, int]] = {}  # source offset -> (partition, offset)
        self.next_assignment = 0
        self.snapshot = ([], {}, {}, 0, -1)  # type: tuple[list[int], dict[int, tuple[int, int]], dict[int, int], int, int]
        self.restore()

    def restore(self) -> None:
        folded, index, resume, next_assignment, folded_to = self.snapshot
        self.folded, self.index = list(folded), dict(index)
        self.next_assignment = next_assignment
        self.facts_at = {p: resume.get(p, 0) for p in range(self.scenario.stripes)}
        self.input: PageInput[tuple[str, int], Assignment] = PageInput(
            self.scenario.stripes, resume, folded_to, lambda o: o in self.index)
        self.assign_at = next_assignment

    def take_snapshot(self) -> None:
        self.snapshot = (list(self.folded), dict(self.index), self.input.resume_positions(),
                         self.next_assignment, self.input.folded_to)

    def read(self, stream: str, count: int) -> None:
        for _ in range(count):
            if stream == "assign":
                if self.assign_at >= len(self.scenario.assignments):
                    return
                item = self.scenario.assignments[self.assign_at]
                self.input.assignment(self.assign_at, item.source_offset, item.own, item.moved,
                                      item)
                self.assign_at += 1
            else:
                partition = int(stream.removeprefix("facts"))
                records = self.scenario.facts[partition]
                at = self.facts_at[partition]
                if at >= len(records):
                    return
                source_offset, dead = records[at]
                first = self.input.facts(partition, at, source_offset,
                                         None if dead else ("facts", source_offset))
                if first and not dead:
                    self.index[source_offset] = (partition, at)
                self.facts_at[partition] = at + 1
            self.fold_ready()

    def fold_ready(self) -> None:
        while (head := self.input.head()) is not None:
            if not self.input.is_copy(head):
                for needed in head.needs:  # each is at hand: waiting, or by its position
                    waiting = self.input.waiting_record(needed)
                    if waiting is not None:
                        assert waiting.record == ("facts", needed)
                    else:
                        partition, offset = self.index[needed]
                        assert self.scenario.facts[partition][offset][0] == needed
                self.folded.append(head.source_offset)
            self.input.done(head)
            self.next_assignment = head.offset + 1
            # nothing at or below what is folded waits in memory
            assert all(o > self.input.folded_to for w in self.input.waiting.values() for o in w)

    def drain(self) -> None:
        streams = ["assign", *(f"facts{p}" for p in range(self.scenario.stripes))]
        while True:
            before = (self.assign_at, dict(self.facts_at))
            for stream in streams:
                self.read(stream, 1)
            if (self.assign_at, self.facts_at) == before:
                return


@settings(max_examples=600, deadline=None)
@given(scenarios())
# a facts record waiting at the snapshot, the last of its partition: the restart must read it
# again (reading resumes at the first record still waiting, not after the last one read)
@example(Scenario(1, [[(0, False)]], [Assignment(0, 0, ())], [0],
                  [("facts0", 1), ("snapshot", 1), ("crash", 1)]))
def test_every_assignment_is_folded_once_in_order_with_its_facts(scenario: Scenario) -> None:
    run = Run(scenario)
    for name, count in scenario.steps:
        if name == "snapshot":
            run.take_snapshot()
        elif name == "crash":
            run.restore()
        else:
            run.read(name, count)
    run.drain()
    assert run.folded == scenario.expected
    assert not run.input.queue


def test_a_merge_waits_for_a_partition_that_has_not_passed_the_moved_article() -> None:
    waiting: PageInput[str, str] = PageInput(2, {}, -1, lambda o: False)
    waiting.facts(0, 0, 2, "f2")
    waiting.assignment(0, 2, 2, (1,), "a")  # moves in the article of source offset 1
    assert waiting.head() is None and waiting.needed_partitions() == {1}
    waiting.facts(1, 0, 1, "f1")
    head = waiting.head()
    assert head is not None and head.needs == (2, 1)


def test_after_a_restart_an_old_moved_article_is_found_by_its_position() -> None:
    # partition 1 has nothing new to read: its old record is known by the store's index
    restarted: PageInput[str, str] = PageInput(2, {0: 5, 1: 3}, 9, lambda o: o == 3)
    restarted.facts(0, 5, 10, "f10")
    restarted.assignment(7, 10, 10, (3,), "a")
    assert restarted.head() is not None


def test_a_copy_of_a_folded_assignment_is_passed_over_at_once() -> None:
    copies: PageInput[str, str] = PageInput(1, {}, 4, lambda o: False)
    copies.assignment(9, 3, 3, (), "old")
    head = copies.head()
    assert head is not None and copies.is_copy(head)
    copies.done(head)
    assert copies.folded_to == 4


def test_a_facts_record_of_another_partitions_stripe_is_refused() -> None:
    # partitions added to a facts topic already written (2 -> 3): source offset 3 was written
    # to partition 1 (3 mod 2). Taken, a merge would read it back from partition 0 (3 mod 3)
    # at its offset there, another article's record, and fold that as a dead letter.
    mixed: PageInput[str, str] = PageInput(3, {}, -1, lambda o: False)
    mixed.facts(1, 0, 1, "f1")
    with pytest.raises(MisplacedRecord, match="with 3 stripes it belongs in 0"):
        mixed.facts(1, 1, 3, "f3")
