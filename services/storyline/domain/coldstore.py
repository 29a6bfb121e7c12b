"""Where the pipeline keeps the states of idle stories: a key-value store of bytes.

The pipeline packs a story that has not moved for a while (zlib of its pickle, see
:mod:`storyline.domain.pipeline`) and hands the bytes to a :class:`ColdStore`, keyed by story
id; it reads them back when the story moves again. The core needs nothing else of a store, so
the same fold runs over a dict in memory (replay, tests, benchmarks) or over RocksDB on the
worker's disk (:mod:`storyline.stream.coldstore`), which is what keeps the worker's memory
to the stories in play rather than to the log's history.

What is kept in a store is only ever a cache of the log: which story is cold, and which
bytes it has, never changes a revision.
"""

from __future__ import annotations

from typing import Protocol


class ColdStore(Protocol):
    """Bytes by story id. ``external`` stores live outside the process (on disk): a
    snapshot of the pipeline does not carry them, the snapshot's writer saves them beside
    it (a RocksDB checkpoint) and its reader attaches them again."""

    @property
    def external(self) -> bool: ...

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryColdStore:
    """A dict: for folds that need no durable state (replay, evaluation, tests). Pickled
    with the pipeline, so a snapshot of a pipeline that uses it holds its cold stories."""

    external = False

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self._values.get(key)

    def put(self, key: str, value: bytes) -> None:
        self._values[key] = value

    def delete(self, key: str) -> None:
        self._values.pop(key, None)

    def __len__(self) -> int:
        return len(self._values)

    def nbytes(self) -> int:
        return sum(len(v) for v in self._values.values())
