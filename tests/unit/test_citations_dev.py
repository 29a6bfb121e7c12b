"""Every timeline citation on the dev stories points at a sentence that supports the entry.

Runs the fold's :class:`TimelineIndex` over the gold stories of the dev sets (skipped when
../shared is absent) and checks each ``Citation``: the cited version, and a sentence of the
cited article that states the entry's date (or, for a source that disagrees on the date, the
date it is listed with in the entry's conflicts, or a relative date a few days off or a
plan's date: not conflicts) and shares the entry's content words.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dev_facts import facts_of

from storyline.domain.events import TimelineEntry
from storyline.domain.extract.timeline_text import content_tokens
from storyline.domain.facts import CitedArticle
from storyline.domain.page.timeline import CONFLICT_DAYS, TimelineIndex, date_label
from storyline.evaluation.timeline_eval import load_articles, load_gold

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
DATASETS = ["entities-dev", "timeline17-dev"]
# A citation may word the event differently from the entry's text ("the trial began today"
# for "the trial opened last June"), but two content words at least must be shared.
MIN_SHARED_WORDS = 2
SKIP_STORIES = {"bpoil"}  # the largest story: the same code paths, four times the runtime


def _stories(name: str) -> dict[str, list[CitedArticle]]:
    dataset = SHARED / "data" / name
    if not (dataset / "articles.jsonl").is_file():
        pytest.skip(f"{dataset} is not available")
    stories, _ = load_gold(dataset)
    out: dict[str, list[CitedArticle]] = {}
    for article in load_articles(dataset):
        story = stories.get(article.uri)
        if story is None or story in SKIP_STORIES:
            continue
        members = out.setdefault(story, [])
        members.append(CitedArticle(
            n=len(members) + 1, uri=article.uri, version=article.version, source=article.source,
            headline=article.headline, published=article.published,
            facts=facts_of(article)))
    return out


def _unsupported(entry: TimelineEntry, by_n: dict[int, CitedArticle]) -> list[str]:
    problems: list[str] = []
    date_sides = {n: side.value for side in entry.conflicts if side.kind == "date"
                  for n in side.citations}
    words = set(content_tokens(entry.text))
    cited_sentences = [by_n[c.n].facts.sentences[c.sentence] for c in entry.citations
                       if c.n in by_n and c.sentence < len(by_n[c.n].facts.sentences)]
    for citation in entry.citations:
        cited = by_n[citation.n]
        where = f"{entry.date_label} [{citation.n}] {cited.uri}#{citation.sentence}"
        if citation.uri != cited.uri or citation.version != cited.version:
            problems.append(f"{where}: cites another article or version")
            continue
        sentence = cited.facts.sentences[citation.sentence]
        spans = [d.span for d in cited.facts.dates if d.sentence == citation.sentence]
        on_date = any(s.start <= entry.date_end and entry.date <= s.end for s in spans)
        listed = citation.n in date_sides and any(
            date_label(s) == date_sides[citation.n] for s in spans)
        # A date resolved from "Tuesday"/"yesterday" a few days off, or a plan's date (after
        # the article's publication), is not a conflict (#13): the source still reports it.
        pub = cited.published.date()
        resolved = any(
            (not d.stated and abs((d.span.start - entry.date).days) <= CONFLICT_DAYS)
            or d.span.start > pub
            for d in cited.facts.dates if d.sentence == citation.sentence)
        if not (on_date or listed or resolved):
            problems.append(f"{where}: no date of the entry in {sentence!r}")
        own = set(content_tokens(sentence))
        # Sources join an event through any earlier report of it, not only its displayed one.
        linked = any(len(own & set(content_tokens(other))) >= 3 for other in cited_sentences
                     if other != sentence)
        if len(words & own) < min(MIN_SHARED_WORDS, len(words)) and not linked:
            problems.append(f"{where}: {sentence!r} does not say {entry.text!r}")
    return problems


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_citation_supports_its_entry(dataset: str) -> None:
    checked = 0
    problems: list[str] = []
    for _, articles in sorted(_stories(dataset).items()):
        index = TimelineIndex()
        by_n = {a.n: a for a in articles}
        for position, article in enumerate(articles, start=1):
            index.add(article)
            # Check the page as it stands along the way too, not only at the end.
            if position % 50 == 0 or position == len(articles):
                for entry in index.entries(40):
                    checked += len(entry.citations)
                    problems.extend(_unsupported(entry, by_n))
    assert checked > 100
    assert problems == [], f"{len(problems)} of {checked} citations: " + "\n".join(problems[:10])
