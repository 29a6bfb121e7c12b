"""Faults a review found in the ingest side, each pinned by what the item must mean: the
format it is read as, the instant it is dated, the text it carries."""

from __future__ import annotations

import datetime as dt
import unicodedata
from html import escape
from pathlib import Path
from typing import Any

import orjson
import pytest

from storyline.domain.events import PubStatus
from storyline.ingest.feeds import FeedItem, parse_feed
from storyline.ingest.fields import InvalidArticle
from storyline.ingest.files import iter_file
from storyline.ingest.htmltext import html_to_text
from storyline.ingest.jsontext import decode_json
from storyline.ingest.normalise import detect_format, parse_item

FLAT: dict[str, Any] = {"uri": "urn:flat:1", "source": "Wire", "body": "Text.",
                        "published": "2026-03-01T09:00:00Z", "version": 2}


@pytest.mark.parametrize(("status", "expected"), [
    ("usable", PubStatus.USABLE), ("withdrawn", PubStatus.WITHDRAWN),
    ("canceled", PubStatus.CANCELED)])
def test_flat_article_with_pubstatus_is_read_as_flat(status: str, expected: PubStatus) -> None:
    article = parse_item(dict(FLAT, pubstatus=status))
    assert (article.wire_format, article.pubstatus, article.version) == ("json", expected, 2)


def test_pubstatus_alone_still_means_ninjs() -> None:
    # nothing but the key both formats share: a ninjs notice, as before
    assert detect_format({"uri": "urn:n:1", "pubstatus": "canceled"}) == "ninjs"
    assert detect_format({"uri": "urn:n:1", "pubstatus": "usable",
                          "firstcreated": "2026-03-01T09:00:00Z", "body": "x"}) == "ninjs"
    with pytest.raises(InvalidArticle, match="ninjs"):
        parse_item({"uri": "urn:n:1", "pubstatus": "usable", "firstcreated": "2026-03-01",
                    "body": "Text."})


def _rss(pub_date: str) -> bytes:
    return (f"<rss version='2.0'><channel><title>Wire</title><item><guid>urn:x:1</guid>"
            f"<title>T</title><description>Text.</description><pubDate>{pub_date}</pubDate>"
            f"</item></channel></rss>").encode()


def _rss_item(pub_date: str) -> FeedItem:
    return next(parse_feed(_rss(pub_date)))


