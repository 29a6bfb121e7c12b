"""``storyline serve``: the HTTP API and pages, with the projector in the same process."""

from __future__ import annotations

import argparse

import uvicorn

from storyline.logconfig import configure_logging
from storyline.read.api import create_app
from storyline.read.config import get_read_settings
from storyline.read.store import PostgresStore, open_store
from storyline.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--database", default=None,
                        help="postgresql://... or a SQLite file (default: "
                             "STORYLINE_READ_DATABASE_URL, else <data_dir>/read/stories.sqlite3)")
    parser.add_argument("--no-projector", action="store_true",
                        help="serve the store only; another process runs `storyline projector`")


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    store = open_store(args.database or get_read_settings().store_target())
    with_projector = not args.no_projector
    if with_projector and isinstance(store, PostgresStore) and not store.acquire_writer():
        print("another projector writes this store; serving read-only (--no-projector)")
        with_projector = False
    app = create_app(store, settings=settings, run_projector=with_projector)
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level,
                access_log=False)
    return 0
