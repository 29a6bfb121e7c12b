"""Near-duplicate detection: exact copies, re-sends, lightly edited and syndicated copies.

Each article becomes the set of hashes of its word 4-shingles. Candidates come from a
bottom-k sketch (the k smallest shingle hashes, each indexed), so lookup cost does not grow
with the number of remembered articles; every candidate is then verified on the exact
shingle sets. A pair is a copy when its Jaccard similarity is high, or when one text is
almost wholly contained in the other and not much shorter (a syndicated copy trimmed at the
end). Two distinct articles on one event share sentences and boilerplate, but not most of
their shingles, so they fail verification.

Memory is bounded: only the most recent ``max_articles`` are remembered (copies arrive
close together in the log: on the dev sets every copy came within 607 articles of its
original, so 30,000 is ~50 times that, weeks of a mid-size wire), about 2.3 kB each: the
shingle set as raw bytes, and posting lists that are a bare uri while they hold one (most
sketch values belong to one article). Once a cold store is attached (``attach_cold_store``)
only the shingle sets of the most recent articles stay in memory, the others are in the
store and read back to verify a candidate: about 0.9 kB an article in memory.
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from storyline.domain.assign import kernels
from storyline.domain.coldstore import ColdStore, SpilledMap

_WORD = re.compile(r"[a-z0-9]+")
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHINGLE = 4
_MAX_WORDS = 400
# ``shingles`` reads the words of _WORD without the regex: in the lowercased text encoded as
# ASCII (any other character as "?"), every byte but a-z and 0-9 becomes a space
_SPACES = bytes(b if 97 <= b <= 122 or 48 <= b <= 57 else 32 for b in range(256))
_CRC32 = kernels.crc32_table()

Shingles = npt.NDArray[np.uint32]


@dataclass(frozen=True)
class DedupConfig:
    sketch_size: int = 8  # bottom-k hashes indexed per article
    min_jaccard: float = 0.5  # lightly edited copies keep well above this
    min_containment: float = 0.8  # share of the shorter text found in the longer one
    min_length_ratio: float = 0.5  # a contained copy is at least half the original's length
    max_articles: int = 30_000  # remembered articles (FIFO); ~70 MB
    max_candidates: int = 8  # candidates verified per lookup


def shingles(text: str) -> Shingles:
    """Sorted unique 32-bit hashes of the word 4-shingles (the words themselves if fewer).

    The words are ``_opening_words``: the first ``_MAX_WORDS`` (copies share their start,
    and the cost stays bounded); each word's CRC-32 (``zlib.crc32``), each shingle's hash
    the running ``h * MIX + next`` over its words (wrapping at 2^64), finalised as
    ``(h ^ h >> 29) * MIX``, its top 32 bits: computed by the compiled ``kernels.shingles``
    on the text's bytes when switched on, else by ``zlib`` and numpy."""
    compiled = kernels.active()
    if compiled is not None:
        spaced = text.lower().encode("ascii", "replace").translate(_SPACES)
        found: Shingles = compiled.shingles(np.frombuffer(spaced, dtype=np.uint8), _MAX_WORDS,
                                            _SHINGLE, _CRC32)
        return found
    words = _opening_words(text)
    if not words:
        return np.zeros(0, dtype=np.uint32)
    h = np.fromiter(map(zlib.crc32, words), dtype=np.uint64, count=len(words))
    if len(words) >= _SHINGLE:
        n = len(words) - _SHINGLE + 1
        acc = h[:n].copy()
        for i in range(1, _SHINGLE):
            acc = acc * _MIX + h[i : i + n]  # wraps mod 2^64 by design
        h = acc
    h = (h ^ (h >> np.uint64(29))) * _MIX
    return np.unique((h >> np.uint64(32)).astype(np.uint32))


def _opening_words(text: str) -> list[bytes]:
    """``[w.encode() for w in _WORD.findall(text.lower())[:_MAX_WORDS]]``, split in C (the
    words ``shingles`` hashes)."""
    words = text.lower().encode("ascii", "replace").translate(_SPACES).split(None, _MAX_WORDS)
    del words[_MAX_WORDS:]  # (the rest of the text, unsplit)
    return words


