"""Revisions as changes: the page a consumer rebuilds from StoryUpdated records is the page
the core built, byte for byte, and the hash chain catches anything missing or altered."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import itertools
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain import pages as pages_module
from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import (
    ArticleReceived,
    PubStatus,
    RelatedArticle,
    StoryPage,
    StoryUpdated,
)
from storyline.domain.pages import (
    PageChainBroken,
    PageFolder,
    apply_changes,
    changes_between,
    entry_digest,
    one_replaced,
    page_hash,
    sealed,
)
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.read.samples import story_history, updates

START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
LINES = [
    "The River Arn burst its banks in Lowmere on March 3, 2025, flooding the old town.",
    "More than 2,000 residents of Lowmere were evacuated as the River Arn kept rising.",
    "Lowmere mayor Ines Varga said on March 5 that the Arn flood defences had failed.",
    "Rescue teams in Lowmere pulled 14 people from the water on March 6, 2025.",
]


def _article(i: int, *, version: int = 1, status: PubStatus = PubStatus.USABLE,
             uri: str | None = None) -> ArticleReceived:
    own = [f"Volunteer team {i} from Lowmere district {i * 7} filled {120 + i * 13} sandbags "
           f"near the Arn bridge on March {3 + i % 20}, 2025.",
           f"Engineers said pump station {i} moved {40 + i * 3} cubic metres of water an hour.",
           f"Shop owner Marta Vel{i}ova said her street {i} was under {i % 9 + 1} metres."]
    body = "\n".join([LINES[i % 4], *own, LINES[(i + 1) % 4]])
    return ArticleReceived(uri=uri or f"urn:t:{i}", version=version, source=f"Outlet {i % 3}",
                           headline=None, body=body, published=START + dt.timedelta(hours=i),
                           pubstatus=status)


def _fold(articles: list[ArticleReceived]) -> tuple[list[StoryUpdated], Pipeline]:
    pipeline = Pipeline()
    out: list[StoryUpdated] = []
    for offset, article in enumerate(articles):
        for event in pipeline.process(article, LogPosition("t", 0, offset)):
            if isinstance(event, StoryUpdated):
                out.append(event)
    return out, pipeline


def test_the_rebuilt_page_is_the_core_page_at_every_revision() -> None:
    articles = [_article(i) for i in range(12)]
    articles.insert(6, _article(2, version=2))  # a correction
    articles.insert(9, _article(3, status=PubStatus.WITHDRAWN, version=2))  # a withdrawal
    pipeline = Pipeline()
    folder = PageFolder()
    for offset, article in enumerate(articles):
        for event in pipeline.process(article, LogPosition("t", 0, offset)):
            if not isinstance(event, StoryUpdated):
                continue
            rebuilt = folder.apply(event)
            core = pipeline.page(event.story_id)
            assert rebuilt is not None and core is not None
            assert canonical_bytes(rebuilt) == canonical_bytes(core)
            assert page_hash(rebuilt) == event.content_hash


def test_changes_are_small_while_the_page_grows() -> None:
    updates_, pipeline = _fold([_article(i) for i in range(60)])
    story = max(pipeline.story_ids, key=lambda s: pipeline.page(s).article_count)  # type: ignore[union-attr]
    page = pipeline.page(story)
    assert page is not None and page.article_count >= 30
    last = [u for u in updates_ if u.story_id == story][-1]
    # the change lists the one new article, not the whole list, and leaves out what stayed
    assert len(last.changes.articles_set) <= 2
    assert len(page.articles) > 2
    assert last.changes.aliases is None and last.changes.published_first is None
    assert not last.changes.full


def test_each_revision_names_the_hash_of_the_one_before() -> None:
    updates_, _ = _fold([_article(i) for i in range(8)])
    by_story: dict[str, list[StoryUpdated]] = {}
    for update in updates_:
        by_story.setdefault(update.story_id, []).append(update)
    for chain in by_story.values():
        assert chain[0].previous_hash is None and chain[0].changes.full
        for before, after in itertools.pairwise(chain):
            assert after.previous_hash == before.content_hash


def test_a_missing_revision_breaks_the_chain() -> None:
    first, second, third = updates(story_history(revisions=3))
    folder = PageFolder()
    folder.apply(first)
    with pytest.raises(PageChainBroken, match="follows"):
        folder.apply(third)
    folder.apply(second)
    assert folder.apply(second) is None  # a redelivery is passed over
    assert folder.apply(third) is not None


def test_an_altered_change_does_not_match_its_hash() -> None:
    first, second = updates(story_history(revisions=2))
    page = apply_changes(None, first)
    forged = second.model_copy(update={"changes": second.changes.model_copy(
        update={"title": "Something the core never wrote"})})
    with pytest.raises(PageChainBroken, match="does not match its content_hash"):
        apply_changes(page, forged)


def test_the_hash_covers_every_article_entry() -> None:
    page = story_history(revisions=3)[-1]
    entry = page.articles[1]
    altered = page.model_copy(update={"articles": (
        page.articles[0], entry.model_copy(update={"headline": "x"}), page.articles[2])})
    assert page_hash(altered) != page.content_hash
    assert sealed(page) == page


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), st.sampled_from(["new", "fix", "pull"])),
                min_size=1, max_size=25))
def test_any_sequence_of_new_corrected_and_withdrawn_articles_rebuilds_exactly(
        steps: list[tuple[int, str]]) -> None:
    versions: dict[int, int] = {}
    articles = []
    for i, kind in steps:
        version = versions.get(i, 0) + (0 if kind == "new" and i not in versions else 1)
        version = max(version, 1)
        versions[i] = version
        status = PubStatus.WITHDRAWN if kind == "pull" else PubStatus.USABLE
        articles.append(_article(i, version=version, status=status))
    pipeline = Pipeline()
    folder = PageFolder()
    for offset, article in enumerate(articles):
        for event in pipeline.process(article, LogPosition("t", 0, offset)):
            if isinstance(event, StoryUpdated):
                rebuilt = folder.apply(event)
                core = pipeline.page(event.story_id)
                assert isinstance(rebuilt, StoryPage) and core is not None
                assert canonical_bytes(rebuilt) == canonical_bytes(core)


def _by_number(before: StoryPage, after: StoryPage) -> tuple[tuple[object, ...], tuple[int, ...]]:
    """The list part of a change as the general rule gives it: (entries set, numbers
    removed), for a list whose numbers kept their order."""
    old = {entry.n: entry for entry in before.articles}
    ns = {entry.n for entry in after.articles}
    return (tuple(e for e in after.articles if old.get(e.n) is None or old[e.n] != e),
            tuple(n for n in old if n not in ns))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5), st.integers(0, 2), st.booleans())
def test_a_list_with_one_entry_replaced_changes_and_hashes_as_the_whole_list_does(
        at: int, copies: int, equal: bool) -> None:
    page = story_history(revisions=6)[-1]
    entries = page.articles
    at = at % len(entries)
    entry = entries[at]
    replaced = (entry.model_copy() if equal else entry.model_copy(
        update={"also_carried_by": tuple(f"Wire {k}" for k in range(copies + 1))}))
    after = sealed(page.model_copy(update={
        "articles": (*entries[:at], replaced, *entries[at + 1:]), "revision": page.revision + 1,
        "previous_hash": page.content_hash}), page)
    changes = changes_between(page, after)
    assert (changes.articles_set, changes.articles_removed) == _by_number(page, after)
    assert changes.articles_set == (() if equal else (replaced,))
    pages_module._LISTS.clear()
    assert after.content_hash == sealed(after).content_hash  # every digest anew
    assert one_replaced(after.articles, page.articles) == at
    assert one_replaced(page.articles, page.articles) is None  # nothing replaced


def test_the_digest_cache_lets_an_entry_go_and_never_answers_for_another() -> None:
    def entry(n: int, headline: str) -> RelatedArticle:
        return RelatedArticle(n=n, uri=f"urn:t:{n}", version=1, source="Outlet",
                              headline=headline, published=START)

    first = entry(1, "Arn floods Lowmere")
    digest = entry_digest(first)
    assert entry_digest(first) == digest == page_hash_of_entry(first)
    held = weakref.ref(first)
    key = id(first)
    del first
    gc.collect()
    assert held() is None  # the cache did not keep it alive
    assert key not in pages_module._DIGESTS  # and its digest went with it
    # many entries made and dropped: each answer is its own entry's, whatever id it reuses
    for i in range(200):
        other = entry(2 + i % 3, f"Arn flood update {i}")
        assert entry_digest(other) == page_hash_of_entry(other)


def page_hash_of_entry(entry: object) -> bytes:
    return hashlib.sha256(canonical_bytes(entry)).digest()
