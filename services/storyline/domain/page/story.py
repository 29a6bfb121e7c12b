"""The story fold: one story's state and the revisions it produces.

A story is a sequence of articles in log order. Each article that joins (or corrects, or
withdraws from) a story folds into :class:`StoryState` and yields the next
:class:`StoryUpdated`, a self-contained page. Citation numbers are given in order of joining
and never change, so ``[3]`` means the same article in every revision of the story.

The state is mutated in place by the functions below rather than copied: a story can hold
thousands of articles and a copy per article would make the fold quadratic. Only the
:class:`~storyline.domain.pipeline.Pipeline` owns states, and it never shares them.

What a state keeps of an article is bounded: its citation data, its timeline input, and
while it is in the summary window its packed sentences and its analysis (in
``summary_memo``). Its whole facts and extract-stage analysis, packed, go to the cold store
after its revision (:func:`store_facts`); outside the window it keeps only the shared
:data:`~storyline.domain.facts.STORED` as its facts, and they come back only if it returns
to the window (a withdrawal). A dropped or thawed memo is refilled from the packed analyses
in the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from typing import Protocol, overload

from storyline.domain.coldstore import ColdStore
from storyline.domain.contracts import (
    SummaryAnalysis,
    TimelineFeatures,
    analysis_from,
    pack_summary,
    timeline_input_from,
    unpack_summary,
)
from storyline.domain.events import (
    CarriedCopy,
    Cause,
    ChangeReason,
    RelatedArticle,
    RevisionDiff,
    StoryPage,
    StoryUpdated,
    SummaryParagraph,
    TimelineEntry,
    web_address,
)
from storyline.domain.extract.analysis import Analysis
from storyline.domain.extract.text import repair_mojibake
from storyline.domain.extract.timeline_input import TimelineInput
from storyline.domain.facts import (
    STORED,
    ArticleFacts,
    CitedArticle,
    ColdFacts,
    pack_sentences,
    unpack_sentences,
)
from storyline.domain.fieldsets import shared_fields_set
from storyline.domain.page import summary as summary_module
from storyline.domain.page.summary import SummaryMemo, analysed, summarise
from storyline.domain.page.timeline import TimelineIndex
from storyline.domain.page.title import choose_title
from storyline.domain.page.tuning import PAGE
from storyline.domain.pages import (
    known_list_digests,
    remember_list_digests,
    sealed,
    update_for,
)

TIMELINE_LIMIT = PAGE.timeline_limit  # the tuning: storyline.domain.page.tuning


@dataclass(slots=True)
class StoryState:
    story_id: str
    revision: int = 0
    # uri -> article, in order of joining (dicts keep insertion order; that order comes from
    # the log, so it is deterministic). Facts are ColdFacts here: in the summary window the
    # packed sentences and the first in the clear, outside it the shared STORED (the rest
    # is in the cold store: store_facts); withdrawn articles keep no packed copy.
    articles: dict[str, CitedArticle] = field(default_factory=dict)
    withdrawn: dict[str, CitedArticle] = field(default_factory=dict)
    next_n: int = 1
    timeline: TimelineIndex = field(default_factory=TimelineIndex)
    aliases: list[str] = field(default_factory=list)
    title: str | None = None
    last: StoryPage | None = None  # the latest page, sealed
    # n -> the list entry: rebuilding hundreds of list entries per revision was the fold's
    # largest fixed cost. Reused when made from the same values (its uri, version and
    # copies, which the entry itself holds), not the same article objects, so an article
    # whose facts moved to the cold store (a new object) keeps its entry and the old
    # object is let go.
    related_cache: dict[int, RelatedArticle] = field(default_factory=dict)
    summary_memo: SummaryMemo = field(default_factory=SummaryMemo)

    @property
    def article_count(self) -> int:
        return len(self.articles)

    # Pickled (snapshots, frozen stories) without the summary memo: it is a cache of the
    # window's analyses and scores (a third of a snapshot's bytes and of its load time),
    # refilled from the packed analyses at the story's next revision, for the same bytes.
    # With the digests of the last page's list when the caches hold them (32 bytes an
    # article): thawed, the list is new objects, and the next revision would digest every
    # entry again for the page's hash (8 % of the fold's CPU where stories are frozen and
    # thawed over the articles budget; docs/benchmarks.md, session 38).
    def __getstate__(self) -> dict[str, object]:
        state: dict[str, object] = {name: getattr(self, name) for name in _STATE_FIELDS}
        if self.last is not None:
            state[_LIST_DIGESTS] = known_list_digests(self.last.articles)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        digests = state.pop(_LIST_DIGESTS, None)
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self.summary_memo = SummaryMemo()
        if isinstance(digests, bytes) and self.last is not None:
            remember_list_digests(self.last.articles, digests)


_STATE_FIELDS = tuple(f for f in StoryState.__slots__ if f != "summary_memo")
_LIST_DIGESTS = "last_list_digests"  # not a field: what the caches knew when pickled


class Folded(Protocol):
    """What the fold reads of an article: an ``ArticleExtracted`` (or the article itself)."""

    @property
    def uri(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def headline(self) -> str | None: ...
    @property
    def published(self) -> dt.datetime: ...
    @property
    def url(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to the story, before the page is rebuilt."""

    reason: ChangeReason
    articles_added: tuple[str, ...] = ()


