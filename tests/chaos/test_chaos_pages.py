"""The CI chaos profile of the staged worker with the page stage as processes of its own
(``STORYLINE_PAGE_PROCESSES=2``: extract x 2, assign, page x 2): SIGKILLs of the supervisor
alone, of one stage process (an extract stripe, the assign process or a page process) and of
the whole tree, and a broker bounce, on a real broker without snapshots; see chaos_harness.py
for what is checked. (A file of its own so that it runs on a test worker of its own.)"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from chaos_harness import assert_staged_run_lost_nothing, run_chaos

pytestmark = pytest.mark.integration

ARTICLES = Path(__file__).resolve().parents[2].parent / "shared/data/timeline17-dev/articles.jsonl"


@pytest.mark.skipif(not ARTICLES.exists(), reason=f"needs the dev corpus at {ARTICLES}")
def test_page_processes_kills_and_a_broker_bounce_lose_nothing(tmp_path: Path) -> None:
    report = run_chaos("pages-ci", ARTICLES, tmp_path, seed=13)
    detail = json.dumps(asdict(report), indent=1)
    assert report.kills == 4 and report.bounces == 1, detail
    assert_staged_run_lost_nothing(report, 300)
    # the assign process's group on each facts partition and each page process's on its
    # assignments partition are among the groups at the end of what they read
    assert {"page/0", "page/1", "assign/0", "assign/1"} <= set(report.stage_commits), detail
