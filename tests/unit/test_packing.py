"""The fold's packed bytes (storyline.domain.packing): Zstandard, and zlib streams written
by earlier code still read."""

from __future__ import annotations

import ctypes
import ctypes.util
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storyline.domain import packing


@given(st.binary(max_size=4096))
def test_what_is_packed_unpacks_to_itself(raw: bytes) -> None:
    packed = packing.pack(raw)
    assert packed[:4] == b"\x28\xb5\x2f\xfd"  # a Zstandard frame
    assert packing.unpack(packed) == raw


@given(st.binary(max_size=4096), st.sampled_from([1, 6, 9]))
def test_zlib_streams_of_earlier_code_are_read(raw: bytes, level: int) -> None:
    assert packing.unpack(zlib.compress(raw, level)) == raw


def test_a_pickled_state_packs_smaller_than_zlib_did() -> None:
    raw = b"".join(f"statement {i} of the story, {i % 97} dead\n".encode() for i in range(5000))
    assert len(packing.pack(raw)) < len(zlib.compress(raw, 1))


def test_threads_pack_and_unpack_at_once() -> None:
    """Each thread has its own contexts: a fold in a worker thread beside a snapshot."""
    blobs = [bytes([i]) * (10_000 + i) + bytes(range(256)) * i for i in range(64)]

    def round_trip(raw: bytes) -> bool:
        return all(packing.unpack(packing.pack(raw)) == raw for _ in range(20))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(round_trip, blobs))


def test_a_packed_value_kept_in_memory_holds_its_own_length() -> None:
    """What glibc holds for 200 packed values of 20 kB each (an article's packed sentences
    in a story in play) is what they are long, not the 20 kB each was before packing."""
    mallinfo2 = _mallinfo2()
    raw = bytes(range(256)) * 80  # 20 kB that pack to a few hundred bytes
    before = mallinfo2()
    kept = [packing.pack(raw + i.to_bytes(4, "little")) for i in range(200)]
    held = mallinfo2() - before
    assert all(packing.unpack(p)[:-4] == raw for p in kept)
    assert held < 200 * 20_000 // 4, f"{held} bytes held for {sum(map(len, kept))} packed"


def _mallinfo2() -> Callable[[], int]:
    """glibc's bytes in use now (``mallinfo2().uordblks``)."""

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("not glibc 2.33 or later")
    libc.mallinfo2.restype = MallInfo2
    return lambda: int(libc.mallinfo2().uordblks)
