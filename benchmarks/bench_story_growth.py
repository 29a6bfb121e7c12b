"""Per-article fold cost as one story grows to thousands of articles (issue 9, "flat cost":
the cost at a 5,000-article story must be at most 1.5x the cost at a 50-article story).

    .venv/bin/python benchmarks/bench_story_growth.py \
        --dataset ../shared/data/timeline17-dev [--articles 5000] [--at 50,500,2000,5000] \
        [--half-width 25] [--seed 1] [--json FILE] [--digest]

Method
------
1. **One synthetic story.** The largest gold story of ``--dataset`` (timeline17-dev: its
   1,457-article story) is loaded as a pool by ``benchmarks/synthetic_log.py`` and one story
   of ``--articles`` items is generated from it exactly as that script generates any of its
   stories (clone 0, so the real names; the pool resampled in publication order over the
   story's span, each copy perturbed: a share of its sentences kept, sentences borrowed from
   its pool neighbours, local shuffles, word noise). Same arguments, same items.
2. **Untimed preparation.** Every item is parsed (the product's ninjs parser), its facts
   extracted (``extract_facts``) and checked for being a copy of an earlier item by the
   clusterer's ``DuplicateIndex`` (so about as many copies as the fold sees in a real log).
   Clustering is left out: its cost depends on the number of live stories, not on the size
   of one (``benchmarks/bench_clustering.py``).
3. **The fold, timed.** Each article is folded into one ``StoryState`` as
   ``Pipeline.process`` does once the story is known: ``fold_article`` then
   ``build_revision`` (analysis, timeline, summary, title, article list, page, hash, change).
   The CPU time of each fold (``time.process_time``: the machine is shared, wall time is
   not a measure) is recorded against the story's size after it.
4. **Report.** For each size in ``--at`` and each half-width of ``--half-width`` (25 and
   250 articles), the median per-article CPU ms over the folds that brought the story to a
   size within that distance of it (at most half the size away, so 25..75 at 50 in both;
   clipped to the story: the last 26 or 251 folds at 5,000), the ratio of each median to
   the first size's, and the whole fold's CPU seconds. The narrow window is the cost at
   that size; the wide one is less sensitive to a loaded machine. ``--digest`` adds sha256
   over every revision's canonical bytes (an output-identity check: a change that must not
   alter output must keep it).

5. **Paired** (``--paired N``): then N more articles are folded into the grown story and,
   alternately, the first N into a new story, so that the cost past ``--articles`` and the
   cost at 25..75 articles are measured in the same minutes (on a shared machine the CPU
   time of a fold also depends on what the other core runs); reports both medians and
   their ratio.

Prints JSON. The fold of 5,000 articles took 536 CPU seconds before this branch, 203 after
(see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.util
import json
import random
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

import orjson

from storyline.domain.assign.dedup import DuplicateIndex
from storyline.domain.canonical import canonical_bytes
from storyline.domain.coldstore import MemoryColdStore
from storyline.domain.contracts import ArticleExtracted
from storyline.domain.events import Cause
from storyline.domain.page.story import (
    StoryState,
    build_revision,
    fold_article,
    restore_window_facts,
    store_facts,
)
from storyline.domain.pipeline import PIPELINE_VERSION, LogPosition
from storyline.domain.stages import extract
from storyline.ingest.ninjs import parse_ninjs

HERE = Path(__file__).resolve().parent


def _synthetic_log() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_synthetic_log",
                                                  HERE / "synthetic_log.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def story_items(dataset: Path, articles: int, seed: int) -> list[bytes]:
    """``articles`` ninjs items of one synthetic story cloned from the largest gold story of
    ``dataset``, made as ``synthetic_log.generate`` makes each of its stories."""
    syn = _synthetic_log()
    pools = syn.load_pools([dataset])
    pool = max(pools, key=lambda p: (len(p.articles), p.key))
    cfg = syn.Config(articles=articles, max_story=articles, seed=seed)
    rng = random.Random(seed)
    span = max(cfg.days * 86_400.0, 4.0 * articles)
    story = syn.Story(0, f"{pool.key}-0", pool, 0, articles, 0.0, span)
    story.names = syn.Table(None, 0)
    origin = int(cfg.start.timestamp())
    last = origin - 1
    out: list[bytes] = []
    count = len(pool.articles)
    virtual = 0.0
    while story.done < story.size:
        virtual = max(virtual, syn._advance(story, rng))
        seconds = max(origin + int(virtual), last + 1)
        last = seconds
        when = time.gmtime(seconds)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", when)
        index = int(story.u * count) + int(rng.random() * (2 * syn.INDEX_JITTER + 1)) \
            - syn.INDEX_JITTER
        uri = f"urn:synthetic:{story.sid}:{story.done}"
        out.append(syn.article_bytes(story, min(count - 1, max(0, index)), uri, stamp,
                                     when.tm_year, cfg, rng))
        story.done += 1
    return out


def prepared(items: list[bytes]) -> list[tuple[ArticleExtracted, str | None]]:
    """(what the extract stage makes of the article, the uri it copies or None) for each
    item, in order."""
    dedup = DuplicateIndex()
    out = []
    for offset, data in enumerate(items):
        article = parse_ninjs(orjson.loads(data))
        text = f"{article.headline}\n{article.body}" if article.headline else article.body
        extracted = extract(article, LogPosition("bench.articles", 0, offset))
        out.append((extracted, dedup.add(article.uri, text)))
    return out


Prepared = tuple[ArticleExtracted, str | None]
# where the fold leaves the packed facts of articles out of the summary window (the
# worker's is RocksDB; a dict here, so the figure is the fold's own work)
_STORE = MemoryColdStore()


def fold_one(state: StoryState, item: Prepared, offset: int,
             digest: hashlib._Hash | None = None) -> float:
    """Fold one article into ``state`` as ``Pipeline.fold`` does once its story is known;
    the CPU seconds it took."""
    extracted, duplicate_of = item
    facts, timeline, summary = extracted.facts, extracted.timeline, extracted.summary
    assert facts is not None and timeline is not None and summary is not None
    cause = Cause(article_uri=extracted.uri, article_version=extracted.version,
                  topic="bench.articles", partition=0, offset=offset)
    began = time.process_time()
    change = fold_article(state, extracted, facts, duplicate_of=duplicate_of,
                          timeline=timeline, summary=summary)
    update = None
    if change is not None:
        restore_window_facts(state, _STORE)
        update = build_revision(state, change, cause=cause, pipeline_version=PIPELINE_VERSION,
                                store=_STORE)
        store_facts(state, _STORE, change)
    spent = time.process_time() - began
    if digest is not None and update is not None:
        digest.update(hashlib.sha256(canonical_bytes(update)).digest())
    return spent


def fold_all(prepared_items: list[Prepared], digest: hashlib._Hash | None = None,
             state: StoryState | None = None) -> list[tuple[int, float]]:
    """Fold every article into one story: (story size after it, CPU seconds of its fold)."""
    state = state if state is not None else StoryState(story_id="bench-story")
    costs: list[tuple[int, float]] = []
    for offset, item in enumerate(prepared_items):
        spent = fold_one(state, item, offset, digest)
        costs.append((state.article_count, spent))
    return costs


def paired(big: StoryState, more: list[Prepared], small_items: list[Prepared]
           ) -> tuple[list[float], list[tuple[int, float]]]:
    """Fold ``more`` into the grown story ``big`` and, alternately, ``small_items`` into a
    new story: both measured in the same minutes of a shared machine, so a change of load
    weighs on both alike. Returns the big story's folds and the small story's (size, s)."""
    small = StoryState(story_id="bench-small")
    big_costs: list[float] = []
    small_costs: list[tuple[int, float]] = []
    for i in range(max(len(more), len(small_items))):
        if i < len(small_items):
            spent = fold_one(small, small_items[i], i)
            small_costs.append((small.article_count, spent))
        if i < len(more):
            big_costs.append(fold_one(big, more[i], 100_000 + i))
    return big_costs, small_costs


def summarise_costs(costs: list[tuple[int, float]], sizes: list[int], half: int
                    ) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    base: float | None = None
    for at in sizes:
        reach = min(half, at // 2)  # 25..75 around 50 whatever the half-width
        window = [s * 1000 for size, s in costs if abs(size - at) <= reach]
        if not window:
            continue
        median = statistics.median(window)
        base = median if base is None else base
        out[str(at)] = {"median_cpu_ms": round(median, 2), "folds": len(window),
                        "ratio": round(median / base, 2)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True,
                        help="DIR with articles.jsonl and gold/stories.jsonl")
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--at", default="50,500,2000,5000")
    parser.add_argument("--half-width", default="25,250",
                        help="comma-separated: one report per half-width")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write per-fold costs")
    parser.add_argument("--digest", action="store_true")
    parser.add_argument("--paired", type=int, default=0,
                        help="then fold this many more articles into the grown story, "
                             "alternating with the first ones folded into a new story")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.at.split(",")]

    started = time.process_time()
    items = story_items(args.dataset, args.articles + args.paired, args.seed)
    ready = prepared(items)
    prepare_s = time.process_time() - started
    del items
    extra = ready[args.articles:]
    ready = ready[:args.articles]
    gc.collect()
    digest = hashlib.sha256() if args.digest else None
    began = time.process_time()
    state = StoryState(story_id="bench-story")
    costs = fold_all(ready, digest, state)
    fold_s = time.process_time() - began
    report: dict[str, object] = {
        "articles": len(ready),
        "copies": sum(1 for _, dup in ready if dup is not None),
        "prepare_cpu_s": round(prepare_s, 1),
        "fold_cpu_s": round(fold_s, 1),
    }
    for half in (int(h) for h in args.half_width.split(",")):
        report[f"per_article_cpu_ms_by_story_size_within_{half}"] = summarise_costs(
            costs, sizes, half)
    if args.paired:
        big, small = paired(state, extra, ready[:args.paired])
        near = [c * 1000 for size, c in small if abs(size - 50) <= 25]
        report["paired"] = {
            "big_sizes": [args.articles + 1, args.articles + len(extra)],
            "big_median_cpu_ms": round(statistics.median(big) * 1000, 2),
            "small_25_75_median_cpu_ms": round(statistics.median(near), 2) if near else None,
            "ratio": round(statistics.median(big) * 1000 / statistics.median(near), 2)
            if near else None,
        }
    if digest is not None:
        report["digest"] = digest.hexdigest()
    if args.json is not None:
        args.json.write_text(json.dumps(costs))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
