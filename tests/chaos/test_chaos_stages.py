"""The CI chaos profile of the staged worker (``storyline worker --stage all``: extract x 2 +
fold): SIGKILLs of the supervisor alone (orphaning its stage processes), of one stage process
and of the whole tree, and a broker bounce, on a real broker without snapshots; see
chaos_harness.py for what is checked. (A file of its own so that it runs on a test worker of
its own beside the other chaos profiles.)"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from chaos_harness import assert_staged_run_lost_nothing, run_chaos

pytestmark = pytest.mark.integration

ARTICLES = Path(__file__).resolve().parents[2].parent / "shared/data/timeline17-dev/articles.jsonl"


@pytest.mark.skipif(not ARTICLES.exists(), reason=f"needs the dev corpus at {ARTICLES}")
def test_staged_worker_kills_and_a_broker_bounce_lose_nothing(tmp_path: Path) -> None:
    report = run_chaos("stages-ci", ARTICLES, tmp_path, seed=11)
    detail = json.dumps(asdict(report), indent=1)
    assert report.kills == 4 and report.bounces == 1, detail
    assert_staged_run_lost_nothing(report, 300)
    assert {"fold/0", "fold/1", "extract-0", "extract-1"} <= set(report.stage_commits), detail
