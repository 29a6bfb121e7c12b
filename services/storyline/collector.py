"""Python's cyclic garbage collector in a long fold: the state is frozen now and then.

A worker's state is millions of long-lived objects (stories, timelines, window analyses).
CPython's collector walks all of its oldest generation in a full collection, which it makes
whenever a quarter as many objects again have survived into it: over timeline17-dev that
was 20 full collections of up to 0.9 s each, 6.3 of the fold's 62 CPU seconds, and every
one of them a pause of the ordered fold (the p99 outliers of the latency benchmark).

``gc.freeze()`` moves every object the collector tracks into a permanent generation that
no collection walks; the young generations still catch the short-lived garbage of each
record. So every ``freeze_every`` records the heap as it is is frozen, and full
collections walk only what was made since. What becomes cyclic garbage after being frozen
is not found until ``gc.unfreeze()``: the fold makes almost none (the one cycle it made, two
lead sentences holding each other through their support memos, is a weak reference now:
``summary._supports_cached``), and every ``collect_every`` records the heap is unfrozen,
collected in full once and frozen again, so what little there is stays bounded.

Nothing here touches an object's value: no output changes (the digests of
``benchmarks/bench_memory.py`` are the same with and without).
"""

from __future__ import annotations

import gc
import time

# Records between two freezes: a freeze is O(1) (a list splice); what it bounds is how much
# a full collection walks, ~200 records' worth of new objects.
FREEZE_EVERY = 200
# Records between two full collections of the whole heap (unfrozen, collected, frozen again):
# about a second each on a state of 10^5 articles, so rare.
COLLECT_EVERY = 100_000


class Collector:
    """Freezes the heap every ``freeze_every`` records and collects it in full every
    ``collect_every`` (0: never, for either); keeps the counts and the time spent."""

    def __init__(self, freeze_every: int = FREEZE_EVERY,
                 collect_every: int = COLLECT_EVERY) -> None:
        self.freeze_every = freeze_every
        self.collect_every = collect_every
        self.records = 0
        self.freezes = 0
        self.collections = 0
        self.found = 0  # unreachable objects the full collections found
        self.seconds = 0.0

    def folded(self) -> None:
        """Count one record; freeze or collect when one is due."""
        self.records += 1
        if self.collect_every > 0 and self.records % self.collect_every == 0:
            started = time.process_time()
            gc.unfreeze()
            self.found += gc.collect()
            gc.freeze()
            self.seconds += time.process_time() - started
            self.collections += 1
            self.freezes += 1
        elif self.freeze_every > 0 and self.records % self.freeze_every == 0:
            # the young generations first: what is garbage in them now (the event loop's
            # and the clients' short-lived cycles) would otherwise be frozen with the rest
            gc.collect(1)
            gc.freeze()
            self.freezes += 1
