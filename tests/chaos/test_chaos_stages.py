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
from chaos_harness import assert_lost_nothing, run_chaos

pytestmark = pytest.mark.integration

ARTICLES = Path(__file__).resolve().parents[2].parent / "shared/data/timeline17-dev/articles.jsonl"


@pytest.mark.skipif(not ARTICLES.exists(), reason=f"needs the dev corpus at {ARTICLES}")
def test_staged_worker_kills_and_a_broker_bounce_lose_nothing(tmp_path: Path) -> None:
    report = run_chaos("stages-ci", ARTICLES, tmp_path, seed=11)
    detail = json.dumps(asdict(report), indent=1)
    assert report.kills == 4 and report.bounces == 1, detail
    # each kind of kill happened: the supervisor alone, one stage process, the whole tree
    kinds = {target.split(":")[0] for target in report.kill_targets}
    assert {"supervisor", "stage", "tree"} <= kinds, detail
    # a stage process killed is started again by its supervisor, which stays up
    assert "stage_not_restarted" not in report.kill_targets, detail
    assert report.self_exits == 0, detail
    assert report.articles == 300
    assert_lost_nothing(report, 300)
    # every stripe's group and the fold's facts offsets are at the end of what they read
    assert report.stage_commits and report.stage_commits_ok, detail
    # no stripe stuck resending one offset (a producer that fails every send is replaced)
    assert report.max_send_failures_one_offset <= 10, detail
    assert report.distinct_revisions >= 300 - 30, detail
    assert report.published_revisions >= report.distinct_revisions
