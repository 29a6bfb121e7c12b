"""The CI chaos profile with snapshots and a RocksDB cold store: SIGKILLs at random moments on
a real broker; see chaos_harness.py for what is checked and for the long profiles."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from chaos_harness import assert_lost_nothing, run_chaos

pytestmark = pytest.mark.integration

ARTICLES = Path(__file__).resolve().parents[2].parent / "shared/data/timeline17-dev/articles.jsonl"


@pytest.mark.skipif(not ARTICLES.exists(), reason=f"needs the dev corpus at {ARTICLES}")
def test_kills_with_snapshots_and_a_rocksdb_cold_store_lose_nothing(tmp_path: Path) -> None:
    """Restarts resume from snapshots whose idle stories are in the RocksDB checkpoint
    beside them, while the killed worker's live store had moved on."""
    report = run_chaos("snapshots-ci", ARTICLES, tmp_path, seed=5)
    detail = json.dumps(asdict(report), indent=1)
    assert report.kills == 3, detail
    # the path under test: at least one restart resumed from a snapshot and its checkpoint
    # (how many of the 3 do depends on where the kills fall against commits and snapshots)
    assert report.restarts_from.get("snapshot", 0) >= 1, detail
    assert_lost_nothing(report, 300)
