"""The garbage collector's upkeep of a long fold (storyline.collector): the heap frozen every
N records and collected in full when the heap has grown, nothing of the fold changed,
and the fold making no reference cycle that a frozen heap would keep."""

from __future__ import annotations

import gc
import hashlib
import itertools
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_pipeline import build_log, records

from storyline import collector
from storyline.domain.canonical import canonical_bytes
from storyline.domain.extract import analysis as analysis_module
from storyline.domain.page import summary
from storyline.settings import Settings
from storyline.stream.worker import WorkerState


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """Each test leaves the process's collector as it found it: nothing frozen."""
    yield
    gc.unfreeze()


def test_freezes_every_n_records_and_collects_in_full_when_the_heap_grew(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    blocks = [0]  # what sys.getallocatedblocks answers: the test grows the heap by hand
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    monkeypatch.setattr(gc, "collect",
                        lambda *generation: calls.append(f"collect{list(generation)}") or 5)
    monkeypatch.setattr(sys, "getallocatedblocks", lambda: blocks[0])

    def walked() -> int:
        raise AssertionError("gc.get_freeze_count walks every frozen object: a pause")

    monkeypatch.setattr(gc, "get_freeze_count", walked)
    heap = collector.Collector(freeze_every=2, collect_growth=1.5)
    floor = collector.COLLECT_FLOOR
    heap.folded()
    assert calls == ["collect[1]", "freeze"]  # record 1: what start-up made
    calls.clear()
    blocks[0] = floor  # not above the floor: a freeze only
    heap.folded()
    assert calls == ["collect[1]", "freeze"]
    calls.clear()
    blocks[0] = int(1.5 * floor) + 1  # grown by more than half: a full collection
    heap.folded()
    heap.folded()
    assert calls == ["collect[1]", "freeze", "unfreeze", "collect[]", "freeze"]
    assert (heap.records, heap.freezes, heap.collections, heap.found) == (4, 3, 1, 5)
    calls.clear()
    blocks[0] = int(1.5 * (1.5 * floor + 1))  # the new baseline is the heap then
    heap.folded()
    heap.folded()
    assert calls == ["collect[1]", "freeze"] and heap.collections == 1
    calls.clear()
    off = collector.Collector(freeze_every=0, collect_growth=0)
    never_full = collector.Collector(freeze_every=1, collect_growth=0)
    blocks[0] = 10 * floor
    for _ in range(3):
        off.folded()
        never_full.folded()
    assert calls == ["collect[1]", "freeze"] * 3 and off.freezes == 0
    assert never_full.collections == 0


def _recorded_gc(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The collector's calls to ``gc``, recorded instead of made (a collection finds 0)."""
    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    monkeypatch.setattr(gc, "collect",
                        lambda *generation: calls.append(f"collect{list(generation)}") or 0)
    return calls


def test_the_first_record_freezes_the_start_without_a_full_collection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A process restarted over a large restored state freezes it at its first record and
    does not collect it in full then (a pause right after the restart): a full collection is
    due only where a freeze is, every ``freeze_every`` records."""
    calls = _recorded_gc(monkeypatch)
    monkeypatch.setattr(sys, "getallocatedblocks", lambda: 10 * collector.COLLECT_FLOOR)
    heap = collector.Collector(freeze_every=3, collect_growth=1.5)
    heap.folded()
    assert calls == ["collect[1]", "freeze"] and heap.collections == 0
    heap.folded()
    assert calls == ["collect[1]", "freeze"]
    heap.folded()  # record 3: the heap is over 1.5 times the floor
    assert calls[2:] == ["collect[1]", "freeze", "unfreeze", "collect[]", "freeze"]
    assert (heap.freezes, heap.collections) == (2, 1)


def test_a_deferred_full_collection_waits_for_idle_up_to_the_next_freeze(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A live stage's full collection, due at a freeze, runs when the stage next has no
    record waiting (its pause then starts with nothing queued behind it), or at the next
    freeze if the stage was never idle meanwhile; never twice for one due."""
    calls = _recorded_gc(monkeypatch)
    monkeypatch.setattr(sys, "getallocatedblocks", lambda: 2 * collector.COLLECT_FLOOR)
    heap = collector.Collector(freeze_every=2, collect_growth=1.5, defer_full=True)
    heap.idle()  # nothing due: nothing done
    heap.folded()  # record 1: the start frozen
    heap.folded()  # record 2: a freeze, and the full collection due, not made
    assert calls == ["collect[1]", "freeze"] * 2 and heap.full_due and heap.collections == 0
    calls.clear()
    heap.idle()
    assert calls == ["unfreeze", "collect[]", "freeze"] and heap.collections == 1
    assert not heap.full_due
    heap.idle()
    assert heap.collections == 1
    # due again (the heap quadrupled), and never idle before the next freeze: made there
    monkeypatch.setattr(sys, "getallocatedblocks", lambda: 40 * collector.COLLECT_FLOOR)
    calls.clear()
    heap.folded()
    heap.folded()  # record 4: due
    assert heap.full_due and heap.collections == 1
    heap.folded()
    heap.folded()  # record 6: still due at this freeze
    assert calls[-3:] == ["unfreeze", "collect[]", "freeze"] and heap.collections == 2
    assert not heap.full_due


def test_the_live_stages_defer_their_full_collections_to_idle(tmp_path: Path) -> None:
    """The fold and page stages' state defers (its ``idle`` is theirs to call); replay and
    the batch folds collect at the freeze, as before."""
    state = WorkerState(tmp_path / "a")
    assert state.collector.defer_full
    state.collector.full_due = True
    state.idle()
    assert not state.collector.full_due and state.collector.collections == 1
    state.cold.close()
    assert not collector.Collector().defer_full


def test_a_freeze_moves_the_heap_out_of_the_collections() -> None:
    gc.collect()
    kept = [[i] for i in range(1000)]  # tracked containers, alive
    heap = collector.Collector(freeze_every=1, collect_growth=0)
    heap.folded()
    assert gc.get_freeze_count() >= len(kept)


def _digest(outcomes: list[object]) -> str:
    digest = hashlib.sha256()
    for outcome in outcomes:
        for event in outcome.events:  # type: ignore[attr-defined]
            digest.update(canonical_bytes(event))
    return digest.hexdigest()


def test_the_worker_freezes_as_it_folds_and_the_fold_is_the_same(tmp_path: Path) -> None:
    log = records(build_log([("flood", i % 4, "new") for i in range(4)]
                            + [("strike", i % 4, "new") for i in range(4)]))
    every = WorkerState(tmp_path / "a", freeze_every=1, collect_growth=1.0)
    never = WorkerState(tmp_path / "b", freeze_every=0, collect_growth=0)
    frozen = [every.fold_now(k, v, p, 2_000_000) for k, v, p in log]
    assert every.collector.freezes == len(log)
    plain = [never.fold_now(k, v, p, 2_000_000) for k, v, p in log]
    assert never.collector.freezes == 0
    assert _digest(frozen) == _digest(plain) and any(o.events for o in plain)
    every.cold.close()
    never.cold.close()


def test_the_settings_reach_the_stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().gc_freeze_every, Settings().gc_collect_growth) == (
        collector.FREEZE_EVERY, collector.COLLECT_GROWTH)
    monkeypatch.setenv("STORYLINE_GC_FREEZE_EVERY", "50")
    monkeypatch.setenv("STORYLINE_GC_COLLECT_GROWTH", "0")
    from storyline.stream.page_stage import PageStage

    stage = PageStage(Settings(data_dir=tmp_path), 0)
    try:
        assert (stage.state.collector.freeze_every,
                stage.state.collector.collect_growth) == (50, 0)
    finally:
        stage.state.cold.close()


def test_support_memos_make_no_reference_cycle() -> None:
    """Two lead sentences that each support the other, asked both ways: once the caller lets
    go of them they are freed by reference counting alone, so a frozen heap (which the full
    collections never walk) does not keep them and their articles' analyses."""
    leads = [analysis_module._analyse(
        (f"Rescuers pulled {n} miners alive from the pit on Sunday.",), (), frozenset()
    ).lead[0] for n in (12, 12, 12)]
    for claim, other in itertools.permutations(leads, 2):
        assert summary._supports_cached(claim, other)
    assert all(s.support for s in leads)
    assert summary._supports_cached(leads[0], leads[1])  # answered from the memo
    gone = [weakref.ref(s) for s in leads]
    gc.disable()
    try:
        del leads, claim, other
        assert [ref() for ref in gone] == [None, None, None]
    finally:
        gc.enable()


def test_a_dead_statement_id_taken_again_is_checked_again() -> None:
    claim = analysis_module._analyse(
        ("Rescuers pulled 12 miners alive from the pit on Sunday.",), (), frozenset()).lead[0]
    other = analysis_module._analyse(
        ("Rescuers pulled 12 miners alive from the pit on Sunday.",), (), frozenset()).lead[0]
    assert summary._supports_cached(claim, other)
    key = id(other)
    del other
    assert claim.support is not None and claim.support[key][0]() is None
    unlike = analysis_module._analyse(
        ("The company's shares fell 4 percent on Monday.",), (), frozenset()).lead[0]
    # as if ``unlike`` had been given the dead statement's id: the entry (a dead reference
    # and "supports") is found under its id and must not answer for it
    claim.support[id(unlike)] = claim.support.pop(key)
    assert not summary._supports_cached(claim, unlike)
    assert claim.support[id(unlike)][0]() is unlike  # checked again and remembered


def test_a_full_collection_that_finds_nothing_waits_longer_for_the_next(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each full collection is a pause as long as the heap is large; one that finds almost no
    garbage (under GARBAGE_SHARE of the blocks) doubles the growth that calls the next, one
    that finds garbage puts it back."""
    blocks = [0]
    found = [0]
    collected: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(gc, "unfreeze", lambda: None)

    def collect(*generation: int) -> int:
        if generation:
            return 0
        collected.append(blocks[0])
        return found[0]

    monkeypatch.setattr(gc, "collect", collect)
    monkeypatch.setattr(sys, "getallocatedblocks", lambda: blocks[0])
    floor = collector.COLLECT_FLOOR
    heap = collector.Collector(freeze_every=1, collect_growth=1.5)

    def grow_to(size: int) -> None:
        blocks[0] = size
        heap.folded()

    heap.folded()  # record 1: the start frozen (the baseline: the floor)
    assert collected == []
    grow_to(int(1.5 * floor) + 1)  # grown by half: collected, nothing found
    assert collected == [int(1.5 * floor) + 1] and heap.growth == 3.0
    baseline = collected[-1]
    grow_to(int(2.9 * baseline))  # under three times: no pause now
    assert len(collected) == 1
    grow_to(int(3 * baseline) + 1)  # found nothing again: six times, next
    assert len(collected) == 2 and heap.growth == 6.0
    baseline = collected[-1]
    leak = found[0] = int(collector.GARBAGE_SHARE * 6 * baseline) + 10  # garbage found
    grow_to(6 * baseline + 1)
    assert len(collected) == 3 and heap.growth == 1.5  # back to every half
    baseline = collected[-1]
    found[0] = 0
    grow_to(int(1.5 * baseline) + 1)
    assert len(collected) == 4 and heap.found == leak and heap.growth == 3.0