def overlap(a: Shingles, b: Shingles) -> tuple[float, float]:
    """(Jaccard, containment of the smaller set in the larger)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0, 0.0
    # (np.intersect1d's count without its Python wrapper: both are sorted and unique)
    at = b.searchsorted(a)
    at[at == len(b)] = 0
    common = int(np.count_nonzero(b[at] == a))
    return common / (len(a) + len(b) - common), common / min(len(a), len(b))


@dataclass(slots=True)
class _Entry:
    sketch: bytes  # its bottom-k shingle hashes as uint32 (indexed in the postings)
    root: str  # the earliest article this one copies (itself when original)
    seq: int  # arrival order: ties between candidates go to the earliest


class DuplicateIndex:
    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # uri -> the sorted uint32 shingle hashes as bytes (the oldest in the cold store)
        self._shingles: SpilledMap[bytes] = SpilledMap("dedup.shingles:", 1 << 62)
        # sketch value -> the uri holding it, or the uris (in order of addition) when several
        self._postings: dict[int, str | list[str]] = {}
        self._seq = 0

    def attach_cold_store(self, store: ColdStore, keep: int) -> None:
        """Keep the shingle sets of the ``keep`` most recent articles in memory, the others
        in ``store`` (what is found does not depend on where they are)."""
        self._shingles.keep = keep
        self._shingles.attach(store)

    def __len__(self) -> int:
        return len(self._entries)

    def is_copy(self, a: Shingles, b: Shingles) -> bool:
        cfg = self.config
        jaccard, containment = overlap(a, b)
        if jaccard >= cfg.min_jaccard:
            return True
        ratio = min(len(a), len(b)) / max(len(a), len(b), 1)
        return containment >= cfg.min_containment and ratio >= cfg.min_length_ratio

    def find(self, text: str) -> str | None:
        """The uri of the original this text copies, or None."""
        return self._find(shingles(text))

    def _find(self, sh: Shingles) -> str | None:
        sketch = self._sketch(sh)
        hits: dict[str, int] = {}
        for value in sketch:
            posting = self._postings.get(value)
            if posting is None:
                continue
            for uri in (posting,) if isinstance(posting, str) else posting:
                hits[uri] = hits.get(uri, 0) + 1
        if not hits:
            return None
        entries = self._entries
        ranked = sorted(hits, key=lambda u: (-hits[u], entries[u].seq))
        for uri in ranked[: self.config.max_candidates]:
            if self.is_copy(sh, np.frombuffer(self._shingles[uri], dtype=np.uint32)):
                return entries[uri].root
        return None

    def add(self, uri: str, text: str) -> str | None:
        """Remember ``uri``; returns the original it copies (or None), like ``find``."""
        return self.add_shingles(uri, shingles(text))

    def add_shingles(self, uri: str, sh: Shingles) -> str | None:
        """``add`` with the text's ``shingles`` computed already."""
        root = self._find(sh)
        self.remove(uri)
        self._seq += 1
        self._entries[uri] = _Entry(sh[: self.config.sketch_size].tobytes(), root or uri,
                                    self._seq)
        self._shingles[uri] = sh.tobytes()
        postings = self._postings
        for value in self._sketch(sh):
            posting = postings.get(value)
            if posting is None:
                postings[value] = uri
            elif isinstance(posting, str):
                postings[value] = [posting, uri]
            else:
                posting.append(uri)
        while len(self._entries) > self.config.max_articles:
            self.remove(next(iter(self._entries)))
        return root

    def remove(self, uri: str) -> None:
        entry = self._entries.pop(uri, None)
        if entry is None:
            return
        self._shingles.discard(uri)
        postings = self._postings
        for value in self._sketch(np.frombuffer(entry.sketch, dtype=np.uint32)):
            posting = postings.get(value)
            if posting is None:
                continue
            if isinstance(posting, str):
                if posting == uri:
                    del postings[value]
                continue
            posting.remove(uri)
            if len(posting) == 1:
                postings[value] = posting[0]

    def _sketch(self, sh: Shingles) -> tuple[int, ...]:
        k = self.config.sketch_size
        return tuple(sh[:k].tolist())  # shingles are sorted: these are the k smallest
