"""Every [n] on every page resolves to an article of the page's list, and the counts agree
with the list: on the JSON page (what consumers rebuild from the updates) and in its HTML.

Two generators of logs: the real clusterer over the small stories of test_pipeline (copies,
near-copies, copies of copies, corrections, withdrawals, revivals, resends), and a scripted
clusterer that places each article where the log says, so stories merge (with copies and
withdrawals on both sides) as often as wanted.
"""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pipeline import START, STORIES, article, records

from storyline.domain.assign.clustering import Assignment
from storyline.domain.contracts import ClusteringFeatures
from storyline.domain.events import ArticleReceived, PubStatus, StoryMerged, StoryPage, StoryUpdated
from storyline.domain.page.page_checks import citation_problems
from storyline.domain.pages import PageFolder
from storyline.domain.pipeline import Pipeline
from storyline.read.pages import story_html
from storyline.read.render import render_text
from storyline.replay import fold_records

_HREF = re.compile(r'href="#(a\d+)"')
_ID = re.compile(r'id="(a\d+)"')


def html_problems(page: StoryPage) -> list[str]:
    html = story_html(page, page.revision)
    anchors = set(_ID.findall(html))
    return [f"{page.story_id}@{page.revision}: #{a} has no anchor"
            for a in sorted(set(_HREF.findall(html)) - anchors)]


def text_problems(page: StoryPage) -> list[str]:
    """The plain-text page names every listed number in its article list."""
    text = render_text(page)
    listing = text[text.index("All related articles"):]
    shown = {int(n) for n in re.findall(r"\[(\d+)\]", listing)}
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", text[:text.index("All related articles")])}
    return [f"{page.story_id}@{page.revision}: [{n}] cited, not in the text list"
            for n in sorted(cited - shown)]


def check_pages(updates: list[StoryUpdated]) -> list[StoryPage]:
    folder = PageFolder()
    pages: list[StoryPage] = []
    for update in updates:
        page = folder.apply(update)
        assert page is not None
        problems = citation_problems(page) + html_problems(page) + text_problems(page)
        assert problems == [], "\n".join(problems)
        pages.append(page)
    return pages


# -- the real clusterer -------------------------------------------------------------------

KINDS = ["new", "new", "new", "copy", "near", "correction", "withdrawal", "revive", "resend"]

log_entries = st.lists(
    st.tuples(st.sampled_from(sorted(STORIES)), st.integers(min_value=0, max_value=7),
              st.sampled_from(KINDS)),
    min_size=1, max_size=16,
)


def build_log(entries: list[tuple[str, int, str]]) -> list[ArticleReceived]:
    """Like test_pipeline.build_log, with near-copies, copies of copies (a copy may be taken
    of any usable item, copies included), and revivals (a withdrawn item sent again,
    usable, with a higher version)."""
    log: list[ArticleReceived] = []
    latest: dict[str, ArticleReceived] = {}
    for i, (story, pick, kind) in enumerate(entries):
        usable = [a for a in latest.values() if a.pubstatus is PubStatus.USABLE]
        withdrawn = [a for a in latest.values() if a.pubstatus is not PubStatus.USABLE]
        when = START + dt.timedelta(hours=6 * i)
        item: ArticleReceived
        if kind in {"copy", "near"} and usable:
            original = usable[pick % len(usable)]
            body = original.body if kind == "copy" else "WIRE - " + original.body
            item = original.model_copy(update={
                "uri": f"urn:test:copy:{i}", "version": 1, "body": body, "published": when,
                "source": ["Wire Syndicate", "Coastal Radio News"][pick % 2]})
        elif kind == "correction" and usable:
            original = usable[pick % len(usable)]
            item = original.model_copy(update={
                "version": original.version + 1, "published": when,
                "body": original.body + "\nCorrection: the figure was revised."})
        elif kind == "withdrawal" and usable:
            original = usable[pick % len(usable)]
            item = original.model_copy(update={"version": original.version + 1,
                                               "pubstatus": PubStatus.WITHDRAWN})
        elif kind == "revive" and withdrawn:
            original = withdrawn[pick % len(withdrawn)]
            item = original.model_copy(update={"version": original.version + 1,
                                               "pubstatus": PubStatus.USABLE})
        elif kind == "resend" and latest:
            item = list(latest.values())[pick % len(latest)]
        else:
            item = article(i, story, pick)
        log.append(item)
        latest[item.uri] = item
    return log


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(log_entries)
def test_every_citation_resolves_with_the_real_clusterer(entries: list[tuple[str, int, str]]
                                                         ) -> None:
    events = fold_records(records(build_log(entries)), max_bytes=1_000_000).events
    check_pages([e for e in events if isinstance(e, StoryUpdated)])