def fold_article(
    state: StoryState,
    article: Folded,
    facts: ArticleFacts,
    *,
    duplicate_of: str | None,
    timeline: TimelineFeatures,
    summary: SummaryAnalysis,
) -> Change | None:
    """Fold a usable article (new, or a new version of a known one) into ``state``, with
    its timeline input and summary analysis (computed by the extract stage).

    Returns None when it changes nothing: an older version than the one the story has."""
    known = state.articles.get(article.uri) or state.withdrawn.get(article.uri)
    if known is not None and article.version <= known.version:
        return None

    if known is not None:
        cited = cite(article, facts, n=known.n, copy_of=known.copy_of)
        state.withdrawn.pop(article.uri, None)
        if article.uri in state.articles:
            state.timeline.remove(article.uri)
        _keep(state, cited, facts, timeline, summary)
        return Change(ChangeReason.SOURCE_CORRECTION)

    original = state.articles.get(duplicate_of) if duplicate_of else None
    # a copy of a copy is a copy of the same original: the list shows it there, and the
    # timeline and summary count the three as one source
    copy_of = None if original is None else (
        original.copy_of if original.copy_of is not None else original.n)
    cited = cite(article, facts, n=state.next_n, copy_of=copy_of)
    state.next_n += 1
    _keep(state, cited, facts, timeline, summary)
    reason = ChangeReason.DUPLICATE if original else ChangeReason.NEW_ARTICLE
    return Change(reason, articles_added=(article.uri,))


def _keep(state: StoryState, cited: CitedArticle, facts: ArticleFacts,
          timeline: TimelineFeatures, summary: SummaryAnalysis) -> None:
    """Put ``cited`` (packed facts) in the story, with what the next revision needs of its
    whole ``facts``: its timeline input and its analysis (sharing the packed sentences)."""
    cited = with_packed_analysis(cited, summary)
    state.articles[cited.uri] = cited
    state.timeline.add(cited, timeline_input_from(timeline))
    cold = cited.facts
    packed = (cold.packed_sentences if isinstance(cold, ColdFacts) and cold.packed_sentences
              else pack_sentences(facts.sentences))
    state.summary_memo.analyses[cited.uri] = (cited.facts, analysis_from(summary, packed))


def with_packed_analysis(cited: CitedArticle, summary: SummaryAnalysis) -> CitedArticle:
    """``cited`` whose packed facts carry its analysis too (what a refilled memo reads)."""
    cold = cited.facts
    if isinstance(cold, ColdFacts) and cold.packed:
        return replace(cited, facts=cold.with_analysis(pack_summary(summary)))
    return cited


def _packed_analysis(article: CitedArticle, store: ColdStore | None) -> Analysis | None:
    """The analysis of ``article`` from its packed analysis (in ``store`` once
    :func:`store_facts` put it there), for a window article the summary memo lacks (after a
    thaw, a dropped memo, an article back in the window): what ``analysed`` would otherwise
    compute again from the facts, for the same bytes. None when there is none."""
    cold = article.facts
    if not isinstance(cold, ColdFacts):
        return None
    packed_analysis = cold.packed_analysis
    if not packed_analysis and store is not None and cold.packed_sentences:
        blob = store.get(_facts_key(article))
        packed_analysis = _split(blob)[2] if blob is not None else b""
    if not packed_analysis:
        return None
    return analysis_from(unpack_summary(packed_analysis), cold.packed_sentences)


