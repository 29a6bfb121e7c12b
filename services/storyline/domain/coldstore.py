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
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Generic, Protocol, TypeVar, cast

import numpy as np


class ColdStoreFailed(RuntimeError):
    """The store could not read or write a value (a damaged table file, a full or read-only
    disk). Never data: the state may hold half of a record then, and the fold of the log
    would have read the value, so an article must not be dead-lettered for it nor the fold
    go on. A store raises it for any failure of its own; the fold's catch-alls (which turn
    a core failure into a dead letter) let it through, and the process stops."""


class ColdStore(Protocol):
    """Bytes by story id. ``external`` stores live outside the process (on disk): a
    snapshot of the pipeline does not carry them, the snapshot's writer saves them beside
    it (a RocksDB checkpoint) and its reader attaches them again."""

    @property
    def external(self) -> bool: ...

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes) -> None: ...

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """``put`` of each pair, in order (one write batch where the store has them)."""
        ...

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """``[get(key) for key in keys]`` (one multi-get where the store has it)."""
        ...

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

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        self._values.update(items)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return list(map(self._values.get, keys))

    def delete(self, key: str) -> None:
        self._values.pop(key, None)

    def __len__(self) -> int:
        return len(self._values)


class KeyFilter:
    """The keys a :class:`SpilledMap` has written to its store, as a Bloom filter: "no" is
    certain, "maybe" is wrong about 1 % of the time. A map asks it before reading the
    store, so a key that was never spilled (a uri seen for the first time, a term no story
    was posted under for long: two fifths of the clusterer's reads at 10^5 stories, when
    its vocabularies were spilled maps too) costs two CRC-32s instead of a store read.
    Only reads are saved, never a value changed: a "maybe" for an absent key is a read
    that finds nothing, as before.

    It grows in layers, each ``GROWTH`` times the keys of the one before (a filter cannot be
    resized: the keys are not kept), so its size follows the keys spilled (``BITS_PER_KEY``
    bits a key, 1.6 MB for the first 1.1 million keys) and a "no" checks few layers (3 up
    to 1.1 million keys; the check is Python, ~0.4 µs a layer); keys are recorded a batch
    at a time, in NumPy (``add_many``: a map spills thousands at once). Positions come from
    CRC-32 (fixed, unlike ``hash()``, which is salted per process), since a filter is
    pickled with its map and must answer alike after a restart.
    """

    __slots__ = ("_count", "_full", "_layers")

    FIRST_CAPACITY = 1 << 16
    GROWTH = 4
    BITS_PER_KEY = 12
    HASHES = 4  # ~0.9 % false "maybe" at 12 bits a key
    _SEED = 0x9E3779B9

    def __init__(self) -> None:
        self._layers: list[bytearray] = []  # layer i holds FIRST_CAPACITY * GROWTH**i keys
        self._count = 0
        self._full = 0  # keys the layers hold before another is needed

    def __len__(self) -> int:
        return self._count

    def add_many(self, keys: Sequence[str]) -> None:
        """Record ``keys``, in NumPy over the batch (a map spills thousands at once); the
        positions are :meth:`may_contain`'s, ``(h1 + i * h2) mod bits`` for i < HASHES."""
        data = list(map(str.encode, keys))
        h1 = np.fromiter(map(zlib.crc32, data), dtype=np.uint64, count=len(data))
        h2 = np.fromiter(map(zlib.crc32, data, repeat(self._SEED)), dtype=np.uint64,
                         count=len(data)) | np.uint64(1)
        steps = np.arange(self.HASHES, dtype=np.uint64)
        at = 0
        while at < len(data):
            if self._count >= self._full:  # the newest layer is full: open a larger one
                capacity = self.FIRST_CAPACITY * self.GROWTH ** len(self._layers)
                self._layers.append(bytearray(capacity * self.BITS_PER_KEY // 8))
                self._full += capacity
            take = min(len(data) - at, self._full - self._count)
            bits = self._layers[-1]
            positions = ((h1[at:at + take, None] + steps * h2[at:at + take, None])
                         % np.uint64(len(bits) << 3)).ravel()
            np.bitwise_or.at(np.frombuffer(bits, dtype=np.uint8), positions >> np.uint64(3),
                             np.left_shift(1, positions & np.uint64(7)).astype(np.uint8))
            self._count += take
            at += take

    def may_contain(self, key: str) -> bool:
        layers = self._layers
        if not layers:
            return False
        data = key.encode()
        h1 = zlib.crc32(data)
        h2 = zlib.crc32(data, self._SEED) | 1
        for bits in reversed(layers):  # the newest holds most keys
            n = len(bits) << 3
            for i in range(self.HASHES):
                at = (h1 + i * h2) % n
                if not bits[at >> 3] & (1 << (at & 7)):
                    break
            else:
                return True
        return False


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
    The store attached must hold no keys of this map's prefix that this map did not write
    (a fresh store, or the one saved with the snapshot the map comes from): the map keeps a
    :class:`KeyFilter` of the keys it wrote and does not ask the store for any other.

    Entries are spilled in batches (one write batch of the oldest ``keep // SPILL_SHARE``
    entries once there are more than ``keep``), so memory holds between ``keep`` minus a
    batch and ``keep`` entries.
    """

    __slots__ = ("_clean", "_filter", "_recent", "_store", "keep", "prefix")

    SPILL_SHARE = 8

    def __init__(self, prefix: str, keep: int) -> None:
        self.prefix = prefix
        self.keep = keep
        self._recent: OrderedDict[str, V] = OrderedDict()  # oldest write first
        self._store: ColdStore | None = None
        # keys of _recent held again by ``hold`` and not written since: their stored copy
        # is current, so spilling them again writes nothing
        self._clean: set[str] = set()
        # the keys written to the store (None: not known, as in a map pickled before it had
        # a filter: every miss in memory is looked for in the store)
        self._filter: KeyFilter | None = KeyFilter()

    def attach(self, store: ColdStore | None) -> None:
        self._store = store
        # nothing is known of what ``store`` holds: spill every entry in full again
        self._clean = set()
        self._spill()

    def __getstate__(self) -> dict[str, object]:
        store = self._store
        return {"prefix": self.prefix, "keep": self.keep, "_recent": self._recent,
                "_store": None if store is not None and store.external else store,
                "_clean": self._clean, "_filter": self._filter}

    def __setstate__(self, state: dict[str, object]) -> None:
        self._clean = set()  # (a map pickled before it had one: nothing known clean)
        self._filter = None  # (nor which keys it wrote)
        for name, value in state.items():
            setattr(self, name, value)

    def __len__(self) -> int:
        """Entries held in memory (the spilled ones are not counted)."""
        return len(self._recent)

    def _spilled(self, key: str) -> bool:
        """Whether ``key`` may be in the store (it is not in memory)."""
        return self._store is not None and (self._filter is None
                                            or self._filter.may_contain(key))

    def get(self, key: str) -> V | None:
        found = self._recent.get(key)
        if found is not None or not self._spilled(key):
            return found
        blob = cast(ColdStore, self._store).get(self.prefix + key)
        return None if blob is None else cast(V, pickle.loads(blob))  # written by this class

    def held(self, keys: Iterable[str]) -> list[V | None]:
        """The values of ``keys`` held in memory, None for the others (spilled or absent):
        one dict look-up each, for loops that fall back to ``get`` only on a miss."""
        return list(map(self._recent.get, keys))

    def get_many(self, keys: Sequence[str], hold: bool = False) -> list[V | None]:
        """``[self.get(key) for key in keys]``, the keys held in memory at one dict look-up
        each, the others read in one multi-get; ``hold``: those read are held in memory
        again (:meth:`hold`: only if the caller does not change them in place without
        writing them back)."""
        found = self.held(keys)
        store = self._store
        if store is None or None not in found:
            return found
        missing = [i for i, value in enumerate(found)
                   if value is None and self._spilled(keys[i])]
        if missing:
            prefix = self.prefix
            blobs = store.get_many([prefix + keys[i] for i in missing])
            for i, blob in zip(missing, blobs, strict=True):
                if blob is not None:
                    value = found[i] = cast(V, pickle.loads(blob))  # written by this class
                    if hold:
                        self.hold(keys[i], value)
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
        if found is not None or not self._spilled(key):
            return found
        blob = cast(ColdStore, self._store).get(self.prefix + key)
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
        if self._spilled(key):
            store = cast(ColdStore, self._store)
            if found is None:
                blob = store.get(self.prefix + key)
                if blob is not None:
                    found = cast(V, pickle.loads(blob))
            store.delete(self.prefix + key)  # a stale spilled copy goes too
        return found

    def discard(self, key: str) -> None:
        """``pop`` without reading what is removed."""
        self._recent.pop(key, None)
        self._clean.discard(key)
        if self._spilled(key):
            cast(ColdStore, self._store).delete(self.prefix + key)

    def __delitem__(self, key: str) -> None:
        if self.pop(key) is None:
            raise KeyError(key)

    def _spill(self) -> None:
        store = self._store
        if store is None:
            return
        recent = self._recent
        if len(recent) <= self.keep:
            return
        clean = self._clean
        known = self._filter
        prefix = self.prefix
        batch: list[tuple[str, bytes]] = []
        written: list[str] = []
        down_to = max(0, self.keep - self.keep // self.SPILL_SHARE)
        while len(recent) > down_to:
            key, value = recent.popitem(last=False)
            if key in clean:
                clean.discard(key)  # its stored copy is this value
                continue
            written.append(key)
            batch.append((prefix + key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))
        if batch:
            if known is not None:
                known.add_many(written)
            store.put_many(batch)
