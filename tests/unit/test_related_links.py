"""Related articles are links (issue #12): an article's web address travels from the wire
(a JSON line's or a feed's ``url``, a ninjs item's text/html rendition, else an http(s) uri)
through the fold to the page's list entry (``RelatedArticle.url``, ``CarriedCopy.url``),
the JSON API and the HTML page. Only http(s) addresses are kept; pages written before
``url`` existed still parse, chain and verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_pipeline import records
from test_read_api import client_for, load

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import (
    DeadLetter,
    RelatedArticle,
    StoryPage,
    StoryUpdated,
    web_address,
)
from storyline.domain.pages import PageFolder
from storyline.domain.upcasting import UndecodableEvent, decode_event
from storyline.ingest.normalise import parse_item
from storyline.read.pages import story_html
from storyline.read.store import open_store
from storyline.replay import fold_records

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
BODY = ("The River Arn burst its banks in Lowmere on March 3, 2025, flooding the old town.\n"
        "More than 2,000 residents of Lowmere were evacuated as the River Arn kept rising.")


@pytest.mark.parametrize(("value", "address"), [
    ("https://valley.example/flood?id=1#top", "https://valley.example/flood?id=1#top"),
    ("HTTP://Valley.example/Flood", "http://Valley.example/Flood"),
    ("  https://valley.example/flood \n", "https://valley.example/flood"),
    ("javascript:alert(1)", None),
    ("JavaScript:alert(document.cookie)", None),
    (" javascript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("vbscript:msgbox(1)", None),
    ("ftp://valley.example/flood", None),
    ("urn:guardian:13911", None),
    ("/flood/1", None),
    ("//valley.example/flood", None),
    ("https://", None),
    ("http:///flood", None),
    ("https://valley.example/a b", None),
    ("https://valley.example/\x00", None),
    ('https://valley.example/"onmouseover="alert(1)', None),
    ("https://valley.example/<script>", None),
    ("https://[::1/flood", None),
    ("https://valley.example/" + "x" * 2048, None),
    ("", None),
    (None, None),
])
def test_only_http_and_https_addresses_are_web_addresses(value: str | None,
                                                        address: str | None) -> None:
    assert web_address(value) == address


def fold_lines(*lines: dict[str, Any]) -> list[StoryUpdated]:
    articles = [parse_item(line, fmt="json") for line in lines]
    events = fold_records(records(articles), max_bytes=1_000_000).events
    assert not [e for e in events if isinstance(e, DeadLetter)]
    return [e for e in events if isinstance(e, StoryUpdated)]


def line(uri: str, *, url: str | None = None, source: str = "Valley Courier",
         published: str = "2025-03-03T09:00:00Z") -> dict[str, Any]:
    out = {"uri": uri, "source": source, "headline": "The Arn bursts its banks",
           "body": BODY, "published": published}
    if url is not None:
        out["url"] = url
    return out


def served(tmp_path: Path, updates: list[StoryUpdated]) -> tuple[str, dict[str, Any],
                                                                 dict[str, Any]]:
    """The story's HTML page, its JSON page and its JSON article list, as served."""
    store = open_store(tmp_path / "read.sqlite3")
    load(store, list(updates))
    story_id = updates[-1].story_id
    with client_for(store) as client:
        html = client.get(f"/stories/{story_id}").text
        page = client.get(f"/v1/stories/{story_id}").json()
        listed = client.get(f"/v1/stories/{story_id}/articles").json()
    return html, page, listed


def test_a_json_line_with_a_url_is_a_link_on_the_page_and_in_the_json(tmp_path: Path) -> None:
    url = "https://valley.example/2025/03/arn-flood?ref=wire&x=1"
    updates = fold_lines(line("urn:valley:flood:1", url=url))
    html, page, listed = served(tmp_path, updates)
    assert page["articles"][0]["url"] == url
    assert listed["articles"][0]["url"] == url
    assert StoryPage.model_validate(page).articles[0].url == url
    # escaped in the attribute; the rel keeps the reader's referrer and the opener away
    assert ('<a class="headline" href="https://valley.example/2025/03/arn-flood?ref=wire&amp;'
            'x=1" rel="noopener noreferrer nofollow">The Arn bursts its banks</a>') in html


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<b>hi</b>",
                                 "JAVASCRIPT:alert(1)"])