# Where an article's packed facts go once it left its story's summary window: keyed by
# (version, uri), never by story, so a merge moves nothing. Each (uri, version) has one
# content (the assign stage refuses a different one), so a refold writes the same bytes.
FACTS_PREFIX = "story.facts:"


def _facts_key(article: CitedArticle) -> str:
    return f"{FACTS_PREFIX}{article.version}:{article.uri}"


def store_facts(state: StoryState, store: ColdStore, change: Change) -> None:
    """After the revision of ``change``, put in ``store`` the packed facts of every article
    that still holds them (one that just joined or came back), keyed by (version, uri). In
    the summary window an article then keeps only its packed sentences (its analysis in the
    memo shares them; a memo refilled after a drop or a thaw reads the packed analysis from
    the store), and before the window nothing but the shared :data:`STORED`; only an
    article coming back into the window reads its facts again (:func:`restore_window_facts`).

    After a revision that only appended, the articles looked at are the newest and the
    newest outside the window, down to the first one stored before; after a merge, a
    correction or a withdrawal, which can leave packed ones anywhere, every article."""
    whole = change.reason not in _APPENDING
    articles = state.articles
    window = summary_module.STORY_WINDOW
    newest_first = reversed(articles.values())
    looked_at = (enumerate(newest_first) if whole
                 else chain(islice(enumerate(newest_first), 1),
                            islice(enumerate(reversed(articles.values())), window, None)))
    replaced: list[tuple[CitedArticle, ColdFacts, ColdFacts]] = []
    for position, cited in looked_at:
        cold = cited.facts
        if not isinstance(cold, ColdFacts):
            continue
        if position >= window and cold.stored:
            if not whole:
                break
            continue
        if cold.packed:
            store.put(_facts_key(cited),
                      _join(cold.packed, cold.packed_sentences, cold.packed_analysis))
            replaced.append((cited, cold, cold.windowed() if position < window else STORED))
        elif position >= window:
            replaced.append((cited, cold, STORED))
    memo = state.summary_memo.analyses
    for cited, cold, kept in replaced:
        articles[cited.uri] = replace(cited, facts=kept)
        hit = memo.get(cited.uri)
        if hit is not None and hit[0] is cold:
            memo[cited.uri] = (kept, hit[1])  # the memo knows facts by identity


def restore_window_facts(state: StoryState, store: ColdStore) -> None:
    """Bring back from ``store`` the packed facts of the articles in the summary window
    (the summary and the title analyse them)."""
    articles = state.articles
    back: list[CitedArticle] = []
    for cited in islice(reversed(articles.values()), summary_module.STORY_WINDOW):
        cold = cited.facts
        if isinstance(cold, ColdFacts) and cold.stored:
            back.append(cited)
    for cited in back:
        articles[cited.uri] = replace(cited, facts=ColdFacts.restored(
            *_stored_parts(store, cited)))


def _stored_parts(store: ColdStore | None, article: CitedArticle
                  ) -> tuple[bytes, bytes, bytes]:
    """The packed facts, sentences and analysis :func:`store_facts` put in ``store``."""
    blob = store.get(_facts_key(article)) if store is not None else None
    if blob is None:
        raise LookupError(f"the facts of {article.uri} v{article.version} are not in the "
                          "cold store")
    return _split(blob)


def _join(*parts: bytes) -> bytes:
    """The parts, each after its length (4 bytes, big-endian)."""
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _split(blob: bytes) -> tuple[bytes, bytes, bytes]:
    parts: list[bytes] = []
    at = 0
    while at < len(blob):
        size = int.from_bytes(blob[at:at + 4], "big")
        parts.append(blob[at + 4:at + 4 + size])
        at += 4 + size
    packed, packed_sentences, packed_analysis = parts
    return packed, packed_sentences, packed_analysis


