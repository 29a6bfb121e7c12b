"""Why an article went where it went: the clusterer's own decision, recorded as it is made.

A :class:`Trace` set on :attr:`Clusterer.trace` is called by ``Clusterer.place`` at the
points where it decides (each candidate scored and, if so, the rule that refused it; the
story founded or joined; the stories merged and why), so an explanation is the record of
the real decision, never a second computation that could disagree with it. The trace only
reads: it never changes what the clusterer does (``tests/unit/test_clustering_explain.py``
replays streams with and without it). The breakdowns it adds (which terms and names carried
a score) decompose the very vectors and sums the clusterer used.

:func:`explain_records` folds an articles log through the production
:class:`~storyline.domain.pipeline.Pipeline` (``handle_record``, as ``storyline replay``
does) with a trace on, and returns the explanation of one uri's placement plus what later
happened to its story (merges, corrections, withdrawal). Off by default: the worker never
sets a trace, and with none set the clusterer's extra work is one attribute test per
decision point.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from storyline.domain.assign.clustering_text import Query, Vocabulary
from storyline.domain.floats import ordered_sum

if TYPE_CHECKING:
    from storyline.domain.assign.clustering import Clusterer, _Story
    from storyline.domain.pipeline import LogPosition

TOP_TERMS = 8  # shared terms shown per candidate
TOP_NAMES = 6
TOP_CANDIDATES = 6  # candidates kept in an explanation (the chosen and runner-up always)

RULES = {
    "below_threshold": "scored below the join threshold",
    "identity:no_shared_name": "identity rule: the young story and the article have no place, "
                               "person or organisation in common that is not widespread",
    "identity:other_people": "identity rule: the article is about someone the young story never "
                             "named, and does not name the people the story is about",
    "strong_text": "people gate: the story is about people the article does not mention",
    "centroids_apart": "merge guard: the two stories' centroids are not close enough",
    "people_disagree": "merge guard: the stories' core people are disjoint",
    "name_profiles_disagree": "merge guard: the stories' name profiles disagree",
    "identities_differ": "merge guard: a young story's identity differs",
    "below_merge_threshold": "merge guard: the runner-up scored below the merge threshold",
}


@dataclass(frozen=True)
class Candidate:
    """One story the article was scored against, as the clusterer scored it."""

    story_id: str
    articles: int  # live articles before this one (copies included)
    score: float  # text * decay + names: what ranks and what the threshold applies to
    text: float  # 0.7 centroid cosine + 0.3 best member cosine (or the centroid alone)
    centroid_cosine: float
    knn: float | None  # best cosine to the story's recent members (the best few only)
    decay: float
    days_silent: float
    names: float  # the name part of the score
    shared_terms: tuple[tuple[str, float], ...]  # heaviest shares of the centroid cosine
    shared_names: tuple[tuple[str, float], ...]  # names core to the story, share of names
    refused: str | None = None  # the rule that took it out of the running (RULES)
    merge: str | None = None  # runner-ups: "merged" or the guard that kept them apart


@dataclass(frozen=True)
class Merge:
    absorbed_id: str
    survivor_id: str
    reason: str  # runner_up | co_occurrence | stray_fold
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Explanation:
    """One placement: what ``Clusterer.assign`` decided for one arrival of ``uri``."""

    uri: str
    decision: str  # joined | new_story | copy | correction
    story_id: str  # the story the article went to (the survivor, after merges)
    threshold: float
    chosen: Candidate | None = None
    runner_up: Candidate | None = None
    candidates: tuple[Candidate, ...] = ()  # best first, refused ones included
    considered: int = 0  # candidates scored in all
    merges: tuple[Merge, ...] = ()
    duplicate_of: str | None = None
    stray_near: str | None = None  # founded a story queued to fold into this one
    position: dict[str, Any] | None = None


@dataclass(frozen=True)
class LaterMerge:
    article_uri: str
    position: dict[str, Any]
    merge: Merge
    role: str  # "absorbed": the article's story was absorbed; "survivor": it absorbed one


@dataclass(frozen=True)
class ArticleExplanation:
    """The placement of ``uri`` on a log, and what happened to its story afterwards."""

    uri: str
    placement: Explanation
    story_now: str | None  # the story holding the article at the end of the log
    later_versions: tuple[Explanation, ...] = ()
    later_merges: tuple[LaterMerge, ...] = ()
    withdrawn_at: dict[str, Any] | None = None
    records: int = 0

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["summary"] = describe(self.placement)
        return out


class _Names:
    """Id -> string for a vocabulary (ids are handed out in first-seen order)."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    def __call__(self, nid: int) -> str:
        strings = self.vocab.strings
        if strings is None:
            raise ValueError("the clusterer does not keep its terms as strings: "
                             "call Clusterer.keep_strings() before the first article")
        return strings[nid]


