"""The history page never shows the same text removed and added: a changed timeline entry
shows the words that changed, its old and new date, or a note of what changed unseen."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from test_read_api import client_for, load

from storyline.domain.events import Citation, DatePrecision, StoryPage, TimelineEntry
from storyline.domain.pages import sealed
from storyline.read.diffing import diff_revisions, text_diff
from storyline.read.samples import chained, story_revision, updates
from storyline.read.store import open_store

_DEL_INS = re.compile(r"<del>(.*?)</del>\s*(?:→\s*)?<ins>(.*?)</ins>", re.S)


def with_entry(page: StoryPage, revision: int, entry_id: str, **changes: object) -> StoryPage:
    timeline = tuple(e.model_copy(update=changes) if e.entry_id == entry_id else e
                     for e in page.timeline)
    return page.model_copy(update={"revision": revision, "timeline": timeline})


def history_html(tmp_path: Path, pages: list[StoryPage]) -> str:
    store = open_store(tmp_path / "read.sqlite3")
    load(store, updates(chained([sealed(p) for p in pages])))
    with client_for(store) as client:
        response = client.get(f"/stories/{pages[0].story_id}/history")
    assert response.status_code == 200
    return response.text


def entry(page: StoryPage, entry_id: str) -> TimelineEntry:
    return next(e for e in page.timeline if e.entry_id == entry_id)


def test_no_change_is_shown_as_the_same_text_removed_and_added(tmp_path: Path) -> None:
    base = story_revision(revision=5)
    active = entry(base, "e-active")
    treaty = entry(base, "e-treaty")
    pages = [
        base.model_copy(update={"revision": 1}),
        # the date moves, the text stays
        with_entry(base, 2, "e-active", date=dt.date(2026, 2, 5), date_end=dt.date(2026, 2, 5),
                   date_label="Feb 5, 2026"),
        # a cited article is corrected: only the citation's version changes
        with_entry(base, 3, "e-treaty", citations=tuple(
            c.model_copy(update={"version": 2}) if c.n == 1 else c for c in treaty.citations)),
        # one word of the text changes
        with_entry(base, 4, "e-active", text=active.text.replace("still fire", "keep firing")),
        # one more independent source and another sentence of the same article
        with_entry(base, 5, "e-treaty", independent_sources=3, citations=(
            Citation(n=1, uri=treaty.citations[0].uri, version=1, sentence=4),
            *treaty.citations[1:])),
        # the precision changes the label
        with_entry(base, 6, "e-treaty", date_precision=DatePrecision.YEAR, date_label="2024"),
    ]
    html = history_html(tmp_path, pages)
    pairs = _DEL_INS.findall(html)
    assert pairs, html
    assert [p for p in pairs if p[0].strip() == p[1].strip()] == []
    assert "<del>Feb 4, 2026 (inferred)</del> <ins>Feb 5, 2026 (inferred)</ins>" in html
    assert "[1] corrected: now version 2" in html
    assert "<del>still fire </del><ins>keep firing </ins>" in html
    assert "independent sources 2 → 3" in html and "[1] now supports it with another" in html
    assert "<del>Jun 2024</del> <ins>2024</ins>" in html


def test_text_diff_keeps_equal_words_and_marks_the_rest() -> None:
    pieces = text_diff("Fourteen people are missing [1].", "Fifteen people are missing [1][2].")
    assert [(p.op, p.text) for p in pieces] == [
        ("del", "Fourteen "), ("ins", "Fifteen "), ("same", "people are missing "),
        ("del", "[1]."), ("ins", "[1][2].")]
    assert [(p.op, p.text) for p in text_diff("Same.", "Same.")] == [("same", "Same.")]


def test_words_are_compared_without_the_space_after_them() -> None:
    # an entry that gains a note after its last word: that word is kept, not struck and added
    pieces = text_diff("Kim welcomes the regiment [1][2].",
                       "Kim welcomes the regiment [1][2]. Sources disagree [2].")
    assert [(p.op, p.text) for p in pieces] == [
        ("same", "Kim welcomes the regiment [1][2]. "), ("ins", "Sources disagree [2].")]
    assert "".join(p.text for p in pieces if p.op != "del") == (
        "Kim welcomes the regiment [1][2]. Sources disagree [2].")
    assert "".join(p.text for p in text_diff("a  b", "a b") if p.op != "del") == "a b"


def test_a_change_of_copies_is_named_in_the_article_list_diff() -> None:
    from storyline.domain.events import CarriedCopy

    before = story_revision(revision=2)
    first = before.articles[0]
    copy = CarriedCopy(n=6, uri="urn:copy", version=1, source="Coastal Radio News",
                       published=first.published)
    after = before.model_copy(update={"revision": 3, "articles": (
        first.model_copy(update={"copies": (copy,)}), *before.articles[1:])})
    delta = diff_revisions(before, after)
    assert [(a.n, a.note) for a in delta.articles_changed] == [
        (1, "also carried by [6] Coastal Radio News")]
