"""Realistic ``StoryUpdated`` revisions for tests, benchmarks and demos of the read side.

The content follows the reference page (North Korean troops in Kursk): several revisions
of one story, each a self-consistent page with a correct content hash, so a store loaded
with them behaves like one fed by the worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from storyline.domain.events import (
    Cause,
    ChangeReason,
    Citation,
    CitedSentence,
    ConflictingValue,
    DatePrecision,
    RelatedArticle,
    RevisionDiff,
    StoryMerged,
    StoryPage,
    StoryUpdated,
    SummaryParagraph,
    TimelineEntry,
)
from storyline.domain.pages import sealed, update_for

UTC = dt.UTC


def _t(year: int, month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=UTC)


# (source, headline, published, also carried by)
ARTICLES: tuple[tuple[str, str, dt.datetime, tuple[str, ...]], ...] = (
    ("Yonhap", "N. Korea welcomes engineer troops' return from Russia's Kursk region",
     _t(2025, 12, 13), ("KBS",)),
    ("CNN", "Kim Jong Un welcomes returning North Korean engineers from Russia",
     _t(2025, 12, 13, 15), ()),
    ("Yonhap", "Kim Jong-un inspects memorial for soldiers killed in Ukraine war",
     _t(2026, 1, 6), ()),
    ("Yonhap", "Kim Jong-un inspects sculptures for Ukraine-war memorial museum",
     _t(2026, 1, 26), ()),
    ("Yonhap", "North Korean troops remain active in Russia's Kursk region, targeting Ukraine",
     _t(2026, 2, 5), ()),
)

# (entry id, start, end, precision, label, text, article numbers citing it)
ENTRIES: tuple[tuple[str, dt.date, dt.date, DatePrecision, str, str, tuple[int, ...]], ...] = (
    ("e-treaty", dt.date(2024, 6, 1), dt.date(2024, 6, 30), DatePrecision.MONTH, "Jun 2024",
     "Kim Jong-un signs a comprehensive strategic partnership treaty with Vladimir Putin.",
     (1, 5)),
    ("e-deploy", dt.date(2024, 10, 1), dt.date(2024, 10, 31), DatePrecision.MONTH, "Oct 2024",
     "North Korea begins sending combat troops to Russia's Kursk region.", (5,)),
    ("e-engineers", dt.date(2025, 8, 1), dt.date(2025, 8, 10), DatePrecision.PART_OF_MONTH,
     "Early Aug 2025", "About 1,000 engineers of the 528th Regiment leave for Kursk.", (1, 2)),
    ("e-return", dt.date(2025, 12, 12), dt.date(2025, 12, 12), DatePrecision.DAY,
     "Dec 12, 2025", "Kim welcomes the returning 528th Regiment in Pyongyang.", (1, 2)),
    ("e-memorial", dt.date(2026, 1, 5), dt.date(2026, 1, 5), DatePrecision.DAY, "Jan 5, 2026",
     "Kim plants a tree at the site of the memorial museum.", (3,)),
    ("e-sculptures", dt.date(2026, 1, 25), dt.date(2026, 1, 25), DatePrecision.DAY,
     "Jan 25, 2026", "Kim inspects combat-scene sculptures for the memorial.", (4,)),
    ("e-active", dt.date(2026, 2, 4), dt.date(2026, 2, 4), DatePrecision.DAY, "Feb 4, 2026",
     "Ukrainian intelligence says North Korean units still fire artillery at Ukraine.", (5,)),
)


def _uri(story_id: str, n: int) -> str:
    return f"https://news.example/{story_id}/{n}"


def _cite(story_id: str, n: int, sentence: int = 0) -> Citation:
    return Citation(n=n, uri=_uri(story_id, n), version=1, sentence=sentence)


def finish(body: dict[str, Any]) -> StoryPage:
    """Seal a page: its content hash, computed like the worker does."""
    return sealed(StoryPage(**body, content_hash=""))


def updates(pages: Sequence[StoryPage]) -> list[StoryUpdated]:
    """The ``StoryUpdated`` records that carry ``pages``: a change from the page before when
    it is in the sequence (revision - 1 of the same story), the whole page otherwise."""
    before: dict[str, StoryPage] = {}
    out = []
    for page in pages:
        previous = before.get(page.story_id)
        if previous is not None and previous.revision + 1 == page.revision:
            page = sealed(page.model_copy(update={"previous_hash": previous.content_hash}))
            out.append(update_for(page, previous))
        else:
            out.append(update_for(page, None))
        before[page.story_id] = page
    return out


def chained(pages: Sequence[StoryPage]) -> list[StoryPage]:
    """The pages as a consumer rebuilds them from ``updates(pages)``: each consecutive
    revision names the hash of the one before."""
    out: list[StoryPage] = []
    before: dict[str, StoryPage] = {}
    for page in pages:
        previous = before.get(page.story_id)
        if previous is not None and previous.revision + 1 == page.revision:
            page = sealed(page.model_copy(update={"previous_hash": previous.content_hash}))
        out.append(page)
        before[page.story_id] = page
    return out


def story_revision(
    story_id: str = "story-kursk",
    revision: int = 5,
    *,
    title: str = "North Korean forces continue operations in Russia's Kursk",
    headline_override: dict[int, str] | None = None,
    source_override: dict[int, str] | None = None,
    extra_sentence: str | None = None,
    partition: int = 0,
    offset: int | None = None,
    aliases: Sequence[str] = (),
) -> StoryPage:
    """Revision ``revision`` of the sample story: it holds the first ``revision`` articles
    (up to five; later revisions are corrections) and the entries those articles cite."""
    count = min(revision, len(ARTICLES))
    headlines = headline_override or {}
    sources = source_override or {}
    articles = tuple(
        RelatedArticle(n=n, uri=_uri(story_id, n), version=1, source=sources.get(n, src),
                       headline=headlines.get(n, head), published=when, also_carried_by=also)
        for n, (src, head, when, also) in enumerate(ARTICLES[:count], start=1)
    )
    entries = []
    for entry_id, start, end, precision, label, text, cited in ENTRIES:
        numbers = [n for n in cited if n <= count]
        if not numbers:
            continue
        conflicts: tuple[ConflictingValue, ...] = ()
        if entry_id == "e-engineers" and count >= 2:
            conflicts = (ConflictingValue(kind="figure", value="about 1,500 engineers",
                                          citations=(2,)),)
        entries.append(TimelineEntry(
            entry_id=entry_id, date=start, date_end=end, date_precision=precision,
            date_label=label, date_stated=entry_id != "e-active", text=text,
            citations=tuple(_cite(story_id, n) for n in numbers),
            independent_sources=len(numbers), conflicts=conflicts))
    sentences = [CitedSentence(
        text="North Korean engineers returned from Kursk after months of mine clearance.",
        citations=(_cite(story_id, 1), _cite(story_id, min(2, count))))]
    if count >= 5:
        sentences.append(CitedSentence(
            text="Ukrainian intelligence says North Korean units remain active in Kursk.",
            citations=(_cite(story_id, 5, 2),)))
    if extra_sentence is not None:
        sentences.append(CitedSentence(text=extra_sentence, citations=(_cite(story_id, 1, 3),)))
    summary = (SummaryParagraph(key_phrase="Troops in Kursk", sentences=tuple(sentences)),)
    previous_ids = {e[0] for e in ENTRIES if any(n <= count - 1 for n in e[6])}
    reason = ChangeReason.NEW_ARTICLE if revision <= len(ARTICLES) else \
        ChangeReason.SOURCE_CORRECTION
    cause_n = count if revision <= len(ARTICLES) else 1
    body: dict[str, Any] = {
        "story_id": story_id,
        "revision": revision,
        "article_count": count + sum(len(a.also_carried_by) for a in articles),
        "independent_count": count,
        "title": title,
        "published_first": articles[0].published,
        "published_last": articles[-1].published,
        "summary": summary,
        "timeline": tuple(entries),
        "articles": articles,
        "aliases": tuple(aliases),
        "diff": RevisionDiff(
            reason=reason,
            articles_added=(_uri(story_id, count),) if reason == ChangeReason.NEW_ARTICLE
            else (),
            entries_added=tuple(e.entry_id for e in entries if e.entry_id not in previous_ids)
            if revision > 1 else tuple(e.entry_id for e in entries),
            summary_changed=True,
        ),
        "cause": Cause(article_uri=_uri(story_id, cause_n), article_version=1,
                       topic="storyline.articles", partition=partition,
                       offset=offset if offset is not None else revision),
        "pipeline_version": "test-1",
    }
    return finish(body)


def story_history(story_id: str = "story-kursk", revisions: int = 5, **kwargs: Any
                  ) -> list[StoryPage]:
    """Revisions 1..``revisions`` of one story, chained by their hashes."""
    return chained([story_revision(story_id, r, **kwargs) for r in range(1, revisions + 1)])


def merge(survivor: str, absorbed: str, survivor_revision: int) -> StoryMerged:
    return StoryMerged(
        survivor_id=survivor, absorbed_id=absorbed, survivor_revision=survivor_revision,
        cause=Cause(article_uri=_uri(survivor, 99), article_version=1,
                    topic="storyline.articles", partition=0, offset=999),
        pipeline_version="test-1")