@dataclass
class Trace:
    """Set on ``Clusterer.trace``; ``assign`` resets it and leaves its explanation in
    :attr:`result` (None when the call placed nothing, e.g. a withdrawal)."""

    _terms: _Names | None = None
    _names: _Names | None = None
    result: Explanation | None = None
    _query: dict[int, float] = field(default_factory=dict)
    _article_names: dict[int, float] = field(default_factory=dict)
    _candidates: list[tuple[_Story, Candidate]] = field(default_factory=list)
    _ties: dict[int, list[float]] = field(default_factory=dict)

    def reset(self) -> None:
        self.result = None
        self._query = {}
        self._article_names = {}
        self._candidates = []
        self._ties = {}

    # -- called by Clusterer ---------------------------------------------------------------

    def query(self, clusterer: Clusterer, query: Query, names: dict[int, float]) -> None:
        if self._terms is None or self._terms.vocab is not clusterer._terms:
            self._terms = _Names(clusterer._terms)
            self._names = _Names(clusterer._names)
        self._query = dict(zip(query.ids.tolist(), query.weights.tolist(), strict=True))
        self._article_names = dict(names)

    def candidate(self, clusterer: Clusterer, story: _Story, cosine: float,
                  blended: float | None, decay: float, names_part: float,
                  refused: str | None) -> None:
        """``blended``: the text score with the k-NN share, for the best few (else None:
        the centroid cosine is the text score)."""
        cfg = clusterer.config
        text = cosine if blended is None else blended
        assert self._terms is not None and self._names is not None
        shares = sorted(
            ((self._terms(t), float(w) * self._query[t])
             for t, w in zip(story.centroid.ids, story.centroid.weights, strict=True)
             if t in self._query),
            key=lambda item: (-item[1], item[0]))
        # the name part as _score sums it: each article name core to the story
        mass = ordered_sum(self._article_names.values()) or 1.0
        floor = cfg.core_share * story.weight
        names = []
        for nid, weight in self._article_names.items():
            carried = story.names.get(nid, 0.0)
            if carried >= floor and carried > 0:
                share = weight * min(1.0, carried / max(story.weight, 1.0)) / mass
                names.append((self._names(nid), cfg.name_weight * share))
        names.sort(key=lambda item: (-item[1], item[0]))
        knn = None
        if blended is not None and cfg.member_weight > 0:
            knn = (blended - (1.0 - cfg.member_weight) * cosine) / cfg.member_weight
        day_gap = (1.0 / decay - 1.0) * cfg.time_scale_days if decay > 0 else 0.0
        self._candidates.append((story, Candidate(
            story_id=story.id, articles=story.size, score=text * decay + names_part,
            text=text, centroid_cosine=cosine, knn=knn, decay=decay, days_silent=day_gap,
            names=names_part, shared_terms=tuple(shares[:TOP_TERMS]),
            shared_names=tuple(names[:TOP_NAMES]), refused=refused)))

    def ties(self, story: _Story, days: list[float]) -> None:
        self._ties[story.seq] = list(days)

    def correction(self, clusterer: Clusterer, uri: str, story: _Story) -> None:
        self.result = Explanation(uri=uri, decision="correction", story_id=story.id,
                                  threshold=clusterer.config.threshold)

    def copy(self, clusterer: Clusterer, uri: str, story: _Story, original: str) -> None:
        self.result = Explanation(uri=uri, decision="copy", story_id=story.id,
                                  threshold=clusterer.config.threshold, duplicate_of=original)

    def new_story(self, clusterer: Clusterer, uri: str, story: _Story,
                  near: _Story | None) -> None:
        ranked = self._ranked(clusterer)
        self.result = Explanation(
            uri=uri, decision="new_story", story_id=story.id,
            threshold=clusterer.config.threshold,
            runner_up=next((c for c in ranked if c.story_id != story.id), None),
            candidates=tuple(ranked[:TOP_CANDIDATES]), considered=len(ranked),
            stray_near=near.id if near is not None else None)

    def joined(self, clusterer: Clusterer, uri: str, best: _Story, survivor: _Story,
               absorbed: list[_Story], how: str, first: int, day: float) -> None:
        cfg = clusterer.config
        ranked = self._ranked(clusterer)
        live = [c for c in ranked if c.refused is None]
        by_seq = {story.seq: c for story, c in self._candidates}
        best_centroid = best.centroid.as_dict()
        best_people = clusterer._core_persons(best)
        merged_seqs = {s.seq for s in absorbed}
        # each runner-up: merged, or the guard that kept it apart (the same guards)
        marked: dict[str, str] = {}
        for story, cand in self._candidates:
            if story is best or cand.refused is not None:
                continue
            if story.seq in merged_seqs:
                marked[cand.story_id] = "merged"
            elif cand.score < cfg.merge_threshold or live[0].score < cfg.merge_threshold:
                marked[cand.story_id] = "below_merge_threshold"
            else:
                marked[cand.story_id] = (
                    clusterer._merge_refusal(best, story, best_centroid, best_people)
                    or "merged")
        ranked = [replace(c, merge=marked.get(c.story_id)) for c in ranked]
        merges = []
        # every story but the survivor (the oldest) is absorbed: the runner-ups and strays,
        # and the best story itself when a runner-up is older than it
        for i, story in enumerate([*absorbed, best]):
            if story is survivor:
                continue
            other = best if story is not best else survivor  # the pair the guards judged
            reason = how if i < first or story is best else "stray_fold"
            evidence = self._evidence(clusterer, story, other, by_seq.get(story.seq))
            if reason == "co_occurrence":
                seq = (story if story is not best else survivor).seq
                evidence["tie_days"] = [_iso_day(d) for d in self._ties.get(seq, [])]
            if reason == "stray_fold":
                evidence["days_alone"] = day - story.last_day
            merges.append(Merge(absorbed_id=story.id, survivor_id=survivor.id,
                                reason=reason, evidence=evidence))
        chosen = next(c for c in ranked if c.story_id == best.id)
        self.result = Explanation(
            uri=uri, decision="joined", story_id=survivor.id, threshold=cfg.threshold,
            chosen=chosen,
            runner_up=next((c for c in ranked if c.story_id != best.id), None),
            candidates=tuple(_keep(ranked, best.id)), considered=len(ranked),
            merges=tuple(merges))

    # -- helpers ---------------------------------------------------------------------------

    def _evidence(self, clusterer: Clusterer, story: _Story, other: _Story,
                  scored: Candidate | None) -> dict[str, Any]:
        """What the merge guards looked at for the pair (read before the merge)."""
        cfg = clusterer.config
        name = self._name
        evidence: dict[str, Any] = {
            "absorbed_articles": story.size,
            "centroid_cosine": story.centroid.dot(other.centroid.as_dict()),
            "core_people": [name(clusterer, n) for n in clusterer._core_persons(story)],
            "other_core_people": [name(clusterer, n) for n in clusterer._core_persons(other)],
            "shared_names": sorted(name(clusterer, n) for n in story.names if n in other.names),
        }
        if min(story.weight, other.weight) >= cfg.merge_names_size:
            evidence["name_profile_cosine"] = clusterer._profile_cosine(other, story)
        if scored is not None:
            evidence["score_with_article"] = scored.score
        return evidence

    def _ranked(self, clusterer: Clusterer) -> list[Candidate]:
        """Candidates as the clusterer ranks them (score, then creation order), refused ones
        where their score would have put them."""
        cfg = clusterer.config
        items = sorted(self._candidates, key=lambda item: (-item[1].score, item[0].seq))
        out = []
        for _story, cand in items:
            if cand.refused is None and cand.score < cfg.threshold:
                cand = replace(cand, refused="below_threshold")
            out.append(cand)
        return out

    def _name(self, clusterer: Clusterer, nid: int) -> str:
        if self._names is None or self._names.vocab is not clusterer._names:
            self._names = _Names(clusterer._names)
        return self._names(nid)


