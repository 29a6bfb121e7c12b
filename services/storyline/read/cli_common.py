"""What `storyline projector` and `storyline serve` share: choosing and opening the read
store, and claiming it as its single writer."""

from __future__ import annotations

import argparse

from storyline.read.config import get_read_settings
from storyline.read.store import PostgresStore, ReadStore, open_store


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database", default=None,
        help="postgresql://... or a SQLite file (default: STORYLINE_READ_DATABASE_URL, "
             "else <data_dir>/read/stories.sqlite3)")


def open_read_store(args: argparse.Namespace) -> ReadStore:
    return open_store(args.database or get_read_settings().store_target())


def claim_writer(store: ReadStore) -> bool:
    """False when another projector already writes this store (PostgreSQL advisory lock;
    a SQLite file has one writer by construction)."""
    return not isinstance(store, PostgresStore) or store.acquire_writer()