def withdraw_article(state: StoryState, article: Folded) -> Change | None:
    """A source withdrew (or cancelled) an item: it leaves the page, its citation number
    is retired, never reused."""
    known = state.articles.get(article.uri)
    if known is None or article.version < known.version:
        return None
    state.articles.pop(article.uri)
    state.timeline.remove(article.uri)
    state.related_cache.pop(known.n, None)
    cold = known.facts
    kept = cold if isinstance(cold, ColdFacts) and cold.stored else ColdFacts.pack(cold,
                                                                                    keep=False)
    state.withdrawn[article.uri] = replace(known, version=article.version, facts=kept)
    return Change(ChangeReason.SOURCE_WITHDRAWAL)


@dataclass(slots=True)
class MovedStory:
    """What a merge moves of a story into its survivor: its articles and withdrawn articles
    in their order in it (their numbers say which is a copy of which, nothing more), each
    article's timeline input, the ids it had absorbed, and the analyses it has of them (a
    cache: empty when the story was rebuilt from the facts, :mod:`.handover`)."""

    story_id: str
    articles: dict[str, CitedArticle]
    withdrawn: dict[str, CitedArticle]
    inputs: dict[str, TimelineInput]
    aliases: list[str]
    analyses: dict[str, tuple[ArticleFacts, Analysis]] = field(default_factory=dict)


def moving(state: StoryState) -> MovedStory:
    """``state`` as a merge moves it (the story was folded here)."""
    return MovedStory(state.story_id, state.articles, state.withdrawn,
                      state.timeline.inputs(), state.aliases, state.summary_memo.analyses)


def absorb(survivor: StoryState, absorbed: StoryState | MovedStory) -> Change:
    """Move every article of ``absorbed`` into ``survivor`` (a merge), renumbering them after
    the survivor's own citations in their original order of joining. Its withdrawn articles
    are renumbered too, after those: one may come back (a later version), and must come
    back under a number of its own, with its copies still pointing at it."""
    moved = moving(absorbed) if isinstance(absorbed, StoryState) else absorbed
    # the absorbed story's own index guides the survivor's (TimelineIndex.absorb)
    index = absorbed.timeline if isinstance(absorbed, StoryState) else None
    renumbered: dict[int, int] = {}
    for cited in moved.articles.values():
        renumbered[cited.n] = survivor.next_n
        survivor.next_n += 1
    taken = [(uri, cited) for uri, cited in moved.withdrawn.items()
             if uri not in survivor.withdrawn and uri not in survivor.articles]
    for _, cited in taken:
        renumbered[cited.n] = survivor.next_n
        survivor.next_n += 1
    added: list[str] = []
    arrivals: list[CitedArticle] = []
    for cited in moved.articles.values():
        arrived = replace(cited, n=renumbered[cited.n],
                          copy_of=renumbered.get(cited.copy_of) if cited.copy_of else None)
        survivor.articles[cited.uri] = arrived
        arrivals.append(arrived)
        added.append(cited.uri)
    survivor.timeline.absorb(arrivals, moved.inputs, index)
    if isinstance(absorbed, StoryState) and absorbed.last is not None:
        _carry_list(absorbed.last.articles, survivor, renumbered)
    for uri, cited in taken:
        survivor.withdrawn[uri] = replace(
            cited, n=renumbered[cited.n],
            copy_of=renumbered.get(cited.copy_of) if cited.copy_of else None)
    if isinstance(absorbed, StoryState) and _takes_memo(absorbed, moved):
        # The survivor's summary window is now the absorbed story's own, moved on by the
        # articles that join after it: its memo holds that window's rows, counts and
        # indexes, and the next revision slides them as it would have there (the survivor's
        # memo held a window no article of which stays in it: all made anew). The memo is a
        # cache whose every part is keyed by what it was made of (the window's analyses,
        # their sources and dates, the articles' numbers where they count), so any memo
        # gives the same page as a new one (a test compares them); the moved articles keep
        # their facts objects, so its analyses stay valid.
        survivor.summary_memo = absorbed.summary_memo
        absorbed.summary_memo = SummaryMemo()
    else:
        # the moved articles keep their facts objects, so their analyses stay valid
        for uri, entry in moved.analyses.items():
            survivor.summary_memo.analyses.setdefault(uri, entry)
    survivor.aliases.extend([moved.story_id, *moved.aliases])
    return Change(ChangeReason.MERGE, articles_added=tuple(added))


