"""The vocabularies' term -> id map: a fingerprint table that never loses or changes an id,
whatever it has grown through, and answers alike in every process."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.assign.term_ids import FingerprintTable, TermIds, fingerprint

# fingerprints from a small pool of low bits, so that homes collide and probes wrap around
_FINGERPRINTS = st.integers(1, 40).map(lambda low: low | (low * 0x9E3779B97F4A7C15 << 8)
                                       & 0xFFFF_FFFF_FFFF_FF00)


@settings(max_examples=200, deadline=None)
@given(st.lists(_FINGERPRINTS, max_size=120), st.lists(_FINGERPRINTS, max_size=20))
def test_the_table_answers_as_a_dict_of_first_ids_through_every_rebuild(
        added: list[int], others: list[int]) -> None:
    """Each fingerprint keeps the first id it was added with; one never added is None;
    also after the slots doubled (from 4) several times, and after a pickle."""
    with mock.patch.object(FingerprintTable, "FIRST_SLOTS", 4):
        table = FingerprintTable()
        expected: dict[int, int] = {}
        for tid, fp in enumerate(added):
            table.add(fp, tid)
            expected.setdefault(fp, tid)
        assert len(table) == len(expected)
        assert len(table) * 100 <= 70 * len(table._fps)  # doubled before 70 % full
        for known in (table, pickle.loads(pickle.dumps(table))):
            assert all(known.get(fp) == tid for fp, tid in expected.items())
            assert all(known.get(fp) is None for fp in others if fp not in expected)


def test_a_fingerprint_is_the_same_in_every_process() -> None:
    """A table is pickled with a snapshot and read by another process: fingerprints must not
    come from ``hash()``, which is salted per process."""
    script = ("from storyline.domain.assign.term_ids import fingerprint; "
              "print([fingerprint(w) for w in ('ceasefire', 'halden', '', 'é')])")
    made = [subprocess.run([sys.executable, "-c", script], capture_output=True, check=True,
                           text=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")]
    assert made[0] == made[1]
    assert fingerprint("ceasefire") != fingerprint("Ceasefire") and fingerprint("") != 0
    # XXH3-64 of the UTF-8 bytes: a snapshot's tables hold these, so another function (or
    # encoding) needs a STATE_LAYOUT bump, or every term of a restored worker is new again
    assert fingerprint("ceasefire") == 12887782990951494937
    assert fingerprint("é") == 17839895020865391795


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([f"w{i}" for i in range(30)]), max_size=200),
       st.integers(0, 40), st.integers(1, 9))
def test_bounded_ids_are_the_ids_of_a_dict(words: list[str], bound_at: int, keep: int) -> None:
    """Bounded at any point (terms already in the dict go to the table then), the map gives
    every term the id a plain dict gives it, and holds at most ``keep`` terms."""
    ids, plain = TermIds(), {}
    for at, word in enumerate(words):
        if at == bound_at:
            ids.bound(keep)
        found = ids.get_and_hold(word)
        if found is None:
            ids.add(word, len(plain))
            plain[word] = len(plain)
        else:
            assert found == plain[word]
        if at >= bound_at:
            assert len(ids) <= keep
            assert ids.held([word]) == [plain[word]]  # just used: in the dict
    assert [h if h is not None else o for h, o in zip(ids.held(list(plain)),
                                                      ids.older(list(plain)), strict=True)
            ] == list(plain.values())
    assert ids.older(["never"]) == [None]
