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
    statements = [analysis.statement(i) for i in range(analysis.sentence_count)]
    for claim in lead:
        for other in (*lead, *statements):
            for _ in range(2):
                assert summary._supports_cached(claim, other) == summary.supports(claim, other)


SENTENCES = (
    "Rescuers pulled 12 miners alive from the flooded pit on Sunday.",
    "Rescuers pulled 12 miners alive from the flooded pit late Sunday.",
    "Two more miners are still missing, the company said.",
    "Ok.",
    "Rescuers did not pull 12 miners alive from the flooded pit.",
    "The flooded pit had been closed for safety checks in 2009, the company said.",
    "Rescuers pulled 12 miners alive from the flooded pit on Sunday.",
)


def test_statements_built_on_demand_equal_the_direct_ones() -> None:
    analysis = summary._analyse(SENTENCES, (), frozenset())
    for i, raw in enumerate(SENTENCES):
        words = tuple(summary.tokens(raw))
        direct = summary.Plain(summary.terms_of(raw), frozenset(
            w.replace(",", "") for w in words if w[0].isdigit()), summary._negated(words), words)
        assert analysis.sentence(i) == raw
        built = analysis.statement(i)
        assert built == direct
        assert analysis.statement(i) is built  # built once


def test_band_arrays_find_what_a_key_index_finds() -> None:
    analysis = summary._analyse(SENTENCES, (), frozenset())
    index: dict[int, list[int]] = {}
    for i, raw in enumerate(SENTENCES):
        terms = summary.terms_of(raw)
        for key in (summary._minhash_keys(terms) if len(terms) >= 3 else ()):
            index.setdefault(key, []).append(i)
    assert index, "the sentences have keys"
    for key, found in index.items():
        assert list(analysis.sentences_with(key)) == found
        other_band = key ^ (1 << 64) if key >> 64 < 3 else key - (1 << 64)
        assert list(analysis.sentences_with(other_band)) == index.get(other_band, [])
    assert list(analysis.sentences_with(12345)) == []


def test_remembered_supporting_sentences_equal_the_direct_search() -> None:
    claims = summary._analyse(SENTENCES, (), frozenset()).lead
    others = [summary._analyse(SENTENCES[k:] + SENTENCES[:k], (), frozenset())
              for k in range(len(SENTENCES))]

    def direct(claim: summary.Sentence, analysis: summary.Analysis) -> int | None:
        found = [i for key in claim.keys for i in analysis.sentences_with(key)
                 if summary.supports(claim, analysis.statement(i))]
        return min(found, default=None)

    for claim in claims:
        for other in others:
            for _ in range(2):  # the second time from the claim's memo
                assert summary._supporting_sentence(claim, other) == direct(claim, other)
    assert len({a.serial for a in others}) == len(others)
