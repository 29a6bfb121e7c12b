"""The allocator helpers (issue #9): glibc's statistics, the trim every N records in the worker,
the arena cap and their settings; none of them changes a byte of the fold."""

from __future__ import annotations

import argparse
import ctypes.util
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from test_pipeline import build_log, records

from storyline import allocator
from storyline.domain.canonical import canonical_bytes
from storyline.domain.extract.names import NAMES_MEMO_SIZE, _analyse, normalise
from storyline.settings import Settings
from storyline.stream.coldstore import BLOCK_CACHE_BYTES, RocksColdStore
from storyline.stream.worker import WorkerState

GLIBC = allocator.mallinfo() is not None


@pytest.mark.skipif(not GLIBC, reason="no glibc mallinfo2 here")
def test_mallinfo_reports_the_heap_and_trim_returns() -> None:
    info = allocator.mallinfo()
    assert info is not None
    assert set(info) >= {"arena", "hblkhd", "uordblks", "fordblks", "keepcost"}
    assert info["uordblks"] > 0 and all(v >= 0 for v in info.values())
    blob = [bytes(200_000) for _ in range(50)]  # freed below: something to give back
    del blob
    assert allocator.trim() in (True, False)


def test_everything_is_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "_libc", lambda: None)
    assert allocator.mallinfo() is None
    assert allocator.trim() is None
    assert allocator.limit_arenas(2) is None
    assert allocator.Trimmer(1).folded() is None


def test_the_trimmer_trims_every_n_records_and_never_at_zero(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(allocator, "trim", lambda: calls.append(1) or True)
    trimmer = allocator.Trimmer(3)
    done = [trimmer.folded() for _ in range(7)]
    assert done == [None, None, True, None, None, True, None]
    assert (len(calls), trimmer.trims, trimmer.records) == (2, 2, 7)
    off = allocator.Trimmer(0)
    assert {off.folded() for _ in range(5)} == {None} and len(calls) == 2


@pytest.fixture
def mallopt_asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The (option, value) of every ``mallopt`` call, to a libc that takes them all."""
    asked: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, option: int, value: int) -> int:
            asked.append((option, value))
            return 1

    monkeypatch.setattr(allocator, "_libc", lambda: FakeLibc())
    return asked


def test_the_arena_cap_goes_to_mallopt_as_m_arena_max(
        mallopt_asked: list[tuple[int, int]]) -> None:
    assert allocator.limit_arenas(0) is None  # glibc's default: nothing asked
    assert allocator.limit_arenas(2) is True
    assert mallopt_asked == [(-8, 2)]  # M_ARENA_MAX in glibc's malloc.h


def test_the_mmap_threshold_goes_to_mallopt_as_m_mmap_threshold(
        mallopt_asked: list[tuple[int, int]]) -> None:
    assert allocator.fix_mmap_threshold(0) is None  # glibc's default: nothing asked
    assert allocator.fix_mmap_threshold(131072) is True
    allocator.tune_malloc(2, 65536)
    assert mallopt_asked == [(-3, 131072), (-8, 2), (-3, 65536)]  # M_MMAP_THRESHOLD, M_ARENA_MAX


def test_storyline_replay_tunes_malloc_before_its_event_loop_and_in_its_page_processes(
        mallopt_asked: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay folds what the worker folds: its allocator is tuned the same way, before
    any Kafka client or RocksDB thread exists (the arena cap counts only then)."""
    from storyline.commands import replay as replay_command
    from storyline.settings import get_settings

    seen_by_the_loop: list[list[tuple[int, int]]] = []

    async def replayed(args: object) -> int:
        seen_by_the_loop.append(list(mallopt_asked))
        return 0

    monkeypatch.setattr(replay_command, "_run", replayed)
    monkeypatch.setenv("STORYLINE_MALLOC_ARENA_MAX", "3")
    monkeypatch.setenv("STORYLINE_MALLOC_MMAP_THRESHOLD", "65536")
    get_settings.cache_clear()
    try:
        assert replay_command.run(argparse.Namespace(stage=None)) == 0
        assert seen_by_the_loop == [[(-8, 3), (-3, 65536)]]  # M_ARENA_MAX, M_MMAP_THRESHOLD
        replay_command._process_started()  # a page replay process's initializer
        assert mallopt_asked[2:] == [(-8, 3), (-3, 65536)]
    finally:
        get_settings.cache_clear()


# A process that maps and frees a 4 MiB block, then asks for 1 MiB blocks; prints the bytes
# glibc holds in mappings of their own (mallinfo2's hblkhd) before and after.
_MAPPED_PROBE = """
import ctypes, sys
from storyline import allocator
if sys.argv[1] == "fixed":
    assert allocator.fix_mmap_threshold(128 * 1024)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(4 << 20))
before = allocator.mallinfo()["hblkhd"]
blocks = [libc.malloc(1 << 20) for _ in range(4)]
print(before, allocator.mallinfo()["hblkhd"])
"""


@pytest.mark.skipif(not GLIBC, reason="no glibc mallinfo2 here")
def test_with_the_threshold_fixed_a_large_block_stays_a_mapping_after_a_larger_one_is_freed(
        ) -> None:
    """glibc raises its threshold to a freed mapping's size, so after a frozen story's
    megabytes are freed the next buffers come from the heap; fixed, they stay mappings."""
    def mapped(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _MAPPED_PROBE, mode], check=True,
                             capture_output=True, text=True, env=_child_env()).stdout
        before, after = map(int, out.split())
        return after - before

    assert mapped("default") < 1 << 20  # the raised threshold: from the heap
    assert mapped("fixed") >= 4 << 20  # four mappings of their own


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    env.pop("GLIBC_TUNABLES", None)
    services = str(Path(allocator.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [services, env.get("PYTHONPATH")]))
    return env


