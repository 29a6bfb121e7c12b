"""A replay's extract stage in processes of its own (``storyline.replay_extract``): the same
revisions, byte for byte, as a replay that extracts in process, poison records and all; the
records in flight bounded; and how many processes a replay takes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from test_pipeline import TOPIC, build_log, records

from storyline import replay_extract
from storyline.domain.canonical import canonical_bytes
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.replay import RebuiltLog, Record, fold_log, records_from_files

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "timeline17-dev" / "articles.jsonl"
MAX_BYTES = 1_000_000  # the dev set's 680 kB pages pass


async def _each(log: Iterable[Record]) -> AsyncIterator[Record]:
    for record in log:
        yield record


def _replayed(log: list[Record], processes: int) -> RebuiltLog:
    rebuilt = RebuiltLog(pipeline=Pipeline())
    asyncio.run(fold_log(rebuilt, _each(log), max_bytes=MAX_BYTES,
                         extract_processes=processes))
    return rebuilt


def _log() -> list[Record]:
    """Copies, corrections, withdrawals and resends, three poison records among them, and the
    first 40 articles of timeline17-dev when the dev sets are there (long pages, merges)."""
    entries = [("flood", 0, "new"), ("strike", 1, "new"), ("flood", 2, "copy"),
               ("recall", 0, "new"), ("flood", 1, "correction"), ("strike", 3, "new"),
               ("recall", 2, "resend"), ("strike", 0, "withdrawal"), ("flood", 3, "new"),
               ("recall", 1, "correction")]
    log: list[Record] = [(k, v, p) for k, v, p in records(build_log(entries))]
    poison: list[tuple[bytes | None, bytes | None]] = [
        (b"urn:test:empty", None), (b"urn:test:garbage", b"{not json"),
        (b"urn:test:huge", b'{"uri": "' + b"x" * MAX_BYTES + b'"}')]
    for at, (key, value) in zip((2, 5, 7), poison, strict=True):
        log.insert(at, (key, value, LogPosition(TOPIC, 0, 0)))
    if DEV.exists():
        log += [(k, v, p) for k, v, p in records_from_files([DEV], TOPIC, 40)]
    return [(k, v, LogPosition(TOPIC, 0, offset)) for offset, (k, v, _) in enumerate(log)]


def test_a_replay_extracting_in_processes_folds_the_same_revisions_as_one_in_process() -> None:
    log = _log()
    here = _replayed(log, 0)
    # the empty, the garbled and the huge record, and a version that came again with other
    # content (a withdrawal, then a correction of the same version)
    assert here.dead_letters == 4 and len(here.revisions) > 10
    for processes in (1, 2):
        there = _replayed(log, processes)
        assert (there.records, there.dead_letters) == (here.records, here.dead_letters)
        assert [canonical_bytes(e) for e in there.events] == [
            canonical_bytes(e) for e in here.events]
        assert there.pipeline.story_ids == here.pipeline.story_ids


def test_the_records_in_flight_are_bounded_and_come_back_in_order() -> None:
    drawn: list[int] = []
    log = records(build_log([("flood", i % 4, "new") for i in range(120)]))

    async def counted() -> AsyncIterator[Record]:
        for record in log:
            drawn.append(record[2].offset)
            yield record

    async def run() -> list[int]:
        seen: list[int] = []
        async with replay_extract.ParallelExtraction(2, MAX_BYTES) as extraction:
            async for (_, _, position), facts in extraction.extracted(counted()):
                assert facts.source_offset == position.offset
                # what was drawn from the log and not yet folded: the chunks in flight
                ahead = len(drawn) - len(seen)
                assert ahead <= 2 * replay_extract.AHEAD * replay_extract.CHUNK
                seen.append(position.offset)
        return seen

    assert asyncio.run(run()) == list(range(120))


def test_how_many_processes_extract_a_replay() -> None:
    choose = replay_extract.extract_processes
    assert choose(10_000, cores=2) == 1  # the fold takes the other core
    assert choose(10_000, cores=8) == 7
    assert choose(10_000, cores=1) == 0  # one core: extraction in process
    assert choose(replay_extract.PARALLEL_FROM - 1, cores=8) == 0  # a short log
    assert choose(10, asked=3, cores=1) == 3  # asked is asked
    assert choose(10_000, asked=0, cores=8) == 0
    with pytest.raises(ValueError, match="0 or more"):
        choose(10, asked=-1)
    with pytest.raises(ValueError, match="1 or more"):
        replay_extract.ParallelExtraction(0, MAX_BYTES)


def test_a_replay_whose_extract_process_died_says_so_in_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    from concurrent.futures.process import BrokenProcessPool

    from storyline.commands import replay as replay_command

    async def died(args: argparse.Namespace) -> int:
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(replay_command, "_run", died)
    assert replay_command.run(argparse.Namespace(stage=None)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: an extract process of the replay stopped")
    assert "--extract-processes 0" in err and "Traceback" not in err


def test_an_extract_process_killed_under_the_replay_stops_it_without_hanging() -> None:
    """SIGKILL of a pool process mid-replay: the replay stops with BrokenProcessPool (said
    in one line by the command, above), it neither hangs nor folds past the gap."""
    import os
    import signal
    from concurrent.futures.process import BrokenProcessPool

    log = records(build_log([("strike", i % 4, "new") for i in range(200)]))

    async def run() -> int:
        folded = 0
        async with replay_extract.ParallelExtraction(1, MAX_BYTES) as extraction:
            async for (_, _, position), _facts in extraction.extracted(_each(log)):
                assert position.offset == folded  # in order, none skipped
                folded += 1
                if folded == 1:
                    pool = extraction._pool
                    assert pool is not None
                    for pid in list(pool._processes):  # type: ignore[attr-defined]
                        os.kill(pid, signal.SIGKILL)
        return folded

    with pytest.raises(BrokenProcessPool):
        asyncio.run(asyncio.wait_for(run(), timeout=60))
