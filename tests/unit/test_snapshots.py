"""Snapshots of the core's state: a restart from a snapshot continues the log exactly as the
uninterrupted fold, and anything doubtful (another pipeline version, damage, a snapshot that
holds records about to be delivered again) is refused so the worker folds from 0 instead."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
import types
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_pipeline import TOPIC, build_log, log_entries, records

from storyline.domain import packing
from storyline.domain.canonical import canonical_bytes
from storyline.domain.page import timeline
from storyline.domain.page.timeline import TimelineIndex
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.processes import alive
from storyline.replay import fold_records
from storyline.stream import snapshots as snapshots_module
from storyline.stream.snapshots import (
    Snapshotter,
    load_snapshot,
    prune,
    snapshots,
    write_snapshot,
)

Records = list[tuple[bytes | None, bytes | None, LogPosition]]
_dirs = itertools.count()


def fold(pipeline: Pipeline, recs: Records) -> list[bytes]:
    return [canonical_bytes(e) for e in
            fold_records(recs, max_bytes=1_000_000, pipeline=pipeline).events]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log_entries, st.data())
def test_a_restart_from_a_snapshot_reproduces_the_rest_of_the_log(
        tmp_path: Path, entries: list[tuple[str, int, str]], data: st.DataObject) -> None:
    recs = records(build_log(entries))
    k = data.draw(st.integers(min_value=1, max_value=len(recs)), label="snapshot after")
    uninterrupted = fold(Pipeline(), recs)

    live = Pipeline()
    before = fold(live, recs[:k])
    directory = tmp_path / f"example-{next(_dirs)}"
    write_snapshot(live, directory, TOPIC, 0)
    restored = load_snapshot(directory, TOPIC, 0, before=len(recs) + 1)
    assert restored is not None
    pipeline, last = restored
    assert last == k - 1
    assert before + fold(pipeline, recs[k:]) == uninterrupted


class _Zlib:
    """What packed the state before storyline.domain.packing (format 2)."""

    @staticmethod
    def compress(raw: bytes) -> bytes:
        return zlib.compress(raw, 1)


def _continued_from_earlier_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 snapshot_format: str,
                                 earlier: Callable[[pytest.MonkeyPatch], None]) -> Path:
    """A log of two stories folded by a pipeline that freezes them at once, under
    ``earlier`` (what code before wrote) and snapshotted in ``snapshot_format`` near its
    end; this code restores the snapshot, and the rest of the log folds exactly as
    without it. The snapshot's path, for what each format is checked by."""
    recs = records(build_log([("flood", i % 3, "new") for i in range(6)]
                             + [("strike", i % 3, "new") for i in range(6)]
                             + [("flood", 0, "correction")]))
    uninterrupted = fold(Pipeline(), recs)
    k = len(recs) - 4
    with monkeypatch.context() as patched:
        earlier(patched)
        patched.setattr(snapshots_module, "FORMAT", snapshot_format)
        live = Pipeline(warm_idle=1, warm_items=1)
        before = fold(live, recs[:k])
        assert live.frozen_story_count > 0
        path = write_snapshot(live, tmp_path, TOPIC, 0)
    header = json.loads(path.read_bytes().split(b"\n", 1)[0])
    assert header["format"] == snapshot_format
    restored = load_snapshot(tmp_path, TOPIC, 0, before=len(recs) + 1)
    assert restored is not None
    assert before + fold(restored[0], recs[k:]) == uninterrupted
    return path


def test_a_snapshot_zlib_packed_by_earlier_code_continues_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Format 2: the pipeline, the states of its stories (frozen and in play) and their
    articles' packed facts and analyses in zlib; this code reads all of them."""
    path = _continued_from_earlier_code(
        tmp_path, monkeypatch, snapshots_module.ZLIB_FORMAT,
        lambda patched: patched.setattr(packing, "_compressor", _Zlib))
    assert path.read_bytes().split(b"\n", 1)[1][:1] == b"\x78"  # a zlib stream


