"""What changed between any two revisions of a story (not only consecutive ones)."""

from __future__ import annotations

from pydantic import BaseModel

from storyline.domain.events import RelatedArticle, StoryPage, TimelineEntry
from storyline.read.render import date_label, entry_text, paragraph_text


class EntryView(BaseModel):
    entry_id: str
    date_label: str
    text: str


class EntryChange(BaseModel):
    entry_id: str
    before: EntryView
    after: EntryView


class ArticleView(BaseModel):
    n: int
    uri: str
    source: str
    headline: str


class RevisionDelta(BaseModel):
    story_id: str
    from_revision: int
    to_revision: int
    title_changed: bool
    title_before: str
    title_after: str
    summary_changed: bool
    summary_before: list[str]
    summary_after: list[str]
    entries_added: list[EntryView]
    entries_changed: list[EntryChange]
    entries_removed: list[EntryView]
    articles_added: list[ArticleView]
    articles_removed: list[ArticleView]
    articles_changed: list[ArticleView]
    article_count_before: int
    article_count_after: int


def _entry(entry: TimelineEntry) -> EntryView:
    return EntryView(entry_id=entry.entry_id, date_label=date_label(entry), text=entry_text(entry))


def _summary(update: StoryPage) -> list[str]:
    return [f"{p.key_phrase}: {paragraph_text(p)}" for p in update.summary]


def diff_revisions(before: StoryPage, after: StoryPage) -> RevisionDelta:
    """Entries are matched by their stable ``entry_id``, articles by uri; lists keep the
    order of the page they come from."""
    old_entries = {e.entry_id: e for e in before.timeline}
    new_entries = {e.entry_id: e for e in after.timeline}
    old_articles = {a.uri: a for a in before.articles}
    new_articles = {a.uri: a for a in after.articles}

    def article(a: RelatedArticle) -> ArticleView:
        return ArticleView(n=a.n, uri=a.uri, source=a.source, headline=a.headline)

    return RevisionDelta(
        story_id=after.story_id,
        from_revision=before.revision,
        to_revision=after.revision,
        title_changed=before.title != after.title,
        title_before=before.title,
        title_after=after.title,
        summary_changed=before.summary != after.summary,
        summary_before=_summary(before),
        summary_after=_summary(after),
        entries_added=[_entry(e) for e in after.timeline if e.entry_id not in old_entries],
        entries_changed=[
            EntryChange(entry_id=e.entry_id, before=_entry(old_entries[e.entry_id]),
                        after=_entry(e))
            for e in after.timeline
            if e.entry_id in old_entries and old_entries[e.entry_id] != e
        ],
        entries_removed=[_entry(e) for e in before.timeline if e.entry_id not in new_entries],
        articles_added=[article(a) for a in after.articles if a.uri not in old_articles],
        articles_removed=[article(a) for a in before.articles if a.uri not in new_articles],
        # a correction or withdrawal: same citation number, new version, headline or source
        articles_changed=[article(a) for a in after.articles
                          if a.uri in old_articles and old_articles[a.uri] != a],
        article_count_before=before.article_count,
        article_count_after=after.article_count,
    )
