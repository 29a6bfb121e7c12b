"""Python's cyclic garbage collector in a long fold: the state is frozen now and then.

A worker's state is millions of long-lived objects (stories, timelines, window analyses).
CPython's collector walks all of its oldest generation in a full collection, which it makes
whenever a quarter as many objects again have survived into it: folding the first 10^4
articles of the synthetic log with the cold store, 49 full collections took 19.2 of 158 CPU
seconds (the longest 0.71 s); the page stage's fold of timeline17-dev with every record's
facts kept, 20 took 6.3 of 62 s (the longest 0.94 s), each a pause of the ordered fold.

``gc.freeze()`` moves every object the collector tracks into a permanent generation that
no collection walks; the young generations still catch the short-lived garbage of each
record. So every ``freeze_every`` records the heap as it is is frozen, and full
collections walk only what was made since. What becomes cyclic garbage after being frozen
is not found until ``gc.unfreeze()``: the fold makes almost none (the one cycle it made, two
lead sentences holding each other through their support memos, is a weak reference now:
``summary._supports_cached``); the rest of the process makes some (the event loop's and
the Kafka clients' objects caught in flight by a freeze). So once the heap has grown by
half since the last full collection, it is unfrozen, collected in full once and frozen
again: what leaks between two full collections is bounded by the heap's growth, as Python's
own rule bounds it, while a worker whose state no longer grows (its idle stories go to the
cold store) makes almost no full collection at all.

A full collection is a pause of the ordered fold as long as the heap is large (0.3-0.9 s at
1.2 million blocks: a dozen articles over 250 ms behind it at 50 articles/s), and in the
fold stage it finds nothing (0 unreachable objects in each, over timeline17-dev). So each
one that finds less garbage than GARBAGE_SHARE of the blocks it walked doubles the growth
that calls the next, and one that finds more puts the growth back: what leaks stays near
that share of the heap, and a process that makes no cyclic garbage makes few pauses.

The heap's size is read as pymalloc's allocated blocks (``sys.getallocatedblocks``: a sum
over its arenas, ~0.3 ms at 10^7 blocks), not as ``gc.get_freeze_count()``, which walks the
frozen objects' list one pointer at a time: 100-130 ms at 1.2-1.4 million objects scattered
over a fold's heap, a pause of the ordered fold at every freeze.

Nothing here touches an object's value: no output changes (the digests of
``benchmarks/bench_memory.py`` are the same with and without).
"""

from __future__ import annotations

import gc
import sys
import time

# Records between two freezes: a freeze is O(1) (a list splice); what it bounds is how much
# a full collection walks, ~200 records' worth of new objects.
FREEZE_EVERY = 200
# The whole heap (frozen part included) is collected once it holds this many times as many
# allocated blocks as after the last full collection: what became cyclic garbage after it
# was frozen (the event loop's and the Kafka clients' objects caught in flight) is found
# then. Python's own rule is a quarter more long-lived objects; a half more here, because
# the count only grows with what lives (a block freed by its reference count is no longer
# allocated), not with every object that was ever promoted.
COLLECT_GROWTH = 1.5
# ... and never while fewer blocks than this are allocated (a small process collects as it
# likes; a stage's imports alone allocate ~315,000).
COLLECT_FLOOR = 500_000
# A full collection that finds fewer unreachable objects than this share of the allocated
# blocks it walked doubles the growth before the next one (the garbage it leaves, a tenth of
# a percent of the heap, is not worth a pause); one that finds more resets it.
GARBAGE_SHARE = 0.001


class Collector:
    """Freezes the heap every ``freeze_every`` records (0: never) and collects all of it once
    it has grown ``collect_growth`` times since the last full collection (0: never), twice
    that after each full collection that found almost nothing (GARBAGE_SHARE); keeps the
    counts and the time spent."""

    def __init__(self, freeze_every: int = FREEZE_EVERY,
                 collect_growth: float = COLLECT_GROWTH, *, defer_full: bool = False) -> None:
        self.freeze_every = freeze_every
        self.collect_growth = collect_growth
        # A full collection due at a freeze waits for ``idle`` (a live stage with no record
        # ready), up to the next freeze: the pause then starts with no record queued behind
        # it. (~150 ms at 10^6 blocks; taken in a backlog behind a long page or a merge,
        # it put a dozen articles over 250 ms at 50 articles/s.)
        self.defer_full = defer_full
        self.full_due = False
        self.records = 0
        self.freezes = 0
        self.collections = 0
        self.found = 0  # unreachable objects the full collections found
        self.seconds = 0.0
        self._baseline = COLLECT_FLOOR
        self.growth = collect_growth  # the growth that calls the next full collection

    def _freeze_start(self) -> None:
        """Freeze what the process made before its first record: modules, gazetteers, a
        state restored from a snapshot. It lives as long as the process, and until the first
        freeze every collection of the oldest generation walked it: in an extract stage,
        ~50 ms each, two of them at timeline17-dev's first long pages (docs/benchmarks.md,
        session 32). Never a full collection here (a pause right after a restart): the
        first is due at a multiple of ``freeze_every``, as before."""
        started = time.process_time()
        gc.collect(1)
        gc.freeze()
        self.freezes += 1
        self.seconds += time.process_time() - started

    def folded(self) -> None:
        """Count one record; freeze, and collect in full, when due."""
        self.records += 1
        if self.freeze_every <= 0:
            return
        if self.records == 1:
            self._freeze_start()
            return
        if self.records % self.freeze_every:
            return
        started = time.process_time()
        # the young generations first: what is garbage in them now (the event loop's and
        # the clients' short-lived cycles) would otherwise be frozen with the rest
        gc.collect(1)
        gc.freeze()
        self.freezes += 1
        if self.full_due:  # due since the last freeze and never idle meanwhile: now
            self._collect_full()
        elif self.collect_growth > 0 and sys.getallocatedblocks() > self.growth * self._baseline:
            if self.defer_full:
                self.full_due = True
            else:
                self._collect_full()
        self.seconds += time.process_time() - started

    def idle(self) -> None:
        """The process has no record waiting: the full collection due, if any, now."""
        if self.full_due:
            started = time.process_time()
            self._collect_full()
            self.seconds += time.process_time() - started

    def _collect_full(self) -> None:
        walked = sys.getallocatedblocks()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self.full_due = False
        self.found += found
        self.collections += 1
        self._baseline = max(sys.getallocatedblocks(), COLLECT_FLOOR)
        self.growth = (self.growth * 2 if found < GARBAGE_SHARE * walked
                       else self.collect_growth)
