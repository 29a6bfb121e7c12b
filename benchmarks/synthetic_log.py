"""A long synthetic article log, derived from the dev corpora, for memory and per-article-cost
benchmarks (10^5, 10^6 articles and more, stories of up to 10,000 articles).

    .venv/bin/python benchmarks/synthetic_log.py [--articles 100000] [--max-story 10000]
        [--seed 1] [--dataset DIR ...] [--out out/synthetic-<n>.jsonl] [--gold FILE]
        [--alpha 0.8] [--start 2023-01-01] [--days 730] [--max-sentences 80]
        [--word-noise 0.1] [--topic-words 80]

Each ``--dataset DIR`` (default: ../shared/data/timeline17-dev and entities-dev) holds
``articles.jsonl`` (ninjs items) and ``gold/stories.jsonl`` ({"uri", "story"}). The output
is JSON lines of ninjs 2.1 items in publication order, readable by ``storyline ingest`` and
``storyline.replay.records_from_files``; ``--gold`` also writes each item's synthetic story.
Nothing of the corpora is stored in the repository: the log is derived each time, and the
same arguments give a byte-identical file (one ``random.Random(seed)``, no ``hash()``, no
set order).

Method
------
1. **Pools.** Each gold story's articles (parsed with the product's ninjs parser, sorted by
   publication time) are the pool of its synthetic *clones*; bodies stay one sentence a line
   (at most ``2 * --max-sentences`` lines an article). A pool's *main names* are its 80 most
   frequent capitalised words that are almost never written in lower case and are no
   function word, title, month, day or demonym (the product's gazetteer decides), with its
   own acronyms ("BP", "IMF"); its *topic words* are the ``--topic-words`` lower-case words
   at least four times as frequent as in the other pools ("spill", "rig", "protester"; no
   function words, units or number words, which the extractor reads figures by).
2. **Story sizes** are drawn from a discrete Pareto law, P(size >= s) = s^-alpha (alpha
   0.8), capped at ``--max-story``, until ``--articles`` are planned: many stories of one to
   a few articles, a few at the cap (never fewer than the law expects, one at least when
   there is room for it). Each story clones a gold story drawn with weight min(pool size,
   story size), so the largest stories come mostly from the largest pools.
3. **Clones are told apart** by a substitution that is consistent over all the articles of
   a clone: a place of the gazetteer becomes another place (one with a demonym becomes one
   with a demonym, and "Egyptian(s)" follows "Egypt"), any other name an invented one
   ("Movugos Lerifel": syllables, a bijection of a number, unique over the whole log), an
   acronym an invented acronym, a topic word an invented word (its plural follows); years
   stay apart (see 5). Clone 0 of each gold story keeps the real text. The table is made
   lazily from the clone's number, so the result does not depend on the order of use.
   Clones of one pool that run at the same time still share the pool's general vocabulary:
   on the first 3,000 articles of a 20,000-article log, the product's clustering separates
   them with B-cubed precision 0.77 against the synthetic stories (0.43 when only 40 names
   a pool were substituted).
4. **Timeline.** A story of size s lasts D = span * min(1, sqrt(s / max-story)) * U(0.5, 1)
   (at least 6 hours) from a uniform start inside the span (``--days`` from ``--start``,
   stretched to 4 seconds an article if that is longer). Its articles are the sorted order
   statistics u of s uniforms, drawn one at a time (no list is kept); article u copies pool
   article ~ u * pool size (jittered by up to 3 places) and is published at start + D *
   (0.8 * gold-time-quantile(u) + 0.2 * u), so a clone keeps its gold story's chronology and
   bursts, compressed into D. The stories are merged by time on a heap (one entry a story)
   and written as they come: memory grows with the number of stories, not of articles.
   Publication times are whole seconds, strictly increasing (a tie moves one second on).
5. **Perturbation** of every copy: a new uri ``urn:synthetic:<gold story>-<clone>:<i>``;
   firstcreated = versioncreated = the new time; four-digit years of the text moved by as
   many years as the publication date moved (so "since 1981" stays consistent with the
   article's own date); the first sentence, a share U(0.4, 0.75) of the other sentences and
   U(0.15, 0.45) as many again (one at least) borrowed from the 8 pool articles either side
   (a rewrite with background from neighbouring reports), each at about its relative place
   in its own article, locally shuffled, at most ``--max-sentences`` lines; with probability
   ``--word-noise`` a sentence gets a reporting verb or common word swapped for a synonym.
   Copies of one article thus stay below the product's near-duplicate thresholds (4-shingle
   Jaccard 0.5, containment 0.8): about 3 % of the items are taken for copies, against
   2 % in the dev sets. Dates, names and figures survive, so the extractor finds them (as
   many per article as in entities-dev).

The size distribution, the pools used and the time taken go to stderr at the end.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import heapq
import itertools
import math
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

import orjson

from storyline.domain.assign.clustering_text import STOPWORDS
from storyline.domain.extract.gazetteer import (
    ALIASES,
    DEMONYMS,
    NOT_NAMES,
    ORG_HEADS,
    ORGANISATIONS,
    PLACE_HEADS,
    PLACES,
    TITLES,
)
from storyline.domain.extract.text import ABBREVIATIONS, alternation, wordset
from storyline.ingest.fields import InvalidArticle
from storyline.ingest.ninjs import parse_ninjs

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_DATASETS = (SHARED / "timeline17-dev", SHARED / "entities-dev")

NAMES_PER_POOL = 80
WORDS_PER_POOL = 80  # the default of --topic-words
DEFAULT_START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
MIN_DURATION_S = 6 * 3600
INDEX_JITTER = 3  # a copy takes a pool article up to this many places from its quantile
SHUFFLE_WINDOW = 3.0  # a kept sentence moves at most about this many places
# Two copies of one article must not look like copies to the product's near-duplicate index
# (Jaccard of word 4-shingles >= 0.5, or 80 % of one inside the other): a copy keeps a share
# of the article's non-first sentences and borrows about as many again, in proportion, from
# the articles next to it in its gold story (a rewrite with background from earlier reports).
KEEP_RANGE = (0.4, 0.75)
BORROW_RANGE = (0.15, 0.45)
BORROW_WINDOW = 8  # borrowed from at most this many pool articles before or after

# A capitalised word (hyphenated parts too: "Strauss-Kahn"), an acronym or a year; a pool adds
# its topic words (``_pool_tokens``). Tokens that are no main name, topic word or year near
# the article's date are merged back into the text when a template is made.
# (Each alternative starts with its first character, then looks behind: 2x faster scans.)
_NAME_OR_YEAR = (
    r"[A-Z](?<![\w'’][A-Z])(?<!\w-[A-Z])(?:[a-z]+(?:-[A-Z][a-z]+)*|[A-Z]{1,5})(?!\w|-[A-Za-z])"
    r"|[12](?<![\w$£€.,/:][12])(?:(?<=1)9|(?<=2)0)\d\d(?!\w|[.,:/]\d)"
)
_TOKEN = re.compile(f"({_NAME_OR_YEAR})")
_NAME = re.compile(r"[A-Z][a-z]+(?:-[A-Z][a-z]+)*")
_ACRONYM = re.compile(r"[A-Z]{2,6}")
# acronyms every story may use: countries, unions, times, numerals
_COMMON_ACRONYMS = wordset("US UK UN EU TV AM PM CEO GMT BST EST EDT PST OK II III IV")
_PUNCT = "\"'“”‘’()[]{}<>,.;:!?*_|/\\-–—"

_MONTHS_DAYS = wordset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday"""
)
_EXTRA_STOP = wordset(
    """mr mrs ms dr sir the this that these those there then they their when where what which
    who why while with without after before during since until under over into from about
    news update reuters press photo video read more said says"""
)

