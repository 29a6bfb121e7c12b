"""The CI chaos profile without snapshots: SIGKILLs at random moments and a broker bounce on a
real broker; see chaos_harness.py for what is checked and for the long profiles. (The
profile with snapshots is in test_chaos_snapshots.py: one file each, so the two run on
different test workers.)"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from chaos_harness import assert_lost_nothing, run_chaos

pytestmark = pytest.mark.integration

ARTICLES = Path(__file__).resolve().parents[2].parent / "shared/data/timeline17-dev/articles.jsonl"


@pytest.mark.skipif(not ARTICLES.exists(), reason=f"needs the dev corpus at {ARTICLES}")
def test_kills_and_a_broker_bounce_lose_nothing_and_publish_no_conflicting_revision(
        tmp_path: Path) -> None:
    report = run_chaos("ci", ARTICLES, tmp_path, seed=11)
    detail = json.dumps(asdict(report), indent=1)
    assert report.kills == 3 and report.bounces == 1, detail
    assert report.articles == 300
    assert_lost_nothing(report, 300)
    # every article made at least one revision, and redeliveries are only copies
    assert report.distinct_revisions >= 300 - 30, detail
    assert report.published_revisions >= report.distinct_revisions
