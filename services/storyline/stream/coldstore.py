"""The worker's cold store: the states of idle stories in RocksDB (rocksdict), on its disk.

The pipeline writes a story here when it freezes it and reads it back when the story moves
again (:mod:`storyline.domain.coldstore`), so the worker's memory holds the stories in play,
not every story of the log's history.

Snapshots. A snapshot of the pipeline (:mod:`storyline.stream.snapshots`) does not carry
this store; it gets a RocksDB checkpoint of it beside the snapshot file, taken at the same
record boundary (under the worker's state lock). A checkpoint is hard links to RocksDB's
immutable table files plus a copy of its small mutable ones, so it costs milliseconds
whatever the store's size. Restoring a snapshot rebuilds the live store from its checkpoint
(links again, never the checkpoint itself opened, so the checkpoint stays as it was for the
next restart). A fold from offset 0 starts from an empty store.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from rocksdict import BlockBasedOptions, Cache, Checkpoint, Options, Rdict, WriteBatch

from storyline.domain.coldstore import ColdStoreFailed

# RocksDB's default memtable is 64 MB; the cold store takes a write per frozen story, so a
# small one keeps the worker's memory to what the stories in play need.
WRITE_BUFFER_BYTES = 4 * 1024 * 1024
# RocksDB's default block cache is 32 MB, and the spilled maps' reads (~75 an article) fill it
# within 10^4 articles (28.9 MB there, issue #9). What it saves over a miss is a read from
# the page cache and a block's decoding; 8 MB (RocksDB's old default) keeps the hot blocks.
BLOCK_CACHE_BYTES = 8 * 1024 * 1024


def _options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(WRITE_BUFFER_BYTES)
    options.set_max_write_buffer_number(2)
    table = BlockBasedOptions()
    table.set_block_cache(Cache(BLOCK_CACHE_BYTES))
    options.set_block_based_table_factory(table)
    return options


class RocksColdStore:
    """Bytes by story id in a RocksDB directory of the worker's own."""

    external = True

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = Rdict(str(path), _options())
        except Exception as exc:  # rocksdict raises a bare Exception for every RocksDB error
            raise self._failed("open", exc) from exc

    def _failed(self, action: str, exc: Exception) -> ColdStoreFailed:
        # RocksDB's message names the damaged file ("... in <dir>/000009.sst offset ..."),
        # which is what the operator and set_aside_damaged need
        return ColdStoreFailed(f"the cold store {self.path} failed to {action}: "
                               f"{type(exc).__name__}: {exc}")

    @classmethod
    def empty(cls, path: Path) -> RocksColdStore:
        """A store with nothing in it (what a fold from offset 0 starts from)."""
        shutil.rmtree(path, ignore_errors=True)
        return cls(path)

    @classmethod
    def restored(cls, checkpoint: Path, path: Path) -> RocksColdStore:
        """The live store rebuilt from ``checkpoint``: table files (immutable) linked, the
        others copied, so opening and writing the live store never alters the checkpoint."""
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        for source in checkpoint.iterdir():
            target = path / source.name
            if source.suffix == ".sst":
                try:
                    os.link(source, target)
                    continue
                except OSError:
                    pass  # another file system: copy instead
            shutil.copy2(source, target)
        return cls(path)

    # Every access turns RocksDB's errors into ColdStoreFailed: a bare Exception would be
    # taken by the fold's catch-all for the record's own failure and dead-letter the article
    # (a corrupt block did that to every article after a restart, 2026-12-06).

    def get(self, key: str) -> bytes | None:
        try:
            found = self._db.get(key.encode())
        except Exception as exc:
            raise self._failed(f"read {key!r}", exc) from exc
        return None if found is None else bytes(found)

    def put(self, key: str, value: bytes) -> None:
        try:
            self._db.put(key.encode(), value)
        except Exception as exc:
            raise self._failed(f"write {key!r}", exc) from exc

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        # one write batch: a quarter of the CPU of as many puts (the clusterer's spilled
        # maps write ~45 entries an article at 10^5 stories)
        batch = WriteBatch(raw_mode=True)
        for key, value in items:
            batch.put(key.encode(), value)
        try:
            self._db.write(batch)
        except Exception as exc:
            raise self._failed(f"write {len(items)} values", exc) from exc

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        # (a list of keys is one multi-get; rocksdict types it as one value)
        try:
            return cast(list[bytes | None], self._db.get([key.encode() for key in keys]))
        except Exception as exc:
            raise self._failed(f"read {len(keys)} values", exc) from exc

    def delete(self, key: str) -> None:
        try:
            self._db.delete(key.encode())
        except Exception as exc:
            raise self._failed(f"delete {key!r}", exc) from exc

    def checkpoint(self, path: Path) -> None:
        """A consistent copy of the store as it is now, at ``path`` (which must not exist)."""
        Checkpoint(self._db).create_checkpoint(str(path))

    def close(self) -> None:
        self._db.close()