def _keep(ranked: list[Candidate], best_id: str) -> list[Candidate]:
    kept = ranked[:TOP_CANDIDATES]
    if not any(c.story_id == best_id for c in kept):
        kept += [c for c in ranked if c.story_id == best_id]
    return kept


def _iso_day(day: float) -> str:
    return dt.datetime.fromtimestamp(day * 86_400.0, tz=dt.UTC).date().isoformat()


def _position(position: LogPosition) -> dict[str, Any]:
    return {"topic": position.topic, "partition": position.partition, "offset": position.offset}


# -- over a log ------------------------------------------------------------------------------


def explain_records(
    records: Iterable[tuple[bytes | None, bytes | None, LogPosition]], uri: str, *,
    max_bytes: int, version: int | None = None,
) -> ArticleExplanation | None:
    """Fold ``records`` (an articles log, in replay order) through the production pipeline
    with a trace on; explain the first placement of ``uri`` (or of its ``version``), and
    report what later happened to its story. None when the log never placed ``uri``."""
    explainer = LogExplainer(uri, max_bytes=max_bytes, version=version)
    for key, value, position in records:
        explainer.feed(key, value, position)
    return explainer.result()


class LogExplainer:
    """:func:`explain_records` one record at a time (``storyline story explain`` feeds it
    from the articles topic, partition by partition from offset 0, as replay reads it)."""

    def __init__(self, uri: str, *, max_bytes: int, version: int | None = None) -> None:
        from storyline.domain.pipeline import Pipeline

        self.uri = uri
        self.max_bytes = max_bytes
        self.version = version
        self.pipeline = Pipeline()
        self.pipeline.assigner.clusterer.keep_strings()
        self.trace = Trace()
        self.placement: Explanation | None = None
        self.later_versions: list[Explanation] = []
        self.later_merges: list[LaterMerge] = []
        self.withdrawn_at: dict[str, Any] | None = None
        self.records = 0

    def feed(self, key: bytes | None, value: bytes | None, position: LogPosition) -> None:
        from storyline.domain.events import PubStatus
        from storyline.domain.records import handle_record

        uri, pipeline, trace = self.uri, self.pipeline, self.trace
        self.records += 1
        trace.reset()
        home = pipeline.story_of(uri) if self.placement is not None else None
        clusterer = pipeline.assigner.clusterer
        clusterer.trace = trace
        try:
            outcome = handle_record(pipeline, key, value, position, max_bytes=self.max_bytes)
        finally:
            del clusterer.trace  # back to the class default: off
        found = trace.result
        article = outcome.article
        if (self.placement is not None and article is not None and article.uri == uri
                and article.pubstatus is not PubStatus.USABLE and outcome.dead_letter is None):
            self.withdrawn_at = _position(position)
        if found is None:
            return
        found = replace(found, position=_position(position))
        if found.uri == uri:
            wanted = (self.version is None
                      or (article is not None and article.version == self.version))
            if self.placement is None and wanted:
                self.placement = found
            elif self.placement is not None:
                self.later_versions.append(found)
            return
        if home is None:
            return
        for merge in found.merges:
            if home in (merge.absorbed_id, merge.survivor_id):
                role = "absorbed" if merge.absorbed_id == home else "survivor"
                self.later_merges.append(
                    LaterMerge(found.uri, found.position or {}, merge, role))

    def result(self) -> ArticleExplanation | None:
        if self.placement is None:
            return None
        return ArticleExplanation(
            uri=self.uri, placement=self.placement, story_now=self.pipeline.story_of(self.uri),
            later_versions=tuple(self.later_versions),
            later_merges=tuple(self.later_merges), withdrawn_at=self.withdrawn_at,
            records=self.records)