@pytest.mark.parametrize(("pub_date", "utc"), [
    ("Sun, 15 Mar 2026 21:20:00 -05:00", dt.datetime(2026, 3, 16, 2, 20)),
    ("Mon, 16 Mar 2026 03:00:00 +05:30", dt.datetime(2026, 3, 15, 21, 30)),
    ("Mon, 16 Mar 2026 23:30:00 GMT-0500", dt.datetime(2026, 3, 17, 4, 30)),
    ("Mon, 16 Mar 2026 23:30:00 UTC+01:00", dt.datetime(2026, 3, 16, 22, 30)),
    ("Sun, 15 Mar 2026 16:20:00 -0500", dt.datetime(2026, 3, 15, 21, 20)),
    ("Sun, 15 Mar 2026 16:20:00-0500", dt.datetime(2026, 3, 15, 21, 20)),
    ("Sun, 15 Mar 2026 16:20:00 EST", dt.datetime(2026, 3, 15, 21, 20)),
    ("Sun, 15 Mar 2026 16:20:00 PDT", dt.datetime(2026, 3, 15, 23, 20)),
    ("Sun, 15 Mar 2026 16:20:00 cdt", dt.datetime(2026, 3, 15, 21, 20)),
    ("Sun, 15 Mar 2026 16:20:00 -0500 (EST)", dt.datetime(2026, 3, 15, 21, 20)),
    ("Sun, 15 Mar 2026 16:20:00 +01", dt.datetime(2026, 3, 15, 15, 20)),
    ("Sun, 15 Mar 2026 16:20:00 GMT+1", dt.datetime(2026, 3, 15, 15, 20)),
    # no zone, -0000 (zone unknown), GMT, UT, Z: UTC, as documented
    ("Sun, 15 Mar 2026 16:20:00", dt.datetime(2026, 3, 15, 16, 20)),
    ("Sun, 15 Mar 2026 16:20:00 -0000", dt.datetime(2026, 3, 15, 16, 20)),
    ("Sun, 15 Mar 2026 16:20:00 GMT", dt.datetime(2026, 3, 15, 16, 20)),
    ("15 Mar 26 16:20 UT", dt.datetime(2026, 3, 15, 16, 20)),
    ("Sun, 15 Mar 2026 16:20:00 Z", dt.datetime(2026, 3, 15, 16, 20)),
    # ISO 8601 in pubDate still works
    ("2026-03-15T16:20:00-05:00", dt.datetime(2026, 3, 15, 21, 20)),
])
def test_rss_date_zones(pub_date: str, utc: dt.datetime) -> None:
    article = _rss_item(pub_date).article
    assert article is not None
    assert article.published == utc.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(("pub_date", "message"), [
    ("Tue, 17 Mar 2026 00:30:00 CET", "unknown time zone 'CET'"),
    ("Tue, 17 Mar 2026 08:00:00 AEST", "unknown time zone 'AEST'"),
    ("Tue, 17 Mar 2026 08:00:00 IST", "unknown time zone 'IST'"),
    ("Tue, 17 Mar 2026 08:00:00 CET+0100", "unknown time zone 'CET+0100'"),
    ("Tue, 17 Mar 2026 08:00:00 +2500", "not a time zone offset: '+2500'"),
    ("Tue, 17 Mar 2026 08:00:00 -", "not a time zone offset: '-'"),
    ("Tue, 17 Mar 2026 08:00:00 +01:2", "not a time zone offset: '+01:2'"),
    ("Sun, 31 Feb 2026 16:20:00 +0000", "not an RFC 822 date"),
])
def test_rss_date_unknown_zone_is_refused(pub_date: str, message: str) -> None:
    error = _rss_item(pub_date).error
    assert error is not None and error.field == "pubDate"
    assert message in error.message


@pytest.mark.parametrize("levels", [3_000, 100_000])
def test_deeply_nested_feed_item_is_refused_alone(tmp_path: Path, levels: int) -> None:
    deep = b"<div>" * levels + b"x" + b"</div>" * levels
    feed = tmp_path / "a.rss"
    feed.write_bytes(
        b"<rss version='2.0'><channel><title>W</title><item><guid>urn:g:1</guid><title>t"
        b"</title><pubDate>Mon, 16 Mar 2026 09:00:00 GMT</pubDate><description>" + deep +
        b"</description></item><item><guid>urn:g:2</guid><title>fine</title><pubDate>Mon, "
        b"16 Mar 2026 09:00:00 GMT</pubDate><description>ok</description></item></channel>"
        b"</rss>")
    later = tmp_path / "b.jsonl"
    later.write_bytes(orjson.dumps(FLAT) + b"\n")
    results = [r for path in (feed, later) for r in iter_file(path)]
    assert [(r.ref, r.ok) for r in results] == [
        (f"{feed}#1", False), (f"{feed}#2", True), (f"{later}:1", True)]
    error = results[0].error
    assert error is not None and error.field == "$"
    assert "nested too deeply" in error.message
    assert results[0].raw.startswith("<item><guid>urn:g:1</guid>")  # what is left of it
    assert results[1].article is not None and results[1].article.body == "ok"


def test_deeply_nested_atom_entry_is_refused_alone() -> None:
    deep = "<div>" * 500 + "x" + "</div>" * 500
    feed = (f"<feed xmlns='http://www.w3.org/2005/Atom'><title>W</title><entry><id>a:1</id>"
            f"<updated>2026-03-01T00:00:00Z</updated><content type='xhtml'>"
            f"<div xmlns='http://www.w3.org/1999/xhtml'>{deep}</div></content></entry>"
            f"<entry><id>a:2</id><title>ok</title><updated>2026-03-01T00:00:00Z</updated>"
            f"</entry></feed>").encode()
    first, second = parse_feed(feed)
    assert first.error is not None and "nested too deeply" in first.error.message
    assert second.article is not None and second.article.headline == "ok"


