"""Online story clustering: each article joins the closest story or founds a new one.

Pure and deterministic: assignments are a function of the log order alone. Every iteration
that shapes a result runs over lists or over dict keys sorted with explicit tie-breaks
(story creation sequence), never over set order.

How an article is placed (see docs/clustering.md for the measurements behind each choice):

* Representation. Headline + body tokens weighted by sublinear TF times IDF from document
  frequencies updated one article at a time, truncated to the ``article_terms`` heaviest;
  names (``facts.names`` canonical keys) weighted by their own IDF.
* Candidates. Inverted indexes from term and from name to the most recent stories that used
  it (posting lists capped at ``posting_cap``), queried with the article's heaviest terms and
  names. Cost per article depends on the caps, never on the number of stories.
* Score. ``text + name_weight * names`` where text blends the cosine to a bounded, decayed
  centroid (top ``centroid_terms`` terms, the past weighted as at most ``centroid_memory``
  articles, so it cannot drift without limit) with the best cosine to the story's most recent
  members (k-NN linkage keeps a sparse long-running story reachable from its latest turn).
  Text decays with the time since the story's last article; names do not (entity-centred
  stories run for years) but only count for names that are *core* to the story, i.e. carried
  by a large share of its articles, so one shared politician does not glue two stories.
* Identity. A young story (fewer than ``core_min_articles``) is its founding article's
  names and people: an article joins it, or it merges, only with a name in common that is
  not carried by many live stories (the UN, NATO: counted, not listed) and without being
  about someone else; otherwise only on strong text. Look-alike stories (two uprisings told
  in the same words) are born apart instead of the second joining the first.
* Merge. When the article also scores above ``merge_threshold`` with a second story whose
  centroid is itself close to the best one's, the two prove to be one story: the younger is
  absorbed into the older and its id becomes an alias. Every merge of grown stories also
  needs their name profiles (which places, institutions and people they name) to agree.
* Second chance. Stories that keep tying as best and close runner-up for the same articles
  merge after a few ties; a stray story (one or two articles) that fell just short of a big
  story is folded into it at the story's next article if it stayed small and quiet and, for
  two articles, shares vocabulary and people with it.
* Copies. ``DuplicateIndex`` spots exact/re-sent/edited/syndicated copies first; a copy joins
  its original's story and does not move the story's statistics.
* Memory. Per-article records, the term and name vocabularies and the posting lists are
  ``SpilledMap``s: with a cold store attached (``attach_cold_store``, the pipeline's) only
  their most recently written entries stay in memory, so memory does not grow with the log's
  history; what is read back is what was written, so no assignment depends on it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING

import numpy as np

from storyline.domain.assign import kernels
from storyline.domain.assign.clustering_text import (
    Query,
    SparseVector,
    Vocabulary,
    term_counts,
    tfidf,
)
from storyline.domain.assign.dedup import DedupConfig, DuplicateIndex, shingles
from storyline.domain.coldstore import ColdStore, SpilledMap
from storyline.domain.contracts import ClusteringFeatures, ClusteringNames
from storyline.domain.events import ArticleReceived
from storyline.domain.facts import ArticleFacts, NameKind, NameRow
from storyline.domain.floats import log_of, logs_of_counts, ordered_sum

if TYPE_CHECKING:
    from storyline.domain.assign.clustering_explain import Trace

STORY_NAMESPACE = uuid.UUID("6f1d7c2e-3b9a-5e4f-8a21-0c5d9e7b4a13")
_SECONDS_PER_DAY = 86_400.0


def story_id_for(founding_uri: str, refounding: int = 0) -> str:
    """The id of the story ``founding_uri`` founds. A uri can found a second story: it was
    withdrawn from the first (which lives on with its other articles under its id) and a
    later version came back unlike it; that story is its ``refounding``-th."""
    name = founding_uri if refounding == 0 else f"{founding_uri}\x00{refounding}"
    return "story-" + uuid.uuid5(STORY_NAMESPACE, name).hex[:16]


def clustering_features(article: ArticleReceived, facts: ArticleFacts,
                        name_rows: Sequence[NameRow] | None = None) -> ClusteringFeatures:
    """What :meth:`Clusterer.place` reads of an article: a function of the article alone.
    ``name_rows``: its names as ``names.name_rows`` gives them, read instead of
    ``facts.names`` when given (``extractor.clustering_name_rows``)."""
    text = f"{article.headline}\n{article.body}" if article.headline else article.body
    rows = (name_rows if name_rows is not None
            else [(m.canonical, m.display, m.kind, m.count, m.first_sentence)
                  for m in facts.names])
    body = term_counts(article.body)
    headline = term_counts(article.headline) if article.headline else {}
    return ClusteringFeatures.model_construct(
        day=article.published.timestamp() / _SECONDS_PER_DAY,
        body_terms=tuple(body), body_counts=tuple(body.values()),
        headline_terms=tuple(headline), headline_counts=tuple(headline.values()),
        names=ClusteringNames.model_construct(
            canonical=tuple([row[0] for row in rows]),
            count=tuple([row[3] for row in rows]),
            person=tuple([row[2] is NameKind.PERSON for row in rows]),
            lede=tuple([row[4] == 0 for row in rows])),
        shingles=shingles(text).astype("<u4").tobytes(),
    )


@dataclass(frozen=True)
class ClusteringConfig:
    """Global settings; the defaults were chosen on timeline17-dev + entities-dev."""

    article_terms: int = 40  # terms kept per article vector
    headline_weight: int = 2  # a headline token counts as this many body tokens
    centroid_terms: int = 300  # terms kept per story centroid
    centroid_memory: int = 200  # the centroid weighs the past as at most this many articles
    recent_members: int = 10  # members kept for k-NN linkage
    member_weight: float = 0.3  # share of the k-NN similarity in the text score
    query_terms: int = 20  # heaviest article terms used to look up candidates
    index_terms: int = 30  # heaviest terms under which a joining article indexes its story
    query_names: int = 6
    posting_cap: int = 16  # most recent stories kept per term / name
    max_candidates: int = 24  # stories scored on centroid and names per article
    knn_candidates: int = 6  # of those, the best compared with their recent members
    threshold: float = 0.07  # below this everywhere, the article founds a new story
    # what each of the article's top names adds to a story's candidate tally (each term
    # adds its weight in the article's vector)
    name_posting_weight: float = 0.5
    name_weight: float = 1.0
    core_share: float = 0.3  # a name is core when carried by at least this share of articles
    story_names: int = 24  # names kept per story
    time_scale_days: float = 60.0  # text similarity halves after this many days of silence
    core_person_share: float = 0.5  # people carried by this share of a story are its subject
    core_min_articles: float = 3.0  # ... once it has this many articles
    lead_mentions: int = 3  # a person mentioned this often is the article's subject
    strong_text: float = 0.0  # gate off by default (docs/clustering.md): text this close joins
    # even a story about people the article does not mention
    merge_threshold: float = 0.15  # both stories must score this high with the article ...
    merge_centroid: float = 0.07  # ... and their centroids be this close to each other
    # Second-chance merge: two stories that keep drawing the same articles as best and close
    # runner-up (both at least cooccur_score, the runner-up within cooccur_ratio of the best)
    # are one story once that happened cooccur_count times within cooccur_days.
    cooccur_score: float = 0.10  # 0 turns it off
    cooccur_ratio: float = 0.5
    cooccur_count: int = 3
    cooccur_days: float = 30.0
    cooccur_pairs: int = 8  # runner-up tallies kept per story (bounded memory)
    # An article that founds a story while scoring at least near_score with a story of at
    # least near_size articles starts with that story as a rival already seen
    # cooccur_count - 1 times: one corroborating tie then merges them.
    near_score: float = 0.055  # 0 turns it off
    near_size: int = 3
    # ... and if nothing joins it for near_wait_days, it is folded into that story when the
    # story takes its next article (a delayed, lower threshold for stray single articles)
    near_wait_days: float = 1.0  # negative turns it off
    near_pending: int = 16  # stray singles a story keeps waiting (bounded memory)
    # A small story (up to near_max_size articles) also waits on a big story when one of its
    # later articles nearly chose that story (near_on_join). Before a waiting story of
    # several articles is folded, it must share some vocabulary with the big story's centroid
    # (cosine >= near_fold_centroid) and not be about other people than the big story's core
    # people: the first articles of a new event can look like a side-line of a big story.
    near_max_size: int = 2
    near_on_join: bool = True
    near_fold_centroid: float = 0.005
    # Every merge of two stories of >= merge_names_size articles needs their name profiles
    # (share of articles carrying each name x its IDF) to agree: cosine >= merge_names.
    # Stories about different places and institutions stay apart however much their
    # vocabulary (markets, crisis, government) overlaps.
    merge_names: float = 0.2  # 0 turns it off
    merge_names_size: float = 5.0
    # Story identity (who, where, what) while a story is young (fewer than core_min_articles
    # articles; a grown story's identity is in its core names, which the score and the
    # merge guards above weigh). An article joins a young story, and a young story merges,
    # only when (a) they have a name in common that is not widespread (carried by at least
    # widespread_min live stories and widespread_share of them: the UN, NATO, a US
    # president), and (b) when the article is about someone (its lead) the story never
    # named, it names the people the story is about (its founding article's key people:
    # named in the lede or twice); otherwise only on text of at least identity_text
    # (merges: never). 0 turns it off.
    identity_text: float = 0.3
    widespread_min: int = 3
    widespread_share: float = 0.1
    dedup: DedupConfig = field(default_factory=DedupConfig)


@dataclass(frozen=True)
class Assignment:
    story_id: str
    is_new_story: bool
    duplicate_of: str | None
    merged: tuple[str, ...]


def _heaviest(weights: dict[int, float], k: int) -> list[tuple[int, float]]:
    """The ``k`` first items of ``weights`` by weight desc, then id: ``sorted(items, key=lambda
    item: (-item[1], item[0]))[:k]`` (for weights that are not NaN), as two sorts in C: by
    id, then stably by weight, descending (a reversed sort keeps equal weights in order)."""
    items = sorted(weights.items())  # ids are distinct: by id alone
    items.sort(key=itemgetter(1), reverse=True)
    return items[:k]


class _Story:
    __slots__ = (
        "centroid",
        "id",
        "last_day",
        "members",
        "names",
        "pending",
        "rivals",
        "seq",
        "size",
        "subjects",
        "weight",
    )

    def __init__(self, seq: int, story_id: str, day: float) -> None:
        self.seq = seq
        self.id = story_id
        self.centroid = SparseVector.empty()
        self.weight = 0.0  # articles the centroid stands for, capped at centroid_memory
        self.members: list[_Article] = []  # most recent first
        self.names: dict[int, float] = {}  # name id -> articles carrying it
        self.size = 0  # live articles, copies included
        self.last_day = day
        # older story seq -> days on which this story and it tied for an article
        self.rivals: dict[int, list[float]] = {}
        self.pending: list[int] = []  # seqs of stray single-article stories close to this one
        self.subjects: tuple[int, ...] = ()  # people among the founding article's key names


class _Article:
    """What the clusterer keeps of an article: the story it joined (by id: after a merge,
    ``resolve`` finds its survivor), and what leaves the story's statistics if it is
    corrected or withdrawn. Self-contained, so that it can be spilled to the cold store."""

    __slots__ = ("copy", "day", "names", "story_id", "uri", "vector")

    def __init__(
        self,
        uri: str,
        story_id: str,
        vector: SparseVector,
        names: tuple[int, ...],
        day: float,
        copy: bool,
    ) -> None:
        self.uri = uri
        self.story_id = story_id
        self.vector = vector
        self.names = names
        self.day = day
        self.copy = copy


# Terms (and names) of each vocabulary held in its dict, per article kept, once a cold store
# is attached (Clusterer.attach_cold_store); the others are found in its fingerprint table.
# At 10^5 live stories (bench_place.py --warm 600), 4 is as fast as 8 or 16 (0.91 CPU ms an
# article) with half their dict, 2 a little slower (0.95-0.97).
VOCABULARY_KEEP = 4


class Clusterer:
    # While set, assign() reports what it weighed (``storyline story explain``): off by
    # default, a class attribute so snapshots never carry it; it observes, never decides.
    trace: Trace | None = None

    def __init__(self, config: ClusteringConfig = ClusteringConfig()) -> None:
        self.config = config
        self._terms = Vocabulary()
        self._names = Vocabulary()
        self._is_person = bytearray()  # name id -> 1 when first seen as a person
        self._lead = -1  # subject of the article being assigned (set by _represent)
        self._key: list[int] = []  # its key names (set by _represent)
        # the first term and name ids handed out for it (set by _represent): no story is
        # posted under those yet, so their postings are not looked for (until then: none)
        self._new_terms_from = self._new_names_from = 1 << 62
        self._stories: dict[int, _Story] = {}  # seq -> live story
        self._by_id: dict[str, _Story] = {}
        self._alias: dict[str, str] = {}  # absorbed id -> survivor id
        self._merged_into: dict[int, int] = {}  # the same, by creation sequence
        # uri -> article; the least recently joined beyond a limit live in the cold store
        # once one is attached (attach_cold_store): what an article left there is only read
        # again if it is corrected, withdrawn or copied
        self._articles: SpilledMap[_Article] = SpilledMap("clusterer.article:", 1 << 62)
        # term id (as str) -> story seqs, oldest first; the least recently posted in the
        # cold store once one is attached
        self._term_postings: SpilledMap[list[int]] = SpilledMap("clusterer.terms:", 1 << 62)
        self._name_postings: SpilledMap[list[int]] = SpilledMap("clusterer.names:", 1 << 62)
        # name id -> live stories whose name profile holds it: a name many stories carry
        # (the UN, NATO, a president) says little about which story an article is
        self._name_stories: dict[int, int] = {}
        self._dedup = DuplicateIndex(config.dedup)
        self._seq = 0

    # -- public API ------------------------------------------------------------------------

    def attach_cold_store(self, store: ColdStore, keep_articles: int) -> None:
        """Keep only the ``keep_articles`` most recent articles in memory, the others in
        ``store`` (read back when needed: no assignment depends on where they are)."""
        self._articles.keep = keep_articles
        self._articles.attach(store)
        self._terms.strings = self._names.strings = None
        self._dedup.attach_cold_store(store, keep_articles // 4)
        # the words and names a news stream is using in dicts, every one by fingerprint
        # (term_ids.py; not in the store: a read back cost ~10 µs, ~7.5 words an article at
        # 10^5 live stories, and every new word a Bloom filter check)
        for part in (self._terms.ids, self._names.ids):
            part.bound(VOCABULARY_KEEP * keep_articles)
        # postings of a term or name not seen for a while (most are a rare name's) are read
        # back when it comes again, and held while it is in use
        for postings in (self._term_postings, self._name_postings):
            postings.keep = 2 * keep_articles
            postings.attach(store)

    def keep_strings(self) -> None:
        """Keep every term and name as a string by id (for explanations), even with a cold
        store attached; only from the start."""
        if self._terms.size or self._names.size:
            raise ValueError("term strings can only be kept from the first article")
        self._terms.strings, self._names.strings = [], []

    @property
    def story_count(self) -> int:
        return len(self._stories)

    def resolve(self, story_id: str) -> str:
        seen = 0
        while story_id in self._alias and seen < 10_000:
            story_id = self._alias[story_id]
            seen += 1
        return story_id

    def assign(self, article: ArticleReceived, facts: ArticleFacts) -> Assignment:
        return self.place(article.uri, clustering_features(article, facts))

    def place(self, uri: str, features: ClusteringFeatures) -> Assignment:
        """Assign the article ``uri`` from its features (see :func:`clustering_features`)."""
        if self.trace is not None:
            self.trace.reset()
        day = features.day
        sh = np.frombuffer(features.shingles, dtype="<u4").astype(np.uint32)
        known = self._articles.get(uri)
        if known is not None:
            # a correction stays where the first version went; its new text replaces the old
            story = self._live(known.story_id)
            self._forget(known)
            self._dedup.remove(uri)
            self._dedup.add_shingles(uri, sh)
            self._join(story, self._represent(features, count_df=False), uri, day)
            if self.trace is not None:
                self.trace.correction(self, uri, story)
            return Assignment(story.id, False, None, ())

        original = self._dedup.add_shingles(uri, sh)
        copied = self._articles.get(original) if original is not None else None
        if original is not None and copied is not None:
            story = self._live(copied.story_id)
            self._join_copy(story, uri, day)
            if self.trace is not None:
                self.trace.copy(self, uri, story, original)
            return Assignment(story.id, False, original, ())

        vector, names = self._represent(features, count_df=True)
        scored = self._score(vector, names, day)
        if not scored or scored[0][0] < self.config.threshold:
            story = self._found(uri, day)
            story.subjects = tuple(n for n in self._key if self._is_person[n])
            self._join(story, (vector, names), uri, day)
            cfg = self.config
            near: _Story | None = None
            if scored and 0 < cfg.near_score <= scored[0][0] and scored[0][1].size >= cfg.near_size:
                near = scored[0][1]
                story.rivals[near.seq] = [day] * max(0, cfg.cooccur_count - 1)
                if cfg.near_wait_days >= 0:
                    near.pending.append(story.seq)
                    del near.pending[: -cfg.near_pending]
            if self.trace is not None:
                self.trace.new_story(self, uri, story, near)
            return Assignment(story.id, True, None, ())

        best = scored[0][1]
        self._queue_small(best, scored)
        absorbed = self._merge_candidates(best, scored)
        how = "runner_up"
        if not absorbed:
            absorbed, how = self._corroborated_rivals(scored, day), "co_occurrence"
        first = len(absorbed)  # the rest are strays folded in
        absorbed += [s for s in self._strays(best, day) if s not in absorbed]
        survivor = min([best, *absorbed], key=lambda s: s.seq)
        if self.trace is not None:
            self.trace.joined(self, uri, best, survivor, absorbed, how, first, day)
        merged: list[str] = []
        for story in sorted([best, *absorbed], key=lambda s: s.seq):
            if story is not survivor:
                self._absorb(survivor, story)
                merged.append(story.id)
        self._join(survivor, (vector, names), uri, day)
        return Assignment(survivor.id, False, None, tuple(merged))

    def remove(self, uri: str) -> None:
        known = self._articles.get(uri)
        self._dedup.remove(uri)
        if known is not None:
            self._forget(known)

    # -- representation --------------------------------------------------------------------

    def _represent(
        self, features: ClusteringFeatures, *, count_df: bool
    ) -> tuple[Query, dict[int, float]]:
        cfg = self.config
        intern_all = self._terms.intern_all
        self._new_terms_from, self._new_names_from = self._terms.size, self._names.size
        # body terms are distinct: ids in the order they are handed out, then headline terms
        counts: dict[int, int] = {}
        if features.body_terms:
            counts = dict(zip(intern_all(features.body_terms), features.body_counts,
                              strict=True))
        if features.headline_terms:
            weight = cfg.headline_weight
            get = counts.get
            for tid, count in zip(intern_all(features.headline_terms),
                                  features.headline_counts, strict=True):
                counts[tid] = get(tid, 0) + count * weight
        name_counts: dict[int, int] = {}
        mentions = features.names
        nids = self._names.intern_all(mentions.canonical)
        is_person = self._is_person
        for nid, count, person in zip(nids, mentions.count, mentions.person, strict=True):
            name_counts[nid] = name_counts.get(nid, 0) + count
            if nid >= len(is_person):
                is_person.append(person)
        term_ids = np.fromiter(counts, dtype=np.int64, count=len(counts))
        nid_array = np.fromiter(name_counts, dtype=np.int64, count=len(name_counts))
        if count_df:
            self._terms.add_document(term_ids)
            self._names.add_document(nid_array)
        vector = tfidf(counts, self._terms, term_ids)
        # the article's subject: its most mentioned person, when clearly so
        # (the first by count desc, then id)
        heaviest = min([(-c, n) for n, c in name_counts.items() if is_person[n]],
                       default=None)
        self._lead = (heaviest[1] if heaviest is not None and -heaviest[0] >= cfg.lead_mentions
                      else -1)
        # its key names: named in the lede or at least twice
        self._key = sorted({nid for nid, lede in zip(nids, mentions.lede, strict=True)
                            if lede or name_counts[nid] >= 2})
        # (1 + log c) * (Vocabulary.idf) for every name at once: the same logarithms and
        # the same float operations, elementwise
        if not name_counts:
            return vector, {}
        counted = np.fromiter(name_counts.values(), dtype=np.int64, count=len(name_counts))
        weights = (1.0 + logs_of_counts(counted)) * (
            (log_of(self._names.docs + 1) - logs_of_counts(self._names.df[nid_array] + 1)) + 1.0)
        return vector, dict(zip(name_counts, weights.tolist(), strict=True))

    # -- scoring ---------------------------------------------------------------------------

    def _candidates(self, query: SparseVector, names: dict[int, float]) -> list[_Story]:
        cfg = self.config
        top_names = _heaviest(names, cfg.query_names)
        compiled = kernels.active()
        if compiled is None:
            return self._candidates_portable(query, top_names)
        lists: list[list[int] | tuple[()]] = [
            posting or ()
            for posting in (*self._postings_of(self._term_postings, query.ids,
                                               self._new_terms_from),
                            *self._postings_of(self._name_postings,
                                               [nid for nid, _ in top_names],
                                               self._new_names_from))
        ]
        # each term's posting list adds the term's weight, each name's
        # name_posting_weight, to its stories
        # (compiled: the sums in the same order as a dict tally), ranked by sum then seq
        weights = np.full(len(lists), cfg.name_posting_weight)
        weights[: len(query.ids)] = np.frombuffer(query.weights, dtype=np.float32)
        seqs, sums = compiled.tally(
            np.fromiter(chain.from_iterable(lists), dtype=np.int64),
            np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)),
            weights,
        )
        return self._survivors(zip(seqs.tolist(), sums.tolist(), strict=True))

    def _candidates_portable(self, query: SparseVector, top_names: list[tuple[int, float]]
                             ) -> list[_Story]:
        """``_candidates`` without the compiled kernels: a dict tally, each story's sum
        taken in the order of the posting lists, then every tallied story's survivor."""
        tally: dict[int, float] = {}
        name_weight = self.config.name_posting_weight
        # (read back postings are held in memory: the words of the news in play are used
        # again; they are only read here, changed by _post, which writes them back)
        postings = self._postings_of(self._term_postings, query.ids, self._new_terms_from)
        for posting, weight in zip(postings, query.weights, strict=True):
            for seq in posting or ():
                tally[seq] = tally.get(seq, 0.0) + weight
        for posting in self._postings_of(self._name_postings, [nid for nid, _ in top_names],
                                         self._new_names_from):
            for seq in posting or ():
                tally[seq] = tally.get(seq, 0.0) + name_weight
        return self._survivors(_heaviest(tally, len(tally)))

    def _survivors(self, ranked: Iterable[tuple[int, float]]) -> list[_Story]:
        """The best ``max_candidates`` stories of ``ranked`` (seq, sum), by sum then seq.

        A story absorbed by another counts as its survivor, with the best of their sums:
        walked in rank order, the first sum met for a survivor is its best, and past the
        max_candidates-th survivor only a sum tying with its sum can still rank, so the
        stories ranked below are never looked up."""
        found: dict[int, float] = {}
        merged_into = self._merged_into
        stories = self._stories
        cut = self.config.max_candidates
        last = -1.0
        for seq, value in ranked:
            if len(found) >= cut and value < last:
                break
            while seq in merged_into:
                seq = merged_into[seq]
            if seq in found:
                continue
            story = stories.get(seq)
            if story is None or story.size == 0:
                continue
            found[seq] = last = value
        return [stories[seq] for seq, _ in _heaviest(found, cut)]

    def _score(
        self, query: Query, names: dict[int, float], day: float
    ) -> list[tuple[float, _Story]]:
        cfg = self.config
        name_mass = ordered_sum(names.values()) or 1.0
        trace = self.trace
        if trace is not None:
            trace.query(self, query, names)
        scored: list[tuple[float, float, float, _Story, set[int]]] = []
        # the article's own vector (_join) comes from the same sort as the query's terms
        top, _ = query.tops(cfg.query_terms, cfg.article_terms)
        candidates = self._candidates(top, names)
        prepared = query
        centroid_scores = prepared.dots([story.centroid for story in candidates])
        position = {nid: i for i, nid in enumerate(names)}
        time_scale, name_weight = cfg.time_scale_days, cfg.name_weight
        no_names = name_weight * 0.0  # the name part where none is shared
        article_names = names.keys()
        for story, text in zip(candidates, centroid_scores, strict=True):
            gap = max(0.0, day - story.last_day)
            decay = 1.0 / (1.0 + gap / time_scale)
            # the names both carry (set intersection in C), for the name part and the
            # identity rule; most candidates share none
            shared = article_names & story.names.keys()
            if shared:
                part = name_weight * (self._name_score(story, names, position, shared)
                                      / name_mass)
            else:
                part = no_names
            scored.append((text, decay, part, story, shared))
        # the centroid ranks; k-NN linkage refines the best few (their members cost most)
        scored.sort(key=lambda item: (-(item[0] * item[1] + item[2]), item[3].seq))
        lead = self._lead
        near = [item[3] for item in scored[: cfg.knn_candidates]] if cfg.member_weight > 0 else []
        member_scores = iter(prepared.dots([m.vector for story in near for m in story.members]))
        final: list[tuple[float, _Story]] = []
        young = cfg.core_min_articles
        for rank, (text, decay, names_part, story, shared) in enumerate(scored):
            cosine = text
            if rank < len(near) and story.members:
                knn = max(next(member_scores) for _ in story.members)
                text = (1.0 - cfg.member_weight) * text + cfg.member_weight * knn
            refused: str | None = None
            if text * decay < cfg.strong_text and not self._shares_core_person(story, names, lead):
                refused = "strong_text"  # a story about someone else, however close the words
            elif text * decay < cfg.identity_text and story.weight < young:
                # other people or places (the rule holds for young stories only)
                refused = self._identity_refusal(story, names, lead, shared)
            if trace is not None:
                knn_used = rank < len(near) and bool(story.members)
                trace.candidate(self, story, cosine, text if knn_used else None, decay,
                                names_part, refused)
            if refused is None:
                final.append((text * decay + names_part, story))
        final.sort(key=lambda item: (-item[0], item[1].seq))
        return final

    def _name_score(self, story: _Story, names: dict[int, float], position: dict[int, int],
                    shared: set[int] | None = None) -> float:
        """The article's name weight carried by names core to ``story`` (before dividing by
        the article's name mass); ``position``: each name's place in ``names``; ``shared``:
        the names both carry, when known."""
        story_names = story.names
        if shared is None:
            shared = names.keys() & story_names.keys()
        if not shared:
            return 0.0  # what the loop below sums to: most candidates share no name
        floor = self.config.core_share * story.weight
        score = 0.0
        # only the names the story carries can count: the shared ones (set intersection in
        # C), summed in the article's order as a pass over all its names would
        for nid in sorted(shared, key=position.__getitem__) if len(shared) > 1 else shared:
            carried = story_names[nid]
            if carried >= floor and carried > 0:
                score += names[nid] * min(1.0, carried / max(story.weight, 1.0))
        return score

    def _core_persons(self, story: _Story) -> list[int]:
        cfg = self.config
        if story.weight < cfg.core_min_articles:
            return []
        floor = cfg.core_person_share * story.weight
        person = self._is_person
        return sorted(n for n, c in story.names.items() if c >= floor and person[n])

    def _shares_core_person(self, story: _Story, names: dict[int, float], lead: int) -> bool:
        """False when the story is about people the article does not mention while the
        article is about someone (``lead``, its heaviest person) the story never mentions."""
        if lead < 0 or lead in story.names:
            return True
        core = self._core_persons(story)
        return not core or any(n in names for n in core)

    def _widespread(self, nid: int) -> bool:
        """Carried by many live stories: an international actor, nobody's identity."""
        cfg = self.config
        spread = self._name_stories.get(nid, 0)
        return spread >= cfg.widespread_min and spread >= cfg.widespread_share * len(self._stories)

    def _story_people(self, story: _Story) -> list[int]:
        """Whom the story is about: its core people, or while it is young (fewer than
        core_min_articles articles) the people its founding article is about."""
        if story.weight < self.config.core_min_articles:
            return [n for n in story.subjects if n in story.names]
        return self._core_persons(story)

    def _identity_refusal(self, story: _Story, names: dict[int, float], lead: int,
                          shared: set[int] | None = None) -> str | None:
        """None when a young story and an article agree on who and where (see
        ``identity_text``), else which part of the rule they fail; ``shared``: the names
        both carry, when known."""
        cfg = self.config
        if cfg.identity_text <= 0 or story.weight >= cfg.core_min_articles:
            return None
        if not self._names_meet(names, story.names, shared):
            return "identity:no_shared_name"  # no place, person or organisation in common
        if lead >= 0 and lead not in story.names:
            people = self._story_people(story)
            if people and not any(n in names for n in people):
                return "identity:other_people"  # about someone else
        return None

    def _names_meet(self, a: dict[int, float], b: dict[int, float],
                    shared: set[int] | None = None) -> bool:
        """A name in common that is not widespread, or one side names no one (nothing to
        disagree with); ``shared``: the names in both, when known."""
        if not a or not b:
            return True  # what the test below comes to, without a pass over the other side
        if shared is None:
            if any(n in b and not self._widespread(n) for n in a):
                return True
        elif any(not self._widespread(n) for n in shared):  # (a pure test: any order)
            return True
        widespread = self._widespread
        return all(widespread(n) for n in a) or all(widespread(n) for n in b)

    def _identities_meet(self, a: _Story, b: _Story) -> bool:
        """A merge with a young story needs what a join into it needs: a name in common
        that is not widespread, and no disagreement on whom they are about."""
        cfg = self.config
        if cfg.identity_text <= 0 or min(a.weight, b.weight) >= cfg.core_min_articles:
            return True
        if not self._names_meet(a.names, b.names):
            return False
        pa, pb = self._story_people(a), self._story_people(b)
        return not pa or not pb or any(n in b.names for n in pa) or any(n in a.names for n in pb)

    def _merge_candidates(self, best: _Story, scored: list[tuple[float, _Story]]) -> list[_Story]:
        cfg = self.config
        if scored[0][0] < cfg.merge_threshold:
            return []
        eligible = [story for score, story in scored[1:] if score >= cfg.merge_threshold]
        if not eligible:
            return []  # (most articles: no dict of the best story's centroid to build)
        best_centroid = best.centroid.as_dict()
        best_people = self._core_persons(best)
        return [
            story
            for story in eligible
            if self._merge_refusal(best, story, best_centroid, best_people) is None
        ]

    def _merge_refusal(self, best: _Story, story: _Story, best_centroid: dict[int, float],
                       best_people: list[int]) -> str | None:
        """None when ``story`` (scoring >= merge_threshold with the article) and ``best``
        prove to be one story, else the first guard that keeps them apart."""
        if story.centroid.dot(best_centroid) < self.config.merge_centroid:
            return "centroids_apart"
        if not self._people_agree(best_people, self._core_persons(story)):
            return "people_disagree"
        if not self._names_agree(best, story):
            return "name_profiles_disagree"
        if not self._identities_meet(best, story):
            return "identities_differ"
        return None

    def _corroborated_rivals(self, scored: list[tuple[float, _Story]], day: float) -> list[_Story]:
        """Runner-ups that have now tied with the best story often enough to be the same."""
        cfg = self.config
        if cfg.cooccur_score <= 0 or len(scored) < 2:
            return []
        top, best = scored[0]
        if top < cfg.cooccur_score:
            return []
        best_people = self._core_persons(best)
        found: list[_Story] = []
        for score, story in scored[1:3]:
            if score < cfg.cooccur_score or score < cfg.cooccur_ratio * top:
                break
            younger, older = (story, best) if story.seq > best.seq else (best, story)
            days = [d for d in younger.rivals.get(older.seq, ()) if day - d <= cfg.cooccur_days]
            days.append(day)
            if self.trace is not None:
                self.trace.ties(story, days)
            if (
                len(days) >= cfg.cooccur_count
                and self._people_agree(best_people, self._core_persons(story))
                and self._names_agree(best, story)
                and self._identities_meet(best, story)
            ):
                younger.rivals.pop(older.seq, None)
                found.append(story)
                continue
            younger.rivals[older.seq] = days
            if len(younger.rivals) > cfg.cooccur_pairs:
                # forget the rival seen longest ago
                stale = min(younger.rivals.items(), key=lambda item: (item[1][-1], item[0]))
                del younger.rivals[stale[0]]
        return found

    def _queue_small(self, best: _Story, scored: list[tuple[float, _Story]]) -> None:
        """The article joins a small story but nearly chose a bigger one (one of the next
        two): the small story waits on the bigger one like a stray single."""
        cfg = self.config
        if not cfg.near_on_join or cfg.near_wait_days < 0 or cfg.near_score <= 0:
            return
        if not 0 < best.size < cfg.near_max_size:
            return
        for score, other in scored[1:3]:
            if score >= cfg.near_score and other.size >= max(cfg.near_size, best.size + 1):
                if best.seq not in other.pending:
                    other.pending.append(best.seq)
                    del other.pending[: -cfg.near_pending]
                return

    def _strays(self, story: _Story, day: float) -> list[_Story]:
        """Stray stories that waited near this story and stayed small and quiet."""
        wait = self.config.near_wait_days
        if wait < 0 or not story.pending:
            return []
        ready: list[_Story] = []
        waiting: list[int] = []
        for seq in story.pending:
            stray = self._stories.get(seq)
            if stray is None or stray is story or stray.size > self.config.near_max_size:
                continue  # merged away or grown into a story of its own
            if day - stray.last_day >= wait:
                if stray.size == 1 or self._fragment_fits(stray, story):
                    ready.append(stray)
            else:
                waiting.append(seq)
        story.pending = waiting
        return ready

    def _fragment_fits(self, small: _Story, big: _Story) -> bool:
        """A waiting story of several articles is a side-line of ``big``, not a new event."""
        cfg = self.config
        if small.centroid.dot(big.centroid.as_dict()) < cfg.near_fold_centroid:
            return False
        floor = cfg.core_person_share * small.weight
        person = self._is_person
        own = sorted(n for n, c in small.names.items() if c >= floor and person[n])
        return self._people_agree(own, self._core_persons(big)) and self._names_agree(big, small)

    def _names_agree(self, a: _Story, b: _Story) -> bool:
        """Name profiles agree, or one story is too young to have a profile."""
        cfg = self.config
        if cfg.merge_names <= 0 or min(a.weight, b.weight) < cfg.merge_names_size:
            return True
        return self._profile_cosine(a, b) >= cfg.merge_names

    def _profile_cosine(self, a: _Story, b: _Story) -> float:
        idf = self._names.idf
        pa = {n: c / a.weight * idf(n) for n, c in a.names.items()}
        pb = {n: c / b.weight * idf(n) for n, c in b.names.items()}
        dot = ordered_sum(w * pb.get(n, 0.0) for n, w in pa.items())
        na = math.sqrt(ordered_sum(w * w for w in pa.values()))
        nb = math.sqrt(ordered_sum(w * w for w in pb.values()))
        return dot / (na * nb) if na > 0 and nb > 0 else 0.0

    @staticmethod
    def _people_agree(a: list[int], b: list[int]) -> bool:
        return not a or not b or any(n in b for n in a)

    # -- state changes ---------------------------------------------------------------------

    def _found(self, uri: str, day: float) -> _Story:
        self._seq += 1
        # an id once given stays that story's, or its survivor's (an alias), for ever
        refounding = 0
        story_id = story_id_for(uri)
        while story_id in self._by_id or story_id in self._alias:
            refounding += 1
            story_id = story_id_for(uri, refounding)
        story = _Story(self._seq, story_id, day)
        self._stories[story.seq] = story
        self._by_id[story.id] = story
        return story

    def _live(self, story_id: str) -> _Story:
        return self._by_id[self.resolve(story_id)]

    def _join(
        self,
        story: _Story,
        features: tuple[Query, dict[int, float]],
        uri: str,
        day: float,
    ) -> None:
        cfg = self.config
        full, names = features
        (vector,) = full.tops(cfg.article_terms)
        art = _Article(uri, story.id, vector, tuple(sorted(names)), day, copy=False)
        self._articles[uri] = art
        story.size += 1
        story.last_day = max(story.last_day, day)
        story.members.insert(0, art)
        del story.members[cfg.recent_members :]
        if story.weight == 0.0:
            story.centroid = vector  # shared, never mutated: most stories keep one article
        else:
            story.centroid = SparseVector.top_arrays(
                *story.centroid.merged_arrays(story.weight, vector), cfg.centroid_terms
            )
        if story.weight >= cfg.centroid_memory:
            # names fade like the centroid, so "core" means core to the recent story
            fade = (cfg.centroid_memory - 1.0) / cfg.centroid_memory
            story.names = {n: c * fade for n, c in story.names.items()}
        story.weight = min(story.weight + 1.0, float(cfg.centroid_memory))
        spread = self._name_stories
        carried = story.names
        for nid in art.names:
            had = carried.get(nid)
            if had is None:
                spread[nid] = spread.get(nid, 0) + 1
                carried[nid] = 1.0  # (0.0 + 1.0)
            else:
                carried[nid] = had + 1.0
        if len(story.names) > 2 * cfg.story_names:
            keep = _heaviest(story.names, len(story.names))
            get = spread.get
            for nid, _ in keep[cfg.story_names :]:  # self._unspread(nid), inlined
                left = get(nid, 0) - 1
                if left > 0:
                    spread[nid] = left
                else:
                    spread.pop(nid, None)
            story.names = dict(keep[: cfg.story_names])
        self._post(self._term_postings, vector.ids[: cfg.index_terms], self._new_terms_from,
                   story.seq)
        top_names = _heaviest(names, cfg.query_names)
        self._post(self._name_postings, [nid for nid, _ in top_names], self._new_names_from,
                   story.seq)

    def _join_copy(self, story: _Story, uri: str, day: float) -> None:
        empty = SparseVector.empty()
        self._articles[uri] = _Article(uri, story.id, empty, (), day, copy=True)
        story.size += 1
        story.last_day = max(story.last_day, day)

    @staticmethod
    def _postings_of(postings: SpilledMap[list[int]], ids: Sequence[int], new_from: int,
                     hold: bool = True, keys: list[str] | None = None
                     ) -> list[list[int] | None]:
        """``postings.get_many`` of ``ids`` (as str; ``hold``: those read back are held in
        memory again), None without a look-up for the ids from ``new_from`` on: handed out
        for the article being placed, no story is posted under them yet (most of an
        article's new words are among its top terms, and a look-up that misses memory
        costs a filter check). ``keys``: ``ids`` as str, when made already."""
        if not ids or max(ids) < new_from:
            old = list(map(str, ids)) if keys is None else keys
        else:
            old = [str(i) for i in ids if i < new_from]
        found = postings.get_many(old, hold=hold)
        if len(old) == len(ids):
            return found
        known = iter(found)
        return [next(known) if i < new_from else None for i in ids]

    def _post(self, postings: SpilledMap[list[int]], ids: Sequence[int], new_from: int,
              seq: int) -> None:
        """Post the story ``seq`` under each of ``ids`` (distinct), in their order;
        ``new_from``: as in ``_postings_of``."""
        cap = self.config.posting_cap
        keys = list(map(str, ids))
        # read first: a write never changes another key's list (a spilled one is a copy)
        for key, posting in zip(keys, self._postings_of(postings, ids, new_from, hold=False,
                                                        keys=keys), strict=True):
            if posting is None:
                postings[key] = [seq]
                continue
            if posting[-1] == seq:
                continue
            posting.append(seq)
            if len(posting) > 2 * cap:
                # keep the cap most recently active stories, oldest first
                kept: list[int] = []
                seen: set[int] = set()
                for s in reversed(posting):
                    if s not in seen:
                        seen.add(s)
                        kept.append(s)
                        if len(kept) == cap:
                            break
                kept.reverse()
                posting = kept
            postings[key] = posting  # (it may have been read from the cold store)

    def _unspread(self, nid: int) -> None:
        left = self._name_stories.get(nid, 0) - 1
        if left > 0:
            self._name_stories[nid] = left
        else:
            self._name_stories.pop(nid, None)

    def _forget(self, art: _Article) -> None:
        del self._articles[art.uri]
        story = self._live(art.story_id)
        story.size = max(0, story.size - 1)
        if art.copy:
            return
        # by uri: ``art`` may have been read back from the cold store (another object)
        for i, member in enumerate(story.members):
            if member.uri == art.uri:
                del story.members[i]
                break
        if story.weight > 1.0:
            cut = {
                t: w * story.weight
                for t, w in zip(story.centroid.ids, story.centroid.weights, strict=True)
            }
            for t, w in zip(art.vector.ids, art.vector.weights, strict=True):
                if t in cut:
                    cut[t] = max(0.0, cut[t] - w)
            story.weight -= 1.0
            story.centroid = SparseVector.top(
                {t: w for t, w in cut.items() if w > 0}, self.config.centroid_terms
            )
        else:
            story.weight = 0.0
            story.centroid = SparseVector.empty()
        for nid in art.names:
            left = story.names.get(nid, 0.0) - 1.0
            if left > 0:
                story.names[nid] = left
            elif story.names.pop(nid, None) is not None:
                self._unspread(nid)

    def _absorb(self, survivor: _Story, absorbed: _Story) -> None:
        cfg = self.config
        total = survivor.weight + absorbed.weight
        merged = {
            t: w * survivor.weight
            for t, w in zip(survivor.centroid.ids, survivor.centroid.weights, strict=True)
        }
        for t, w in zip(absorbed.centroid.ids, absorbed.centroid.weights, strict=True):
            merged[t] = merged.get(t, 0.0) + w * absorbed.weight
        survivor.centroid = SparseVector.top(merged, cfg.centroid_terms)
        survivor.weight = min(total, float(cfg.centroid_memory))
        members = sorted([*survivor.members, *absorbed.members], key=lambda a: (-a.day, a.uri))
        survivor.members = members[: cfg.recent_members]
        for nid, count in absorbed.names.items():
            if nid in survivor.names:
                self._unspread(nid)  # two stories carrying it become one
            survivor.names[nid] = survivor.names.get(nid, 0.0) + count
        survivor.size += absorbed.size
        survivor.last_day = max(survivor.last_day, absorbed.last_day)
        # articles keep the absorbed story's id; _live() follows the alias
        self._merged_into[absorbed.seq] = survivor.seq
        del self._stories[absorbed.seq]
        del self._by_id[absorbed.id]
        self._alias[absorbed.id] = survivor.id
