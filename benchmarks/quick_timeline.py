"""Quick timeline harness: the page's ``TimelineIndex`` alone, scored as ``storyline eval
timeline`` scores it, in seconds rather than the full eval's minutes (issue 13).

    PYTHONPATH=services .venv/bin/python benchmarks/quick_timeline.py \
        --dataset ../shared/data/timeline17-dev --cache /tmp/t17.pickle [--json OUT]

For each gold timeline (``timeline_eval.gold_stories``, the protocol: the gold story's
usable articles published inside the gold's first..last date, in log order), each article's
``timeline_input`` (extracted once per data set and cached in ``--cache``: extraction is
most of the cost) is added to one ``TimelineIndex`` in log order, copies told by the
clusterer's ``DuplicateIndex`` as the fold tells them; ``entries(n_dates)`` is scored with
the eval's ``Scorer``. What it leaves out against the full eval: the clustering (all the
gold story's articles are in the one index, where the eval takes the pipeline's story
holding most of them: 66-99 % of them) and corrections (none in the dev sets).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pickle
import time
from pathlib import Path
from typing import Any

from storyline.domain.assign.dedup import DuplicateIndex
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.extract.timeline_input import TimelineInput, timeline_input
from storyline.domain.facts import ArticleFacts, CitedArticle
from storyline.domain.page.timeline import TimelineIndex
from storyline.evaluation.timeline_eval import Scorer, gold_stories

# (uri, version, source, published, text for the duplicate check, timeline input)
Item = tuple[str, int, str, dt.datetime, str, TimelineInput]


def prepare(dataset: Path, cache: Path) -> tuple[dict[str, list[Item]], list[Any]]:
    by_story, golds = gold_stories(dataset)
    if cache.exists():
        items: dict[str, list[Item]] = pickle.loads(cache.read_bytes())
        return items, golds
    items = {}
    for story, articles in by_story.items():
        out = items.setdefault(story, [])
        for a in articles:
            facts = extract_facts(a)
            text = f"{a.headline}\n{a.body}" if a.headline else a.body
            out.append((a.uri, a.version, a.source, a.published, text,
                        timeline_input(facts, a.published.date())))
    cache.write_bytes(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
    return items, golds


def page(items: list[Item], n_dates: int) -> list[tuple[dt.date, list[str]]]:
    index = TimelineIndex()
    dedup = DuplicateIndex()
    numbers: dict[str, tuple[int, int | None]] = {}  # uri -> (n, copy_of)
    for uri, version, source, published, text, prepared in items:
        original = dedup.add(uri, text)
        copy_of = None
        if original is not None and original in numbers:
            n, of = numbers[original]
            copy_of = of if of is not None else n
        n = len(numbers) + 1
        numbers[uri] = (n, copy_of)
        facts = ArticleFacts(uri=uri, version=version, extractor_version="quick",
                             sentences=(), dates=(), figures=(), names=())
        index.add(CitedArticle(n=n, uri=uri, version=version, source=source, headline=None,
                               published=published, facts=facts, copy_of=copy_of), prepared)
    return [(e.date, [e.text]) for e in index.entries(n_dates)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    items, golds = prepare(args.dataset, args.cache)
    scorer = Scorer()
    rows = []
    started = time.process_time()
    for gold in golds:
        inside = [i for i in items.get(gold.story, []) if gold.first <= i[3].date() <= gold.last]
        predicted = page(inside, len(gold.entries))
        rows.append({"name": gold.name, "articles": len(inside), **scorer.score(predicted, gold)})
        r = rows[-1]
        print(f"{r['name'][:40]:<40} {r['articles']:>5} {r['ar1_f']:.3f} {r['ar2_f']:.3f} "
              f"{r['date_f1']:.3f}", flush=True)
    mean = {m: sum(r[m] for r in rows) / len(rows) for m in ("ar1_f", "ar2_f", "date_f1")}
    print(f"{'mean':<46} {mean['ar1_f']:.4f} {mean['ar2_f']:.4f} {mean['date_f1']:.4f}"
          f"  ({time.process_time() - started:.0f} CPU s)")
    if args.json:
        args.json.write_text(json.dumps({"timelines": rows, "mean": mean}, indent=2) + "\n")


if __name__ == "__main__":
    main()
