"""The worker's per-deployment state, its group identity and when it writes whole pages."""

from __future__ import annotations

from pathlib import Path

from storyline.settings import Settings
from storyline.stream.offsets import CommitMetadata, FoldedOffsets
from storyline.stream.worker import PageCheckpoints, app_id, instance_id, state_dir


def test_deployments_sharing_a_data_directory_keep_separate_state(tmp_path: Path) -> None:
    a = Settings(data_dir=tmp_path, topic_prefix="newsroom-a.")
    b = Settings(data_dir=tmp_path, topic_prefix="newsroom-b.")
    assert app_id(a) != app_id(b)
    assert state_dir(a) != state_dir(b)
    assert state_dir(a).parent == state_dir(b).parent == tmp_path / "worker"


def test_the_static_member_id_is_the_same_across_restarts_and_differs_per_disk(
        tmp_path: Path) -> None:
    here = Settings(data_dir=tmp_path / "one")
    assert instance_id(here) == instance_id(Settings(data_dir=tmp_path / "one"))
    assert instance_id(here) != instance_id(Settings(data_dir=tmp_path / "two"))
    assert instance_id(Settings(worker_instance_id="worker-7")) == "worker-7"


def test_whole_pages_are_due_first_then_when_changes_outweigh_the_page() -> None:
    clock = PageCheckpoints(max_revisions=1000)
    assert clock.due("s", 500)  # the first revision this worker publishes
    clock.written("s", 10_000)
    assert not any(clock.due("s", 2_000) for _ in range(4))  # 8,000 bytes of changes
    assert clock.due("s", 2_000)  # 10,000: as much as the page itself
    clock.written("s", 10_000)
    assert not clock.due("s", 100)


def test_whole_pages_are_due_after_max_revisions_even_for_tiny_changes() -> None:
    clock = PageCheckpoints(max_revisions=3)
    clock.written("s", 1_000_000)
    assert [clock.due("s", 10) for _ in range(3)] == [False, False, True]


def test_commits_cover_only_what_was_folded_and_delivered() -> None:
    offsets = FoldedOffsets()
    offsets.folded("t", 0, 4)
    offsets.folded("t", 0, 2)  # an older record again: never moves the commit back
    due = offsets.due()
    assert [(tp.partition, o) for tp, o in due.items()] == [(0, 5)]
    offsets.mark_committed(due)
    assert offsets.due() == {}
    offsets.folded("t", 0, 5)
    assert list(offsets.due().values()) == [6]


def test_commit_metadata_round_trips_and_garbage_reads_as_none() -> None:
    meta = CommitMetadata(1_700_000_000.5, "storyline-x/core-2/extract-3")
    assert CommitMetadata.decode(meta.encode()) == meta
    assert CommitMetadata.decode("") is None and CommitMetadata.decode("{}") is None