# -- as text ---------------------------------------------------------------------------------


def _fmt_candidate(c: Candidate) -> str:
    knn = f", best member {c.knn:.3f}" if c.knn is not None else ""
    return (f"{c.story_id} ({c.articles} articles): score {c.score:.3f} = text {c.text:.3f} "
            f"(centroid {c.centroid_cosine:.3f}{knn}) x decay {c.decay:.2f} "
            f"({c.days_silent:.0f} days silent) + names {c.names:.3f}")


def _carried(c: Candidate) -> str:
    terms = ", ".join(f"{t} {w:.3f}" for t, w in c.shared_terms) or "none"
    names = ", ".join(f"{n} {w:.3f}" for n, w in c.shared_names) or "none"
    return f"shared terms: {terms}\n    core names shared: {names}"


def describe(e: Explanation) -> str:
    """One sentence: why the article went where it went."""
    if e.decision == "copy":
        return (f"a copy of {e.duplicate_of} (near-duplicate text): it joins that article's "
                f"story {e.story_id} without scoring")
    if e.decision == "correction":
        return f"a later version of a known article: it stays in its story {e.story_id}"
    if e.decision == "joined":
        assert e.chosen is not None
        why = (f"joined {e.chosen.story_id} with score {e.chosen.score:.3f} "
               f"(threshold {e.threshold})")
        if e.runner_up is not None:
            why += f"; runner-up {e.runner_up.story_id} at {e.runner_up.score:.3f}"
            if e.runner_up.refused is not None and e.runner_up.refused != "below_threshold":
                why += f" (refused: {e.runner_up.refused})"
        if e.merges:
            why += "; merged " + ", ".join(f"{m.absorbed_id} ({m.reason})" for m in e.merges)
            if e.chosen.story_id != e.story_id:
                why += f" into the oldest story, {e.story_id}, which the article is in"
        return why
    if not e.candidates:
        return ("new story: no story shares any of its indexed terms or names "
                "(no candidate to score)")
    best = e.candidates[0]
    rule = best.refused or "below_threshold"
    why = (f"new story: the best candidate {best.story_id} scored {best.score:.3f} "
           f"(threshold {e.threshold}) and was out: {RULES.get(rule, rule)}")
    if e.stray_near is not None:
        why += f"; queued as a stray near {e.stray_near}"
    return why


