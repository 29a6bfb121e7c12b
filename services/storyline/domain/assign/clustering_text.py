"""Text features for clustering: tokens, incrementally updated document frequencies, and
bounded sparse TF-IDF vectors kept as compact arrays (memory matters at 10^6 stories)."""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Sequence
from typing import cast

import numpy as np
import numpy.typing as npt

from storyline.domain.assign import kernels
from storyline.domain.assign.term_ids import TermIds
from storyline.domain.floats import (
    log_of,
    log_of_ratio,
    logs_of_counts,
    ordered_sum,
    squared_norm,
)

_WORD = re.compile(r"[a-z][a-z\-]*[a-z]|[a-z]")
# ``term_counts`` finds the same words without the regex: in the lowercased text encoded as
# ASCII (any other character as "?"), every byte but a-z and "-" becomes a space; a word
# is then a run between spaces without its leading and trailing hyphens
_RUNS = bytes(b if 97 <= b <= 122 or b == 45 else 32 for b in range(256))

_STOPWORDS_TEXT = (
    "a about above according added after again against all almost also although always am "
    "among an and another any anyone anything are around as asked at back be became "
    "because become been before being below between both but by can cannot could day days "
    "did do does doing done down during each either else enough even ever every few first "
    "five for four friday from further get gets getting give given go goes going gone got "
    "had has have having he her here hers herself him himself his how however i if in "
    "including into is it its itself just last later least less like made make many may "
    "me might monday more most mostly mr mrs ms much must my myself near need never new "
    "next no nor not now of off often on once one only or other others otherwise our ours "
    "ourselves out over own people per perhaps put rather really said same saturday say "
    "says see seem seemed seems several she should since so some something still such "
    "sunday take than that the their theirs them themselves then there these they thing "
    "things this those though three through thursday thus time times to today told "
    "tomorrow too took toward towards tuesday two under until up upon us use used very "
    "via was we wednesday week weeks well were what whatever when where whether which "
    "while who whole whom whose why will with within without would year years yesterday "
    "yet you your yours yourself"
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def _normalise(word: str) -> str | None:
    if len(word) < 2 or word in STOPWORDS:
        return None
    if len(word) > 4 and word[-1] == "s" and word[-2] not in "su":
        return word[:-1]
    return word


class Vocabulary:
    """Term ids and document frequencies, updated one document at a time.

    Ids are handed out in first-seen order, so they are a pure function of the log. The
    term -> id map (:class:`~storyline.domain.assign.term_ids.TermIds`) can be bounded: the
    terms in use in a dict, every term by fingerprint in a compact table; the frequencies
    stay in memory, 8 bytes a term."""

    __slots__ = ("_dense", "df", "docs", "ids", "size", "strings")

    def __init__(self) -> None:
        self.ids = TermIds()
        self.size = 0  # terms interned
        # id -> term, for explanations (``storyline story explain``); None where memory must
        # not grow with the vocabulary (a clusterer with a cold store, unless asked)
        self.strings: list[str] | None = []
        self.df: npt.NDArray[np.int64] = np.zeros(1024, dtype=np.int64)
        self.docs = 0
        self._dense: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)

    def dense(self) -> npt.NDArray[np.float64]:
        """A zeroed scratch array indexed by term id (its users leave it zeroed)."""
        if len(self._dense) < len(self.df):
            self._dense = np.zeros(len(self.df), dtype=np.float64)
        return self._dense

    def intern(self, term: str) -> int:
        # a term found in the table is held in the dict again, as the most recent, so a
        # term in use stays there and the least recently used ones are dropped
        tid = self.ids.get_and_hold(term)
        return self._add(term) if tid is None else tid

    def _add(self, term: str) -> int:
        """The next id, for a term never seen."""
        tid = self.size
        self.ids.add(term, tid)
        self.size += 1
        if self.strings is not None:
            self.strings.append(term)
        if tid >= len(self.df):
            self.df = np.concatenate((self.df, np.zeros(len(self.df), dtype=np.int64)))
        return tid

    def intern_all(self, terms: Sequence[str]) -> list[int]:
        """``[self.intern(term) for term in terms]``: the same ids. A term held in the dict
        when the batch starts costs one look-up and changes nothing (one by one, an add
        before it might drop it from the dict and it would be held again: which terms are
        held may differ, never an id); the others are looked for in the table, then each is
        held again, or added, in the order of ``terms``."""
        ids = self.ids.held(terms)
        if None not in ids:  # (scanned in C)
            return cast(list[int], ids)
        misses = [i for i, tid in enumerate(ids) if tid is None]
        if not self.ids.bounded:
            # every miss is a new term: ids in order of first use, added at once
            fresh = dict.fromkeys([terms[i] for i in misses], 0)
            for new_id, term in enumerate(fresh, self.size):
                fresh[term] = new_id
            self.ids.add_unbounded(fresh)
            self.size += len(fresh)
            if self.strings is not None:
                self.strings.extend(fresh)
            while self.size > len(self.df):  # (as _add grows it: doubled until it fits)
                self.df = np.concatenate((self.df, np.zeros(len(self.df), dtype=np.int64)))
            for i in misses:
                ids[i] = fresh[terms[i]]
            return cast(list[int], ids)
        older = self.ids.older([terms[i] for i in misses])
        done: dict[str, int] = {}  # a term met again in ``terms`` is in the dict by then
        for i, tid in zip(misses, older, strict=True):
            term = terms[i]
            known = done.get(term)
            if known is None:
                if tid is None:
                    known = self._add(term)
                else:
                    self.ids.hold(term, tid)
                    known = tid
                done[term] = known
            ids[i] = known
        return cast(list[int], ids)

    def add_document(self, term_ids: npt.NDArray[np.int64]) -> None:
        """``term_ids`` unique."""
        self.docs += 1
        self.df[term_ids] += 1

    def idf(self, tid: int) -> float:
        return log_of_ratio(self.docs + 1, int(self.df[tid]) + 1) + 1.0