# -- a scripted clusterer: stories, copies and merges as the log says ---------------------


class ScriptedClusterer:
    """Places an article in the story its plan names, as a copy of the item its plan names
    (when that item is in the same story and not withdrawn), absorbing the stories its plan
    names; a known uri (a correction) stays in its story, as with the real clusterer."""

    def __init__(self, plan: dict[str, tuple[str, str | None, tuple[str, ...]]]) -> None:
        self.plan = plan
        self.alias: dict[str, str] = {}
        self.story_of: dict[str, str] = {}

    def resolve(self, story_id: str) -> str:
        while story_id in self.alias:
            story_id = self.alias[story_id]
        return story_id

    def place(self, uri: str, features: ClusteringFeatures) -> Assignment:
        known = self.story_of.get(uri)
        if known is not None:
            return Assignment(self.resolve(known), False, None, ())
        story, copy_of, merges = self.plan[uri]
        story = self.resolve(story)
        live = {self.resolve(s) for s in self.story_of.values()}
        merged = tuple(dict.fromkeys(
            m for m in (self.resolve(m) for m in merges) if m != story and m in live))
        for m in merged:
            self.alias[m] = story
        duplicate = (copy_of if copy_of is not None and copy_of in self.story_of
                     and self.resolve(self.story_of[copy_of]) == story else None)
        is_new = story not in live and not merged
        self.story_of[uri] = story
        return Assignment(story, is_new, duplicate, merged)

    def remove(self, uri: str) -> None:
        self.story_of.pop(uri, None)


STORY_IDS = ["story-a", "story-b", "story-c"]

scripted_entries = st.lists(
    st.tuples(st.sampled_from(["new", "new", "copy", "merge", "correction", "withdrawal",
                               "revive", "resend"]),
              st.integers(min_value=0, max_value=2),
              st.integers(min_value=0, max_value=11)),
    min_size=1, max_size=18,
)


def scripted_log(entries: list[tuple[str, int, int]]
                 ) -> tuple[list[ArticleReceived], dict[str, tuple[str, str | None,
                                                                  tuple[str, ...]]]]:
    log: list[ArticleReceived] = []
    plan: dict[str, tuple[str, str | None, tuple[str, ...]]] = {}
    latest: dict[str, ArticleReceived] = {}
    texts = sorted(STORIES)
    for i, (kind, s, pick) in enumerate(entries):
        usable = [a for a in latest.values() if a.pubstatus is PubStatus.USABLE]
        withdrawn = [a for a in latest.values() if a.pubstatus is not PubStatus.USABLE]
        when = START + dt.timedelta(hours=6 * i)
        story = STORY_IDS[s]
        if kind == "copy" and usable:
            original = usable[pick % len(usable)]
            item = original.model_copy(update={
                "uri": f"urn:test:copy:{i}", "version": 1, "published": when,
                "source": ["Wire Syndicate", "Coastal Radio News", original.source][pick % 3]})
            plan[item.uri] = (plan[original.uri][0], original.uri, ())
        elif kind == "correction" and usable:
            original = usable[pick % len(usable)]
            item = original.model_copy(update={
                "version": original.version + 1, "published": when,
                "body": original.body + "\nCorrection: the figure was revised."})
        elif kind == "withdrawal" and usable:
            original = usable[pick % len(usable)]
            item = original.model_copy(update={"version": original.version + 1,
                                               "pubstatus": PubStatus.WITHDRAWN})
        elif kind == "revive" and withdrawn:
            original = withdrawn[pick % len(withdrawn)]
            item = original.model_copy(update={"version": original.version + 1,
                                               "pubstatus": PubStatus.USABLE})
        elif kind == "resend" and latest:
            item = list(latest.values())[pick % len(latest)]
        else:
            item = article(i, texts[s], pick)
            others = tuple(x for x in STORY_IDS if x != story)
            plan[item.uri] = (story, None, others if kind == "merge" else ())
        log.append(item)
        latest[item.uri] = item
    return log, plan


@PROPERTY
@given(scripted_entries)
def test_every_citation_resolves_across_merges(entries: list[tuple[str, int, int]]) -> None:
    log, plan = scripted_log(entries)
    pipeline = Pipeline()
    pipeline.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    events = fold_records(records(log), max_bytes=1_000_000, pipeline=pipeline).events
    check_pages([e for e in events if isinstance(e, StoryUpdated)])


