"""``storyline worker``: run the streaming worker until interrupted."""

from __future__ import annotations

import argparse

from storyline.logconfig import configure_logging
from storyline.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--web-port", type=int, default=None,
                        help="serve faust's web endpoints (tables, health) on this port")
    parser.add_argument("--faust-loglevel", default="warning",
                        help="log level of faust's own logging (default: warning)")


def run(args: argparse.Namespace) -> int:
    from storyline import outages
    from storyline.stream.worker import run_worker

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    outages.install(settings.bootstrap_servers,
                    reminder_seconds=settings.outage_reminder_seconds)
    run_worker(settings, loglevel=args.faust_loglevel, web_port=args.web_port)
    return 0
