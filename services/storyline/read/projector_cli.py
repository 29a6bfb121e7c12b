"""``storyline projector``: materialise the story-updates topic into the read store."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import structlog

from storyline import outages
from storyline.logconfig import configure_logging
from storyline.metrics import LoopWatch, publish_readiness, start_operations
from storyline.outages import outage_reason
from storyline.read.cli_common import add_database_argument, claim_writer, open_read_store
from storyline.read.projector import Projector, StoreOfAnotherTopic
from storyline.settings import Settings, get_settings

log = structlog.get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_argument(parser)
    parser.add_argument("--until-caught-up", action="store_true",
                        help="stop once the end offsets seen at start are applied")


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_read_store(args)
    if not claim_writer(store):
        log.error("projector.already_running", detail="another projector holds this store")
        return 1
    outages.install(settings.bootstrap_servers,
                    reminder_seconds=settings.outage_reminder_seconds,
                    settle_seconds=settings.outage_settle_seconds)
    projector = Projector(store, bootstrap=settings.bootstrap_servers,
                          topic=settings.story_updates,
                          dead_letters_topic=settings.dead_letters)
    return asyncio.run(_run(projector, args.until_caught_up, settings))


async def _run(projector: Projector, until_caught_up: bool, settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    watch = LoopWatch()
    beating = asyncio.create_task(watch.run(), name="loop-watch")
    ready = asyncio.create_task(publish_readiness(
        "projector", lambda: projector.readiness(settings.ready_max_lag, outage_reason())),
        name="readiness")
    operations = None
    if settings.projector_metrics_port:
        operations = start_operations(
            settings.metrics_host, settings.projector_metrics_port, process="projector",
            live=watch.health, ready=lambda: projector.readiness(settings.ready_max_lag,
                                                                 outage_reason()))
    try:
        totals = await projector.run(stop, until_caught_up=until_caught_up)
    except StoreOfAnotherTopic as exc:
        log.critical("projector.refused", reason=str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        beating.cancel()
        ready.cancel()
        if operations is not None:
            operations.stop()
    log.info("projector.stopped", applied=totals.applied, unchanged=totals.unchanged,
             skipped=totals.skipped, rejected=len(totals.rejected))
    return 0