def _atom(entry: str) -> bytes:
    return (f"<feed xmlns='http://www.w3.org/2005/Atom'><title>Wire</title><entry>"
            f"<id>tag:w,2026:1</id><updated>2026-03-16T09:00:00Z</updated>{entry}</entry>"
            f"</feed>").encode()


def test_atom_text_is_plain_text() -> None:
    article = next(parse_feed(_atom(
        "<title>Browsers drop the &lt;marquee&gt; tag; &lt;script&gt; rules change</title>"
        "<summary>Write &amp;amp; in HTML. Since 3 &lt;5, the &lt;video&gt; tag wins."
        "</summary>"))).article
    assert article is not None
    assert article.headline == "Browsers drop the <marquee> tag; <script> rules change"
    assert article.body == "Write &amp; in HTML. Since 3 <5, the <video> tag wins."
    explicit = next(parse_feed(_atom("<title type='text'>A &lt;b&gt; c</title>"))).article
    assert explicit is not None and explicit.headline == "A <b> c"


@pytest.mark.parametrize("kind", ["html", "text/html", "HTML"])
def test_atom_html_is_read_as_html(kind: str) -> None:
    article = next(parse_feed(_atom(
        f"<title>T</title><content type='{kind}'>&lt;p&gt;One &amp;amp; two&lt;/p&gt;"
        f"&lt;script&gt;x()&lt;/script&gt;&lt;p&gt;Three&lt;/p&gt;</content>"))).article
    assert article is not None and article.body == "One & two\nThree"


def _rss_items(items: str) -> list[FeedItem]:
    return list(parse_feed(
        (f"<rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
         f"<channel><title>Coast News</title>{items}</channel></rss>").encode()))


def test_rss_html_written_as_elements_is_the_body() -> None:
    items = _rss_items(
        "<item><title>Storm</title><guid>urn:c:1</guid><pubDate>Mon, 16 Mar 2026 09:00:00 "
        "GMT</pubDate><description><p>The port closed.</p><p>Ferries were <b>cancelled"
        "</b>.</p></description></item>"
        "<item><title>Ferry</title><guid>urn:c:2</guid><pubDate>Mon, 16 Mar 2026 10:00:00 "
        "GMT</pubDate><content:encoded>\n  </content:encoded><description>Ferries resumed."
        "</description></item>"
        "<item><title>Both</title><guid>urn:c:3</guid><pubDate>Mon, 16 Mar 2026 10:00:00 "
        "GMT</pubDate><content:encoded>Lead: <div>Full <i>story</i>.</div></content:encoded>"
        "<description>Short.</description></item>"
        "<item><title>Tags only</title><guid>urn:c:4</guid><pubDate>Mon, 16 Mar 2026 "
        "10:00:00 GMT</pubDate><content:encoded>&lt;p&gt; &lt;/p&gt;</content:encoded>"
        "<description>&lt;p&gt;Escaped &amp;amp; fine.&lt;/p&gt;</description></item>")
    bodies = [item.article.body if item.article else item.error for item in items]
    assert bodies == ["The port closed.\nFerries were cancelled.", "Ferries resumed.",
                      "Lead:\nFull story.", "Escaped & fine."]


def test_atom_html_written_as_elements_is_the_body() -> None:
    html = next(parse_feed(_atom(
        "<title>Port</title><content type='html'><p>The port closed.</p><p>Ferries "
        "<b>stopped</b>.</p></content>"))).article
    assert html is not None and html.body == "The port closed.\nFerries stopped."
    xhtml = next(parse_feed(_atom(
        "<title>Port</title><content type='xhtml'>Before &lt;the&gt; div. <div "
        "xmlns='http://www.w3.org/1999/xhtml'><p>Para A.</p><p>Para B.</p></div></content>"
        ))).article
    assert xhtml is not None and xhtml.body == "Before <the> div.\nPara A.\nPara B."


