"""The core split into its three stages (docs/stages.md): ``extract``, ``assign``, ``fold``.

- :func:`extract` (no state): an article of the log -> :class:`ArticleExtracted`, every
  per-article analysis computed once.
- :meth:`Assigner.assign` (the clusterer and the per-uri version state only, in log order):
  -> :class:`ArticleAssigned`, or None when the record changes nothing (a resend, an older
  version, the withdrawal of an item never shown).
- ``Pipeline.fold`` (:mod:`storyline.domain.pipeline`; the story states only): an assignment
  with its article's ``ArticleExtracted`` -> the events.

``Pipeline.process`` is their composition, so the one process the worker runs today and the
stages over Kafka run the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

from storyline.domain.assign.clustering import Clusterer, clustering_features
from storyline.domain.coldstore import ColdStore, SpilledMap
from storyline.domain.contracts import (
    Absorbed,
    ArticleAssigned,
    ArticleExtracted,
    ExtractionFailure,
    FactsPosition,
    MovedArticle,
    SourcePosition,
    summary_analysis,
    timeline_features,
)
from storyline.domain.events import ArticleReceived, PubStatus
from storyline.domain.extract.analysis import analysis_of
from storyline.domain.extract.extractor import (
    EXTRACTOR_VERSION,
    clustering_name_rows,
    extract_facts,
)
from storyline.domain.extract.timeline_input import timeline_input
from storyline.domain.fingerprint import content_fingerprint as content_fingerprint  # old home


@dataclass(frozen=True, slots=True)
class LogPosition:
    topic: str
    partition: int
    offset: int


class ConflictingVersion(ValueError):
    """An item arrived again under a uri and version already folded, with other content.
    The first one stands; the record becomes a dead letter (a correction must carry a
    higher version)."""


class ExtractionFailed(RuntimeError):
    """Extraction of an article that is to be folded raised (carried by its
    ``ArticleExtracted``); the record becomes a dead letter under the original error."""

    def __init__(self, failure: ExtractionFailure) -> None:
        super().__init__(failure.reason)
        self.error_type = failure.error_type


# ---------------------------------------------------------------------------------------------
# extract


def extract(article: ArticleReceived, position: LogPosition) -> ArticleExtracted:
    """Everything downstream needs of ``article``, a function of the article alone (and of
    where it is in the log). A withdrawal carries no content; an extraction that raises is
    carried as a failure, which the assign stage reports only if the article is folded."""
    base = ArticleExtracted(
        position=SourcePosition(topic=position.topic, partition=position.partition,
                                offset=position.offset),
        uri=article.uri,
        version=article.version,
        source=article.source,
        headline=article.headline,
        published=article.published,
        pubstatus=article.pubstatus,
        url=article.url,
        fingerprint=f"{content_fingerprint(article):016x}",
        extractor_version=EXTRACTOR_VERSION,
    )
    if article.pubstatus is not PubStatus.USABLE:
        return base
    try:
        facts = extract_facts(article)
        update = {
            "facts": facts,
            "clustering": clustering_features(article, facts, clustering_name_rows(article)),
            "summary": summary_analysis(analysis_of(facts)),
            "timeline": timeline_features(timeline_input(facts, article.published.date())),
        }
    except Exception as exc:  # noqa: BLE001 - a failure is data: the assign stage decides
        update = {"failure": ExtractionFailure(error_type=type(exc).__name__,
                                               reason=str(exc) or repr(exc))}
    return base.model_copy(update=update)


# ---------------------------------------------------------------------------------------------
# assign


# An article a story holds: where its facts are (a FactsPosition as partition, offset:
# compact, per article) and the uri of the article of the story it is listed under as a
# copy; a withdrawn one also the version that withdrew it. As the fold keeps them (its
# ``copy_of`` numbers, as uris), so a merge can hand a story to a page partition that never
# folded it (``Absorbed``).
_Held = tuple[int, int, str | None]
_Gone = tuple[int, int, str | None, int]


class Assigner:
    """The assign stage's state: the clusterer, and by uri the story an article joined, its
    newest version and that version's content fingerprint. It also follows which articles
    each story holds (and has withdrawn), with where their facts are, in the order the fold
    keeps them, and the ids each story absorbed: what a merge hands to the absorbing story
    (``Absorbed``)."""

    def __init__(self, clusterer: Clusterer, warm_articles: int) -> None:
        self.clusterer = clusterer
        # by uri; beyond the ``warm_articles`` most recently written, in the cold store once
        # one is attached (pipeline.WARM_ARTICLES)
        self.story_of: SpilledMap[str] = SpilledMap("pipeline.story:", warm_articles)
        self.version_of: SpilledMap[int] = SpilledMap("pipeline.version:", warm_articles)
        # content_fingerprint of that version
        self.content_of: SpilledMap[int] = SpilledMap("pipeline.content:", warm_articles)
        self.articles: dict[str, dict[str, _Held]] = {}  # story id -> uri -> the article
        self.withdrawn: dict[str, dict[str, _Gone]] = {}
        self.aliases: dict[str, list[str]] = {}  # story id -> the ids it absorbed, in order

    def attach_cold_store(self, cold: ColdStore) -> None:
        for spilled in (self.story_of, self.version_of, self.content_of):
            spilled.attach(cold)
        self.clusterer.attach_cold_store(cold, self.story_of.keep)

    def resolve(self, story_id: str) -> str:
        return self.clusterer.resolve(story_id)

    def assign(self, extracted: ArticleExtracted, facts: FactsPosition | None = None
               ) -> ArticleAssigned | None:
        """Where ``extracted`` goes; ``facts`` is where it is on the facts topic (by default
        its source partition and offset: a facts log laid out like the articles log)."""
        if facts is None:
            facts = FactsPosition(partition=extracted.position.partition,
                                  offset=extracted.position.offset)
        uri, version = extracted.uri, extracted.version
        seen = self.version_of.get(uri)
        withdrawal = extracted.pubstatus is not PubStatus.USABLE
        if seen is not None and (version < seen or (version == seen and not withdrawal)):
            if version == seen and not withdrawal:
                self._check_same_content(extracted)
            return None  # the same item sent again: idempotent (a withdrawal may keep its version)
        if withdrawal:
            return self._withdraw(extracted, facts)
        if extracted.failure is not None:
            raise ExtractionFailed(extracted.failure)
        if extracted.clustering is None:
            raise ValueError(f"{uri} v{version} was extracted without clustering features")

        assignment = self.clusterer.place(uri, extracted.clustering)
        self.version_of[uri] = version
        self.content_of[uri] = int(extracted.fingerprint, 16)
        story_id = self.clusterer.resolve(assignment.story_id)
        held = self.articles.setdefault(story_id, {})
        gone = self.withdrawn.setdefault(story_id, {})
        merges: list[Absorbed] = []
        for absorbed_id in assignment.merged:
            moved = self.articles.get(absorbed_id)
            if moved is None or absorbed_id == story_id:
                continue  # a story the fold never made
            del self.articles[absorbed_id]
            left = self.withdrawn.pop(absorbed_id, {})
            aliases = self.aliases.pop(absorbed_id, [])
            merges.append(Absorbed(story_id=absorbed_id, articles=_moved(moved),
                                   withdrawn=_withdrawn(left), aliases=tuple(aliases)))
            # as story.absorb: its withdrawn articles unknown to the survivor go along, and
            # a copy stays listed under its original only if that came along too
            taken = [(u, w) for u, w in left.items() if u not in gone and u not in held]
            came = moved.keys() | {u for u, _ in taken}
            for moved_uri, (p, o, copy_of) in moved.items():
                held[moved_uri] = (p, o, copy_of if copy_of in came else None)
                self.story_of[moved_uri] = story_id
            for taken_uri, (p, o, copy_of, withdrawn_by) in taken:
                gone[taken_uri] = (p, o, copy_of if copy_of in came else None, withdrawn_by)
            self.aliases.setdefault(story_id, []).extend([absorbed_id, *aliases])
        # as story.fold_article: a correction, or a withdrawn article back, keeps its place
        # among the copies; a new copy is listed under its original's original
        known = held.get(uri) or gone.get(uri)
        if known is not None:
            copy_of = known[2]
        else:
            original = (held.get(assignment.duplicate_of) if assignment.duplicate_of
                        else None)
            copy_of = (None if original is None
                       else original[2] if original[2] is not None
                       else assignment.duplicate_of)
        gone.pop(uri, None)
        # a correction keeps its place, a new article goes last
        held[uri] = (facts.partition, facts.offset, copy_of)
        self.story_of[uri] = story_id
        return ArticleAssigned(
            position=extracted.position, uri=uri, version=version, story_id=story_id,
            duplicate_of=assignment.duplicate_of, merges=tuple(merges), facts=facts)

    def _check_same_content(self, extracted: ArticleExtracted) -> None:
        """A resend of the version folded is idempotent; the same uri and version with other
        content is not silently dropped: ConflictingVersion (a dead letter)."""
        folded = self.content_of.get(extracted.uri)
        if folded is None:
            return  # only a withdrawal of this version was seen: nothing to compare
        arrived = int(extracted.fingerprint, 16)
        if arrived != folded:
            raise ConflictingVersion(
                f"{extracted.uri} version {extracted.version} arrived again with other content "
                f"(fingerprint {arrived:016x}, the folded one is {folded:016x}); the first "
                "stands, a correction must carry a higher version")

    def _withdraw(self, extracted: ArticleExtracted, facts: FactsPosition
                  ) -> ArticleAssigned | None:
        uri, version = extracted.uri, extracted.version
        joined = self.story_of.get(uri)
        if joined is None:
            return None  # never shown anywhere: nothing to take back
        if self.version_of.get(uri) != version:
            self.content_of.pop(uri)  # its content is not that version's
        self.version_of[uri] = version
        story_id = self.clusterer.resolve(joined)
        held = self.articles.get(story_id)
        if held is not None and uri in held:  # as story.withdraw_article
            p, o, copy_of = held.pop(uri)
            self.withdrawn.setdefault(story_id, {})[uri] = (p, o, copy_of, version)
        self.clusterer.remove(uri)
        return ArticleAssigned(position=extracted.position, uri=uri, version=version,
                               story_id=story_id, withdrawal=True, facts=facts)


def _moved(articles: dict[str, _Held]) -> tuple[MovedArticle, ...]:
    return tuple(MovedArticle(uri=uri, facts=FactsPosition(partition=p, offset=o),
                              copy_of=copy_of)
                 for uri, (p, o, copy_of) in articles.items())


def _withdrawn(articles: dict[str, _Gone]) -> tuple[MovedArticle, ...]:
    return tuple(MovedArticle(uri=uri, facts=FactsPosition(partition=p, offset=o),
                              copy_of=copy_of, withdrawn_version=withdrawal)
                 for uri, (p, o, copy_of, withdrawal) in articles.items())