def test_a_snapshot_with_timelines_as_objects_continues_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Format 3: the stories' timelines (in play and frozen) pickled with their events as
    objects, as before session 38; this code reads them."""
    as_columns = TimelineIndex.__getstate__
    pickled: list[TimelineIndex] = []

    def as_objects(index: TimelineIndex) -> dict[str, object]:
        pickled.append(index)
        state = as_columns(index)
        state["_events"] = timeline._events_unpacked(state.pop("_event_columns"))
        return state

    _continued_from_earlier_code(
        tmp_path, monkeypatch, snapshots_module.OBJECTS_FORMAT,
        lambda patched: patched.setattr(TimelineIndex, "__getstate__", as_objects))
    assert len(pickled) >= 2  # the frozen stories' and those in play


def test_snapshots_that_cannot_be_trusted_are_refused(tmp_path: Path) -> None:
    recs = records(build_log([("flood", i, "new") for i in range(5)]))
    pipeline = Pipeline()
    fold(pipeline, recs)
    path = write_snapshot(pipeline, tmp_path, TOPIC, 0)
    assert load_snapshot(tmp_path, TOPIC, 0, before=5) is not None
    # it holds offset 4: a consumer resuming at 4 will get that record again
    assert load_snapshot(tmp_path, TOPIC, 0, before=4) is None
    with capture_logs():
        assert load_snapshot(tmp_path, "another.topic", 0, before=5) is None

    header, payload = path.read_bytes().split(b"\n", 1)
    fields = json.loads(header)
    path.write_bytes(header + b"\n" + payload[:-1] + bytes([payload[-1] ^ 1]))
    with capture_logs() as logged:
        assert load_snapshot(tmp_path, TOPIC, 0, before=5) is None  # damaged
    assert "sha256" in logged[-1]["reason"]

    fields["pipeline_version"] = "storyline-0.0.1/core-0/extract-0"
    path.write_bytes(json.dumps(fields).encode() + b"\n" + payload)
    with capture_logs() as logged:
        assert load_snapshot(tmp_path, TOPIC, 0, before=5) is None  # another version
    assert "written by storyline-0.0.1/core-0/extract-0" in logged[-1]["reason"]


def test_a_snapshot_naming_classes_this_code_has_not_is_refused(tmp_path: Path) -> None:
    """A pickle names classes by module: a state written before a module moved (the stage
    packages, STATE_LAYOUT 27) cannot be unpickled, and is refused, not raised."""
    recs = records(build_log([("flood", i, "new") for i in range(3)]))
    pipeline = Pipeline()
    fold(pipeline, recs)
    gone = types.ModuleType("storyline_moved_away")
    cls = type("Moved", (), {"__module__": gone.__name__})
    gone.Moved = cls  # type: ignore[attr-defined]
    sys.modules[gone.__name__] = gone
    try:
        pipeline.moved = cls()  # type: ignore[attr-defined]
        write_snapshot(pipeline, tmp_path, TOPIC, 0)
    finally:
        del sys.modules[gone.__name__]
    with capture_logs() as logged:
        assert load_snapshot(tmp_path, TOPIC, 0, before=3) is None
    assert "storyline_moved_away" in logged[-1]["reason"]


def test_the_newest_usable_snapshot_is_chosen_and_old_ones_pruned(tmp_path: Path) -> None:
    recs = records(build_log([("strike", i, "new") for i in range(6)]))
    pipeline = Pipeline()
    for offset in range(6):
        fold(pipeline, recs[offset:offset + 1])
        write_snapshot(pipeline, tmp_path, TOPIC, 0)
    prune(tmp_path, keep=3)
    assert [offset for offset, _ in snapshots(tmp_path)] == [5, 4, 3]
    restored = load_snapshot(tmp_path, TOPIC, 0, before=5)
    assert restored is not None and restored[1] == 4
    assert load_snapshot(tmp_path, TOPIC, 0, before=3) is None


def test_the_snapshotter_writes_from_a_forked_child(tmp_path: Path) -> None:
    recs = records(build_log([("recall", i, "new") for i in range(5)]))
    pipeline = Pipeline()
    taker = Snapshotter(tmp_path, every=2, keep=2, fork=True)
    for rec in recs:
        fold(pipeline, [rec])
        taker.record_folded(pipeline, TOPIC, 0)
        taker.reap(wait=True)
    assert [offset for offset, _ in snapshots(tmp_path)] == [3, 1]
    restored = load_snapshot(tmp_path, TOPIC, 0, before=5)
    assert restored is not None and restored[1] == 3
    uninterrupted = fold(Pipeline(), recs)
    assert fold(restored[0], recs[4:]) == uninterrupted[len(fold(Pipeline(), recs[:4])):]


def test_a_checkpoint_cut_short_by_a_kill_does_not_fail_the_snapshots_after_it(
        tmp_path: Path) -> None:
    """A worker SIGKILLed while RocksDB made a checkpoint leaves its staging folder,
    "<offset>.cold.tmp"; pruning took it for a writer's temporary file and failed to unlink
    a folder, so every snapshot of the restarted worker was reported failed."""
    staging = tmp_path / f"{139:020d}.cold.tmp"
    staging.mkdir()
    (staging / "000012.sst").write_bytes(b"cut short")
    recs = records(build_log([("recall", i, "new") for i in range(3)]))
    pipeline = Pipeline()
    taker = Snapshotter(tmp_path, every=1, keep=2, fork=True)
    with capture_logs() as logged:
        for rec in recs:
            fold(pipeline, [rec])
            taker.record_folded(pipeline, TOPIC, 0)
            taker.reap(wait=True)
    assert [entry["event"] for entry in logged if entry["log_level"] != "info"] == []
    assert [offset for offset, _ in snapshots(tmp_path)] == [2, 1]
    assert not staging.exists()


@pytest.mark.parametrize("fork", [True, False])
def test_a_failed_snapshot_writer_says_why(tmp_path: Path, fork: bool) -> None:
    """Forked or (without fork) in process alike: the failure is logged with its reason and
    the fold goes on (in process it raised out of the fold): a snapshot is a cache."""
    recs = records(build_log([("recall", 0, "new")]))
    pipeline = Pipeline()
    fold(pipeline, recs)
    (tmp_path / f"{0:020d}.snap").mkdir()  # the file's name is taken: the rename fails
    taker = Snapshotter(tmp_path, every=1, keep=2, fork=fork)
    with capture_logs() as logged:
        taker.take(pipeline, TOPIC, 0)
        taker.reap(wait=True)
    failed = [entry for entry in logged if entry["event"] == "snapshot_failed"]
    assert len(failed) == 1 and failed[0]["exit_code"] == (1 if fork else None)
    assert failed[0]["error"].startswith("IsADirectoryError"), failed[0]
    assert not any(entry["event"] == "snapshot_written" for entry in logged)


def test_a_quiet_stream_gets_its_latest_state_saved_on_the_timer(tmp_path: Path) -> None:
    recs = records(build_log([("flood", i, "new") for i in range(3)]))
    pipeline = Pipeline()
    taker = Snapshotter(tmp_path, every=100, keep=2, fork=False)
    for rec in recs:
        fold(pipeline, [rec])
        taker.record_folded(pipeline, TOPIC, 0)
    taker.tick(pipeline, TOPIC, 0, timer=True)  # records arrived since the last tick
    assert snapshots(tmp_path) == []
    taker.tick(pipeline, TOPIC, 0, timer=True)  # quiet for a whole tick: save
    assert [offset for offset, _ in snapshots(tmp_path)] == [2]
    taker.tick(pipeline, TOPIC, 0, timer=True)  # nothing new: nothing to do
    assert len(snapshots(tmp_path)) == 1


def test_a_rebuild_that_refolded_records_saves_its_state_at_once(tmp_path: Path) -> None:
    """Else a worker killed again before its next snapshot refolds the same stretch, and
    more, at every restart of a crash loop."""
    recs = records(build_log([("flood", i, "new") for i in range(3)]))
    pipeline = Pipeline()
    fold(pipeline, recs)
    taker = Snapshotter(tmp_path, every=100, keep=2, fork=False)
    taker.rebuilt(pipeline, TOPIC, 0, refolded=0)  # resumed from memory or a snapshot
    assert snapshots(tmp_path) == []
    taker.rebuilt(pipeline, TOPIC, 0, refolded=3)
    assert [offset for offset, _ in snapshots(tmp_path)] == [2]
    off = Snapshotter(tmp_path / "off", every=0, keep=2, fork=False)
    off.rebuilt(pipeline, TOPIC, 0, refolded=3)  # snapshots switched off
    assert snapshots(tmp_path / "off") == []


def test_a_busy_stream_gets_a_snapshot_every_interval_on_the_timer(tmp_path: Path) -> None:
    recs = records(build_log([("flood", i, "new") for i in range(4)]))
    pipeline = Pipeline()
    now = [0.0]
    taker = Snapshotter(tmp_path, every=100, keep=5, fork=False, interval=10.0,
                        clock=lambda: now[0])
    for i, rec in enumerate(recs):  # a record between every two ticks: never quiet
        fold(pipeline, [rec])
        taker.record_folded(pipeline, TOPIC, 0)
        now[0] += 4.0
        taker.tick(pipeline, TOPIC, 0, timer=True)
        # due at 12 s (the first tick at or after 10 s), then 10 s after that (at 24 s)
        assert [o for o, _ in snapshots(tmp_path)] == ([] if i < 2 else [2])
    now[0] += 8.0
    taker.tick(pipeline, TOPIC, 0, timer=True)  # 24 s, one new record since: due
    assert [o for o, _ in snapshots(tmp_path)] == [3, 2]
    now[0] += 30.0
    taker.tick(pipeline, TOPIC, 0, timer=True)  # nothing new: nothing to do
    assert len(snapshots(tmp_path)) == 2


_ORPHAN_SCRIPT = """
import sys, time
from pathlib import Path
from storyline.stream import snapshots

