"""The per-story memo of the summary (centroid counts, lead index) must give exactly what a
recount gives, as the story grows, as its window slides, and after a correction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from storyline.domain.extract.extractor import extract_facts
from storyline.domain.facts import ArticleFacts, CitedArticle
from storyline.domain.page import summary, title
from storyline.ingest.files import iter_file

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "wire" / "articles.jsonl"


def cited_sample() -> list[CitedArticle]:
    out: list[CitedArticle] = []
    for item in iter_file(SAMPLE):
        a = item.article
        assert a is not None
        out.append(CitedArticle(n=len(out) + 1, uri=a.uri, version=a.version, source=a.source,
                                headline=a.headline, published=a.published,
                                facts=extract_facts(a)))
    return out


@pytest.mark.parametrize("window", [3, 5, 1000])
def test_memo_equals_recount_while_growing_and_sliding(window: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summary, "STORY_WINDOW", window)
    monkeypatch.setattr(title, "STORY_WINDOW", window)
    articles = cited_sample()
    memo = summary.SummaryMemo()
    previous: str | None = None
    for i in range(1, len(articles) + 1):
        story = articles[:i]
        with_memo = summary.summarise(story, (), memo=memo)
        assert with_memo == summary.summarise(story, ())
        title_memo = title.choose_title(story, previous, memo=memo)
        assert title_memo == title.choose_title(story, previous)
        previous = title_memo
    assert with_memo, "the sample story has a summary"

    # a correction replaces an article in the middle: not a slide, so a full rebuild
    corrected = replace(articles[-2], facts=extract_facts_again(articles[-2]))
    story = [*articles[:-2], corrected, articles[-1]]
    assert summary.summarise(story, (), memo=memo) == summary.summarise(story, ())


def extract_facts_again(article: CitedArticle) -> ArticleFacts:
    # a new facts object with equal content: the memo must not confuse it with the old one
    return article.facts.model_copy()


def _slide_through(articles: list[CitedArticle],
                   check: Callable[[summary.SummaryMemo], None] | None = None) -> int:
    """Fold the story one article at a time with a memo, checking each summary and title
    against a recount (and the memo with ``check``); the most ids the memo held at once."""
    memo = summary.SummaryMemo()
    previous: str | None = None
    most = 0
    for i in range(1, len(articles) + 1):
        story = articles[:i]
        assert summary.summarise(story, (), memo=memo) == summary.summarise(story, ())
        chosen = title.choose_title(story, previous, memo=memo)
        assert chosen == title.choose_title(story, previous)
        previous = chosen
        if check is not None:
            check(memo)
        assert memo.counts is not None
        most = max(most, len(memo.counts.term_ids) + len(memo.counts.name_ids))
    return most


def test_a_long_story_renumbers_its_memo_ids_without_changing_a_byte(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A window that slides over new words hands out ids for ever; past a bound, and when
    # most no longer count anything, the memo numbers its window's words afresh.
    monkeypatch.setattr(summary, "STORY_WINDOW", 3)
    monkeypatch.setattr(title, "STORY_WINDOW", 3)
    articles = cited_sample()
    monkeypatch.setattr(summary, "COUNTS_MIN_IDS", 10**9)
    unbounded = _slide_through(articles)
    monkeypatch.setattr(summary, "COUNTS_MIN_IDS", 40)
    bounded = _slide_through(articles)
    assert bounded < unbounded


def test_memo_lets_go_of_the_rows_of_articles_that_left(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    # A row holds its analysis: rows kept for articles that slid out would keep their whole
    # analyses alive (it was up to a window's worth per story). The bound must not change
    # a byte: a dropped row is made again, identically, when needed.
    monkeypatch.setattr(summary, "STORY_WINDOW", 3)
    monkeypatch.setattr(title, "STORY_WINDOW", 3)
    monkeypatch.setattr(summary, "ROWS_SLACK", 1)

    def bounded(memo: summary.SummaryMemo) -> None:
        live = {id(analysis) for _, analysis in memo.analyses.values()}
        assert len(memo.rows) <= len(live) + 1
        assert len(memo.title_rows) <= len(live) + 1

    articles = cited_sample()
    _slide_through(articles, bounded)
    assert len(articles) > 10, "the story slid past its window several times"
