"""The flat-cost benchmark still runs the fold as the pipeline folds (it broke silently once
when the fold's signature changed): a small run reports its medians and gives the same
digest twice."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from script_module import script_module

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_story_growth.py"
DATASET = ROOT.parent / "shared" / "data" / "timeline17-dev"


def _bench() -> ModuleType:
    return script_module("benchmarks_story_growth", SCRIPT)


@pytest.mark.skipif(not DATASET.is_dir(), reason="the shared dev data is not here")
def test_a_small_growth_run_reports_and_is_deterministic(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    bench = _bench()
    argv = ["--dataset", str(DATASET), "--articles", "40", "--at", "10,30",
            "--half-width", "5", "--digest"]
    assert bench.main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert bench.main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["digest"] == second["digest"] and len(first["digest"]) == 64
    medians = first["per_article_cpu_ms_by_story_size_within_5"]
    assert set(medians) == {"10", "30"}
    assert all(m["median_cpu_ms"] > 0 and m["folds"] > 0 for m in medians.values())
