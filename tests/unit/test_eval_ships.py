"""The evaluations score what ships: the production ingest mapper, the worker's fold, the
page's timeline (issue 11)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from storyline.domain.assign.clustering import ClusteringConfig
from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryUpdated
from storyline.domain.page.story import TIMELINE_LIMIT
from storyline.domain.pages import PageFolder
from storyline.evaluation import clustering_eval, corpus, timeline_eval
from storyline.ingest.files import iter_file
from storyline.replay import fold_records, records_from_files

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "wire" / "articles.jsonl"
LOOKALIKES = ROOT / "tests" / "fixtures" / "lookalikes"
LOGS = [SAMPLES, *sorted(LOOKALIKES.glob("*/articles.jsonl"))]


def test_no_evaluation_keeps_a_mapper_of_its_own() -> None:
    for module in (clustering_eval, timeline_eval):
        assert not hasattr(module, "ninjs_to_article")


def test_items_are_read_as_the_ingest_reads_them(tmp_path: Path) -> None:
    # no role on the body, the first outlet without a name, html in the body: the eval's
    # old mappers disagreed with the ingest on each of these
    item = {"uri": "urn:x:1", "version": "2", "firstcreated": "2024-05-01T10:00:00Z",
            "bodies": [{"contenttype": "text/html", "value": "<p>One.</p><p>Two &amp; three.</p>"}],
            "infosources": [{"uri": "urn:src"}, {"name": "Wire Two"}]}
    path = tmp_path / "articles.jsonl"
    path.write_text(json.dumps(item) + "\n", encoding="utf-8")
    (expected,) = [r.article for r in iter_file(path)]
    assert corpus.read_dataset(tmp_path) == [expected]
    assert corpus.merged_stream([tmp_path]) == [expected]
    assert expected is not None and expected.source == "Wire Two"


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.parent.name)
def test_eval_pages_are_the_pages_the_worker_publishes(log: Path) -> None:
    articles = corpus.read_dataset(log)
    evaluated = corpus.fold(articles).pipeline
    # the worker's path: the file as records on the articles topic, folded by handle_record;
    # `storyline story show` rebuilds each page from the published StoryUpdated events
    published = fold_records(records_from_files([log], "articles"),
                             max_bytes=corpus.MAX_ARTICLE_BYTES)
    folder = PageFolder()
    for event in published.events:
        if isinstance(event, StoryUpdated):
            folder.apply(event)
    live = {evaluated.resolve(s) for s in evaluated.story_ids}
    assert live == {published.pipeline.resolve(s) for s in published.pipeline.story_ids}
    for story_id in live:
        page = evaluated.page(story_id)
        assert page is not None
        assert canonical_bytes(page) == canonical_bytes(folder.pages[story_id])
        listed = {a.uri for a in page.articles}
        assert listed <= {uri for uri, s in corpus.stories_of(evaluated, articles).items()
                          if s == story_id}


@pytest.mark.parametrize("log", LOGS[1:], ids=lambda p: p.parent.name)
def test_placement_only_gives_the_pipeline_s_stories(log: Path) -> None:
    articles = corpus.read_dataset(log)
    piped = corpus.stories_of(corpus.fold(articles).pipeline, articles)
    assert corpus.place_articles(articles, ClusteringConfig()).stories == piped


def test_the_timeline_scored_is_the_page_s() -> None:
    log = LOGS[-1]
    articles = corpus.read_dataset(log)
    pipeline = corpus.fold(articles).pipeline
    held = Counter(corpus.stories_of(pipeline, articles).values())
    main = min(held.items(), key=lambda item: (-item[1], item[0]))[0]
    page = pipeline.page(main)
    assert page is not None and page.timeline
    predicted, share = timeline_eval.page_timeline(articles, TIMELINE_LIMIT)
    assert predicted == [(e.date, [e.text]) for e in page.timeline]
    assert share == held[main] / len(articles)


def test_placement_only_refuses_what_only_the_pipeline_handles() -> None:
    articles = corpus.read_dataset(SAMPLES)
    withdrawn = articles[0].model_copy(update={"pubstatus": "withdrawn", "version": 2})
    with pytest.raises(ValueError, match="pipeline"):
        corpus.place_articles([*articles, withdrawn])
