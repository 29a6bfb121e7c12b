"""The page-partition benchmark still folds what one fold folds: its digest over the first
articles of a dev set, on two partitions, is the digest of the one-process fold of the same
records (``bench_memory.py``'s)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

import pytest
from script_module import script_module

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryMerged, StoryUpdated
from storyline.replay import fold_records, records_from_files

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_page_partitions.py"
ARTICLES = ROOT.parent / "shared" / "data" / "entities-dev" / "articles.jsonl"


def _bench() -> ModuleType:
    return script_module("benchmarks_page_partitions", SCRIPT)


@pytest.mark.skipif(not ARTICLES.exists(), reason="the shared dev data is not here")
def test_two_partitions_give_the_one_fold_digest() -> None:
    result = _bench().run([ARTICLES], 2, 150)
    one = fold_records(records_from_files([ARTICLES], "bench.articles", 150),
                       max_bytes=2_000_000)
    digest = hashlib.sha256()
    for event in one.events:
        if isinstance(event, StoryUpdated | StoryMerged):
            digest.update(hashlib.sha256(canonical_bytes(event)).hexdigest().encode())
    assert result["events"] == len(one.events) > 100
    assert result["digest"] == digest.hexdigest()
    assert sum(result["folded_per_partition"]) == one.records - one.dead_letters
