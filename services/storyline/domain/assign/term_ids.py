"""Term -> id for the clusterer's vocabularies: a bounded dict and a compact table.

A vocabulary hands out ids in first-seen order and must find a term's id again whenever the
term comes back, however long ago it was last seen. The terms in use live in a dict (one
look-up a term, ~170 an article); with a bound set (a worker with a cold store), the dict
holds the ``keep`` most recently added or read back, and every term is also in a
:class:`FingerprintTable`: its 64-bit XXH3 fingerprint and its id in two flat arrays,
12 bytes a slot, 17 to 34 bytes a term as the table fills from 35 to 70 % (beside the 8 of
the term's document frequency): a small fraction of a dict entry's ~150. A term not in the
dict costs a hash and a probe or two (~1 µs) rather than a cold-store read (~10 µs), and a
new word's "not there" is the same probe, where a spilled map needed a Bloom filter check.

Two terms sharing a fingerprint would share an id: with n terms the chance is about
n^2 / 2^65 (3 in 10^6 at 10^7 terms), and the result would still be a pure function of
the log (the first term's id, in every replay).
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from xxhash import xxh3_64_intdigest

_EMPTY = 0  # a free slot (a term whose fingerprint is 0 takes 1)
assert array("Q").itemsize == 8 and array("I").itemsize == 4  # the NumPy views below


def fingerprint(term: str) -> int:
    """XXH3's 64 bits of the UTF-8 bytes: fixed by its specification, unlike ``hash()``,
    which is salted per process (0.1 µs; BLAKE2b's 8 bytes took 0.5)."""
    return xxh3_64_intdigest(term.encode()) or 1


class FingerprintTable:
    """Fingerprint -> id, open addressing with linear probing; only ever added to.

    The slots double when they are ``MAX_LOAD_PERCENT`` full, rebuilt in NumPy (a few
    passes over the arrays, not a Python loop over the terms); adds and look-ups are Python
    (a look-up probes ~1.5 slots at half load, ~3 when a term is not there)."""

    __slots__ = ("_count", "_fps", "_ids")

    FIRST_SLOTS = 1 << 16
    MAX_LOAD_PERCENT = 70

    def __init__(self) -> None:
        self._fps = array("Q", bytes(8 * self.FIRST_SLOTS))
        self._ids = array("I", bytes(4 * self.FIRST_SLOTS))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _slot(self, fp: int) -> int:
        """The slot holding ``fp``, or the free slot where it would go."""
        fps = self._fps
        mask = len(fps) - 1
        at = fp & mask
        while fps[at] != fp and fps[at] != _EMPTY:
            at = (at + 1) & mask
        return at

    def get(self, fp: int) -> int | None:
        at = self._slot(fp)
        return self._ids[at] if self._fps[at] == fp else None

    def add(self, fp: int, tid: int) -> None:
        """Record ``fp`` -> ``tid``; a fingerprint there already keeps its id."""
        if (self._count + 1) * 100 > len(self._fps) * self.MAX_LOAD_PERCENT:
            self._rebuild(2 * len(self._fps))
        at = self._slot(fp)
        if self._fps[at] == _EMPTY:
            self._fps[at] = fp
            self._ids[at] = tid
            self._count += 1

    def add_many(self, fps: Sequence[int], ids: Sequence[int]) -> None:
        for fp, tid in zip(fps, ids, strict=True):
            self.add(fp, tid)

    def _rebuild(self, slots: int) -> None:
        """The entries in ``slots`` slots, each on the first free slot from its home, in
        rounds: every entry still waiting tries its next slot, and of those trying one free
        slot the first in the old order takes it. Every slot between an entry's home and its
        place is taken, as linear probing needs (slots are never freed)."""
        old_fps = np.frombuffer(self._fps, dtype=np.uint64)
        taken = old_fps != _EMPTY
        fps = old_fps[taken]
        ids = np.frombuffer(self._ids, dtype=np.uint32)[taken]
        new_fps = np.zeros(slots, dtype=np.uint64)
        new_ids = np.zeros(slots, dtype=np.uint32)
        mask = np.uint64(slots - 1)
        at = fps & mask
        waiting = np.arange(len(fps))
        while len(waiting):
            tried = at[waiting]
            free = new_fps[tried] == _EMPTY
            slot, first = np.unique(tried[free], return_index=True)
            winners = waiting[free][first]
            new_fps[slot] = fps[winners]
            new_ids[slot] = ids[winners]
            placed = np.zeros(len(fps), dtype=bool)
            placed[winners] = True
            waiting = waiting[~placed[waiting]]
            at[waiting] = (at[waiting] + np.uint64(1)) & mask
        self._fps = array("Q", new_fps.tobytes())
        self._ids = array("I", new_ids.tobytes())


class TermIds:
    """Term -> id: a dict of the terms in use and, once bounded, a fingerprint table of all.

    Unbounded (``keep`` never set: folds without a cold store), it is a dict. ``bound(keep)``
    records every term in the table and from then on holds in the dict only the ``keep``
    most recently added or read back (dropping the oldest ``keep // DROP_SHARE`` at once);
    a term found in the table is held in the dict again. A term's id never changes, so where
    a term is held changes no id."""

    __slots__ = ("_older", "_recent", "keep")

    DROP_SHARE = 8

    def __init__(self) -> None:
        self._recent: OrderedDict[str, int] = OrderedDict()  # oldest added or held first
        self._older: FingerprintTable | None = None
        self.keep = 1 << 62

    def __len__(self) -> int:
        """Terms held in the dict."""
        return len(self._recent)

    def bound(self, keep: int) -> None:
        """Hold at most ``keep`` terms in the dict, every term in the fingerprint table."""
        if self._older is None:
            self._older = FingerprintTable()
            self._older.add_many(list(map(fingerprint, self._recent)), list(self._recent.values()))
        self.keep = keep
        self._drop()

    def held(self, terms: Sequence[str]) -> list[int | None]:
        """The ids of ``terms`` held in the dict, None for the others: one look-up each."""
        return list(map(self._recent.get, terms))

    def older(self, terms: Sequence[str]) -> list[int | None]:
        """The ids of ``terms`` (not held in the dict) in the fingerprint table, None for a
        term never added; nothing changes."""
        table = self._older
        if table is None:
            return [None] * len(terms)
        return [table.get(fingerprint(term)) for term in terms]

    @property
    def bounded(self) -> bool:
        """Whether terms are also in the fingerprint table (``bound`` was called)."""
        return self._older is not None

    def add_unbounded(self, terms: dict[str, int]) -> None:
        """``add`` of each of ``terms`` (never seen) in their order, while not bounded."""
        assert self._older is None
        self._recent.update(terms)

    def get_and_hold(self, term: str) -> int | None:
        """The id of ``term`` or None; one found in the table is held in the dict again."""
        found = self._recent.get(term)
        if found is None and self._older is not None:
            found = self._older.get(fingerprint(term))
            if found is not None:
                self.hold(term, found)
        return found

    def hold(self, term: str, tid: int) -> None:
        """Hold in the dict again, as the most recent, ``term`` found in the table."""
        recent = self._recent
        recent[term] = tid
        recent.move_to_end(term)
        if len(recent) > self.keep:
            self._drop()

    def add(self, term: str, tid: int) -> None:
        """Record a term never seen."""
        self._recent[term] = tid
        if self._older is not None:
            self._older.add(fingerprint(term), tid)
            if len(self._recent) > self.keep:
                self._drop()

    def _drop(self) -> None:
        recent = self._recent
        if len(recent) <= self.keep:
            return
        down_to = max(0, self.keep - self.keep // self.DROP_SHARE)
        while len(recent) > down_to:
            recent.popitem(last=False)