_UNITS = wordset(
    """percent cent cents dollar dollars euro euros pound pounds yen mile miles kilometre
    kilometres kilometer kilometers km metre metres meter meters feet foot inch inches acre
    acres ton tons tonne tonnes barrel barrels gallon gallons litre litres liter liters
    square hour hours minute minutes second seconds day days week weeks month months year
    years decade decades century"""
)
_NUMBER_WORDS = wordset(
    """one two three four five six seven eight nine ten eleven twelve twenty thirty forty
    fifty hundred hundreds thousand thousands million millions billion billions trillion
    dozen dozens half quarter"""
)

# Light word perturbations: same part of speech, same grammar.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "said": ("stated", "noted", "added"),
    "says": ("states", "notes"),
    "told": ("informed",),
    "announced": ("declared",),
    "officials": ("authorities",),
    "nearly": ("almost",),
    "almost": ("nearly",),
    "more than": ("over",),
    "large": ("big",),
    "big": ("large",),
    "major": ("significant",),
    "percent": ("per cent",),
    "however": ("though",),
}
_SYNONYM = re.compile(r"\b(" + "|".join(sorted(_SYNONYMS, key=lambda w: (-len(w), w))) + r")\b")

# Invented names: consonant-vowel syllables and an optional final consonant, e.g. "Keralon".
# Every syllable has two letters, so a name spells one sequence of digits only.
_SYLLABLES = tuple(c + v for c in "bcdfghklmnprstvz" for v in "aeiou")
_ENDINGS = ("", "n", "r", "s", "l", "k", "d", "t")

# A sentence: plain text, or (a %-format naming the tokens a clone may change,) so that a
# clone renders it with one C-level format over its table: "%(Obama)s said in %(#2009)s".
Parts = str | tuple[str]


# ------------------------------------------------------------------------------------------
# Pools