def _dated_feed(channel: str, item: str) -> FeedItem:
    return next(parse_feed(
        (f"<rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/'><channel>"
         f"<title>Valley Courier</title>{channel}<item><title>Flood</title>"
         f"<guid>urn:vc:7</guid>{item}<description>Text.</description></item></channel>"
         f"</rss>").encode()))


@pytest.mark.parametrize(("channel", "item", "utc"), [
    ("<lastBuildDate>Mon, 16 Mar 2026 09:00:00 GMT</lastBuildDate>",
     "<dc:date>2026-03-05T10:00:00+01:00</dc:date>", dt.datetime(2026, 3, 5, 9)),
    ("<pubDate>Mon, 16 Mar 2026 09:00:00 GMT</pubDate>",
     "<dc:date>2026-03-05T10:00:00Z</dc:date>", dt.datetime(2026, 3, 5, 10)),
    ("", "<pubDate>Wed, 04 Mar 2026 08:00:00 GMT</pubDate>"
         "<dc:date>2026-03-05T10:00:00Z</dc:date>", dt.datetime(2026, 3, 4, 8)),
    # the channel's pubDate is the last resort, as documented
    ("<pubDate>Mon, 16 Mar 2026 09:00:00 GMT</pubDate><lastBuildDate>Mon, 16 Mar 2026 "
     "09:15:00 GMT</lastBuildDate>", "", dt.datetime(2026, 3, 16, 9)),
])
def test_rss_item_dates(channel: str, item: str, utc: dt.datetime) -> None:
    article = _dated_feed(channel, item).article
    assert article is not None and article.published == utc.replace(tzinfo=dt.UTC)


def test_rss_item_is_never_dated_by_last_build_date() -> None:
    result = _dated_feed("<lastBuildDate>Mon, 16 Mar 2026 09:00:00 GMT</lastBuildDate>", "")
    assert result.article is None and result.error is not None
    assert result.error.field == "pubDate"
    assert "dc:date" in result.error.message
    bad = _dated_feed("", "<dc:date>yesterday</dc:date>").error
    assert bad is not None and bad.field == "dc:date"


BOM = b"\xef\xbb\xbf"


def test_a_leading_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    second = dict(FLAT, uri="urn:flat:2")
    lines = tmp_path / "wire.jsonl"
    lines.write_bytes(BOM + orjson.dumps(FLAT) + b"\r\n" + orjson.dumps(second) + b"\r\n")
    document = tmp_path / "wire.json"
    document.write_bytes(BOM + orjson.dumps([FLAT, second]))
    for path in (lines, document):
        uris = [r.article.uri if r.article else r.error for r in iter_file(path)]
        assert uris == ["urn:flat:1", "urn:flat:2"]
    # the HTTP API decodes its body with decode_json
    assert decode_json(BOM + b'{"a": "\xef\xbb\xbfb"}') == {"a": "\ufeffb"}
    with pytest.raises(InvalidArticle, match="not valid JSON"):
        decode_json(BOM + BOM + b"{}")  # one mark, not any number


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def test_text_is_unicode_nfc() -> None:
    nfc = dict(FLAT, uri="urn:wire:zürich-fire", source="Zürcher Zeitung",
               headline="Fire in Zürich", body="Café closed.\nÅrhus too.")
    nfd = {key: _nfd(value) if isinstance(value, str) else value
           for key, value in nfc.items()}
    assert nfd["uri"] != nfc["uri"]
    assert parse_item(nfd) == parse_item(nfc)  # same uri, same text: a resend, no conflict
    assert parse_item(nfd).headline == "Fire in Zürich"
    ninjs = {"uri": _nfd("urn:n:é"), "firstcreated": "2026-03-01T09:00:00Z",
             "headlines": [{"role": "main", "value": _nfd("Élan")}],
             "bodies": [{"role": "main", "contenttype": "text/html",
                         "value": _nfd("<p>Noël</p>")}],
             "infosources": [{"name": _nfd("Le Télégramme")}]}
    article = parse_item(ninjs)
    assert (article.uri, article.headline, article.body, article.source) == (
        "urn:n:é", "Élan", "Noël", "Le Télégramme")
    feed = _rss_items(f"<item><guid>{_nfd('urn:f:ü')}</guid><title>{_nfd('Über')}</title>"
                      f"<pubDate>Mon, 16 Mar 2026 09:00:00 GMT</pubDate></item>")
    assert feed[0].article is not None
    assert (feed[0].article.uri, feed[0].article.headline) == ("urn:f:ü", "Über")


