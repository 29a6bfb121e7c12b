"""Text features for clustering: tokens, incrementally updated document frequencies, and
bounded sparse TF-IDF vectors kept as compact arrays (memory matters at 10^6 stories)."""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable

_WORD = re.compile(r"[a-z][a-z\-]*[a-z]|[a-z]")

STOPWORDS = frozenset(
    """a about above after again against all almost also although always am among an and
    another any anyone anything are around as at back be became because become been before
    being below between both but by can cannot could did do does doing done down during each
    either else enough even ever every few for from further get gets getting give given go
    goes going gone got had has have having he her here hers herself him himself his how
    however i if in including into is it its itself just last least less like made make
    many may me might more most mostly much must my myself near need never new next no nor
    not now of off often on once one only or other others otherwise our ours ourselves out
    over own per perhaps put rather really said same say says see seem seemed seems several
    she should since so some something still such take than that the their theirs them
    themselves then there these they thing things this those though through thus to told too
    took toward towards two under until up upon us use used very via was we well were what
    whatever when where whether which while who whole whom whose why will with within without
    would year years yet do go he me my no so we an as at be by if in is it of on or to up you your yours yourself mr mrs ms time times week weeks day days
    today yesterday tomorrow monday tuesday wednesday thursday friday saturday sunday first
    three four five people later including according among told asked added say going""".split()
)


def tokens(text: str) -> list[str]:
    """Lowercased content words with a light plural strip (cheap, deterministic)."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word) < 2 or word in STOPWORDS:
            continue
        if len(word) > 4 and word[-1] == "s" and word[-2] not in "su":
            word = word[:-1]
        out.append(word)
    return out


class Vocabulary:
    """Term ids and document frequencies, updated one document at a time.

    Ids are handed out in first-seen order, so they are a pure function of the log."""

    __slots__ = ("ids", "df", "docs")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.df: list[int] = []
        self.docs = 0

    def intern(self, term: str) -> int:
        tid = self.ids.get(term)
        if tid is None:
            tid = self.ids[term] = len(self.df)
            self.df.append(0)
        return tid

    def add_document(self, term_ids: Iterable[int]) -> None:
        self.docs += 1
        df = self.df
        for tid in term_ids:
            df[tid] += 1

    def remove_document(self, term_ids: Iterable[int]) -> None:
        self.docs = max(0, self.docs - 1)
        df = self.df
        for tid in term_ids:
            if df[tid] > 0:
                df[tid] -= 1

    def idf(self, tid: int) -> float:
        return math.log((self.docs + 1) / (self.df[tid] + 1)) + 1.0


class SparseVector:
    """An L2-normalised sparse vector as two parallel arrays, ids sorted by weight desc then id."""

    __slots__ = ("ids", "weights")

    def __init__(self, ids: array[int], weights: array[float]) -> None:
        self.ids = ids
        self.weights = weights

    @classmethod
    def top(cls, weights: dict[int, float], k: int) -> SparseVector:
        best = sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:k]
        norm = math.sqrt(sum(w * w for _, w in best)) or 1.0
        return cls(array("I", [t for t, _ in best]), array("f", [w / norm for _, w in best]))

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.ids, self.weights, strict=True))

    def dot(self, query: dict[int, float]) -> float:
        get = query.get
        return sum(w * get(t, 0.0) for t, w in zip(self.ids, self.weights, strict=True))


def tfidf(counts: dict[int, int], vocab: Vocabulary) -> dict[int, float]:
    """Sublinear tf times idf, L2-normalised over all terms."""
    idf = vocab.idf
    weights = {t: (1.0 + math.log(c)) * idf(t) for t, c in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}