@dataclass(slots=True)
class PoolArticle:
    published: int  # epoch seconds of the original
    year: int
    source: str
    language: str
    headline: Parts | None
    sentences: list[Parts]


@dataclass(slots=True)
class Pool:
    key: str  # the gold story, as used in synthetic story ids
    articles: list[PoolArticle]
    quantiles: list[float]  # normalised publication times of the articles, sorted
    names: list[str]  # the main names, most frequent first
    words: list[str]  # the topic words (lower case, singular), most frequent first
    # "Egyptian(s)" -> "Egypt": demonyms of the main names that are places, which follow
    # their place's substitution (the extractor reads a demonym as its place)
    demonyms: dict[str, str]
    places: list[str]  # gazetteer places a clone may map a place name to
    # every token of the pool's templates (but years): (kind, index, form), see Table
    slots: dict[str, tuple[str, int, int]]
    demonym_places: list[str]  # the places a clone may map a place with a demonym to


def _name_stopwords() -> frozenset[str]:
    words: set[str] = set(NOT_NAMES) | set(TITLES) | set(ORG_HEADS) | set(PLACE_HEADS)
    words |= _MONTHS_DAYS | _EXTRA_STOP | set(DEMONYMS) | ABBREVIATIONS
    # words of multi-word institutions ("White House", "United States") are left alone,
    # unless they are places by themselves ("Mexico" of "Gulf of Mexico")
    for phrase in [*ALIASES, *ALIASES.values(), *ORGANISATIONS, *PLACES]:
        parts = phrase.split()
        if len(parts) > 1:
            words.update(part for part in parts if part not in PLACES)
    return frozenset(words)


def _single_word_places() -> list[str]:
    return sorted(p.title() for p in PLACES if " " not in p and "-" not in p)


def _demonym_of() -> dict[str, str]:
    """Place -> its one-word demonym ("Egypt" -> "Egyptian"), for one-word places."""
    found: dict[str, str] = {}
    for demonym, place in sorted(DEMONYMS.items()):
        if " " not in demonym and " " not in place:
            found.setdefault(place.title(), demonym.title())
    return found


DEMONYM_OF = _demonym_of()


def _plural(demonym: str) -> str:
    return demonym if demonym.endswith(("ese", "sh", "ch", "ss")) else demonym + "s"


@dataclass(slots=True)
class Vocabulary:
    """Word counts of a pool: capitalised and lower-case forms, punctuation stripped."""

    capital: Counter[str]
    lower: Counter[str]
    lower_total: int


def vocabulary(bodies: Sequence[Sequence[str]]) -> Vocabulary:
    tokens = Counter("\n".join("\n".join(sentences) for sentences in bodies).split())
    capital: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    for token, count in tokens.items():
        word = token.strip(_PUNCT)
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        if not word:
            continue
        if word[0].isupper():
            capital[word] += count
        elif word[0].islower():
            lower[word] += count
    return Vocabulary(capital, lower, sum(lower.values()))


def main_names(vocab: Vocabulary, everything: Vocabulary, stop: frozenset[str],
               limit: int = NAMES_PER_POOL) -> list[str]:
    """The pool's most frequent capitalised words that are names: written in lower case at
    most a tenth as often, not function words, titles, months, days, demonyms or words of
    the gazetteer's multi-word names; and its own acronyms ("BP", "IMF": at least four
    times as frequent as in the other pools)."""
    capital, lower = vocab.capital, vocab.lower
    total = max(1, sum(capital.values()))
    rest = max(1, sum(everything.capital.values()) - total)

    def is_acronym(word: str) -> bool:
        count = capital[word]
        return count >= 5 and word not in _COMMON_ACRONYMS \
            and lower[word.lower()] * 10 <= count \
            and count / total >= 4 * (everything.capital[word] - count + 1) / rest

    def is_name(word: str) -> bool:
        folded = word.lower()
        if len(word) < 3 or not _NAME.fullmatch(word) or folded in stop \
                or folded[:-1] in stop or folded.endswith(("ians", "eans", "ans")) \
                or any(part in stop for part in folded.split("-")):
            return False
        return capital[word] >= 3 and lower[folded] * 10 <= capital[word]

    chosen = [w for w in capital
              if (is_acronym(w) if _ACRONYM.fullmatch(w) else is_name(w))]
    ranked = sorted(chosen, key=lambda w: (-capital[w], w))
    return ranked[:limit]


