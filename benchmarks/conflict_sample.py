"""The conflicts on the dev pages, for the hand-judged sample of docs/conflicts-sample.md.

    PYTHONPATH=services .venv/bin/python benchmarks/conflict_sample.py \\
        ../shared/data/timeline17-dev ../shared/data/entities-dev --out /tmp/cf/before.json

Each gold story of each data set is folded whole into a ``TimelineIndex``, in publication
order (the data sets' order), citation numbers in that order (the n-th article of the story
in the data set); ``entries(60)``; every entry with conflicts gives one row per kind (date,
figure). Rows are sorted by sha256(entry_id + kind) and the first 30 are the sample (all of
them when fewer). Prints the rows as the docs' table and, for judging, the statements on
each side of each conflict; writes all of it as JSON with ``--out``. ``--facts DIR`` keeps
the extracted facts between runs (keyed by the extractor's version).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

from storyline.domain.events import PubStatus
from storyline.domain.extract.extractor import EXTRACTOR_VERSION, extract_facts
from storyline.domain.facts import CitedArticle
from storyline.domain.page.timeline import TimelineIndex, _figure_value, date_label
from storyline.evaluation.timeline_eval import load_articles, load_gold

SAMPLE = 30
LIMIT = 60


def _story_articles(dataset: Path, facts_dir: Path | None) -> dict[str, list[CitedArticle]]:
    stories, _ = load_gold(dataset)
    articles = [a for a in load_articles(dataset)
                if a.uri in stories and a.pubstatus is PubStatus.USABLE]
    cache = None
    if facts_dir is not None:
        digest = hashlib.sha256(EXTRACTOR_VERSION.encode()).hexdigest()[:12]
        cache = facts_dir / f"{dataset.name}-{digest}.pickle"
    facts: list[Any]
    if cache is not None and cache.is_file():
        facts = pickle.loads(cache.read_bytes())
    else:
        facts = [extract_facts(a) for a in articles]
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(pickle.dumps(facts))
    out: dict[str, list[CitedArticle]] = {}
    for article, f in zip(articles, facts, strict=True):
        members = out.setdefault(stories[article.uri], [])
        members.append(CitedArticle(
            n=len(members) + 1, uri=article.uri, version=article.version,
            source=article.source, headline=article.headline, published=article.published,
            facts=f))
    return out


def _rows(dataset: Path, facts_dir: Path | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for story, articles in _story_articles(dataset, facts_dir).items():
        index = TimelineIndex()
        for article in articles:
            index.add(article)
        events = {e.entry_id: e for e in index._events}
        for entry in index.entries(LIMIT):
            members = events[entry.entry_id].members or []
            for kind in ("date", "figure"):
                sides = [c for c in entry.conflicts if c.kind == kind]
                if not sides:
                    continue
                statements = []
                for side in sides:
                    for m in members:
                        if m.n not in side.citations:
                            continue
                        if kind == "date":
                            if date_label(m.cand.span) != side.value:
                                continue
                        elif not any(_figure_value(f) == side.value for f in m.cand.figures):
                            continue
                        statements.append({"side": side.value, "n": m.n,
                                           "sentence": m.cand.sentence,
                                           "stated": m.cand.stated,
                                           "span": date_label(m.cand.span),
                                           "text": m.cand.statement})
                rows.append({
                    "set": dataset.name, "story": story, "kind": kind,
                    "entry_id": entry.entry_id, "date": entry.date.isoformat(),
                    "text": entry.text,
                    "shown": "; ".join(f"{s.value} [{_numbers(s.citations)}]" for s in sides),
                    "statements": statements,
                    "key": hashlib.sha256((entry.entry_id + kind).encode()).hexdigest(),
                })
    return rows


def _numbers(citations: tuple[int, ...]) -> str:
    shown = ",".join(str(n) for n in citations[:4])
    return shown + (",…" if len(citations) > 4 else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--facts", type=Path)
    args = parser.parse_args(argv)
    rows = [row for dataset in args.datasets for row in _rows(dataset, args.facts)]
    rows.sort(key=lambda r: r["key"])
    sample = rows[:SAMPLE]
    kinds = {k: sum(1 for r in rows if r["kind"] == k) for k in ("date", "figure")}
    print(f"{len(rows)} conflicts ({kinds['date']} date, {kinds['figure']} figure); "
          f"sample {len(sample)}")
    for i, r in enumerate(sample):
        print(f"| {i} | {r['set']} | {r['story']} | {r['kind']} | {r['date']} | {r['shown']} |")
    print()
    for i, r in enumerate(sample):
        print(f"## {i} {r['story']} {r['kind']} {r['date']}: {r['text']}")
        for s in r["statements"]:
            print(f"   {s['side']} [{s['n']}#{s['sentence']} {s['span']}"
                  f"{'' if s['stated'] else ' rel'}] "
                  f"{s['text']}")
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "sample": len(sample)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