def _takes_memo(absorbed: StoryState, moved: MovedStory) -> bool:
    """Whether the survivor takes the summary memo of ``absorbed`` (a story folded here;
    ``moved``: what moves of it): when it fills the summary window on its own (see absorb).
    Only the cost depends on it, never a byte (a test takes every memo it can)."""
    return len(moved.articles) >= summary_module.STORY_WINDOW


def _carry_list(entries: Sequence[RelatedArticle], survivor: StoryState,
                renumbered: Mapping[int, int]) -> None:
    """The absorbed story's list ``entries`` (its last page's) into the survivor's list
    cache, renumbered as its articles were (``renumbered``: old number -> new): the entry
    the next revision makes of each is this one (``_related_entry`` checks, as for any
    cached entry, that it was made from the same articles, and makes it anew otherwise),
    and its headline is the one the absorbed story showed. That is the costly part: an
    article without a headline is listed under its first sentence, which for most of a
    long story's articles is in the cold store, unpacked once more for each of them.
    The entry is made by ``_new_entry`` from the same values as the revision would give
    it (an article's fields follow from its uri and version), so the list is the same."""
    cache = survivor.related_cache
    articles = survivor.articles
    for entry in entries:
        new_n = renumbered.get(entry.n)
        article = articles.get(entry.uri)
        if (new_n is None or article is None or article.n != new_n
                or article.version != entry.version):
            continue
        copies: list[CitedArticle] = []
        for carried in entry.copies:
            copy = articles.get(carried.uri)
            if (copy is None or copy.n != renumbered.get(carried.n)
                    or copy.version != carried.version):
                break
            copies.append(copy)
        else:
            _new_entry(new_n, article.uri, article.version, article.source, entry.headline,
                       article.published, article.url, tuple(_carried(c) for c in copies),
                       cache)


class _Joined(Sequence[CitedArticle]):
    """A story's articles in order of joining, read through its dict: a revision reads the
    tail (the summary window) and the last article, so the whole story is not copied into a
    list of thousands each revision (nor held, while the revision is made, where every
    collection of the garbage collector's youngest generation walks it)."""

    __slots__ = ("_articles",)

    def __init__(self, articles: dict[str, CitedArticle]) -> None:
        self._articles = articles

    def __len__(self) -> int:
        return len(self._articles)

    def __iter__(self) -> Iterator[CitedArticle]:
        return iter(self._articles.values())

    @overload
    def __getitem__(self, index: int) -> CitedArticle: ...

    @overload
    def __getitem__(self, index: slice) -> list[CitedArticle]: ...

    def __getitem__(self, index: int | slice) -> CitedArticle | list[CitedArticle]:
        if isinstance(index, slice) and index.step is None and index.stop is None \
                and index.start is not None and index.start < 0:  # a tail: from the end
            tail = list(islice(reversed(self._articles.values()), -index.start))
            tail.reverse()
            return tail
        if index == -1 and self._articles:
            return next(reversed(self._articles.values()))
        return list(self._articles.values())[index]


def build_revision(state: StoryState, change: Change, *, cause: Cause, pipeline_version: str,
                   store: ColdStore | None = None) -> StoryUpdated:
    """Advance the revision number, render the whole page (kept as ``state.last``) and
    return the change from the previous page as a ``StoryUpdated``. ``store``: where
    :func:`store_facts` put the facts of the articles outside the summary window (the list
    reads the first sentence of one without a headline when it lists it anew)."""
    cited = _Joined(state.articles)
    timeline = state.timeline.entries(TIMELINE_LIMIT)
    memo = state.summary_memo
    # the window's analyses, once for the summary and the title
    tail = cited[-summary_module.STORY_WINDOW:]
    window = (analysed(tail, memo, lambda article: _packed_analysis(article, store)) if cited
              else [])
    summary = summarise(cited, timeline, memo=memo, window=window) if cited else ()
    title = (choose_title(cited, previous=state.title, memo=memo, window=window) if cited
             else (state.title or "Withdrawn"))
    previous = state.last
    appended = _appended(change, cited, previous)
    shortcut = (None if appended is None or previous is None
                else _related_after_append(previous, appended, state.related_cache))
    if shortcut is not None and previous is not None and appended is not None:
        # one article joined and nothing else moved: the list, dates and count follow from
        # the last page's (what the whole recount below gives, without a pass over the story)
        related, independent = shortcut
        published_first = min(previous.published_first, appended.published)
        published_last = max(previous.published_last, appended.published)
    else:
        listed = listed_groups(cited)
        related = _related_articles(listed, state.related_cache, store)
        independent = len(listed)
        published = [a.published for a in cited] or [
            a.published for a in state.withdrawn.values()
        ]
        published_first, published_last = min(published), max(published)

    diff = _diff(previous, change, title, summary, timeline)
    state.revision += 1
    state.title = title
    head = StoryPage(
        story_id=state.story_id,
        revision=state.revision,
        article_count=len(cited),
        independent_count=independent,
        title=title,
        published_first=published_first,
        published_last=published_last,
        summary=tuple(summary),
        timeline=tuple(timeline),
        articles=(),
        aliases=tuple(state.aliases),
        diff=diff,
        cause=cause,
        pipeline_version=pipeline_version,
        previous_hash=previous.content_hash if previous is not None else None,
        content_hash="",
    )
    # the list put in without validating it again: its entries are validated models, and
    # validation would copy the tuple of thousands (the same entries in a new tuple)
    page = sealed(head.model_copy(update={"articles": related}), previous)
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


