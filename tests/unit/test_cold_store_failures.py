"""A cold store that fails under the fold (a damaged RocksDB table file, a disk that refuses
writes) is the disk's failure, never the article's: the fold stops instead of dead-lettering
the article and folding on, and a snapshot whose checkpoint is damaged is set aside so the
next start rebuilds from a sound one or from the log.

Before 2026-12-06 the core's catch-all took RocksDB's ``Exception("Corruption: block checksum
mismatch ...")`` for the record's own failure: after a restart from a snapshot whose
checkpoint had a damaged block, every article that thawed a story became a dead letter, the
stage committed past it, ``storyline status`` said "caught up", and ``replay --verify`` found
the revisions missing (/tmp/faults/corrupt_cold.sh on the real broker: 74 of 80 articles
dead-lettered, 33 revisions missing)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from test_pipeline import TOPIC, build_log, records
from test_snapshots import fold

from storyline.domain import pipeline as pipeline_module
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.domain.records import handle_record
from storyline.stream.coldstore import RocksColdStore
from storyline.stream.facts import extract_record, fold_facts
from storyline.stream.snapshots import (
    cold_checkpoint_path,
    load_snapshot,
    snapshots,
    write_snapshot,
)

MAX_BYTES = 1_000_000
# two stories taking turns: with WARM_IDLE 1 each is frozen after its revision and thawed
# (read from the cold store) by its next article
ENTRIES = [("flood", 0, "new"), ("recall", 0, "new"), ("flood", 1, "new"),
           ("recall", 1, "new"), ("flood", 2, "new"), ("recall", 2, "new"),
           ("flood", 3, "new"), ("recall", 3, "new")]
SNAPSHOT_AFTER = 4


@contextlib.contextmanager
def _cold() -> Iterator[None]:
    """Every story frozen after its revision, the stories in play held to one article."""
    with mock.patch.object(pipeline_module, "WARM_IDLE", 1), \
            mock.patch.object(pipeline_module, "WARM_ITEMS", 1), \
            mock.patch.object(pipeline_module, "WARM_ARTICLES", 1):
        yield


def _damage(checkpoint: Path) -> list[str]:
    """Flip bytes through the data blocks of every table file (the first half; the footer
    and index stay readable, so the store opens and a read meets the damage)."""
    names = []
    for table in sorted(checkpoint.glob("*.sst")):
        data = bytearray(table.read_bytes())
        for at in range(0, len(data) // 2, 7):
            data[at] ^= 0xFF
        table.write_bytes(bytes(data))
        names.append(table.name)
    assert names, "the checkpoint has no table file to damage"
    return names


Records = list[tuple[bytes | None, bytes | None, LogPosition]]


def _restored_from_damaged_snapshot(tmp_path: Path
                                    ) -> tuple[Pipeline, Path, list[str], Records]:
    recs = records(build_log(ENTRIES))
    cold = RocksColdStore.empty(tmp_path / "cold")
    live = Pipeline(cold=cold)
    fold(live, recs[:SNAPSHOT_AFTER])
    assert live.frozen_story_count >= 1
    snaps = tmp_path / "snaps"
    write_snapshot(live, snaps, TOPIC, 0)
    cold.close()
    [(offset, _)] = snapshots(snaps)
    damaged = _damage(cold_checkpoint_path(snaps, offset))
    restored = load_snapshot(snaps, TOPIC, 0, before=len(recs), cold_live=tmp_path / "cold")
    assert restored is not None and restored[1] == SNAPSHOT_AFTER - 1
    return restored[0], snaps, damaged, list(recs[SNAPSHOT_AFTER:])


@pytest.mark.parametrize("path", ["worker", "fold stage"])
def test_a_damaged_cold_store_stops_the_fold_and_dead_letters_no_article(
        tmp_path: Path, path: str) -> None:
    with _cold():
        pipeline, _, damaged, rest = _restored_from_damaged_snapshot(tmp_path)
        letters = []
        failure: Exception | None = None
        try:
            for key, value, position in rest:
                if path == "worker":
                    outcome = handle_record(pipeline, key, value, position,
                                            max_bytes=MAX_BYTES)
                    letter = outcome.dead_letter
                else:
                    facts = extract_record(key, value, position, max_bytes=MAX_BYTES)
                    folded = fold_facts(pipeline, facts, position)
                    letter = folded.dead_letter
                    if folded.refused is not None:
                        letters.append(folded.refused.reason)
                if letter is not None:
                    letters.append(letter.reason)
        except Exception as exc:  # noqa: BLE001 - what the test is about
            failure = exc
    assert letters == [], f"articles dead-lettered for the disk's failure: {letters}"
    assert failure is not None, "the fold went on over a damaged cold store"
    assert any(name in str(failure) for name in damaged)  # names the damaged file
    pipeline.cold_store.close()  # type: ignore[attr-defined]


def test_the_snapshots_of_a_damaged_table_file_are_set_aside_and_the_log_refolded(
        tmp_path: Path) -> None:
    from storyline.domain.coldstore import ColdStoreFailed
    from storyline.stream.snapshots import cold_store_failed

    with _cold():
        pipeline, snaps, _, rest = _restored_from_damaged_snapshot(tmp_path)
        with pytest.raises(ColdStoreFailed) as failed:
            for key, value, position in rest:
                handle_record(pipeline, key, value, position, max_bytes=MAX_BYTES)
        pipeline.cold_store.close()  # type: ignore[attr-defined]
        cold_store_failed([snaps], failed.value)
        # kept for the operator, no longer a snapshot: the next start folds from the log
        assert snapshots(snaps) == []
        assert [p.name for p in snaps.glob("*.damaged")] == [
            f"{SNAPSHOT_AFTER - 1:020d}.snap.damaged"]
        assert load_snapshot(snaps, TOPIC, 0, before=100, cold_live=tmp_path / "cold") is None


def test_a_full_disk_sets_no_snapshot_aside(
        tmp_path: Path) -> None:
    from storyline.domain.coldstore import ColdStoreFailed
    from storyline.stream.snapshots import set_aside_damaged

    recs = records(build_log(ENTRIES))
    with _cold():
        cold = RocksColdStore.empty(tmp_path / "cold")
        live = Pipeline(cold=cold)
        fold(live, recs[:SNAPSHOT_AFTER])
        write_snapshot(live, tmp_path / "snaps", TOPIC, 0)
        cold.close()
    [(offset, _)] = snapshots(tmp_path / "snaps")
    table = next(cold_checkpoint_path(tmp_path / "snaps", offset).glob("*.sst")).name
    # what RocksDB says when the disk is full (/tmp/faults/disk_full.sh): it names the table
    # file it was writing, which is no damaged one
    full = ColdStoreFailed(f"the cold store x failed to write 3 values: Exception: IO error: "
                           f"No space left on device: While appending to file: x/{table}: "
                           "No space left on device")
    assert set_aside_damaged(tmp_path / "snaps", full) == []
    assert len(snapshots(tmp_path / "snaps")) == 1


def test_a_checkpoint_missing_a_table_file_is_refused_not_a_crash(tmp_path: Path) -> None:
    recs = records(build_log(ENTRIES))
    with _cold():
        cold = RocksColdStore.empty(tmp_path / "cold")
        live = Pipeline(cold=cold)
        fold(live, recs[:2])
        write_snapshot(live, tmp_path / "snaps", TOPIC, 0)  # the older, sound one
        fold(live, recs[2:SNAPSHOT_AFTER])
        write_snapshot(live, tmp_path / "snaps", TOPIC, 0)
        cold.close()
    newest = cold_checkpoint_path(tmp_path / "snaps", SNAPSHOT_AFTER - 1)
    older = cold_checkpoint_path(tmp_path / "snaps", 1)
    # a table file of the newest checkpoint only (not one it shares with the older)
    only_newest = {p.name for p in newest.glob("*.sst")} - {p.name for p in older.glob("*.sst")}
    assert only_newest
    for name in only_newest:
        (newest / name).unlink()
    restored = load_snapshot(tmp_path / "snaps", TOPIC, 0, before=len(recs),
                             cold_live=tmp_path / "cold")
    assert restored is not None and restored[1] == 1  # the older snapshot
    restored[0].cold_store.close()  # type: ignore[attr-defined]
