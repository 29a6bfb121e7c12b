"""``storyline story list|show|explain``: read stories straight from the story-updates log,
each page rebuilt from its revisions' changes and checked against their hash chain; explain
why an article is in its story by replaying the articles log up to it with the clusterer's
decision recorded (``storyline.domain.assign.clustering_explain``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncGenerator

import orjson

from storyline.domain.events import StoryMerged, StoryPage, StoryUpdated
from storyline.domain.pages import PageChainBroken, PageFolder
from storyline.settings import Settings, get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    show = sub.add_parser("show", help="print a story page")
    show.add_argument("story_id")
    show.add_argument("--revision", type=int, default=None, help="a past revision")
    show.add_argument("--format", choices=("md", "json"), default="md")
    listing = sub.add_parser("list", help="list stories, most recently updated first")
    listing.add_argument("--ids", action="store_true", help="print only the story ids")
    explain = sub.add_parser(
        "explain", help="why an article joined its story (replays the articles log)",
        description="Replay the articles log from offset 0, as `storyline replay` does, and "
                    "print the clusterer's own decision for the article: the score, the "
                    "shared terms and names that carried it, the runner-up; for a new story "
                    "the rule that refused the best candidate; for a merge the reason and "
                    "the evidence; then what later happened to its story.")
    explain.add_argument("uri", help="the article's uri")
    explain.add_argument("--version", type=int, default=None,
                         help="explain this version's arrival (default: its first placement)")
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON")


def run(args: argparse.Namespace) -> int:
    if args.action == "explain":
        return asyncio.run(_explain(args))
    return asyncio.run(_run(args))


async def _explain(args: argparse.Namespace) -> int:
    from storyline.domain.assign.clustering_explain import LogExplainer, render
    from storyline.domain.pipeline import LogPosition
    from storyline.stream.logreader import end_offsets, read_partition

    settings = get_settings()
    explainer = LogExplainer(args.uri, max_bytes=settings.max_article_bytes,
                             version=args.version)
    topic = settings.articles
    ends = await end_offsets(settings.bootstrap_servers, topic)
    for partition in sorted(ends):  # replay's order (storyline.replay.rebuild_from_kafka)
        async for record in read_partition(settings.bootstrap_servers, topic, partition,
                                           start=0, stop=ends[partition]):
            explainer.feed(record.key, record.value,
                           LogPosition(topic, partition, record.offset))
    found = explainer.result()
    if found is None:
        what = f" version {args.version} of" if args.version is not None else ""
        print(f"no placement of{what} {args.uri!r} on {topic} ({explainer.records} records "
              "replayed)", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(found.as_json(), option=orjson.OPT_INDENT_2).decode()
                         + "\n")
    else:
        sys.stdout.write(render(found))
    return 0


async def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    folder = PageFolder()
    heads = folder.pages
    wanted: StoryPage | None = None
    aliases: dict[str, str] = {}
    # closed here when it stops early, not left to the loop's shutdown (whose aclose() of the
    # consumer's generator within it failed with "already running")
    async with contextlib.aclosing(_story_events(settings)) as events:
        async for event in events:
            if isinstance(event, StoryMerged):
                aliases[event.absorbed_id] = event.survivor_id
                continue
            try:
                built = folder.apply(event)
            except PageChainBroken as exc:
                print(f"cannot rebuild {event.story_id}: {exc}", file=sys.stderr)
                return 2
            if (built is not None and args.action == "show"
                    and built.story_id == _resolve(args.story_id, aliases)
                    and built.revision == args.revision):
                wanted = built
    if args.action == "list":
        for head in sorted(heads.values(), key=lambda h: (h.published_last, h.story_id),
                           reverse=True):
            if args.ids:
                print(head.story_id)
                continue
            print(f"{head.story_id}  r{head.revision:<4} {head.article_count:>5} articles  "
                  f"{head.title}")
        return 0
    story_id = _resolve(args.story_id, aliases)
    page = wanted if args.revision is not None else heads.get(story_id)
    if page is None:
        what = f"revision {args.revision} of " if args.revision is not None else ""
        print(f"no {what}story {args.story_id!r} on {settings.story_updates}", file=sys.stderr)
        return 1
    if args.format == "json":
        sys.stdout.write(orjson.dumps(page.model_dump(mode="json"),
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        from storyline.read.render import render_markdown

        sys.stdout.write(render_markdown(page))
    return 0


def _resolve(story_id: str, aliases: dict[str, str]) -> str:
    seen = {story_id}
    while story_id in aliases and aliases[story_id] not in seen:
        story_id = aliases[story_id]
        seen.add(story_id)
    return story_id


async def _story_events(settings: Settings
                        ) -> AsyncGenerator[StoryUpdated | StoryMerged, None]:
    from storyline.stream.logreader import read_events

    async with contextlib.aclosing(read_events(settings.bootstrap_servers,
                                               settings.story_updates)) as events:
        async for event in events:
            if isinstance(event, StoryUpdated | StoryMerged):
                yield event
