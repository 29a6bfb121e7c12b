"""``storyline story list|show``: read stories straight from the story-updates log, each
page rebuilt from its revisions' changes and checked against their hash chain."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator

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


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    folder = PageFolder()
    heads = folder.pages
    wanted: StoryPage | None = None
    aliases: dict[str, str] = {}
    async for event in _story_events(settings):
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


async def _story_events(settings: Settings) -> AsyncIterator[StoryUpdated | StoryMerged]:
    from storyline.stream.logreader import read_events

    async for event in read_events(settings.bootstrap_servers, settings.story_updates):
        if isinstance(event, StoryUpdated | StoryMerged):
            yield event
