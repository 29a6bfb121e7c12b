"""``storyline status [--wait]``: how far the worker is behind the articles log."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from storyline.settings import Settings, get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="block until the worker has committed the whole articles log")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds, with --wait")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def worker_lag(settings: Settings) -> tuple[int, int]:
    """(end offset of the articles log, offset the worker group has committed)."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import GroupCoordinatorNotAvailableError

    from storyline.stream.logreader import end_offsets
    from storyline.stream.worker import app_id

    ends = await end_offsets(settings.bootstrap_servers, settings.articles)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(app_id(settings))
    except GroupCoordinatorNotAvailableError:
        committed = {}  # the worker has not joined yet: nothing committed
    finally:
        await admin.close()
    done = sum(
        meta.offset for tp, meta in committed.items()
        if isinstance(tp, TopicPartition) and tp.topic == settings.articles and meta.offset >= 0
    )
    return sum(ends.values()), done


async def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    deadline = time.monotonic() + args.timeout
    while True:
        end, done = await worker_lag(settings)
        if not args.wait or (end > 0 and done >= end):
            print(f"articles log: {end} records; worker committed: {done}; lag: {end - done}")
            return 0 if done >= end else 3
        if time.monotonic() > deadline:
            print(f"timed out: worker committed {done} of {end}", file=sys.stderr)
            return 1
        await asyncio.sleep(1.0)