class SparseVector:
    """An L2-normalised sparse vector as two parallel arrays, ids sorted by weight desc then id."""

    __slots__ = ("ids", "weights")

    def __init__(self, ids: array[int], weights: array[float]) -> None:
        self.ids = ids
        self.weights = weights

    @classmethod
    def top(cls, weights: dict[int, float], k: int) -> SparseVector:
        ids = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
        values = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
        return cls.top_arrays(ids, values, k)

    @classmethod
    def top_arrays(
        cls, ids: npt.NDArray[np.int64], values: npt.NDArray[np.float64], k: int
    ) -> SparseVector:
        if len(ids) == 0 or k <= 0:
            return cls.empty()
        ids, values = _first(ids, values, k)
        norm = math.sqrt(squared_norm(values)) or 1.0
        return cls(
            array("I", ids.astype(np.uint32).tobytes()),
            array("f", (values / norm).astype(np.float32).tobytes()),
        )

    @classmethod
    def top_prefixes(
        cls, ids: npt.NDArray[np.int64], values: npt.NDArray[np.float64], ks: Sequence[int]
    ) -> list[SparseVector]:
        """``[top_arrays(ids, values, k) for k in ks]`` (``ids`` distinct) from one sort: the
        first k terms in the order (weight desc, id asc) are the first k of the first
        max(ks), and the left-to-right sum of their squares is the running sum's k-th."""
        most = max(ks)
        if len(ids) == 0 or most <= 0:
            return [cls.empty() for _ in ks]
        ids, values = _first(ids, values, most)
        # (squared_norm's running sum, read at each prefix's end)
        sums = np.cumsum(values * values).tolist()
        raw_ids = ids.astype(np.uint32)
        vectors: list[SparseVector] = []
        for k in ks:
            if k <= 0:
                vectors.append(cls.empty())
                continue
            k = min(k, len(ids))
            norm = math.sqrt(sums[k - 1]) or 1.0
            vectors.append(cls(array("I", raw_ids[:k].tobytes()),
                               array("f", (values[:k] / norm).astype(np.float32).tobytes())))
        return vectors

    @classmethod
    def empty(cls) -> SparseVector:
        return cls(array("I"), array("f"))

    def merged_arrays(
        self, scale: float, other: SparseVector
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The ids and weights of ``merged = {t: w * scale for t, w in self}`` after adding
        ``other``'s weights term by term, in the order the dict would hold them (this
        vector's ids, then ``other``'s new ones) and with the same float64 products and sums:
        what ``top(merged, k)`` reads, without building the dict."""
        compiled = kernels.active()
        if compiled is not None:
            return compiled.merged(
                np.frombuffer(self.ids, dtype=np.uint32),
                np.frombuffer(self.weights, dtype=np.float32),
                scale, np.frombuffer(other.ids, dtype=np.uint32),
                np.frombuffer(other.weights, dtype=np.float32),
            )
        ids = np.frombuffer(self.ids, dtype=np.uint32).astype(np.int64)
        values = np.frombuffer(self.weights, dtype=np.float32).astype(np.float64) * scale
        more = np.frombuffer(other.ids, dtype=np.uint32).astype(np.int64)
        added = np.frombuffer(other.weights, dtype=np.float32).astype(np.float64)
        if len(ids) == 0 or len(more) == 0:
            return np.concatenate((ids, more)), np.concatenate((values, added))
        order = ids.argsort()
        at = ids.searchsorted(more, sorter=order)
        at[at >= len(ids)] = 0
        where = order[at]
        hit = ids[where] == more
        values[where[hit]] += added[hit]  # ids are distinct: one sum per term
        new = ~hit
        return np.concatenate((ids, more[new])), np.concatenate((values, added[new]))

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.ids, self.weights, strict=True))

    def dot(self, query: dict[int, float]) -> float:
        get = query.get
        return ordered_sum(w * get(t, 0.0) for t, w in zip(self.ids, self.weights, strict=True))


class Query:
    """A full article vector (ids ascending), ready for many dot products at once."""

    __slots__ = ("_tops", "ids", "vocab", "weights")

    def __init__(
        self,
        ids: npt.NDArray[np.int64],
        weights: npt.NDArray[np.float64],
        vocab: Vocabulary | None = None,
    ) -> None:
        self.ids = ids
        self.weights = weights
        self.vocab = vocab  # when set, its scratch array replaces a binary search per term
        self._tops: dict[int, SparseVector] = {}

    def tops(self, *ks: int) -> list[SparseVector]:
        """``SparseVector.top_arrays(self.ids, self.weights, k)`` for each k, kept: the
        ones not made yet from one sort (``SparseVector.top_prefixes``)."""
        made = self._tops
        wanted = [k for k in ks if k not in made]
        if wanted:
            made.update(zip(wanted, SparseVector.top_prefixes(self.ids, self.weights, wanted),
                            strict=True))
        return [made[k] for k in ks]

    def dots(self, vectors: list[SparseVector]) -> list[float]:
        """The dot product of the query with each vector, in one vectorised pass."""
        if not vectors:
            return []
        buffers = [v.ids for v in vectors]
        sizes = list(map(len, buffers))
        if len(self.ids) == 0 or not any(sizes):
            return [0.0] * len(vectors)
        lengths = np.fromiter(sizes, dtype=np.int64, count=len(sizes))
        # one copy of all the vectors' buffers each, not an array object per vector
        ids = np.frombuffer(b"".join(buffers), dtype=np.uint32)
        weights = np.frombuffer(b"".join([v.weights for v in vectors]), dtype=np.float32)
        compiled = kernels.active()
        if self.vocab is not None and compiled is not None:
            # scatter the query into a dense array, gather, multiply, sum and zero it again:
            # the products and the running sum of the numpy code below, compiled
            out = compiled.dots(self.ids, self.weights, self.vocab.dense(), ids, weights,
                                lengths)
            compiled_dots: list[float] = out.tolist()
            return compiled_dots
        if self.vocab is not None:
            # scatter the query into a dense array, gather, and zero it again: the same
            # products as the binary search, in one pass
            dense = self.vocab.dense()
            dense[self.ids] = self.weights
            contrib = dense[ids] * weights
            dense[self.ids] = 0.0
        else:
            pos = self.ids.searchsorted(ids)
            pos[pos >= len(self.ids)] = 0
            hit = self.ids[pos] == ids
            contrib = np.where(hit, self.weights[pos], 0.0) * weights
        ends = lengths.cumsum()
        sums = np.concatenate(([0.0], contrib.cumsum()))
        dots: list[float] = (sums[ends] - sums[ends - lengths]).tolist()
        return dots


# up to this many terms, one sort of them all finds the first k faster than _top_k's
# partition and passes (~10 against ~30 µs for 266 terms, 14 against 31 for 340)
_SORT_ALL = 1024


def _first(ids: npt.NDArray[np.int64], values: npt.NDArray[np.float64], k: int
           ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The first ``k`` terms in the order (weight desc, id asc), in that order (``ids``
    distinct): the order is total, so sorting all of them or first finding the k (``_top_k``)
    and sorting those gives the same terms in the same order."""
    if len(ids) > k and len(ids) > _SORT_ALL:
        keep = _top_k(ids, values, k)
        ids, values = ids[keep], values[keep]
    order = np.lexsort((ids, -values))[:k]  # weight desc, then id: no dependence on dict order
    return ids[order], values[order]