def cite(article: Folded, facts: ArticleFacts, *, n: int, copy_of: int | None
          ) -> CitedArticle:
    return CitedArticle(
        n=n,
        uri=article.uri,
        version=article.version,
        source=article.source,
        headline=article.headline,
        published=article.published,
        facts=ColdFacts.pack(facts),
        copy_of=copy_of,
        url=link_of(article),
    )


def link_of(article: Folded) -> str | None:
    """Where the page links an article: its url when that is a web address, else its uri
    when that is one (a ninjs item has no url field, and many wires use the article's web
    address as its uri); None otherwise, so a ``javascript:`` or ``data:`` url never
    becomes a link."""
    return web_address(article.url) or web_address(article.uri)


def _display_headline(article: CitedArticle, store: ColdStore | None) -> str:
    if article.headline:
        return repair_mojibake(article.headline)
    sentences = article.facts.sentences
    cold = article.facts
    if isinstance(cold, ColdFacts) and cold.stored:
        sentences = unpack_sentences(_stored_parts(store, article)[1])[:1]
    first = sentences[0] if sentences else article.uri
    return first if len(first) <= 120 else first[:117].rstrip() + "..."


def listed_groups(cited: Sequence[CitedArticle]
                  ) -> list[tuple[CitedArticle, tuple[CitedArticle, ...]]]:
    """The article list: each listed article with its copies, in order of joining.

    A copy is listed under the original it copies (following copies of copies). When that
    original is not in the story any more (withdrawn), the first of its copies to have
    joined is listed in its place, with the others under it: every article of the story is
    on the list exactly once, so every citation number resolves."""
    by_n = {a.n: a for a in cited}
    groups: dict[int, list[CitedArticle]] = {}
    heads: list[int] = []
    for article in cited:
        key = _group_of(article, by_n)
        members = groups.get(key)
        if members is None:
            groups[key] = [article]
            heads.append(key)
        elif article.n == key:  # the original itself, after its copies (a revival)
            members.insert(0, article)
        else:
            members.append(article)
    # list order: the position of each group's listed article in the story
    position = {a.n: i for i, a in enumerate(cited)}
    ordered = sorted(heads, key=lambda key: position[groups[key][0].n])
    return [(groups[key][0], tuple(groups[key][1:])) for key in ordered]


def _group_of(article: CitedArticle, by_n: dict[int, CitedArticle]) -> int:
    """The citation number of the original at the root of ``article``'s copies (possibly
    no longer in the story)."""
    current = article
    for _ in range(len(by_n) + 1):
        if current.copy_of is None:
            return current.n
        found = by_n.get(current.copy_of)
        if found is None or found is current:
            return current.copy_of
        current = found
    return current.n  # a cycle (never made by the fold): stop anywhere, deterministically


_RelatedCache = dict[int, RelatedArticle]
_APPENDING = frozenset({ChangeReason.NEW_ARTICLE, ChangeReason.DUPLICATE})