def topic_words(vocab: Vocabulary, everything: Vocabulary, stop: frozenset[str],
                limit: int = WORDS_PER_POOL) -> list[str]:
    """The pool's own vocabulary ("spill", "rig", "protesters"): lower-case words at least
    four times as frequent as in the other pools (``everything`` is all pools together),
    most frequent first; a plural ("-s") counts with its singular and follows its
    substitution."""
    lower = vocab.lower
    counts: Counter[str] = Counter()
    for word, count in lower.items():
        if not word.isalpha() or not word.isascii():
            continue
        stem = word[:-1] if word.endswith("s") and word[:-1] in lower else word
        counts[stem] += count
    total = max(1, vocab.lower_total)
    rest = max(1, everything.lower_total - vocab.lower_total)
    mine, every = vocab.lower, everything.lower

    def other(word: str) -> int:
        return every[word] + every[word + "s"] - mine[word] - mine[word + "s"]

    chosen = [w for w, c in counts.items()
              if c >= 10 and len(w) >= 3 and w not in stop and w + "s" not in stop
              and c / total >= 4 * (other(w) + 1) / rest]
    chosen.sort(key=lambda w: (-counts[w], w))
    return chosen[:limit]


def _word_stopwords(names: frozenset[str]) -> frozenset[str]:
    """Lower-case words a clone keeps: function words, titles, months, units, number words
    (the extractor reads figures and names by them) and the words of the other lists."""
    return names | STOPWORDS | _UNITS | _NUMBER_WORDS


def _pool_tokens(words: Sequence[str]) -> re.Pattern[str]:
    """Capitalised words, years and the pool's topic words (and their plurals) in one scan."""
    if not words:
        return _TOKEN
    forms = alternation(form for word in words for form in (word, word + "s"))
    return re.compile(rf"({_NAME_OR_YEAR}|(?<![\w'’])(?:{forms})(?!\w))")


def _template(text: str, tokens: frozenset[str], pattern: re.Pattern[str], year: int
              ) -> Parts:
    """``text`` split into (text, token, text, ..., text) around the tokens a clone may
    change: main names, topic words and years near the article's own."""
    pieces = pattern.split(text)
    if len(pieces) == 1:
        return text
    out: list[str] = [pieces[0]]
    for i in range(1, len(pieces), 2):
        token = pieces[i]
        if token[0].isdigit():
            keep = year - 60 <= int(token) <= year + 5
        else:
            keep = token[0].islower() or token in tokens  # lower case: a topic word
        if keep:
            out.append(token)
            out.append(pieces[i + 1])
        else:
            out[-1] += token + pieces[i + 1]
    if len(out) == 1:
        return out[0]
    fmt = [out[0].replace("%", "%%")]
    for i in range(1, len(out), 2):
        token = out[i]
        fmt.append(f"%(#{token})s" if token[0].isdigit() else f"%({token})s")
        fmt.append(out[i + 1].replace("%", "%%"))
    return ("".join(fmt),)


def _read_gold(path: Path) -> dict[str, str]:
    gold: dict[str, str] = {}
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                row = orjson.loads(line)
                gold[row["uri"]] = row["story"]
    return gold


