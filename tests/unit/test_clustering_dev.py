"""Clustering quality on the dev data (skipped when ../shared is absent).

The floors are the measured scores (docs/clustering.md) cut to three decimals, so any
change that makes clustering worse on the dev data fails here; targets (issue 4):
timeline17-dev F1 >= 0.97, merged stream precision >= 0.97 and F1 >= 0.88."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dev_facts import all_facts

from storyline.domain.assign.clustering import ClusteringConfig
from storyline.evaluation import clustering_eval, corpus
from storyline.evaluation.clustering_eval import BCubed, bcubed

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
T17 = DATA / "timeline17-dev"
ENTITIES = DATA / "entities-dev"

needs_dev_data = pytest.mark.skipif(
    not (T17 / "articles.jsonl").is_file() or not (ENTITIES / "articles.jsonl").is_file(),
    reason="../shared dev data not available",
)


@pytest.fixture(scope="module", autouse=True)
def facts_extracted_once() -> Iterator[None]:
    """An article's facts are a function of the article alone (the extract stage's stripes
    rely on it), so the merged stream and each data set alone share them: each dev
    article is extracted once in the session (dev_facts.py), not in each evaluation (the
    placement, what the tests score, runs in each as before)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(corpus, "extract_all", all_facts)
        yield


def test_bcubed_on_a_toy_example() -> None:
    gold = {"a": "x", "b": "x", "c": "y"}
    assert bcubed({"a": "1", "b": "1", "c": "2"}, gold) == BCubed(1.0, 1.0, 1.0)
    lumped = bcubed({"a": "1", "b": "1", "c": "1"}, gold)
    assert lumped.recall == 1.0 and lumped.precision == pytest.approx((2 / 3 * 2 + 1 / 3) / 3)


@needs_dev_data
def test_merged_dev_stream_is_pure_and_mostly_complete(tmp_path: Path) -> None:
    args = argparse.Namespace(dataset=[T17, ENTITIES], out=tmp_path, placement_only=True)
    assert clustering_eval.run(args) == 0
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["articles"] == 4145
    # core-3 measures 0.9741 (core-2: 0.9736 here, through the pipeline too; 0.97495 on the
    # machine where that floor was first set, cause not found, not the eval's mapper)
    assert scores["bcubed_precision"] >= 0.973
    assert scores["bcubed_f1"] >= 0.956  # measured 0.9563 (core-3: young-story identity)
    rows = [json.loads(line) for line in (tmp_path / "assignments.jsonl").open()]
    assert len(rows) == 4145
    assert len({r["story_id"] for r in rows}) == scores["stories"]


@needs_dev_data
def test_timeline17_alone() -> None:
    _, result = clustering_eval.evaluate([T17], ClusteringConfig(), placement_only=True)
    assert result["bcubed_precision"] >= 0.984  # measured 0.9846 (core-3; core-2 0.9854)
    assert result["bcubed_f1"] >= 0.970  # measured 0.9701 (core-3; core-2 0.9709)


@needs_dev_data
def test_entities_alone() -> None:
    _, result = clustering_eval.evaluate([ENTITIES], ClusteringConfig(), placement_only=True)
    assert result["bcubed_precision"] >= 0.991  # measured 0.9912 (core-3; core-2 0.9899)
    assert result["bcubed_f1"] >= 0.966  # measured 0.9662 (core-3; core-2 0.9643)