def _appended(change: Change, cited: Sequence[CitedArticle], previous: StoryPage | None
              ) -> CitedArticle | None:
    """The article this revision only appended to what ``previous`` showed (a new article
    or a copy: no merge, nothing withdrawn or corrected since, as each of those is a
    revision of its own), or None."""
    if (previous is None or change.reason not in _APPENDING or len(cited) < 2
            or len(cited) != previous.article_count + 1
            or change.articles_added != (cited[-1].uri,)):
        return None
    return cited[-1]


def _related_after_append(previous: StoryPage, appended: CitedArticle, cache: _RelatedCache
                          ) -> tuple[tuple[RelatedArticle, ...], int] | None:
    """``_related_articles(listed_groups(cited), cache)`` and the number of groups, when
    ``cited`` is the story ``previous`` was made from plus ``appended`` (its last); None
    when that takes the whole recount.

    ``appended`` has a new citation number, so no article copies it: an original is listed
    last, on its own. A copy joins the group of the article it copies (that article's group
    in ``listed_groups`` is its own), after the others; the group's listed article stays.
    When the article it copies is not in the story (withdrawn) the recount decides."""
    before = previous.articles
    if appended.copy_of is None:
        return (*before, _related_entry(appended, (), cache, None)), len(before) + 1
    n = appended.copy_of
    # copies are made of recent articles: look from the end of the list
    for at in range(len(before) - 1, -1, -1):
        entry = before[at]
        if entry.n != n and all(c.n != n for c in entry.copies):
            continue
        grown = _with_copy(entry, appended, cache)
        return (*before[:at], grown, *before[at + 1:]), len(before)
    return None


def _with_copy(entry: RelatedArticle, copy: CitedArticle, cache: _RelatedCache
               ) -> RelatedArticle:
    """``entry`` with ``copy`` joined under it: what ``_related_entry`` makes of the entry's
    article and its copies plus ``copy``, made from the entry itself."""
    return _new_entry(entry.n, entry.uri, entry.version, entry.source, entry.headline,
                      entry.published, entry.url, (*entry.copies, _carried(copy)), cache)


def _carried(copy: CitedArticle) -> CarriedCopy:
    return shared_fields_set(CarriedCopy(n=copy.n, uri=copy.uri, version=copy.version,
                                         source=copy.source, published=copy.published,
                                         url=copy.url))


def _made_from(entry: RelatedArticle, article: CitedArticle,
               copies: Sequence[CitedArticle]) -> bool:
    """Whether ``entry`` is the list entry of ``article`` with ``copies`` under it: the same
    uri and version, and copies of the same (n, uri, version) (an article's other fields,
    its url too, follow from its uri and version, which the assign stage never lets
    change)."""
    return (entry.uri == article.uri and entry.version == article.version
            and len(entry.copies) == len(copies)
            and all((c.n, c.uri, c.version) == (d.n, d.uri, d.version)
                    for c, d in zip(entry.copies, copies, strict=True)))


def _related_entry(article: CitedArticle, copies: tuple[CitedArticle, ...],
                   cache: _RelatedCache, store: ColdStore | None) -> RelatedArticle:
    """The list entry of ``article`` with ``copies`` under it (the cached one when it was
    made from the same articles)."""
    hit = cache.get(article.n)
    if hit is not None and _made_from(hit, article, copies):
        return hit
    return _new_entry(article.n, article.uri, article.version, article.source,
                      _display_headline(article, store), article.published, article.url,
                      tuple(_carried(c) for c in copies), cache)


def _new_entry(n: int, uri: str, version: int, source: str, headline: str,
               published: dt.datetime, url: str | None, copies: tuple[CarriedCopy, ...],
               cache: _RelatedCache) -> RelatedArticle:
    """A list entry, cached under its citation number."""
    entry = shared_fields_set(RelatedArticle(
        n=n,
        uri=uri,
        version=version,
        source=source,
        headline=headline,
        published=published,
        also_carried_by=tuple(sorted({c.source for c in copies} - {source})),
        copies=copies,
        url=url,
    ))
    cache[n] = entry
    return entry


def _related_articles(
    listed: Sequence[tuple[CitedArticle, tuple[CitedArticle, ...]]],
    cache: _RelatedCache,
    store: ColdStore | None,
) -> tuple[RelatedArticle, ...]:
    return tuple(_related_entry(article, copies, cache, store) for article, copies in listed)


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