class Folded:  # what take() asks of a pipeline
    def applied_offset(self, topic, partition):
        return 5

snapshots.checkpoint_cold_store = lambda *args: None
snapshots.write_snapshot = lambda *args, **kwargs: time.sleep(120)  # a very large state
taker = snapshots.Snapshotter(Path(sys.argv[1]), every=1, keep=1, fork=True)
taker.take(Folded(), "t", 0)
print("WRITER", taker._child[0], flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_snapshot_writer_dies_with_its_sigkilled_worker(tmp_path: Path) -> None:
    """A writer left behind by a SIGKILLed worker held the worker's metrics port and pruned
    the folder the restarted worker was writing to: it dies with its parent."""
    worker = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        line = ""
        while not line.startswith("WRITER "):  # past the worker's log lines
            line = worker.stdout.readline()
            assert line, "the worker ended before it forked"
        writer = int(line.split()[1])
        assert alive(writer)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(writer) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(writer)
    finally:
        worker.kill()


def in_memory(pipeline: Pipeline) -> set[str]:
    """The stories whose states are objects in memory (neither frozen nor set aside)."""
    return {story_id for story_id in pipeline.story_ids
            if pipeline._stories[story_id] is not None}


def test_a_snapshot_sets_the_stories_apart_and_a_restart_thaws_only_those_touched(
        tmp_path: Path) -> None:
    stories = ["flood", "strike", "recall"]
    recs = records(build_log([(stories[i % 3], i % 8, "new") for i in range(9)]
                             + [("flood", i % 8, "new") for i in range(9, 15)]))
    live = Pipeline(warm_idle=4)
    before = fold(live, recs[:9])
    assert len(in_memory(live)) == 3
    write_snapshot(live, tmp_path, TOPIC, 0)
    restored = load_snapshot(tmp_path, TOPIC, 0, before=len(recs))
    assert restored is not None
    pipeline = restored[0]
    # nothing unpickled at load: every story's state waits in the cold store
    assert in_memory(pipeline) == set() and pipeline.frozen_story_count == 3
    # a read thaws a story without revising it
    strike = pipeline.story_of(records_uri(recs[1]))
    assert strike is not None and pipeline.page(strike) is not None
    assert in_memory(pipeline) == {strike}
    uninterrupted = Pipeline(warm_idle=4)
    assert fold(uninterrupted, recs[:9]) == before
    for record in recs[9:]:
        assert fold(uninterrupted, [record]) == fold(pipeline, [record])
        # a story thawed after the restart freezes when it would have frozen without the
        # restart (a set-aside story keeps its place in the idle order)
        assert in_memory(pipeline) <= in_memory(uninterrupted)
    flood = pipeline.story_of(records_uri(recs[9]))
    assert flood is not None
    assert in_memory(pipeline) == in_memory(uninterrupted) == {flood}


def records_uri(record: tuple[bytes | None, bytes | None, LogPosition]) -> str:
    value = record[1]
    assert value is not None
    uri = json.loads(value)["uri"]
    assert isinstance(uri, str)
    return uri


def test_a_snapshot_with_a_cut_story_section_is_refused(tmp_path: Path) -> None:
    recs = records(build_log([("flood", i, "new") for i in range(3)]))
    pipeline = Pipeline()
    fold(pipeline, recs)
    path = write_snapshot(pipeline, tmp_path, TOPIC, 0)
    header, body = path.read_bytes().split(b"\n", 1)
    fields = json.loads(header)
    assert fields["stories"] == 1 and fields["stories_bytes"] > 0
    assert load_snapshot(tmp_path, TOPIC, 0, before=3) is not None
    path.write_bytes(header + b"\n" + body[:-10])
    with capture_logs() as logged:
        assert load_snapshot(tmp_path, TOPIC, 0, before=3) is None
    assert "damaged" in logged[-1]["reason"]


def test_a_prune_failure_in_process_leaves_the_snapshot_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recs = records(build_log([("recall", 0, "new")]))
    pipeline = Pipeline()
    fold(pipeline, recs)

    def refuse(directory: Path, keep: int) -> None:
        raise PermissionError(f"cannot clear {directory}")

    monkeypatch.setattr(snapshots_module, "prune", refuse)
    taker = Snapshotter(tmp_path, every=1, keep=2, fork=False)
    with capture_logs() as logged:
        taker.take(pipeline, TOPIC, 0)
    assert [offset for offset, _ in snapshots(tmp_path)] == [0]
    events = [entry["event"] for entry in logged]
    assert "snapshot_written" in events and "snapshot_failed" not in events
    warned = [entry for entry in logged if entry["event"] == "snapshot_prune_failed"]
    assert len(warned) == 1 and warned[0]["error"].startswith("PermissionError"), logged
