"""The fold stage's start-up rebuild (``FoldStage._rebuild``) without a broker: the articles
log's tail is read from a list instead of Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_pipeline import build_log, records

from storyline.settings import Settings
from storyline.stream import fold_stage
from storyline.stream.snapshots import snapshots


def _stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           recs: list) -> fold_stage.FoldStage:  # type: ignore[type-arg]
    async def no_summaries(_settings: Settings) -> dict[str, object]:
        return {}

    async def from_list(_bootstrap: str, _topic: str, _partition: int, *, start: int = 0,
                        stop: int | None = None) -> AsyncIterator[SimpleNamespace]:
        for key, value, position in recs[start:stop]:
            yield SimpleNamespace(key=key, value=value, offset=position.offset,
                                  timestamp=1_700_000_000_000 + position.offset)

    monkeypatch.setattr(fold_stage, "recorded_summaries", no_summaries)
    monkeypatch.setattr(fold_stage, "read_partition", from_list)
    settings = Settings(data_dir=tmp_path, snapshot_fork=False, snapshot_every=100)
    return fold_stage.FoldStage(settings)


def test_a_fold_rebuild_that_refolded_records_saves_its_state_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the single-process worker's (``Snapshotter.rebuilt``): else a fold killed again
    before its next snapshot refolds the same stretch, and more, at every restart of a crash
    loop."""
    recs = records(build_log([("flood", i, "new") for i in range(4)]))
    stage = _stage(tmp_path, monkeypatch, recs)
    directory = stage.snapshotter.directory
    assert asyncio.run(stage._rebuild(len(recs), asyncio.Event()))  # from offset 0
    assert [offset for offset, _ in snapshots(directory)] == [len(recs) - 1]
    stage.state.cold.close()


def test_a_fold_rebuild_from_a_snapshot_alone_writes_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = records(build_log([("flood", i, "new") for i in range(3)]))
    stage = _stage(tmp_path, monkeypatch, recs)
    directory = stage.snapshotter.directory
    assert asyncio.run(stage._rebuild(len(recs), asyncio.Event()))
    written = snapshots(directory)
    # the next start resumes from what the first wrote (if it wrote one): nothing refolded
    assert asyncio.run(stage._rebuild(len(recs), asyncio.Event()))
    assert snapshots(directory) == written
    stage.state.cold.close()
