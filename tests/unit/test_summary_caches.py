"""The summary's speed caches must give exactly what the direct computations give."""

from __future__ import annotations

import zlib

from storyline.domain import summary


def _direct_minhash(terms: tuple[str, ...]) -> tuple[int, ...]:
    encoded = [t.encode() for t in terms]
    mins = [min(zlib.crc32(e, seed) for e in encoded) for seed in summary.MINHASH_SEEDS]
    return tuple((band << 64) | (mins[2 * band] << 32) | mins[2 * band + 1]
                 for band in range(len(summary.MINHASH_SEEDS) // 2))


def test_minhash_keys_equal_direct_crc32() -> None:
    texts = ["Troops crossed the border at dawn on Friday, officials said.",
             "The rig burned for 36 hours before it sank into the Gulf.",
             "Troops crossed the border at dawn."]
    for text in texts * 2:  # the second pass is served from the term table
        terms = summary.terms_of(text)
        assert summary._minhash_keys(terms) == _direct_minhash(terms)
    summary._TERM_HASHES.clear()
    terms = summary.terms_of(texts[0])
    assert summary._minhash_keys(terms) == _direct_minhash(terms)


def test_cached_support_equals_support() -> None:
    analysis = summary._analyse(
        ("Rescuers pulled 12 miners alive from the flooded pit on Sunday.",
         "Rescuers pulled 12 miners alive from the flooded pit late Sunday.",
         "Rescuers did not pull 12 miners alive from the flooded pit."),
        (), frozenset())
    lead = analysis.lead
    assert len(lead) == 3
    for claim in lead:
        for other in (*lead, *analysis.statements):
            for _ in range(2):
                assert summary._supports_cached(claim, other) == summary.supports(claim, other)