@pytest.mark.parametrize(("value", "utc"), [
    ("2026-03-11t21:40:00z", dt.datetime(2026, 3, 11, 21, 40)),
    ("2026-03-11T21:40:00z", dt.datetime(2026, 3, 11, 21, 40)),
    ("2026-03-11t23:40:00+02:00", dt.datetime(2026, 3, 11, 21, 40)),
    # a leap second is the last instant of its minute, on its own day
    ("2016-12-31T23:59:60Z", dt.datetime(2016, 12, 31, 23, 59, 59, 999999)),
    ("2016-12-31T23:59:60.25Z", dt.datetime(2016, 12, 31, 23, 59, 59, 999999)),
    ("2016-12-31 18:59:60-05:00", dt.datetime(2016, 12, 31, 23, 59, 59, 999999)),
])
def test_rfc3339_lower_case_and_leap_second(value: str, utc: dt.datetime) -> None:
    assert parse_item(dict(FLAT, published=value)).published == utc.replace(tzinfo=dt.UTC)
    entry = next(parse_feed(_atom(f"<title>T</title><published>{value}</published>")))
    assert entry.article is not None and entry.article.published == utc.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["2026-03-11T21:40:61Z", "2026-03-11T21:60:00Z",
                                   "2026-03-11T21:40:00zz"])
def test_other_seconds_and_letters_are_still_refused(value: str) -> None:
    with pytest.raises(InvalidArticle, match="not an ISO 8601 date-time"):
        parse_item(dict(FLAT, published=value))


LONG_LINK = "https://coast.example/a?utm=" + "x" * 2100


@pytest.mark.parametrize(("link", "url"), [
    (LONG_LINK, None), ("javascript:alert(1)", None), ("/relative/path", None),
    ("HTTPS://coast.example/a", "https://coast.example/a"),
    ("https://coast.example/a", "https://coast.example/a")])
def test_an_unusable_link_is_dropped_not_the_item(link: str, url: str | None) -> None:
    flat = parse_item(dict(FLAT, url=link))
    rss = _rss_items(f"<item><guid>urn:1</guid><title>T</title><link>{escape(link)}</link>"
                     f"<pubDate>Mon, 16 Mar 2026 09:00:00 GMT</pubDate></item>")[0].article
    atom = next(parse_feed(_atom(
        f"<title>T</title><link rel='alternate' href='{escape(link)}'/>"))).article
    assert rss is not None and atom is not None
    assert (flat.url, rss.url, atom.url) == (url, url, url)
    assert (flat.uri, rss.uri, atom.uri) == ("urn:flat:1", "urn:1", "tag:w,2026:1")


@pytest.mark.parametrize(("html", "text"), [
    ("<table><caption>Results</caption><tr><th>Home</th><th>Score</th><th>Away</th></tr>"
     "<tr><td>Arsenal</td><td>2-1</td><td>Chelsea</td></tr></table>",
     "Results\nHome Score Away\nArsenal 2-1 Chelsea"),
    ("<nav>Menu</nav><main>Story</main><figure><img src='x'>Photo</figure>"
     "<address>Port Halden</address><details><summary>More</summary>Detail</details>",
     "Menu\nStory\nPhoto\nPort Halden\nMore\nDetail"),
    ("<dl>Term</dl><dl>Other</dl>", "Term\nOther"),
    ("<p>End.</p><!-- tracking pixel", "End."),
    ("<p>A</p><!-- closed --><p>B</p><!-- open <p>C</p>", "A\nB"),
    ("<script>if (a<!--b) {}</script>Kept", "Kept"),
])
def test_html_cells_and_blocks_are_separated(html: str, text: str) -> None:
    assert html_to_text(html) == text