def _top_k(ids: npt.NDArray[np.int64], values: npt.NDArray[np.float64], k: int
           ) -> npt.NDArray[np.intp]:
    """Positions of the ``k`` first of the terms in the order (weight desc, id asc): every
    term above the k-th weight, and of those at it, the smallest ids. (``argpartition``
    alone keeps whichever tied terms its algorithm leaves in front, and numpy picks that
    algorithm by the CPU: an AVX-512 one here, another elsewhere, so the vectors, and with
    them a replay's assignments, differed by machine.)"""
    kth = np.partition(values, len(values) - k)[len(values) - k]  # the k-th largest weight
    above = np.flatnonzero(values > kth)
    tied = np.flatnonzero(values == kth)
    tied = tied[np.argsort(ids[tied], kind="stable")][: k - len(above)]
    return np.concatenate((above, tied))


def tfidf(counts: dict[int, int], vocab: Vocabulary,
          ids: npt.NDArray[np.int64] | None = None) -> Query:
    """Sublinear tf times idf over all terms, L2-normalised; ``ids``: the keys of ``counts``
    as an array, when made already."""
    if ids is None:
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.int64, count=len(counts))
    order = ids.argsort()
    ids, tf = ids[order], tf[order]
    weights = ((1.0 + logs_of_counts(tf))
               * (log_of(vocab.docs + 1) + 1.0 - logs_of_counts(vocab.df[ids] + 1)))
    norm = math.sqrt(squared_norm(weights)) or 1.0
    return Query(ids, weights / norm, vocab)


