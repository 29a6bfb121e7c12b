"""Bytes the fold packs for its own keeping: a frozen story's state, an article's facts and
sentences, a summary analysis. Zstandard at level 1 packs timeline17-dev's largest story
state (3.4 MB pickled) to 1.54 MB in 7 ms and unpacks it in 2, where zlib at level 1 took
38 and 11 ms for 1.59 MB: freezing and thawing long stories is what a fold over its
articles budget spends its time on (docs/benchmarks.md, sessions 36-37).

Blobs zlib packed (cold stores and snapshots written by earlier code) are told apart by
their first bytes (a zlib stream never starts with Zstandard's magic number) and read as
before. Nothing packed here is ever hashed or published: packing changes no revision."""

from __future__ import annotations

import threading
import zlib

import zstandard

LEVEL = 1
# python-zstandard hands back its output buffer allocated at the input's bound with only its
# length cut, so a packed value kept in memory (an article's packed facts and sentences in
# a story in play) held about as much memory as unpacked: +6 MB of glibc heap after 5,000
# synthetic articles. Such values are copied to their own length. A larger input is a
# state on its way to the cold store or a snapshot, not kept: copying it would only cost a
# fresh allocation of megabytes (~2 ms for a 3.4 MB pickle).
COPY_BELOW = 1 << 20
_MAGIC = b"\x28\xb5\x2f\xfd"  # every Zstandard frame's first four bytes
# A (de)compression context must not be used by two threads at once (a fold runs in a
# worker thread while a snapshot may pack beside it): one of each per thread.
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    found: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if found is None:
        found = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    return found


def _decompressor() -> zstandard.ZstdDecompressor:
    found: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if found is None:
        found = _local.decompressor = zstandard.ZstdDecompressor()
    return found


def pack(raw: bytes) -> bytes:
    packed: bytes = _compressor().compress(raw)
    return bytes(memoryview(packed)) if len(raw) < COPY_BELOW else packed


def unpack(blob: bytes) -> bytes:
    """``raw`` of ``pack(raw)``, or of a zlib stream written by earlier code."""
    if blob[:4] == _MAGIC:
        raw: bytes = _decompressor().decompress(blob)
        return raw
    return zlib.decompress(blob)
