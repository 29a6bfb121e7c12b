"""The story fold: one story's state and the revisions it produces.

A story is a sequence of articles in log order. Each article that joins (or corrects, or
withdraws from) a story folds into :class:`StoryState` and yields the next
:class:`StoryUpdated`, a self-contained page. Citation numbers are given in order of joining
and never change, so ``[3]`` means the same article in every revision of the story.

The state is mutated in place by the functions below rather than copied: a story can hold
thousands of articles and a copy per article would make the fold quadratic. Only the
:class:`~storyline.domain.pipeline.Pipeline` owns states, and it never shares them.

What a state keeps of an article is bounded: its citation data, its facts packed
(:class:`~storyline.domain.facts.ColdFacts`: the first sentence in the clear), its timeline
input, and while it is in the summary window its analysis (in ``summary_memo``). The whole
facts are unpacked only to analyse an article again (a withdrawal brings an older article
back into the window, or the memo was dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from storyline.domain.events import (
    ArticleReceived,
    Cause,
    ChangeReason,
    RelatedArticle,
    RevisionDiff,
    StoryPage,
    StoryUpdated,
    SummaryParagraph,
    TimelineEntry,
)
from storyline.domain.facts import ArticleFacts, CitedArticle, ColdFacts
from storyline.domain.pages import sealed, update_for
from storyline.domain.summary import SummaryMemo, analysis_of, summarise
from storyline.domain.timeline import TimelineIndex, timeline_input
from storyline.domain.title import choose_title

TIMELINE_LIMIT = 12  # entries on a page: the reference page shows nine


@dataclass(slots=True)
class StoryState:
    story_id: str
    revision: int = 0
    # uri -> article, in order of joining (dicts keep insertion order; that order comes from
    # the log, so it is deterministic). Facts are ColdFacts here: packed, first sentence in
    # the clear (withdrawn articles keep no packed copy).
    articles: dict[str, CitedArticle] = field(default_factory=dict)
    withdrawn: dict[str, CitedArticle] = field(default_factory=dict)
    next_n: int = 1
    timeline: TimelineIndex = field(default_factory=TimelineIndex)
    aliases: list[str] = field(default_factory=list)
    title: str | None = None
    last: StoryPage | None = None  # the latest page, sealed
    # n -> (the article it was made from, its "also carried by", the list entry): rebuilding
    # hundreds of list entries per revision was the fold's largest fixed cost
    related_cache: dict[int, tuple[CitedArticle, tuple[str, ...], RelatedArticle]] = field(
        default_factory=dict)
    summary_memo: SummaryMemo = field(default_factory=SummaryMemo)

    @property
    def article_count(self) -> int:
        return len(self.articles)


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to the story, before the page is rebuilt."""

    reason: ChangeReason
    articles_added: tuple[str, ...] = ()


def fold_article(
    state: StoryState,
    article: ArticleReceived,
    facts: ArticleFacts,
    *,
    duplicate_of: str | None,
) -> Change | None:
    """Fold a usable article (new, or a new version of a known one) into ``state``.

    Returns None when it changes nothing: an older version than the one the story has."""
    known = state.articles.get(article.uri) or state.withdrawn.get(article.uri)
    if known is not None and article.version <= known.version:
        return None

    if known is not None:
        cited = _cite(article, facts, n=known.n, copy_of=known.copy_of)
        state.withdrawn.pop(article.uri, None)
        if article.uri in state.articles:
            state.timeline.remove(article.uri)
        _keep(state, cited, facts)
        return Change(ChangeReason.SOURCE_CORRECTION)

    original = state.articles.get(duplicate_of) if duplicate_of else None
    cited = _cite(article, facts, n=state.next_n, copy_of=original.n if original else None)
    state.next_n += 1
    _keep(state, cited, facts)
    reason = ChangeReason.DUPLICATE if original else ChangeReason.NEW_ARTICLE
    return Change(reason, articles_added=(article.uri,))


def _keep(state: StoryState, cited: CitedArticle, facts: ArticleFacts) -> None:
    """Put ``cited`` (packed facts) in the story, with what the next revision needs of its
    whole ``facts`` taken now: its timeline input and its analysis."""
    state.articles[cited.uri] = cited
    state.timeline.add(cited, timeline_input(facts))
    cold = cited.facts if isinstance(cited.facts, ColdFacts) else None
    state.summary_memo.analyses[cited.uri] = (cited.facts, analysis_of(facts, cold))


