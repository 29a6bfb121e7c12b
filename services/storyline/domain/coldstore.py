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

import pickle
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Generic, Protocol, TypeVar, cast


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


V = TypeVar("V")


class SpilledMap(Generic[V]):
    """A map of str keys whose least recently written entries live in a :class:`ColdStore`.

    The ``keep`` most recently written entries are objects in memory; older ones are
    pickled into ``store`` under ``prefix + key`` and read back (not brought back into
    memory) when asked for. Reading and writing give what a dict would, whatever was
    spilled, so this only moves memory to the store; no iteration is offered (its order
    would depend on what was spilled). Without a store (``attach`` not called) nothing is
    spilled. Values must pickle on their own (no references into other state) and are never
    None (None means absent).

    The in-memory part is pickled with its owner; an external store is not (it is saved
    beside the snapshot, see :class:`ColdStore`), and is attached again after loading.
    """

    __slots__ = ("_clean", "_recent", "_store", "keep", "prefix")

    def __init__(self, prefix: str, keep: int) -> None:
        self.prefix = prefix
        self.keep = keep
        self._recent: OrderedDict[str, V] = OrderedDict()  # oldest write first
        self._store: ColdStore | None = None
        # keys of _recent held again by ``hold`` and not written since: their stored copy
        # is current, so spilling them again writes nothing
        self._clean: set[str] = set()

    def attach(self, store: ColdStore | None) -> None:
        self._store = store
        # nothing is known of what ``store`` holds: spill every entry in full again
        self._clean = set()
        self._spill()

    def __getstate__(self) -> dict[str, object]:
        store = self._store
        return {"prefix": self.prefix, "keep": self.keep, "_recent": self._recent,
                "_store": None if store is not None and store.external else store,
                "_clean": self._clean}

    def __setstate__(self, state: dict[str, object]) -> None:
        self._clean = set()  # (a map pickled before it had one: nothing known clean)
        for name, value in state.items():
            setattr(self, name, value)

    def __len__(self) -> int:
        """Entries held in memory (the spilled ones are not counted)."""
        return len(self._recent)

    def get(self, key: str) -> V | None:
        found = self._recent.get(key)
        if found is not None or self._store is None:
            return found
        blob = self._store.get(self.prefix + key)
        return None if blob is None else cast(V, pickle.loads(blob))  # written by this class

    def held(self, keys: Iterable[str]) -> list[V | None]:
        """The values of ``keys`` held in memory, None for the others (spilled or absent):
        one dict look-up each, for loops that fall back to ``get`` only on a miss."""
        return list(map(self._recent.get, keys))

    def get_many(self, keys: Sequence[str]) -> list[V | None]:
        """``[self.get(key) for key in keys]``, the keys held in memory at one dict look-up
        each."""
        found = self.held(keys)
        if self._store is not None:
            for i, value in enumerate(found):
                if value is None:
                    found[i] = self.get(keys[i])
        return found

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __getitem__(self, key: str) -> V:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __setitem__(self, key: str, value: V) -> None:
        recent = self._recent
        recent[key] = value  # a spilled copy, if any, is shadowed and later overwritten
        recent.move_to_end(key)
        self._clean.discard(key)
        if len(recent) > self.keep:
            self._spill()

    def get_and_hold(self, key: str) -> V | None:
        """``get``; a value read from the store is held in memory again (:meth:`hold`)."""
        found = self._recent.get(key)
        if found is not None or self._store is None:
            return found
        blob = self._store.get(self.prefix + key)
        if blob is None:
            return None
        value = cast(V, pickle.loads(blob))  # written by this class
        self.hold(key, value)
        return value

    def hold(self, key: str, value: V) -> None:
        """Hold in memory again, as the most recent entry, ``value`` just read for ``key``
        from the store and not changed: a value in use stays in memory (the least recently
        held or written are spilled), and its stored copy stays current, so spilling it
        again writes nothing. Only for a value read from the store: one that was never
        spilled would then never be written."""
        recent = self._recent
        recent[key] = value
        recent.move_to_end(key)
        self._clean.add(key)
        if len(recent) > self.keep:
            self._spill()

    def pop(self, key: str) -> V | None:
        found = self._recent.pop(key, None)
        self._clean.discard(key)
        if self._store is not None:
            if found is None:
                blob = self._store.get(self.prefix + key)
                if blob is not None:
                    found = cast(V, pickle.loads(blob))
            self._store.delete(self.prefix + key)  # a stale spilled copy goes too
        return found

    def discard(self, key: str) -> None:
        """``pop`` without reading what is removed."""
        self._recent.pop(key, None)
        self._clean.discard(key)
        if self._store is not None:
            self._store.delete(self.prefix + key)

    def __delitem__(self, key: str) -> None:
        if self.pop(key) is None:
            raise KeyError(key)

    def _spill(self) -> None:
        store = self._store
        if store is None:
            return
        recent = self._recent
        clean = self._clean
        while len(recent) > self.keep:
            key, value = recent.popitem(last=False)
            if key in clean:
                clean.discard(key)  # its stored copy is this value
                continue
            store.put(self.prefix + key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