def render(x: ArticleExplanation) -> str:
    e = x.placement
    pos = e.position
    where = (f"placed at {pos.get('topic')}/{pos.get('partition')}@{pos.get('offset')}; "
             f"{x.records} records replayed" if pos else "")
    lines = [f"{x.uri}  ({where})" if where else x.uri,
             f"decision: {e.decision} -> {e.story_id}"
             + (f" (now in {x.story_now})" if x.story_now not in (None, e.story_id) else ""),
             f"why: {describe(e)}"]
    if e.chosen is not None:
        lines += [f"chosen: {_fmt_candidate(e.chosen)}", f"    {_carried(e.chosen)}"]
    if e.runner_up is not None:
        label = "best candidate" if e.decision == "new_story" else "runner-up"
        lines += [f"{label}: {_fmt_candidate(e.runner_up)}", f"    {_carried(e.runner_up)}"]
        if e.runner_up.refused:
            lines.append(f"    refused: {RULES.get(e.runner_up.refused, e.runner_up.refused)}")
        if e.runner_up.merge and e.runner_up.merge != "merged":
            lines.append(f"    not merged: {RULES.get(e.runner_up.merge, e.runner_up.merge)}")
    if e.candidates:
        lines.append(f"candidates ({e.considered} scored, best {len(e.candidates)}):")
        for c in e.candidates:
            flag = f"  [{c.refused}]" if c.refused else ""
            lines.append(f"  {c.story_id}  {c.score:.3f}  ({c.articles} articles){flag}")
    for m in e.merges:
        lines.append(f"merge ({m.reason}): {m.absorbed_id} -> {m.survivor_id}: "
                     + ", ".join(f"{k} {_short(v)}" for k, v in m.evidence.items()))
    for v in x.later_versions:
        lines.append(f"later version at offset {(v.position or {}).get('offset')}: "
                     f"{describe(v)}")
    for lm in x.later_merges[:20]:
        what = ("its story was absorbed into" if lm.role == "absorbed"
                else "its story absorbed")
        other = lm.merge.survivor_id if lm.role == "absorbed" else lm.merge.absorbed_id
        lines.append(f"later: {what} {other} ({lm.merge.reason}) by {lm.article_uri} "
                     f"at offset {lm.position.get('offset')}")
    if len(x.later_merges) > 20:
        lines.append(f"later: {len(x.later_merges) - 20} more merges (see --json)")
    if x.withdrawn_at is not None:
        lines.append(f"withdrawn at offset {x.withdrawn_at.get('offset')}")
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