def withdraw_article(state: StoryState, article: ArticleReceived) -> Change | None:
    """A source withdrew (or cancelled) an item: it leaves the page, its citation number
    is retired, never reused."""
    known = state.articles.get(article.uri)
    if known is None or article.version < known.version:
        return None
    state.articles.pop(article.uri)
    state.timeline.remove(article.uri)
    state.related_cache.pop(known.n, None)
    state.withdrawn[article.uri] = known.model_copy(
        update={"version": article.version, "facts": ColdFacts.pack(known.facts, keep=False)})
    return Change(ChangeReason.SOURCE_WITHDRAWAL)


def absorb(survivor: StoryState, absorbed: StoryState) -> Change:
    """Move every article of ``absorbed`` into ``survivor`` (a merge), renumbering them after
    the survivor's own citations in their original order of joining."""
    renumbered: dict[int, int] = {}
    added: list[str] = []
    for cited in absorbed.articles.values():
        renumbered[cited.n] = survivor.next_n
        moved = cited.model_copy(
            update={
                "n": survivor.next_n,
                "copy_of": renumbered.get(cited.copy_of) if cited.copy_of else None,
            }
        )
        survivor.next_n += 1
        survivor.articles[cited.uri] = moved
        survivor.timeline.add(moved, absorbed.timeline.prepared(cited.uri))
        added.append(cited.uri)
    for uri, cited in absorbed.withdrawn.items():
        survivor.withdrawn.setdefault(uri, cited)
    # the moved articles keep their facts objects, so their analyses stay valid
    for uri, entry in absorbed.summary_memo.analyses.items():
        survivor.summary_memo.analyses.setdefault(uri, entry)
    survivor.aliases.extend([absorbed.story_id, *absorbed.aliases])
    return Change(ChangeReason.MERGE, articles_added=tuple(added))


def build_revision(state: StoryState, change: Change, *, cause: Cause, pipeline_version: str
                   ) -> StoryUpdated:
    """Advance the revision number, render the whole page (kept as ``state.last``) and
    return the change from the previous page as a ``StoryUpdated``."""
    cited = list(state.articles.values())
    timeline = state.timeline.entries(TIMELINE_LIMIT)
    memo = state.summary_memo
    summary = summarise(cited, timeline, memo=memo) if cited else ()
    title = (choose_title(cited, previous=state.title, memo=memo) if cited
             else (state.title or "Withdrawn"))
    previous = state.last
    appended = _appended(state, change, cited, previous)
    if appended is not None and previous is not None:
        # one article joined and nothing else moved: the list, dates and count follow from
        # the last page's (what the whole recount below gives, in constant time)
        related = _related_after_append(previous.articles, appended, cited,
                                        state.related_cache)
        published_first = min(previous.published_first, appended.published)
        published_last = max(previous.published_last, appended.published)
        independent = previous.independent_count + (appended.copy_of is None)
    else:
        related = _related_articles(cited, state.related_cache)
        published = [a.published for a in cited] or [
            a.published for a in state.withdrawn.values()
        ]
        published_first, published_last = min(published), max(published)
        independent = sum(1 for a in cited if a.copy_of is None)

    diff = _diff(previous, change, title, summary, timeline)
    state.revision += 1
    state.title = title
    page = sealed(StoryPage(
        story_id=state.story_id,
        revision=state.revision,
        article_count=len(cited),
        independent_count=independent,
        title=title,
        published_first=published_first,
        published_last=published_last,
        summary=tuple(summary),
        timeline=tuple(timeline),
        articles=related,
        aliases=tuple(state.aliases),
        diff=diff,
        cause=cause,
        pipeline_version=pipeline_version,
        previous_hash=previous.content_hash if previous is not None else None,
        content_hash="",
    ), previous)
    state.last = page
    return update_for(page, previous)


def replace_summary(state: StoryState, update: StoryUpdated,
                    paragraphs: tuple[SummaryParagraph, ...]) -> StoryUpdated:
    """Revision ``update`` (the latest of ``state``) with another summary (an LLM's): the
    page, its hash and the change are redone, and the next revision follows this page."""
    page = state.last
    if page is None or (page.story_id, page.revision) != (update.story_id, update.revision):
        raise ValueError(f"{update.story_id}@{update.revision} is not the story's latest page")
    replaced = sealed(page.model_copy(update={"summary": paragraphs}))
    state.last = replaced
    changes = update.changes.model_copy(update={"summary": paragraphs})
    return update.model_copy(update={"content_hash": replaced.content_hash,
                                     "changes": changes})


_CITED_FIELDS = set(CitedArticle.model_fields)


