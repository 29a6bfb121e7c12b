"""The fold's packed bytes (storyline.domain.packing): Zstandard, and zlib streams written
by earlier code still read."""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor

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
