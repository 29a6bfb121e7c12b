"""Idle stories in RocksDB (the worker's cold store): the fold is byte for byte the same as
with every story in memory, and a snapshot with its store checkpoint resumes the log exactly,
even though the live store went on changing after the snapshot (as after a crash)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pipeline import TOPIC, build_log, log_entries, records
from test_snapshots import Records, fold

from storyline.domain import pipeline as pipeline_module
from storyline.domain.page import timeline as timeline_module
from storyline.domain.pipeline import Pipeline
from storyline.stream.coldstore import RocksColdStore
from storyline.stream.snapshots import (
    Snapshotter,
    cold_checkpoint_path,
    load_snapshot,
    prune,
    snapshots,
    write_snapshot,
)

_dirs = itertools.count()


def test_the_store_keeps_bytes_by_key_and_a_checkpoint_stays_as_taken(tmp_path: Path) -> None:
    store = RocksColdStore.empty(tmp_path / "live")
    store.put("story-a", b"\x00first")
    store.put("story-b", b"b")
    store.checkpoint(tmp_path / "ck")
    store.put("story-a", b"second")
    store.delete("story-b")
    assert (store.get("story-a"), store.get("story-b"), store.get("nope")) == (
        b"second", None, None)
    store.close()
    restored = RocksColdStore.restored(tmp_path / "ck", tmp_path / "live")
    assert (restored.get("story-a"), restored.get("story-b")) == (b"\x00first", b"b")
    restored.put("story-c", b"c")  # writing the live store leaves the checkpoint alone
    restored.close()
    again = RocksColdStore.restored(tmp_path / "ck", tmp_path / "live")
    assert again.get("story-c") is None
    again.close()
    assert RocksColdStore.empty(tmp_path / "live").get("story-a") is None


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log_entries, st.data())
def test_a_snapshot_with_a_rocksdb_cold_store_resumes_the_log_after_a_crash(
        tmp_path: Path, entries: list[tuple[str, int, str]], data: st.DataObject) -> None:
    recs = records(build_log(entries))
    uninterrupted = fold(Pipeline(), recs)
    k = data.draw(st.integers(min_value=1, max_value=len(recs)), label="snapshot after")
    base = tmp_path / f"example-{next(_dirs)}"
    # every story frozen after a revision, every uri entry but the latest spilled, every
    # timeline month not looked at by the latest statement cold
    items = data.draw(st.integers(min_value=1, max_value=8), label="articles in play")
    with mock.patch.object(pipeline_module, "WARM_IDLE", 1), \
            mock.patch.object(pipeline_module, "WARM_ITEMS", items), \
            mock.patch.object(pipeline_module, "WARM_ARTICLES", 1), \
            mock.patch.object(timeline_module, "COLD_AFTER", 0), \
            mock.patch.object(timeline_module, "COLD_CHECK_EVERY", 1):
        cold = RocksColdStore.empty(base / "cold")
        live = Pipeline(cold=cold)
        before = fold(live, recs[:k])
        write_snapshot(live, base / "snaps", TOPIC, 0)
        # the crashed process folded on after its snapshot: its live store moved on too
        assert before + fold(live, recs[k:]) == uninterrupted
        cold.close()
        restored = load_snapshot(base / "snaps", TOPIC, 0, before=len(recs) + 1,
                                 cold_live=base / "cold")
        assert restored is not None
        pipeline, last = restored
        assert last == k - 1 and not pipeline.needs_cold_store
        assert before + fold(pipeline, recs[k:]) == uninterrupted
        whole = Pipeline()
        fold(whole, recs)
        assert pipeline.story_ids == whole.story_ids
        for story_id in pipeline.story_ids:
            assert pipeline.page(story_id) == whole.page(story_id)
        assert isinstance(pipeline.cold_store, RocksColdStore)
        pipeline.cold_store.close()


def _frozen_pipeline(tmp_path: Path) -> tuple[Pipeline, RocksColdStore, Records]:
    recs = records(build_log([("flood", 0, "new"), ("flood", 1, "new"), ("recall", 0, "new"),
                              ("recall", 1, "new")]))
    cold = RocksColdStore.empty(tmp_path / "cold")
    pipeline = Pipeline(cold=cold)
    with mock.patch.object(pipeline_module, "WARM_IDLE", 1):
        fold(pipeline, recs)
    assert pipeline.frozen_story_count >= 1
    return pipeline, cold, recs


def test_a_snapshot_without_its_store_checkpoint_is_refused(tmp_path: Path) -> None:
    pipeline, cold, recs = _frozen_pipeline(tmp_path)
    write_snapshot(pipeline, tmp_path / "snaps", TOPIC, 0)
    cold.close()
    assert load_snapshot(tmp_path / "snaps", TOPIC, 0, before=len(recs)) is None  # nowhere
    [(offset, _)] = snapshots(tmp_path / "snaps")
    checkpoint = cold_checkpoint_path(tmp_path / "snaps", offset)
    for path in checkpoint.iterdir():
        path.unlink()
    checkpoint.rmdir()
    assert load_snapshot(tmp_path / "snaps", TOPIC, 0, before=len(recs),
                         cold_live=tmp_path / "cold") is None


def test_pruning_removes_checkpoints_with_their_snapshots_and_orphans(tmp_path: Path) -> None:
    pipeline, cold, recs = _frozen_pipeline(tmp_path)
    snaps = tmp_path / "snaps"
    taker = Snapshotter(snaps, every=1, keep=1, fork=True)
    taker.take(pipeline, TOPIC, 0)
    taker.reap(wait=True)
    [(offset, _)] = snapshots(snaps)
    assert cold_checkpoint_path(snaps, offset).is_dir()
    orphan = cold_checkpoint_path(snaps, offset + 7)  # a crash between checkpoint and file
    cold.checkpoint(orphan)
    write_snapshot(pipeline, snaps, TOPIC, 0)
    prune(snaps, keep=1)
    assert sorted(p.name for p in snaps.iterdir()) == [
        f"{offset:020d}.cold", f"{offset:020d}.snap"]
    cold.close()
    restored = load_snapshot(snaps, TOPIC, 0, before=len(recs), cold_live=tmp_path / "cold")
    assert restored is not None and restored[1] == offset
    restored[0].cold_store.close()  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "get", "pop", "pickle"]),
                          st.integers(0, 9), st.integers(0, 99)), max_size=60),
       st.integers(0, 12))
def test_a_spilled_map_reads_like_a_dict(ops: list[tuple[str, int, int]], keep: int) -> None:
    """Whatever was spilled to the store, reads, writes and removals give what a dict gives,
    also after a pickle round trip (a snapshot of a pipeline with a MemoryColdStore)."""
    import pickle

    from storyline.domain.coldstore import MemoryColdStore, SpilledMap

    store = MemoryColdStore()
    spilled: SpilledMap[int] = SpilledMap("t:", keep)
    spilled.attach(store)
    plain: dict[str, int] = {}
    for op, k, value in ops:
        key = f"k{k}"
        if op == "set":
            spilled[key] = value
            plain[key] = value
        elif op == "get":
            assert spilled.get(key) == plain.get(key)
            assert (key in spilled) == (key in plain)
        elif op == "pop":
            assert spilled.pop(key) == plain.pop(key, None)
        else:
            spilled = pickle.loads(pickle.dumps(spilled))
        assert len(spilled) <= keep
        held = spilled._store  # the pickled copy of the store after a round trip
        assert isinstance(held, MemoryColdStore)
        assert len(spilled) + len(held) >= len(plain)
    for k in range(10):
        assert spilled.get(f"k{k}") == plain.get(f"k{k}")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), max_size=300, unique=True),
       st.lists(st.text(min_size=13, max_size=20), max_size=50))
def test_a_key_filter_never_forgets_a_key(added: list[str], others: list[str]) -> None:
    """Every key added is "maybe" (a "no" would make a spilled entry look absent), also
    past the first layers and after a pickle round trip; keys never added are mostly "no"."""
    import pickle

    from storyline.domain.coldstore import KeyFilter

    keys = KeyFilter()
    keys.add_many(added[: len(added) // 3])
    keys.add_many(added[len(added) // 3:])
    assert len(keys) == len(added)
    for known in (keys, pickle.loads(pickle.dumps(keys))):
        assert all(known.may_contain(key) for key in added)
    assert not KeyFilter().may_contain("anything")


def test_a_key_filter_answers_alike_in_every_process() -> None:
    """The filter is pickled with a snapshot and read by another process: its positions
    must not come from ``hash()``, which is salted per process."""
    import subprocess
    import sys

    script = ("import pickle, sys; from storyline.domain.coldstore import KeyFilter; "
              "f = KeyFilter(); f.add_many([f'w{i}' for i in range(5000)]); "
              "sys.stdout.buffer.write(pickle.dumps(f))")
    made = [subprocess.run([sys.executable, "-c", script], capture_output=True, check=True,
                           env={**__import__("os").environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")]
    assert made[0] == made[1]


def test_a_false_no_rate_of_zero_and_a_false_maybe_rate_near_one_percent() -> None:
    from storyline.domain.coldstore import KeyFilter

    keys = KeyFilter()
    for start in range(0, 200_000, 7_000):  # several layers, batches across their ends
        keys.add_many([f"term-{i}" for i in range(start, start + 7_000)])
    assert all(keys.may_contain(f"term-{i}") for i in range(0, 203_000, 7))
    false_maybe = sum(keys.may_contain(f"other-{i}") for i in range(20_000)) / 20_000
    assert false_maybe < 0.05  # 12 bits and 4 hashes a key: ~1 % a layer, 4 layers


def test_a_spilled_map_asks_its_store_only_for_keys_it_wrote() -> None:
    """A key never spilled (a word seen for the first time) costs no store read; one
    spilled is read back; a map unpickled without a filter (older state) asks for all."""
    from storyline.domain.coldstore import MemoryColdStore, SpilledMap

    class CountingStore(MemoryColdStore):
        def __init__(self) -> None:
            super().__init__()
            self.reads = 0

        def get(self, key: str) -> bytes | None:
            self.reads += 1
            return super().get(key)

        def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
            self.reads += len(keys)
            return super().get_many(keys)

    store = CountingStore()
    spilled: SpilledMap[int] = SpilledMap("m:", 16)
    spilled.attach(store)
    for i in range(100):
        spilled[f"k{i}"] = i
    assert 14 <= len(spilled) <= 16  # spilled in batches of keep // 8
    assert len(store) + len(spilled) == 100
    assert store.reads == 0
    news = [f"new{i}" for i in range(200)]
    assert [spilled.get(k) for k in news] == [None] * 200
    assert spilled.get_many(news) == [None] * 200
    assert store.reads < 20  # false "maybe"s only
    store.reads = 0
    assert spilled.get_many([f"k{i}" for i in range(100)]) == list(range(100))
    assert store.reads == len(store)
    state = spilled.__getstate__()
    del state["_filter"]  # as a map pickled before it had one
    older: SpilledMap[int] = SpilledMap.__new__(SpilledMap)
    older.__setstate__(state)
    store.reads = 0
    assert older.get("new1") is None and store.reads == 1


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(max_size=10), max_size=400), st.integers(0, 400))
def test_a_key_filter_fills_alike_however_the_keys_are_batched(keys: list[str], cut: int
                                                                ) -> None:
    """Keys recorded in two batches set the bits one batch sets, also when the second batch
    opens a new layer, and each is then "maybe"."""
    from storyline.domain.coldstore import KeyFilter

    with mock.patch.object(KeyFilter, "FIRST_CAPACITY", 16):
        whole, split = KeyFilter(), KeyFilter()
        whole.add_many(keys)
        split.add_many(keys[:cut])
        split.add_many(keys[cut:])
        assert split._layers == whole._layers and len(split) == len(whole) == len(keys)
        assert all(split.may_contain(key) for key in keys)