def test_a_url_that_is_not_a_web_address_is_dropped(tmp_path: Path, url: str) -> None:
    updates = fold_lines(line("urn:valley:flood:1", url=url))
    assert updates[0].changes.articles_set[0].url is None
    html, page, listed = served(tmp_path, updates)
    assert "url" not in page["articles"][0] and "url" not in listed["articles"][0]
    assert "javascript:" not in html.lower() and "data:text" not in html
    assert '<span class="headline">The Arn bursts its banks</span>' in html


def test_an_http_uri_is_the_address_of_an_article_without_a_url(tmp_path: Path) -> None:
    updates = fold_lines(line("https://valley.example/flood/1"),
                         line("urn:valley:flood:2", url="ftp://valley.example/2",
                              source="Lowmere Post", published="2025-03-03T15:00:00Z"))
    page = PageFolder()
    last = [page.apply(u) for u in updates][-1]
    assert last is not None
    entries = {a.uri: a for a in last.articles}
    copies = {c.uri: c for a in last.articles for c in a.copies}
    everything: dict[str, Any] = {**entries, **copies}
    assert everything["https://valley.example/flood/1"].url == "https://valley.example/flood/1"
    assert everything["urn:valley:flood:2"].url is None


def test_a_copy_keeps_its_own_address(tmp_path: Path) -> None:
    updates = fold_lines(
        line("urn:valley:flood:1", url="https://valley.example/flood"),
        line("urn:wire:flood:1", url="https://wire.example/arn", source="Wire Syndicate",
             published="2025-03-03T11:00:00Z"))
    html, page, _ = served(tmp_path, updates)
    [entry] = page["articles"]
    assert entry["url"] == "https://valley.example/flood"
    assert [(c["n"], c["url"]) for c in entry["copies"]] == [(2, "https://wire.example/arn")]
    assert ('<span class="copy" id="a2"><span class="n">[2]</span> <a '
            'href="https://wire.example/arn" rel="noopener noreferrer nofollow">Wire Syndicate'
            '</a></span>') in html


def test_updates_written_before_url_existed_still_parse_chain_and_verify() -> None:
    """StoryUpdated bytes written by core-6 (no ``url`` anywhere): they decode, each change
    applies with its hash checked, and they dump to the same bytes (an absent url is left
    out of the JSON, so the entries' digests are the ones their producer hashed)."""
    raw = (FIXTURES / "StoryUpdated.v2.core-6.jsonl").read_bytes().splitlines()
    assert all(b'"url"' not in data for data in raw)
    folder = PageFolder()
    for data in raw:
        update = decode_event(data, StoryUpdated)
        assert update.pipeline_version.endswith("/core-6/extract-4")
        assert canonical_bytes(update) == data
        page = folder.apply(update)  # raises PageChainBroken on a hash that does not match
        assert page is not None
    assert page.revision == 3
    assert [(a.n, a.url, [(c.n, c.url) for c in a.copies]) for a in page.articles] == [
        (1, None, [(2, None)]), (3, None, [])]
    # the old page still links the http uri it has, as pages did before url
    html = story_html(page, page.revision)
    assert 'href="https://valley.example/flood/1"' in html


def test_a_page_whose_url_is_not_a_web_address_is_refused() -> None:
    raw = (FIXTURES / "StoryUpdated.v2.core-6.jsonl").read_bytes().splitlines()[0]
    payload = json.loads(raw)
    payload["changes"]["articles_set"][0]["url"] = "javascript:alert(1)"
    with pytest.raises(UndecodableEvent, match="url"):
        decode_event(orjson.dumps(payload), StoryUpdated)
    # and a consumer's own model refuses it as well
    entry = dict(payload["changes"]["articles_set"][0])
    with pytest.raises(ValueError, match="pattern"):
        RelatedArticle.model_validate(entry)


def test_the_history_notes_a_changed_web_address() -> None:
    from storyline.read.diffing import diff_revisions
    from storyline.read.samples import story_revision

    before = story_revision("story-l", 2)
    first, *rest = before.articles

    def with_url(url: str | None) -> StoryPage:
        return before.model_copy(update={
            "revision": 3, "articles": (first.model_copy(update={"url": url}), *rest)})

    added = with_url("https://news.example/a")
    assert [a.note for a in diff_revisions(before, added).articles_changed] == [
        "web address added"]
    changed = diff_revisions(added, with_url("https://news.example/b"))
    assert [a.note for a in changed.articles_changed] == ["web address changed"]
