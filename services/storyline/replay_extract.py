"""A replay's extract stage in processes of its own (``storyline replay``).

Extraction is a function of each record alone and most of a replay's CPU (~6 of ~18 ms an
article of timeline17-dev), so the replaying process hands the records to a pool of
processes, in chunks, and folds what comes back in log order, as the staged worker's fold
process folds the facts topic (:func:`storyline.stream.facts.fold_facts`): the same bytes
of every revision as the extraction in process (``tests/unit/test_replay_extract.py``), and
on two cores the fold no longer waits for extraction.

At most ``AHEAD`` chunks a process are in flight, so a replay of any length holds a few
hundred records and their facts, not the log.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from storyline.allocator import tune_malloc
from storyline.collector import Collector
from storyline.domain.stages import LogPosition
from storyline.processes import usable_cores
from storyline.stream.facts import FactsRecord, extract_record

Record = tuple[bytes | None, bytes | None, LogPosition]

# Records a task: a task's pickling and hand-over cost ~0.1 ms, an article's extraction ~6.
CHUNK = 8
# Chunks in flight a process: enough that a process never waits for the fold to ask for more
# (an article's fold takes up to ~2x its extraction), few enough to hold ~1 MB of facts.
AHEAD = 4
# A log shorter than this is extracted in the replaying process: starting a process and
# importing the extractor (~1-2 s) would cost more than it saves.
PARALLEL_FROM = 256

_collector: Collector | None = None


def extract_processes(records: int, asked: int | None = None, cores: int | None = None) -> int:
    """How many processes extract a replay of ``records`` records: ``asked``, or the cores
    less one (the fold takes one) for a log of PARALLEL_FROM records or more; 0 extracts in
    the replaying process."""
    if asked is not None:
        if asked < 0:
            raise ValueError(f"{asked} extract processes: give 0 or more")
        return asked
    if records < PARALLEL_FROM:
        return 0
    return max(0, (cores if cores is not None else usable_cores()) - 1)


def _started() -> None:
    """A pool process's start: its allocator tuned and its heap frozen as the replay's own
    (the extract stage's settings); only warnings logged (the replay in process logs none of
    the extract stage's per-article lines)."""
    global _collector
    from storyline.logconfig import configure_logging
    from storyline.settings import get_settings

    settings = get_settings()
    tune_malloc(settings.malloc_arena_max, settings.malloc_mmap_threshold)
    configure_logging("warning", settings.log_format)
    _collector = Collector(settings.gc_freeze_every, settings.gc_collect_growth)


def extract_chunk(chunk: list[Record], max_bytes: int) -> list[FactsRecord]:
    """The facts records of ``chunk``, as the extract stage writes them."""
    out = []
    for key, value, position in chunk:
        out.append(extract_record(key, value, position, max_bytes=max_bytes))
        if _collector is not None:
            _collector.folded()
    return out


class ParallelExtraction:
    """``processes`` extract processes for one replay (an async context manager)."""

    def __init__(self, processes: int, max_bytes: int) -> None:
        if processes < 1:
            raise ValueError(f"{processes} extract processes: give 1 or more")
        self.processes = processes
        self.max_bytes = max_bytes
        self._pool: ProcessPoolExecutor | None = None

    async def __aenter__(self) -> ParallelExtraction:
        # spawned, not forked: the parent runs an event loop and Kafka clients
        self._pool = ProcessPoolExecutor(max_workers=self.processes, initializer=_started,
                                         mp_context=multiprocessing.get_context("spawn"))
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._pool is not None:
            # a replay that failed does not wait for the chunks still queued
            self._pool.shutdown(wait=error is None, cancel_futures=error is not None)
            self._pool = None

    async def extracted(self, records: AsyncIterator[Record]
                        ) -> AsyncIterator[tuple[Record, FactsRecord]]:
        """Each record of ``records`` with its facts record, in the order given."""
        if self._pool is None:
            raise RuntimeError("enter the ParallelExtraction (async with) first")
        pool, loop = self._pool, asyncio.get_running_loop()
        pending: deque[tuple[list[Record], asyncio.Future[list[FactsRecord]]]] = deque()

        def submit(chunk: list[Record]) -> None:
            pending.append((chunk, loop.run_in_executor(pool, extract_chunk, chunk,
                                                        self.max_bytes)))

        async def oldest() -> list[tuple[Record, FactsRecord]]:
            done, facts = pending.popleft()
            return list(zip(done, await facts, strict=True))

        chunk: list[Record] = []
        async for record in records:
            chunk.append(record)
            if len(chunk) < CHUNK:
                continue
            submit(chunk)
            chunk = []
            while len(pending) >= self.processes * AHEAD:
                for pair in await oldest():
                    yield pair
        if chunk:
            submit(chunk)
        while pending:
            for pair in await oldest():
                yield pair
