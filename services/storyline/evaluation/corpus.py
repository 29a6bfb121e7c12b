"""What every evaluation reads and folds: the production ingest and the production core.

Articles are read through :func:`storyline.ingest.files.iter_file` (the mapper behind
``storyline ingest`` and the HTTP API: same body choice, same source, same text cleaning),
written as the records an ingest would put on the articles topic (``canonical_bytes``, keyed
by uri) and folded through :func:`storyline.domain.records.handle_record` and
:class:`~storyline.domain.pipeline.Pipeline`, exactly as the worker and ``storyline replay``
fold them. An evaluation therefore scores the stories and pages that ship, nothing else.

:func:`place_articles` is the one shortcut: the story placement alone (``extract_facts`` and
``Clusterer.assign``, what ``Pipeline.process`` does for a new usable article before it
builds pages), for tuning loops and floors that would otherwise rebuild tens of thousands
of pages. It refuses any stream where the pipeline would do more (withdrawals, corrections,
re-sent items), and ``tests/unit/test_eval_ships.py`` checks that its stories are the
pipeline's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from storyline.domain.assign.clustering import Clusterer, ClusteringConfig
from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived, PubStatus
from storyline.domain.extract.extractor import clustering_facts, extract_facts
from storyline.domain.facts import ArticleFacts
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.ingest.files import iter_file
from storyline.replay import RebuiltLog, Record, fold_records
from storyline.settings import Settings

ARTICLES_TOPIC = "articles"
MAX_ARTICLE_BYTES: int = Settings.model_fields["max_article_bytes"].default


class UnreadableItem(ValueError):
    """A data set item the production ingest refuses (it would be dead-lettered)."""


def read_dataset(path: Path) -> list[ArticleReceived]:
    """The articles of a file (or of ``DIR/articles.jsonl``) as ``storyline ingest`` reads
    them; an item it would refuse is an error here, so no article is silently dropped."""
    file = path / "articles.jsonl" if path.is_dir() else path
    articles: list[ArticleReceived] = []
    for item in iter_file(file, max_bytes=MAX_ARTICLE_BYTES):
        if item.article is None:
            raise UnreadableItem(str(item.error))
        articles.append(item.article)
    return articles


def merged_stream(datasets: Sequence[Path]) -> list[ArticleReceived]:
    """All articles of all data sets in publication order (ties: data set, then line)."""
    keyed = [
        (article.published, d, line, article)
        for d, dataset in enumerate(datasets)
        for line, article in enumerate(read_dataset(dataset))
    ]
    keyed.sort(key=lambda k: (k[0], k[1], k[2]))
    return [k[3] for k in keyed]


def to_records(articles: Sequence[ArticleReceived], topic: str = ARTICLES_TOPIC
               ) -> list[Record]:
    """The articles as an ingest into a fresh topic would write them (one partition)."""
    return [(a.uri.encode(), canonical_bytes(a), LogPosition(topic, 0, offset))
            for offset, a in enumerate(articles)]


def fold(articles: Sequence[ArticleReceived], config: ClusteringConfig | None = None
         ) -> RebuiltLog:
    """The articles folded through the worker's code path (``handle_record``)."""
    return fold_records(to_records(articles), max_bytes=MAX_ARTICLE_BYTES,
                        pipeline=Pipeline(config))


def stories_of(pipeline: Pipeline, articles: Sequence[ArticleReceived]) -> dict[str, str]:
    """uri -> the story the pipeline holds it in now (after merges), for every article
    folded into a story."""
    out: dict[str, str] = {}
    for article in articles:
        story = pipeline.story_of(article.uri)
        if story is not None:
            out[article.uri] = story
    return out


@dataclass(frozen=True)
class Placement:
    """:func:`place_articles`'s outcome."""

    stories: dict[str, str]  # uri -> final story id
    merges: int
    duplicates: int
    seconds: float


def extract_all(articles: Sequence[ArticleReceived]) -> list[ArticleFacts]:
    return [extract_facts(a) for a in articles]


def place_articles(articles: Sequence[ArticleReceived], config: ClusteringConfig | None = None,
                   facts: Sequence[ArticleFacts] | None = None) -> Placement:
    """Story placement only (see the module docstring); ``facts`` may be given (cached)."""
    seen: set[str] = set()
    for article in articles:
        if article.pubstatus is not PubStatus.USABLE or article.uri in seen:
            raise ValueError(f"{article.uri}: not a new usable article; fold the stream "
                             "through the pipeline instead")
        seen.add(article.uri)
    facts = list(facts) if facts is not None else extract_all(articles)
    clusterer = Clusterer(config or ClusteringConfig())
    joined: dict[str, str] = {}
    merges = duplicates = 0
    start = time.perf_counter()
    for article, article_facts in zip(articles, facts, strict=True):
        result = clusterer.assign(article, clustering_facts(article, article_facts))
        joined[article.uri] = result.story_id
        merges += len(result.merged)
        duplicates += result.duplicate_of is not None
    seconds = time.perf_counter() - start
    return Placement({uri: clusterer.resolve(s) for uri, s in joined.items()}, merges,
                     duplicates, seconds)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Gold files (not articles: those go through :func:`read_dataset`)."""
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)