def test_the_scripted_clusterer_merges_stories() -> None:
    log, plan = scripted_log([("new", 0, 0), ("copy", 0, 0), ("new", 1, 1), ("copy", 0, 1),
                              ("withdrawal", 0, 0), ("merge", 2, 2)])
    pipeline = Pipeline()
    pipeline.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    events = fold_records(records(log), max_bytes=1_000_000, pipeline=pipeline).events
    assert sum(isinstance(e, StoryMerged) for e in events) == 2
    pages = check_pages([e for e in events if isinstance(e, StoryUpdated)])
    assert pages[-1].article_count == 4


# -- the cases users found ----------------------------------------------------------------


def test_a_copy_of_a_copy_is_listed_under_the_original_with_its_own_anchor() -> None:
    original = article(0, "flood", 1)
    copy = original.model_copy(update={"uri": "urn:test:copy:1", "source": "Coastal Radio News"})
    again = original.model_copy(update={"uri": "urn:test:copy:2", "source": "Wire Syndicate"})
    pipeline = Pipeline()
    plan = {original.uri: ("story-a", None, ()), copy.uri: ("story-a", original.uri, ()),
            again.uri: ("story-a", copy.uri, ())}
    pipeline.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    events = fold_records(records([original, copy, again]), max_bytes=1_000_000,
                          pipeline=pipeline).events
    last = check_pages([e for e in events if isinstance(e, StoryUpdated)])[-1]
    assert [a.n for a in last.articles] == [1]
    assert [c.n for c in last.articles[0].copies] == [2, 3]
    assert last.articles[0].also_carried_by == ("Coastal Radio News", "Wire Syndicate")
    html = story_html(last, last.revision)
    assert 'id="a2"' in html and 'id="a3"' in html


def test_copies_of_a_withdrawn_original_stay_listed() -> None:
    original = article(0, "flood", 1)
    copy = original.model_copy(update={"uri": "urn:test:copy:1", "source": "Coastal Radio News"})
    other = original.model_copy(update={"uri": "urn:test:copy:2", "source": "Wire Syndicate"})
    gone = original.model_copy(update={"version": 2, "pubstatus": PubStatus.WITHDRAWN})
    pipeline = Pipeline()
    plan = {original.uri: ("story-a", None, ()), copy.uri: ("story-a", original.uri, ()),
            other.uri: ("story-a", original.uri, ())}
    pipeline.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    events = fold_records(records([original, copy, other, gone]), max_bytes=1_000_000,
                          pipeline=pipeline).events
    last = check_pages([e for e in events if isinstance(e, StoryUpdated)])[-1]
    assert (last.article_count, last.independent_count) == (2, 1)
    assert [(a.n, a.source) for a in last.articles] == [(2, "Coastal Radio News")]
    assert [c.n for c in last.articles[0].copies] == [3]


def test_an_article_withdrawn_before_a_merge_comes_back_under_a_number_of_its_own() -> None:
    a1 = article(0, "flood", 0)
    b1, b2 = article(1, "strike", 1), article(2, "strike", 2)
    copy = b1.model_copy(update={"uri": "urn:test:copy:9", "source": "Wire Syndicate"})
    merger = article(3, "recall", 0)
    plan = {a1.uri: ("story-a", None, ()), b1.uri: ("story-b", None, ()),
            b2.uri: ("story-b", None, ()), copy.uri: ("story-b", b1.uri, ()),
            merger.uri: ("story-a", None, ("story-b",))}
    log = [a1, b1, b2, copy,
           b1.model_copy(update={"version": 2, "pubstatus": PubStatus.WITHDRAWN}),
           merger,
           b1.model_copy(update={"version": 3})]  # revived after the merge
    pipeline = Pipeline()
    pipeline.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    events = fold_records(records(log), max_bytes=1_000_000, pipeline=pipeline).events
    last = check_pages([e for e in events if isinstance(e, StoryUpdated)])[-1]
    numbers = [a.n for a in last.articles] + [c.n for a in last.articles for c in a.copies]
    assert sorted(numbers) == sorted(set(numbers)) and len(numbers) == 5
    # the copy of the withdrawn article was listed in its place, and stays under it again
    revived = next(a for a in last.articles if a.uri == b1.uri)
    assert [c.uri for c in revived.copies] == [copy.uri]