def _cite(article: ArticleReceived, facts: ArticleFacts, *, n: int, copy_of: int | None
          ) -> CitedArticle:
    # the values come from a validated article; one fields-set object for all the story's
    # articles (frozen models never add to it) instead of a set per article
    return CitedArticle.model_construct(
        _CITED_FIELDS,
        n=n,
        uri=article.uri,
        version=article.version,
        source=article.source,
        headline=article.headline,
        published=article.published,
        facts=ColdFacts.pack(facts),
        copy_of=copy_of,
    )


def _display_headline(article: CitedArticle) -> str:
    if article.headline:
        return article.headline
    first = article.facts.sentences[0] if article.facts.sentences else article.uri
    return first if len(first) <= 120 else first[:117].rstrip() + "..."


def _appended(state: StoryState, change: Change, cited: Sequence[CitedArticle],
              previous: StoryPage | None) -> CitedArticle | None:
    """The article this revision only appended to what ``previous`` showed (a new article
    or a copy, no merge, nothing withdrawn or corrected since), or None."""
    if (previous is None or change.reason not in _APPENDING or len(cited) < 2
            or len(cited) != previous.article_count + 1
            or change.articles_added != (cited[-1].uri,)):
        return None
    return cited[-1]


_APPENDING = frozenset({ChangeReason.NEW_ARTICLE, ChangeReason.DUPLICATE})


def _related_after_append(
    before: tuple[RelatedArticle, ...],
    appended: CitedArticle,
    cited: Sequence[CitedArticle],
    cache: dict[int, tuple[CitedArticle, tuple[str, ...], RelatedArticle]],
) -> tuple[RelatedArticle, ...]:
    """``_related_articles(cited, cache)`` when ``cited`` is the list ``before`` was made
    from plus ``appended``: an original adds its entry; a copy changes at most the entry
    of the original it copies (its "also carried by")."""
    if appended.copy_of is None:
        return (*before, _related_entry(appended, (), cache))
    n = appended.copy_of
    original = next((a for a in reversed(cited) if a.n == n), None)
    if original is None or original.copy_of is not None:
        return before  # a copy of a copy: no listed entry names it
    carried = {a.source for a in cited if a.copy_of == n}
    entry = _related_entry(original, tuple(sorted(carried - {original.source})), cache)
    return tuple(entry if e.n == n else e for e in before)


def _related_entry(article: CitedArticle, outlets: tuple[str, ...],
                   cache: dict[int, tuple[CitedArticle, tuple[str, ...], RelatedArticle]]
                   ) -> RelatedArticle:
    hit = cache.get(article.n)
    if hit is not None and hit[0] is article and hit[1] == outlets:
        return hit[2]
    entry = RelatedArticle(
        n=article.n,
        uri=article.uri,
        version=article.version,
        source=article.source,
        headline=_display_headline(article),
        published=article.published,
        also_carried_by=outlets,
    )
    cache[article.n] = (article, outlets, entry)
    return entry


def _related_articles(
    cited: Sequence[CitedArticle],
    cache: dict[int, tuple[CitedArticle, tuple[str, ...], RelatedArticle]],
) -> tuple[RelatedArticle, ...]:
    carried: dict[int, list[str]] = {}
    for article in cited:
        if article.copy_of is not None:
            carried.setdefault(article.copy_of, []).append(article.source)
    related: list[RelatedArticle] = []
    for article in cited:
        if article.copy_of is not None:
            continue  # listed once, under its original, as "also carried by"
        outlets = tuple(sorted(set(carried.get(article.n, ())) - {article.source}))
        related.append(_related_entry(article, outlets, cache))
    return tuple(related)


def _diff(
    previous: StoryPage | None,
    change: Change,
    title: str,
    summary: Sequence[SummaryParagraph],
    timeline: Sequence[TimelineEntry],
) -> RevisionDiff:
    before = {e.entry_id: e for e in previous.timeline} if previous else {}
    after = {e.entry_id: e for e in timeline}
    added = tuple(e.entry_id for e in timeline if e.entry_id not in before)
    removed = tuple(e.entry_id for e in (previous.timeline if previous else ()) if
                    e.entry_id not in after)
    changed = tuple(
        e.entry_id for e in timeline if e.entry_id in before and before[e.entry_id] != e
    )
    figures = tuple(
        e.entry_id
        for e in timeline
        if e.entry_id in before
        and before[e.entry_id].conflicts != e.conflicts
        and any(c.kind == "figure" for c in e.conflicts)
    )
    return RevisionDiff(
        reason=change.reason,
        articles_added=change.articles_added,
        entries_added=added,
        entries_changed=changed,
        entries_removed=removed,
        figures_changed=figures,
        title_changed=previous is not None and previous.title != title,
        summary_changed=previous is None or tuple(previous.summary) != tuple(summary),
    )
