"""``storyline serve``: the HTTP API and pages, with the projector in the same process."""

from __future__ import annotations

import argparse

import uvicorn

from storyline import outages
from storyline.cli import port_number
from storyline.logconfig import configure_logging
from storyline.read.cli_common import add_database_argument, claim_writer, open_read_store
from storyline.settings import get_settings
from storyline.web.app import create_app


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=8000, help="0-65535 (default 8000)")
    add_database_argument(parser)
    parser.add_argument("--no-projector", action="store_true",
                        help="serve the store only; another process runs 'storyline projector'")


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_read_store(args)
    with_projector = not args.no_projector
    if with_projector and not claim_writer(store):
        print("another projector writes this store; serving read-only (--no-projector)")
        with_projector = False
    app = create_app(store, settings=settings, run_projector=with_projector)
    outages.install(settings.bootstrap_servers,
                    reminder_seconds=settings.outage_reminder_seconds,
                    settle_seconds=settings.outage_settle_seconds)
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level,
                access_log=False)
    return 0