def _revised_entry(text: str, updated: str, published: str | None = "2026-03-16T09:00:00Z"
                   ) -> Any:
    published_tag = f"<published>{published}</published>" if published else ""
    [item] = parse_feed((
        f"<feed xmlns='http://www.w3.org/2005/Atom'><title>Atom Wire</title><entry>"
        f"<id>tag:aw,2026:7</id><title>Flood</title>{published_tag}"
        f"<updated>{updated}</updated><content>{text}</content></entry></feed>").encode())
    assert item.article is not None, item.error
    return item.article


def test_a_revised_atom_entry_is_a_later_version_and_reaches_the_story() -> None:
    from storyline.domain.canonical import canonical_bytes
    from storyline.domain.pipeline import LogPosition, Pipeline
    from storyline.domain.records import handle_record

    first = _revised_entry("The river burst its banks; 200 were evacuated.",
                           "2026-03-16T09:00:00Z")
    again = _revised_entry("The river burst its banks; 200 were evacuated.",
                           "2026-03-16T09:00:00Z")
    revised = _revised_entry("The river burst its banks; 2,000 were evacuated.",
                             "2026-03-16T11:30:00Z")
    # never revised: version 1, as before; each poll of the same entry gives the same version
    assert (first.version, again.version) == (1, 1)
    assert revised.version == 1 + 2 * 3600 + 30 * 60
    assert revised.published == first.published  # still published at 09:00
    pipeline = Pipeline()
    outcomes = [handle_record(pipeline, a.uri.encode(), canonical_bytes(a.received("file")),
                              LogPosition("storyline.articles", 0, offset), max_bytes=10**6)
                for offset, a in enumerate((first, again, revised))]
    assert [o.dead_letter for o in outcomes] == [None, None, None]
    assert [len(o.events) for o in outcomes] == [1, 0, 1]  # the copy polled again: nothing
    page = outcomes[2].events[-1]
    assert "2,000" in page.model_dump_json()


def test_an_atom_entry_without_published_keeps_version_one() -> None:
    assert _revised_entry("x", "2026-03-16T11:30:00Z", published=None).version == 1
    # an updated time before the published one (a clock error) is no revision either
    assert _revised_entry("x", "2026-03-16T08:00:00Z").version == 1


@pytest.mark.parametrize("description", [
    "The port closed on Monday.\nFerries resumed on Tuesday (P&amp;amp;O said).",
    "The port closed on Monday.\nFerries resumed on Tuesday (P&amp;O said).",
    "The port closed on Monday.\r\nFerries resumed on Tuesday (P&#38;O said).",
    "The port closed on Monday.\nFerries resumed on Tuesday (P&amp;O said, 3 &lt; 5).",
    "<![CDATA[The port closed on Monday.\nFerries resumed on Tuesday (P&amp;O said).]]>",
])
def test_text_without_markup_keeps_its_lines_whatever_its_entities(description: str) -> None:
    # an "&" (or a "<" that opens no tag) sent the text through the HTML reader, where a
    # newline is layout: its paragraphs became one line, while the same text without
    # the "&" kept them
    article = _rss_items(f"<item><guid>urn:1</guid><title>T</title><pubDate>Mon, 16 Mar "
                         f"2026 09:00:00 GMT</pubDate><description>{description}"
                         f"</description></item>")[0].article
    assert article is not None
    assert article.body == "The port closed on Monday.\nFerries resumed on Tuesday " + (
        "(P&O said, 3 < 5)." if "&lt;" in description else "(P&O said).")


def test_markup_still_decides_the_lines() -> None:
    assert html_to_text("One\ntwo &amp; three") == "One\ntwo & three"
    assert html_to_text("One\n<b>two</b> &amp;\nthree") == "One two & three"
    assert html_to_text("3 < 5\nand 7 > 6 &amp; 2 <4") == "3 < 5\nand 7 > 6 & 2 <4"
    assert html_to_text("<p>One\ntwo</p><p>three</p>") == "One two\nthree"