# the stop-words as the terms kernel looks them up (``kernels.word_code``, sorted)
_STOP_CODES = np.array(sorted(map(kernels.word_code, map(str.encode, STOPWORDS))),
                       dtype=np.int64)
assert max(map(len, STOPWORDS)) <= 12  # what word_code can number


def _runs(text: str) -> list[bytes]:
    """The runs of a-z and "-" in ``text.lower()``, split in C: without their leading and
    trailing hyphens, and where that leaves a word, ``_WORD.findall(text.lower())``. As
    bytes: split and counted so, then only the distinct runs decoded (a 671 kB page has
    120,000 runs, 8,800 distinct)."""
    return text.lower().encode("ascii", "replace").translate(_RUNS).split()


def term_counts(text: str) -> dict[str, int]:
    """The content terms of ``text`` (lowercased, stop-words out, light plural strip) with
    their counts, in order of first use: with the terms of the texts before, the order the
    vocabulary hands out ids in.

    The words are the runs of a-z and "-" in the lowercased text encoded as ASCII (any
    other character as "?") without their leading and trailing hyphens: where that leaves a
    word, ``_WORD.findall(text.lower())``; each is ``_normalise``d and counted (by the
    compiled ``kernels.terms`` when switched on, which hands back the terms in one
    string)."""
    compiled = kernels.active()
    if compiled is not None:
        runs = text.lower().encode("ascii", "replace").translate(_RUNS)
        joined, numbers = compiled.terms(np.frombuffer(runs, dtype=np.uint8), _STOP_CODES)
        return dict(zip(joined.tobytes().decode("ascii").split(), numbers.tolist(),
                        strict=True))
    counts: dict[str, int] = {}
    # words counted in C first: one _normalise per distinct word, same keys in the same order
    for run, n in Counter(_runs(text)).items():
        word = run.strip(b"-") if run.startswith(b"-") or run.endswith(b"-") else run  # "--": ""
        term = _normalise(word.decode("ascii"))
        if term is not None:
            counts[term] = counts.get(term, 0) + n
    return counts
