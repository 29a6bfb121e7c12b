"""``storyline ingest FILE...``: validate wire files and publish their articles.

Valid items go to the articles topic keyed by uri, with ``provenance.via = "file"`` (and no
API key id); invalid ones go to the dead-letter topic keyed by ``file:line`` and are named on
stderr with the field at fault. A ninjs item whose embargo lies after this run's clock is
one of the invalid ones ("embargoed until ...; send it again then"). The items of a feed
(RSS, Atom) go in under the version the articles log says (:mod:`storyline.ingest.versions`):
an edited one as the next version, one already on the log not at all. Exit status: 0 all
valid, 2 some invalid (the rest was still published), 1 fatal (unreadable file, broker
unreachable, a send that failed).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyline.ingest.embargo import refuse_embargoed, utc_now
from storyline.ingest.fields import InvalidArticle
from storyline.ingest.files import FileFormat, ParseResult, file_kind, iter_file
from storyline.settings import Settings, get_settings

if TYPE_CHECKING:
    from storyline.ingest.versions import VersionIndex

FORMATS: tuple[FileFormat, ...] = ("auto", "ninjs", "json", "rss", "atom")
MAX_IN_FLIGHT = 5000  # acknowledgements awaited at once; bounds memory on huge files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help=".jsonl (one item a line), .json (an item or an array), "
                             ".rss/.atom/.xml feeds")
    parser.add_argument("--format", choices=FORMATS, default="auto",
                        help="item format; auto tells ninjs from flat JSON per item and "
                             "RSS from Atom per feed (default: auto)")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and report only; publish nothing")
    parser.add_argument("--compression", choices=("none", "gzip"), default="none",
                        help="producer compression; gzip saves space but is ~10x slower "
                             "(default: none)")


@dataclass
class Tally:
    produced: int = 0
    invalid: int = 0
    revised: int = 0  # feed items edited since the log's version: sent as the next one
    unchanged: int = 0  # feed items whose content is on the log already: not sent


class Fatal(Exception):
    """Stops the run with exit status 1 and this message."""


def run(args: argparse.Namespace) -> int:
    from storyline.logconfig import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        compression = None if args.compression == "none" else args.compression
        tally, seconds = asyncio.run(_ingest(args.files, args.format, args.dry_run, settings,
                                             compression))
    except Fatal as exc:
        print(f"storyline ingest: {exc}", file=sys.stderr)
        return 1
    total = tally.produced + tally.invalid + tally.unchanged
    rate = total / seconds if seconds > 0 else 0.0
    if args.dry_run:
        print(f"ingest (dry run): {tally.produced} valid, {tally.invalid} invalid, nothing "
              f"published; {seconds:.2f}s, {rate:,.0f} articles/s")
    else:
        feeds = (f" ({_items(tally.revised, 'edited feed item')} as the next version)"
                 if tally.revised else "")
        unchanged = (f", {_items(tally.unchanged, 'unchanged feed item')} not sent (on the "
                     "log already)" if tally.unchanged else "")
        print(f"ingest: produced {tally.produced} to {settings.articles}{feeds}{unchanged}, "
              f"invalid {tally.invalid} to {settings.dead_letters}; {seconds:.2f}s, "
              f"{rate:,.0f} articles/s")
    return 2 if tally.invalid else 0


def _items(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def _check_files(files: list[Path]) -> int:
    total = 0
    for path in files:
        try:
            total += path.stat().st_size
        except OSError as exc:
            raise Fatal(f"cannot read {path}: {exc.strerror or exc}") from None
        if path.is_dir():
            raise Fatal(f"{path} is a directory; give the files in it")
    return total


def held_back(result: ParseResult, now: dt.datetime) -> ParseResult:
    """``result`` as an invalid item when its embargo lies after ``now`` (checked here, where
    the item arrives; replay reads the same files and never holds one back)."""
    if result.article is None or result.embargo is None:
        return result
    try:
        refuse_embargoed(result.embargo, result.article, now)
    except InvalidArticle as exc:
        return dataclasses.replace(result, article=None,
                                   error=exc.located(result.source, result.line, result.unit))
    return result


async def _ingest(files: list[Path], fmt: FileFormat, dry_run: bool, settings: Settings,
                  compression: str | None,
                  now: Callable[[], dt.datetime] = utc_now) -> tuple[Tally, float]:
    from tqdm import tqdm

    from storyline.ingest.producer import ArticleProducer, BrokerUnavailable, dead_letter

    total_bytes = _check_files(files)
    producer = None if dry_run else ArticleProducer(settings, compression=compression)
    # locked before the producer starts: a wait for another run blocks nothing live
    index = (_version_index(settings) if producer is not None
             and any(file_kind(path, fmt) == "feed" for path in files) else None)
    if producer is not None:
        try:
            await producer.start()
        except BrokerUnavailable as exc:
            if index is not None:
                index.close()
            raise Fatal(str(exc)) from None
    tally = Tally()
    pending: deque[asyncio.Future[Any]] = deque()
    started = time.perf_counter()
    bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc="ingest", file=sys.stderr,
               disable=not sys.stderr.isatty(), leave=False)
    try:
        if index is not None:
            await _catch_up(index, settings)
        for path in files:
            feed = file_kind(path, fmt) == "feed"
            try:
                for parsed in iter_file(path, fmt=fmt, max_bytes=settings.max_article_bytes):
                    result = held_back(parsed, now())
                    bar.update(result.size)
                    article = result.article
                    if article is not None and feed and index is not None:
                        decided = index.decide(article, versionless=result.versionless,
                                               undated=result.undated)
                        if decided is None:
                            tally.unchanged += 1
                            continue
                        tally.revised += decided.version != article.version
                        article = decided
                    if article is not None:
                        tally.produced += 1
                        if producer is not None:
                            pending.append(await producer.enqueue(article.received("file")))
                    else:
                        tally.invalid += 1
                        tqdm.write(f"invalid: {result.error}", file=sys.stderr)
                        if producer is not None and result.error is not None:
                            letter = dead_letter(result.error.describe(), result.raw,
                                                 key=result.ref)
                            pending.append(await producer.enqueue_dead_letter(letter))
                    while len(pending) > MAX_IN_FLIGHT:
                        await pending.popleft()
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                raise Fatal(f"{path}: {exc}") from None
        while pending:
            await pending.popleft()
    except Fatal:
        raise
    except Exception as exc:  # noqa: BLE001 - a failed send must stop the run with a reason
        raise Fatal(f"publishing failed after {tally.produced} articles: "
                    f"{type(exc).__name__}: {exc}") from None
    finally:
        bar.close()
        if producer is not None:
            await producer.stop()
        if index is not None:
            index.close()  # after the last send is acknowledged: the next run reads it back
    return tally, time.perf_counter() - started


def _version_index(settings: Settings) -> VersionIndex:
    """The articles log's version index, locked for this run (waiting for another run)."""
    from storyline.ingest.versions import IndexBusy, VersionIndex, index_path

    try:
        return VersionIndex(index_path(settings.data_dir, settings.articles))
    except (IndexBusy, OSError, sqlite3.Error) as exc:
        raise Fatal(f"the feed version index: {exc}") from None


async def _catch_up(index: VersionIndex, settings: Settings) -> None:
    from storyline.ingest.versions import caught_up

    try:
        await caught_up(index, settings.bootstrap_servers, settings.articles)
    except Exception as exc:  # noqa: BLE001 - without the log's versions no feed item is sent
        raise Fatal(f"reading the articles log for the feed version index: "
                    f"{type(exc).__name__}: {exc}") from None
