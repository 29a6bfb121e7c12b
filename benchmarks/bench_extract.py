"""Throughput of ``extract_facts`` on one core over the first N dev articles.

    .venv/bin/python benchmarks/bench_extract.py [--n 500] [--set timeline17-dev]

Prints articles/s and sentences/s (best of three passes, articles parsed beforehand).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from storyline.domain.events import ArticleReceived
from storyline.domain.extract.extractor import extract_facts

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


def load_articles(path: Path, limit: int) -> list[ArticleReceived]:
    """The first ``limit`` ninjs items of a dev set as ArticleReceived."""
    out: list[ArticleReceived] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if len(out) >= limit:
                break
            item = json.loads(line)
            body = next(b["value"] for b in item["bodies"] if b.get("role") == "main")
            headlines = [h["value"] for h in item.get("headlines", []) if h.get("role") == "main"]
            out.append(
                ArticleReceived(
                    uri=item["uri"],
                    version=int(item["version"]),
                    source=item["infosources"][0]["name"],
                    headline=headlines[0] if headlines else None,
                    body=body,
                    published=dt.datetime.fromisoformat(item["versioncreated"]),
                )
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--set", default="timeline17-dev")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    articles = load_articles(SHARED / "data" / args.set / "articles.jsonl", args.n)
    t0 = time.perf_counter()
    sentences = sum(len(extract_facts(a).sentences) for a in articles)
    cold = time.perf_counter() - t0  # the name caches start empty
    best = float("inf")
    for _ in range(args.passes):
        t0 = time.perf_counter()
        for a in articles:
            extract_facts(a)
        best = min(best, time.perf_counter() - t0)
    n = len(articles)
    print(f"set={args.set} articles={n} sentences={sentences} ({sentences / n:.1f}/article)")
    print(f"first pass (cold caches): {n / cold:.0f} articles/s")
    print(
        f"extract_facts: {n / best:.0f} articles/s, {sentences / best:.0f} sentences/s, "
        f"{1000 * best / n:.2f} ms/article (best of {args.passes} further passes)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
