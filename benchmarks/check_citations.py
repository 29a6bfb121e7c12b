"""Unresolvable citations and miscounted lists on the pages of a whole fold.

    .venv/bin/python benchmarks/check_citations.py ../shared/data/timeline17-dev/articles.jsonl

Folds the file(s) in process (``handle_record`` and a ``Pipeline``, as replay does) and
checks every revision's page with ``storyline.domain.page.page_checks.citation_problems`` (a
``[n]`` not on the list or citing another uri or version, a number listed twice, counts
that disagree with the list), then each story's final page as HTML (every ``href="#aN"``
has an element ``id="aN"``). Prints JSON: records, revisions, stories, the problems found
on every revision, on the final pages and in their HTML, and the first few of each; and
how often titles changed (over all stories; revisions and changes of the largest ones).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from pathlib import Path

from storyline.domain.events import StoryUpdated
from storyline.domain.page.page_checks import citation_problems
from storyline.domain.pipeline import Pipeline
from storyline.domain.records import handle_record
from storyline.read.pages import story_html
from storyline.replay import records_from_files

_HREF = re.compile(r'href="#(a\d+)"')
_ID = re.compile(r'id="(a\d+)"')


def html_problems(html: str, where: str) -> list[str]:
    anchors = set(_ID.findall(html))
    return [f"{where}: link #{target} has no anchor"
            for target in sorted(set(_HREF.findall(html)) - anchors)]


def _changes(titles: list[str]) -> int:
    return sum(1 for a, b in itertools.pairwise(titles) if a != b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--show", type=int, default=10, help="problems to print of each kind")
    args = parser.parse_args(argv)

    records = records_from_files(args.files, "storyline.articles", args.limit)
    pipeline = Pipeline()
    started = time.perf_counter()
    revisions = 0
    every: list[str] = []
    dead = 0
    titles: dict[str, list[str]] = {}  # story -> its title at each revision
    for key, value, position in records:
        outcome = handle_record(pipeline, key, value, position, max_bytes=10_000_000)
        dead += outcome.dead_letter is not None
        for event in outcome.events:
            if isinstance(event, StoryUpdated):
                revisions += 1
                page = pipeline.page(event.story_id)
                if page is not None and page.revision == event.revision:
                    every.extend(citation_problems(page))
                    titles.setdefault(event.story_id, []).append(page.title)
    final: list[str] = []
    html: list[str] = []
    stories = 0
    for story_id in sorted(pipeline.story_ids):
        page = pipeline.page(story_id)
        if page is None:
            continue
        stories += 1
        final.extend(citation_problems(page))
        html.extend(html_problems(story_html(page, page.revision),
                                  f"{page.story_id}@{page.revision}"))
    def kinds(problems: list[str]) -> dict[str, int]:
        out = {"unresolvable_citations": 0, "wrong_uri_or_version": 0, "miscounts": 0,
               "numbers_listed_twice": 0}
        for problem in problems:
            if "is not on the list" in problem:
                out["unresolvable_citations"] += 1
            elif " cites " in problem:
                out["wrong_uri_or_version"] += 1
            elif "listed twice" in problem:
                out["numbers_listed_twice"] += 1
            else:
                out["miscounts"] += 1
        return out

    json.dump({
        "files": [str(f) for f in args.files],
        "records": len(records),
        "dead_letters": dead,
        "revisions": revisions,
        "stories": stories,
        "seconds": round(time.perf_counter() - started, 1),
        "every_revision": kinds(every),
        "final_pages": kinds(final),
        "problems_final_pages": len(final),
        "html_problems_final_pages": len(html),
        "pages_with_problems_final": len({p.split(" ")[0].split(":")[0] for p in final}),
        "title_changes": sum(_changes(t) for t in titles.values()),
        "title_changes_largest_stories": [
            [len(t), _changes(t)] for t in sorted(titles.values(), key=len, reverse=True)[:6]],
        "first_every_revision": every[: args.show],
        "first_final": final[: args.show],
        "first_html": html[: args.show],
    }, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