def _story_key(story: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", story) or "story"


def _slots(names: Sequence[str], words: Sequence[str], demonyms: dict[str, str]
           ) -> dict[str, tuple[str, int, int]]:
    slots: dict[str, tuple[str, int, int]] = {}
    for j, word in enumerate(words):
        for form, text in enumerate((word, word + "s", word.capitalize(),
                                     word.capitalize() + "s")):
            slots[text] = ("word", j, form)
    places = [n for n in names if n.lower() in PLACES]
    for j, name in enumerate(names):
        if name in DEMONYM_OF:
            slots[name] = ("demonym place", places.index(name), 0)
        elif name in places:
            slots[name] = ("place", places.index(name), 0)
        else:
            slots[name] = ("acronym" if name.isupper() else "name", j, 0)
    for demonym, place in demonyms.items():
        slots[demonym] = ("demonym", names.index(place), int(demonym != DEMONYM_OF[place]))
    return slots


def load_pools(datasets: Sequence[Path], max_sentences: int = 80,
               topic_words_per_pool: int = WORDS_PER_POOL) -> list[Pool]:
    """One pool per gold story of the datasets (``DIR/articles.jsonl`` and
    ``DIR/gold/stories.jsonl``), in a fixed order."""
    raw: dict[str, list[tuple[int, int, Any, list[str]]]] = {}
    order = 0
    max_lines = max(2, 2 * max_sentences)
    for directory in datasets:
        gold = _read_gold(directory / "gold" / "stories.jsonl")
        keys = {story: _story_key(story) for story in sorted(set(gold.values()))}
        clash = [k for k in keys.values() if k in raw]
        with (directory / "articles.jsonl").open("rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                obj = orjson.loads(line)
                uri = obj.get("uri") if isinstance(obj, dict) else None
                story = gold.get(uri) if isinstance(uri, str) else None
                if story is None:
                    continue
                try:
                    article = parse_ninjs(obj, validate=False)
                except InvalidArticle:
                    continue
                key = keys[story]
                if clash:  # the same story name in two datasets: keep the pools apart
                    key = f"{_story_key(directory.name)}.{key}"
                sentences = [s for s in article.body.split("\n") if s.strip()][:max_lines]
                if not sentences:
                    if not article.headline:
                        continue
                    sentences = [article.headline]
                seconds = int(article.published.timestamp())
                raw.setdefault(key, []).append((seconds, order, article, sentences))
                order += 1
    stop = _name_stopwords()
    all_places = _single_word_places()
    pool_keys = sorted(raw)
    rows_of = {key: sorted(raw.pop(key), key=lambda r: (r[0], r[1])) for key in pool_keys}
    vocabs = {key: vocabulary([r[3] for r in rows_of[key]]) for key in pool_keys}
    everything = Vocabulary(Counter(), Counter(), 0)
    for vocab in vocabs.values():
        everything.lower.update(vocab.lower)
        everything.capital.update(vocab.capital)
        everything.lower_total += vocab.lower_total
    word_stop = _word_stopwords(stop)
    pools: list[Pool] = []
    for key in pool_keys:
        rows = rows_of.pop(key)
        vocab = vocabs[key]
        names = main_names(vocab, everything, stop)
        words = topic_words(vocab, everything, word_stop, topic_words_per_pool)
        demonyms: dict[str, str] = {}
        for name in names:
            if name in DEMONYM_OF:
                demonyms[DEMONYM_OF[name]] = name
                demonyms[_plural(DEMONYM_OF[name])] = name
        name_set = frozenset(names) | frozenset(demonyms) | frozenset(
            form.capitalize() for word in words for form in (word, word + "s"))
        pattern = _pool_tokens(words)
        articles: list[PoolArticle] = []
        for seconds, _, article, sentences in rows:
            year = article.published.year
            headline = _template(article.headline, name_set, pattern, year) \
                if article.headline else None
            articles.append(PoolArticle(
                seconds, year, article.source, article.language or "en", headline,
                [_template(s, name_set, pattern, year) for s in sentences]))
        first, last = rows[0][0], rows[-1][0]
        count = len(rows)
        quantiles = [(r[0] - first) / (last - first) if last > first else i / max(1, count - 1)
                     for i, r in enumerate(rows)]
        places = [p for p in all_places if p not in name_set]
        pools.append(Pool(key, articles, quantiles, names, words, demonyms, places,
                          _slots(names, words, demonyms),
                          [p for p in places if p in DEMONYM_OF]))
    return pools


# ------------------------------------------------------------------------------------------
# Plan


@dataclass(frozen=True, slots=True)
class Config:
    articles: int = 100_000
    max_story: int = 10_000
    seed: int = 1
    alpha: float = 0.8
    start: dt.datetime = DEFAULT_START
    days: float = 730.0
    max_sentences: int = 80
    word_noise: float = 0.1


class Table(dict[str, str]):
    """What a clone writes for each token of its pool's templates, made on first use (most
    stories use few of them) from the clone's serial alone, so the order of use does not
    matter; years ("#2009") are moved by ``shift`` years and not kept."""

    def __init__(self, pool: Pool | None = None, serial: int = 0, width: int = 3,
                 offset: int = 0, stride: int = 0) -> None:
        super().__init__()
        self.pool = pool  # None: the real tokens (clone 0)
        self.serial = serial
        self.stride = stride  # clone n invents names n * stride + (0 .. stride - 1)
        self.width = width
        self.offset = offset
        self.shift = 0

    def __missing__(self, key: str) -> str:
        if key[:1] == "#":
            return str(int(key[1:]) + self.shift)
        value = key if self.pool is None else self._make(self.pool, key)
        self[key] = value
        return value

    def _make(self, pool: Pool, key: str) -> str:
        kind, j, form = pool.slots[key]
        base = self.serial * self.stride
        if kind == "name":
            return invented_name(base + j, self.width, self.offset)
        if kind == "acronym":
            return invented_acronym(base + j, len(key), self.offset)
        if kind == "word":
            new = invented_name(base + NAMES_PER_POOL + j, self.width, self.offset).lower()
            return (new, new + "s", new.capitalize(), new.capitalize() + "s")[form]
        if kind == "demonym":
            demonym = DEMONYM_OF[self[pool.names[j]]]
            return _plural(demonym) if form else demonym
        # a place: another place, the same for the whole clone, two places never the same
        targets = pool.demonym_places if kind == "demonym place" else pool.places
        if not targets:
            return key
        return targets[(self.serial * 31 + self.offset + j) % len(targets)]


@dataclass(slots=True)
class Story:
    serial: int
    sid: str
    pool: Pool
    clone: int
    size: int
    start: float
    duration: float
    done: int = 0
    u: float = 0.0
    names: Table = field(default_factory=Table)  # token -> this clone's token (lazily)


@dataclass(slots=True)
class Stats:
    sizes: list[int] = field(default_factory=list)
    pools: Counter[str] = field(default_factory=Counter)
    articles: int = 0
    bytes: int = 0
    first: int = 0
    last: int = 0
    bumped: int = 0  # publication times moved on a second to keep them strictly increasing
    seconds: float = 0.0


def plan_sizes(total: int, max_story: int, alpha: float, rng: random.Random) -> list[int]:
    """Story sizes summing to ``total``: P(size >= s) = s^-alpha, capped at ``max_story``.
    At least as many stories reach the cap as the law expects (rounded; one at least when
    ``total`` allows it): the largest ones are raised to it, the last ones give the
    articles back."""
    sizes: list[int] = []
    planned = 0
    while planned < total:
        size = min(max_story, int((1.0 - rng.random()) ** (-1.0 / alpha)), total - planned)
        sizes.append(size)
        planned += size
    if total < max_story:
        return sizes
    mean = sum(s ** -alpha for s in range(1, max_story + 1))  # E[size] = sum P(size >= s)
    wanted = min(total // max_story, max(1, round(total * max_story ** -alpha / mean)))
    while sum(1 for s in sizes if s == max_story) < wanted:
        big = max(range(len(sizes)), key=lambda i: (sizes[i] < max_story, sizes[i], -i))
        excess = max_story - sizes[big]
        sizes[big] = max_story
        j = len(sizes) - 1
        while excess > 0:  # the others give the excess back, from the last one
            if j != big and sizes[j] < max_story:
                take = min(excess, sizes[j])
                sizes[j] -= take
                excess -= take
            j -= 1
        sizes = [s for s in sizes if s > 0]
    return sizes


def invented_name(k: int, width: int, offset: int) -> str:
    """The k-th invented name: a bijection of k (mod the number of names of ``width``
    syllables) onto the names, so two different k never give the same name."""
    modulus = _name_space(width)
    value, ending = divmod((k * _multiplier(modulus) + offset) % modulus, len(_ENDINGS))
    letters = []
    for _ in range(width):
        value, digit = divmod(value, len(_SYLLABLES))
        letters.append(_SYLLABLES[digit])
    letters.append(_ENDINGS[ending])
    return "".join(letters).capitalize()


def invented_acronym(k: int, length: int, offset: int) -> str:
    """Three or four capitals for the k-th invented acronym (unique for up to 26^4 of
    them; beyond, two clones may share one)."""
    width = min(4, max(3, length))
    modulus = 26 ** width
    value = (k * _multiplier(modulus) + offset) % modulus
    letters = []
    for _ in range(width):
        value, digit = divmod(value, 26)
        letters.append(chr(65 + digit))
    return "".join(letters)


@cache
def _multiplier(modulus: int) -> int:
    """A golden-ratio multiplier, made prime to the modulus: every letter changes from one
    name to the next."""
    mult = int(modulus * 0.6180339887) | 1
    while math.gcd(mult, modulus) != 1:
        mult += 2
    return mult


def _name_space(width: int) -> int:
    return len(_ENDINGS) * int(len(_SYLLABLES) ** width)


def _name_width(count: int) -> int:
    width = 3
    while _name_space(width) < count:
        width += 1
    return width


# ------------------------------------------------------------------------------------------
# Articles


def render(parts: Parts, table: Table, shift: int) -> str:
    """A sentence with its tokens looked up in ``table``, years moved by ``shift``."""
    if isinstance(parts, str):
        return parts
    table.shift = shift
    return parts[0] % table


def _synonym(sentence: str, rng: random.Random) -> str:
    match = _SYNONYM.search(sentence)
    if match is None:
        return sentence
    choices = _SYNONYMS[match.group(1)]
    word = choices[int(rng.random() * len(choices))]
    return sentence[:match.start()] + word + sentence[match.end():]


def article_bytes(story: Story, index: int, uri: str, stamp: str, year: int, cfg: Config,
                  rng: random.Random) -> bytes:
    """One synthetic item copying pool article ``index`` of the story's pool: its first
    sentence, a share of its other sentences and a few of its pool neighbours' sentences,
    each at about its relative place in its own article, then locally shuffled."""
    articles = story.pool.articles
    source = articles[index]
    names = story.names
    random_ = rng.random
    sentences = source.sentences
    shift = year - source.year
    lines = [render(sentences[0], names, shift)]
    others = len(sentences) - 1
    keep = KEEP_RANGE[0] + (KEEP_RANGE[1] - KEEP_RANGE[0]) * random_()
    # (place, order, sentence, year shift): the order breaks ties the same way every time
    chosen: list[tuple[float, int, Parts, int]] = [
        ((i + SHUFFLE_WINDOW * random_()) / len(sentences), i, sentences[i], shift)
        for i in range(1, len(sentences)) if random_() < keep
    ]
    share = BORROW_RANGE[0] + (BORROW_RANGE[1] - BORROW_RANGE[0]) * random_()
    # at least one, so that no body is the source's (a short article kept whole)
    wanted = max(1, int(share * others + random_()))
    count = len(articles)
    borrowed = 0
    for attempt in range(3 * wanted):
        if borrowed == wanted or count < 2:
            break
        offset = 1 + int(random_() * BORROW_WINDOW)
        other = articles[(index + offset if random_() < 0.5 else index - offset) % count]
        if len(other.sentences) < 2 or other is source:
            continue
        place = 1 + int(random_() * (len(other.sentences) - 1))
        chosen.append(((place + SHUFFLE_WINDOW * random_()) / len(other.sentences),
                       len(sentences) + attempt, other.sentences[place], year - other.year))
        borrowed += 1
    chosen.sort(key=_place)
    noise = cfg.word_noise
    for _, _, parts, moved in chosen[:cfg.max_sentences - 1]:
        line = render(parts, names, moved)
        if noise and random_() < noise:
            line = _synonym(line, rng)
        lines.append(line)
    item: dict[str, Any] = {
        "uri": uri, "type": "text", "version": "1", "firstcreated": stamp,
        "versioncreated": stamp, "pubstatus": "usable", "language": source.language,
        "bodies": [{"role": "main", "contenttype": "text/plain", "value": "\n".join(lines)}],
        "infosources": [{"name": source.source}],
        "standard": {"name": "ninjs", "version": "2.1"},
    }
    if source.headline is not None:
        item["headlines"] = [{"role": "main", "value": render(source.headline, names, shift)}]
    return orjson.dumps(item) + b"\n"


def _place(entry: tuple[float, int, Parts, int]) -> tuple[float, int]:
    return entry[0], entry[1]


def _time_of(pool: Pool, u: float) -> float:
    """Where in its story (0..1) the article of quantile u is published: the gold story's
    own chronology, with a little uniform mixed in so copies do not share a second."""
    q = pool.quantiles
    x = u * (len(q) - 1)
    i = int(x)
    gold = q[i] if i + 1 >= len(q) else q[i] + (q[i + 1] - q[i]) * (x - i)
    return 0.8 * gold + 0.2 * u


def _advance(story: Story, rng: random.Random) -> float:
    """Draw the story's next order statistic; returns its (virtual) publication time."""
    remaining = story.size - story.done
    story.u = 1.0 - (1.0 - story.u) * (1.0 - rng.random()) ** (1.0 / remaining)
    return story.start + story.duration * _time_of(story.pool, story.u)


def generate(pools: Sequence[Pool], cfg: Config, out: IO[bytes],
             gold: IO[bytes] | None = None) -> Stats:
    """Write ``cfg.articles`` ninjs items to ``out`` in publication order (and their story
    to ``gold``, {"uri", "story"} a line)."""
    if not pools:
        raise ValueError("no gold story with articles in the datasets")
    if cfg.articles < 1 or cfg.max_story < 1:
        raise ValueError("--articles and --max-story must be at least 1")
    started = time.perf_counter()
    rng = random.Random(cfg.seed)
    stats = Stats()
    span = max(cfg.days * 86_400.0, 4.0 * cfg.articles)
    origin = int(cfg.start.timestamp())
    sizes = plan_sizes(cfg.articles, cfg.max_story, cfg.alpha, rng)
    stride = NAMES_PER_POOL + max(len(p.words) for p in pools)
    width = _name_width(len(sizes) * stride)
    offset = rng.randrange(_name_space(width))
    lengths = [len(p.articles) for p in pools]
    heap: list[tuple[float, int]] = []
    stories: dict[int, Story] = {}
    clones: Counter[str] = Counter()
    for serial, size in enumerate(sizes):
        cumulative = list(itertools.accumulate(min(n, size) for n in lengths))
        pool = pools[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]
        duration = max(MIN_DURATION_S, span * min(1.0, math.sqrt(size / cfg.max_story))
                       * (0.5 + 0.5 * rng.random()))
        duration = min(duration, span)
        clone = clones[pool.key]
        clones[pool.key] += 1
        story = Story(serial, f"{pool.key}-{clone}", pool, clone, size,
                      rng.random() * (span - duration), duration)
        stats.sizes.append(size)
        stats.pools[pool.key] += 1
        stories[serial] = story
        heap.append((_advance(story, rng), serial))
    heapq.heapify(heap)
    last = origin - 1
    stamp_cache: tuple[int, str, int] = (-1, "", 0)
    while heap:
        virtual, serial = heapq.heappop(heap)
        story = stories[serial]
        if story.done == 0:
            story.names = Table(story.pool if story.clone else None, story.serial, width,
                                offset, stride)
        seconds = origin + int(virtual)
        if seconds <= last:
            seconds = last + 1
            stats.bumped += 1
        last = seconds
        if stamp_cache[0] != seconds:
            when = dt.datetime.fromtimestamp(seconds, dt.UTC)
            stamp_cache = (seconds, when.strftime("%Y-%m-%dT%H:%M:%SZ"), when.year)
        pool = story.pool
        count = len(pool.articles)
        index = int(story.u * count) + int(rng.random() * (2 * INDEX_JITTER + 1)) - INDEX_JITTER
        uri = f"urn:synthetic:{story.sid}:{story.done}"
        data = article_bytes(story, min(count - 1, max(0, index)), uri, stamp_cache[1],
                             stamp_cache[2], cfg, rng)
        out.write(data)
        if gold is not None:
            gold.write(orjson.dumps({"uri": uri, "story": story.sid}) + b"\n")
        stats.bytes += len(data)
        if stats.articles == 0:
            stats.first = seconds
        stats.articles += 1
        stats.last = seconds
        story.done += 1
        if story.done < story.size:
            heapq.heappush(heap, (max(virtual, _advance(story, rng)), serial))
        else:
            del stories[serial]
    stats.seconds = time.perf_counter() - started
    return stats


# ------------------------------------------------------------------------------------------
# Command line


def describe(stats: Stats) -> str:
    sizes = sorted(stats.sizes)
    if not sizes:
        return "no stories"
    count = len(sizes)

    def pct(p: float) -> int:
        return sizes[min(count - 1, int(p * count))]

    def bucket(size: int) -> str:
        if size < 10:
            return "1" if size == 1 else "2-9"
        low = 10 ** int(math.log10(size))
        return f"{low}-{low * 10 - 1}"

    stories: Counter[str] = Counter()
    articles: Counter[str] = Counter()
    for size in sizes:
        stories[bucket(size)] += 1
        articles[bucket(size)] += size
    order = sorted(stories, key=lambda b: int(b.split("-")[0]))
    lines = [
        f"{stats.articles} articles, {count} stories; size max {sizes[-1]} "
        f"({sizes.count(sizes[-1])} of them), median {statistics.median(sizes):g}, "
        f"mean {stats.articles / count:.1f}, p90 {pct(0.9)}, p99 {pct(0.99)}",
        "size: stories (articles)  " + "  ".join(
            f"{b}: {stories[b]} ({articles[b]})" for b in order),
        "clones by gold story: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.pools.items())),
    ]
    if stats.articles:
        first = dt.datetime.fromtimestamp(stats.first, dt.UTC)
        last = dt.datetime.fromtimestamp(stats.last, dt.UTC)
        lines.append(f"published {first:%Y-%m-%d %H:%M:%S} .. {last:%Y-%m-%d %H:%M:%S} "
                     f"({(stats.last - stats.first) / 86_400:.0f} days; {stats.bumped} times "
                     "moved a second on)")
    lines.append(f"{stats.bytes / 2**20:.1f} MiB written in {stats.seconds:.1f} s")
    return "\n".join(lines)


def _date(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--max-story", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dataset", type=Path, action="append", default=None,
                        help="DIR with articles.jsonl and gold/stories.jsonl (repeatable; "
                             "default: the timeline17 and entities dev sets)")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: out/synthetic-<n>.jsonl in the repository")
    parser.add_argument("--gold", type=Path, default=None,
                        help="also write the synthetic stories, {uri, story} a line")
    parser.add_argument("--alpha", type=float, default=0.8, help="tail of the story sizes")
    parser.add_argument("--start", type=_date, default=DEFAULT_START)
    parser.add_argument("--days", type=float, default=730.0)
    parser.add_argument("--max-sentences", type=int, default=80)
    parser.add_argument("--word-noise", type=float, default=0.1)
    parser.add_argument("--topic-words", type=int, default=WORDS_PER_POOL,
                        help="topic words a clone replaces (0: names only)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = Config(articles=args.articles, max_story=args.max_story, seed=args.seed,
                 alpha=args.alpha, start=args.start, days=args.days,
                 max_sentences=max(1, args.max_sentences), word_noise=args.word_noise)
    datasets = args.dataset or list(DEFAULT_DATASETS)
    out_path: Path = args.out or ROOT / "out" / f"synthetic-{cfg.articles}.jsonl"
    started = time.perf_counter()
    pools = load_pools(datasets, cfg.max_sentences, args.topic_words)
    loaded = time.perf_counter() - started
    print(f"{len(pools)} gold stories, {sum(len(p.articles) for p in pools)} articles loaded "
          f"in {loaded:.1f} s", file=sys.stderr)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb", buffering=1 << 20) as out:
        if args.gold is None:
            stats = generate(pools, cfg, out)
        else:
            args.gold.parent.mkdir(parents=True, exist_ok=True)
            with args.gold.open("wb", buffering=1 << 20) as gold:
                stats = generate(pools, cfg, out, gold)
    print(describe(stats), file=sys.stderr)
    print(f"wrote {out_path} ({time.perf_counter() - started:.1f} s in all)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
