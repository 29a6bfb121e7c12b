"""benchmarks/synthetic_log.py: a small synthetic log derived from the dev corpora is
byte-for-byte reproducible from its seed (also under another string hash seed), ordered by
publication, made of unique and perturbed items, bounded in story size, and readable by the
replay as the product ingests it."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from script_module import script_module

from storyline.replay import records_from_files

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "synthetic_log.py"
DATA = ROOT.parent / "shared" / "data"
DATASETS = [DATA / "timeline17-dev", DATA / "entities-dev"]
ARTICLES, MAX_STORY = 300, 100

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all((d / "articles.jsonl").exists() and (d / "gold" / "stories.jsonl").exists()
                for d in DATASETS),
        reason="needs ../shared/data (timeline17-dev and entities-dev with gold stories)"),
]


@pytest.fixture(scope="module")
def synthetic() -> ModuleType:
    """The script as a module (benchmarks/ is not a package)."""
    return script_module("benchmarks_synthetic_log", SCRIPT)


@pytest.fixture(scope="module")
def pools(synthetic: ModuleType) -> Any:
    return synthetic.load_pools(DATASETS)


def generate(synthetic: ModuleType, pools: Any, seed: int) -> tuple[bytes, Any]:
    out = io.BytesIO()
    cfg = synthetic.Config(articles=ARTICLES, max_story=MAX_STORY, seed=seed)
    stats = synthetic.generate(pools, cfg, out)
    return out.getvalue(), stats


def items(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def test_the_same_seed_gives_the_same_bytes_another_seed_other_bytes(
        synthetic: ModuleType, pools: Any) -> None:
    first, _ = generate(synthetic, pools, seed=1)
    again, _ = generate(synthetic, pools, seed=1)
    other, _ = generate(synthetic, pools, seed=2)
    assert first == again
    assert other != first
    assert {i["uri"] for i in items(other)} != {i["uri"] for i in items(first)}


def test_items_are_unique_ordered_bounded_and_heavy_tailed(synthetic: ModuleType,
                                                           pools: Any) -> None:
    data, stats = generate(synthetic, pools, seed=1)
    log = items(data)
    assert len(log) == ARTICLES == stats.articles
    uris = [i["uri"] for i in log]
    assert len(set(uris)) == ARTICLES
    times = [i["firstcreated"] for i in log]
    assert all(a < b for a, b in itertools.pairwise(times)), "not strictly ordered"
    assert all(i["versioncreated"] == i["firstcreated"] for i in log)
    sizes = Counter(uri.rsplit(":", 1)[0] for uri in uris)
    assert sorted(sizes.values()) == sorted(stats.sizes)
    assert max(sizes.values()) == MAX_STORY  # the cap is reached, never passed
    assert sum(1 for n in sizes.values() if n <= 3) >= len(sizes) // 2  # many small ones
    # a story's items are numbered 0.. in publication order
    seen: Counter[str] = Counter()
    for uri in uris:
        story, number = uri.rsplit(":", 1)
        assert int(number) == seen[story]
        seen[story] += 1


def test_clones_other_than_the_first_write_none_of_their_pools_main_names(
        synthetic: ModuleType, pools: Any) -> None:
    data, _ = generate(synthetic, pools, seed=1)
    names = {pool.key: {n for n in pool.names if not n.isupper()} for pool in pools}
    checked = 0
    for item in items(data):
        story = item["uri"].split(":")[2]
        key, clone = story.rsplit("-", 1)
        if clone == "0":
            continue
        text = "\n".join([item["bodies"][0]["value"],
                          *(h["value"] for h in item.get("headlines", []))])
        assert not set(synthetic._TOKEN.findall(text)) & names[key], story
        checked += 1
    assert checked > ARTICLES // 2


def test_no_item_is_a_byte_identical_copy_of_a_corpus_article(synthetic: ModuleType,
                                                               pools: Any) -> None:
    originals: set[str] = set()
    for directory in DATASETS:
        with (directory / "articles.jsonl").open("rb") as handle:
            for line in handle:
                obj = orjson.loads(line)
                originals.update(b["value"] for b in obj.get("bodies", []))
    data, _ = generate(synthetic, pools, seed=3)
    bodies = [i["bodies"][0]["value"] for i in items(data)]
    assert not originals.intersection(bodies)
    assert len(set(bodies)) == len(bodies)


def test_the_replay_reads_every_line(synthetic: ModuleType, pools: Any,
                                     tmp_path: Path) -> None:
    data, _ = generate(synthetic, pools, seed=1)
    path = tmp_path / "synthetic.jsonl"
    path.write_bytes(data)
    records = records_from_files([path], "t")
    assert len(records) == ARTICLES  # no line rejected
    assert [(key or b"").decode() for key, _, _ in records] == [i["uri"] for i in items(data)]
    assert [position.offset for _, _, position in records] == list(range(ARTICLES))


def test_the_command_line_is_reproducible_across_processes_and_hash_seeds(
        synthetic: ModuleType, tmp_path: Path) -> None:
    args = ["--articles", str(ARTICLES), "--max-story", str(MAX_STORY), "--seed", "5",
            "--dataset", str(DATASETS[1])]
    here, there = tmp_path / "here.jsonl", tmp_path / "there.jsonl"
    gold = tmp_path / "gold.jsonl"
    assert synthetic.main([*args, "--out", str(here), "--gold", str(gold)]) == 0
    env = dict(os.environ, PYTHONHASHSEED="12345")
    result = subprocess.run([sys.executable, str(SCRIPT), *args, "--out", str(there)],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            check=True)
    assert "size max 100" in result.stderr
    assert here.read_bytes() == there.read_bytes()
    stories = [orjson.loads(line) for line in gold.read_bytes().splitlines()]
    assert [row["uri"] for row in stories] == [i["uri"] for i in items(here.read_bytes())]
    assert all(row["uri"].split(":")[2] == row["story"] for row in stories)