def test_the_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().malloc_trim_every == allocator.TRIM_EVERY
    assert Settings().malloc_arena_max == allocator.ARENA_MAX
    assert Settings().malloc_mmap_threshold == allocator.MMAP_THRESHOLD
    monkeypatch.setenv("STORYLINE_MALLOC_TRIM_EVERY", "250")
    monkeypatch.setenv("STORYLINE_MALLOC_ARENA_MAX", "0")
    monkeypatch.setenv("STORYLINE_MALLOC_MMAP_THRESHOLD", "0")
    here = Settings()
    assert (here.malloc_trim_every, here.malloc_arena_max, here.malloc_mmap_threshold) == (
        250, 0, 0)
    monkeypatch.setenv("STORYLINE_MALLOC_TRIM_EVERY", "-1")
    with pytest.raises(ValidationError):
        Settings()


def _digest(outcomes: list[Any]) -> str:
    digest = hashlib.sha256()
    for outcome in outcomes:
        for event in outcome.events:
            digest.update(canonical_bytes(event))
    return digest.hexdigest()


def test_the_worker_trims_as_it_folds_and_the_fold_is_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = records(build_log([("flood", i % 4, "new") for i in range(4)]
                            + [("strike", i % 4, "new") for i in range(4)]))
    calls: list[int] = []
    monkeypatch.setattr(allocator, "trim", lambda: calls.append(1) or True)
    every = WorkerState(tmp_path / "a", trim_every=1)
    never = WorkerState(tmp_path / "b", trim_every=0)
    trimmed = [every.fold_now(k, v, p, 2_000_000) for k, v, p in log]
    assert len(calls) == len(log) == every.trimmer.trims
    plain = [never.fold_now(k, v, p, 2_000_000) for k, v, p in log]
    assert len(calls) == len(log) and never.trimmer.trims == 0
    assert _digest(trimmed) == _digest(plain) and any(o.events for o in plain)
    every.cold.close()
    never.cold.close()


def test_the_cold_store_block_cache_is_capped(tmp_path: Path) -> None:
    store = RocksColdStore.empty(tmp_path / "cold")
    try:
        assert store._db.property_int_value("rocksdb.block-cache-capacity") == BLOCK_CACHE_BYTES
    finally:
        store.close()


def test_the_names_memos_are_capped() -> None:
    assert _analyse.cache_info().maxsize == normalise.cache_info().maxsize == NAMES_MEMO_SIZE


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="no C library found")
def test_the_libc_handle_is_loaded_once() -> None:
    assert allocator._libc() is allocator._libc()


def test_the_fold_stage_trims_as_its_settings_say(tmp_path: Path) -> None:
    from storyline.stream.fold_stage import FoldStage

    stage = FoldStage(Settings(data_dir=tmp_path, malloc_trim_every=7))
    try:
        assert stage.state.trimmer.every == 7
    finally:
        stage.state.cold.close()
