"""ninjs items (2.x as in the dev data, 1.x field names, 3.x camelCase) to ArticleReceived,
and every way an item can be wrong, each naming the field."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import orjson
import pytest

from storyline.domain.events import PubStatus
from storyline.ingest.fields import InvalidArticle
from storyline.ingest.ninjs import generation, validator
from storyline.ingest.normalise import parse_bytes, parse_item

ITEM: dict[str, Any] = {
    "uri": "urn:test:flood:1",
    "type": "text",
    "version": "3",
    "firstcreated": "2026-03-03T18:15:00+02:00",
    "versioncreated": "2026-03-04T08:00:00Z",
    "pubstatus": "usable",
    "language": "en-GB",
    "headlines": [{"role": "main", "value": "  More than 2,000   evacuated  "}],
    "bodies": [
        {"role": "summary", "value": "Short."},
        {"role": "main", "contenttype": "text/plain",
         "value": "First  sentence here.\n\n   Second\tsentence.  \n"},
    ],
    "infosources": [{"name": "Valley Courier", "role": "originator"}],
    "standard": {"name": "ninjs", "version": "2.1"},
}


def item(**changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(ITEM)
    for key, value in changes.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def error_of(obj: Any, **kwargs: Any) -> InvalidArticle:
    with pytest.raises(InvalidArticle) as info:
        parse_item(obj, **kwargs)
    return info.value


def test_ninjs_2_item_is_normalised() -> None:
    article = parse_item(ITEM)
    assert article.uri == "urn:test:flood:1"
    assert article.version == 3
    assert article.source == "Valley Courier"
    assert article.headline == "More than 2,000 evacuated"
    # the main body, not the first one; one sentence a line, whitespace collapsed
    assert article.body == "First sentence here.\nSecond sentence."
    # firstcreated wins over versioncreated, converted to UTC
    assert article.published == dt.datetime(2026, 3, 3, 16, 15, tzinfo=dt.UTC)
    assert article.language == "en-GB"
    assert article.pubstatus is PubStatus.USABLE
    assert article.wire_format == "ninjs"


def test_missing_headline_stays_none_and_version_defaults_to_1() -> None:
    article = parse_item(item(headlines=None, version=None))
    assert article.headline is None
    assert article.version == 1


def test_versioncreated_is_used_when_firstcreated_is_missing() -> None:
    article = parse_item(item(firstcreated=None))
    assert article.published == dt.datetime(2026, 3, 4, 8, 0, tzinfo=dt.UTC)


def test_withheld_becomes_withdrawn_and_may_have_no_text() -> None:
    article = parse_item(item(pubstatus="withheld", bodies=None, headlines=None))
    assert article.pubstatus is PubStatus.WITHDRAWN
    assert article.body == ""


def test_headline_only_item_is_accepted() -> None:
    # picture and video items in the dev data have an empty body and a headline
    article = parse_item(item(bodies=[{"role": "main", "value": ""}]))
    assert article.body == ""
    assert article.headline == "More than 2,000 evacuated"


def test_html_body_becomes_paragraph_lines() -> None:
    bodies = [{"role": "main", "contenttype": "text/html",
               "value": "<p>Water rose &amp; fell.</p><script>x()</script><p>Second<br/>line"
                        "</p>"}]
    assert parse_item(item(bodies=bodies)).body == "Water rose & fell.\nSecond\nline"


def test_copyrightholder_is_the_outlet_without_infosources() -> None:
    article = parse_item(item(infosources=None, copyrightholder="Northern Wire"))
    assert article.source == "Northern Wire"


def test_ninjs_1_field_names() -> None:
    obj = {"uri": "urn:old:1", "version": 2, "firstcreated": "2015-01-02T03:04:05Z",
           "headline": "Old style", "body_html": "<p>One.</p><p>Two.</p>",
           "copyrightholder": "Old Wire"}
    assert generation(obj) == 1
    article = parse_item(obj)
    assert (article.headline, article.body, article.version) == ("Old style", "One.\nTwo.", 2)


def test_ninjs_3_field_names() -> None:
    obj = {"uri": "urn:new:1", "version": "1", "firstCreated": "2025-05-06T07:08:09Z",
           "pubStatus": "usable", "headlines": [{"role": "main", "value": "New style"}],
           "bodies": [{"role": "main", "contentType": "text/plain", "value": "Body."}],
           "infoSources": [{"name": "Wire Three", "role": "originator"}],
           "standard": {"name": "ninjs", "version": "3.1"}}
    assert generation(obj) == 3
    article = parse_item(obj)
    assert (article.source, article.headline, article.body) == ("Wire Three", "New style",
                                                                 "Body.")
    # a 2.x spelling inside a 3.x item is reported against the 3.1 schema
    bad = dict(obj, infosources=[{"name": "x"}])
    assert error_of(bad).field == "infosources"


def test_a_text_html_rendition_is_the_items_web_address() -> None:
    assert parse_item(ITEM).url is None  # ninjs has no url field
    renditions = [
        {"name": "thumbnail", "contenttype": "image/jpeg", "href": "https://img.example/1.jpg"},
        {"name": "web", "contenttype": "text/html", "href": "javascript:alert(1)"},
        {"name": "web", "contenttype": "text/html; charset=utf-8",
         "href": "HTTPS://valley.example/flood"},
    ]
    assert parse_item(item(renditions=renditions)).url == "https://valley.example/flood"
    # none that is a web page at an http(s) address: no url, and still an article
    for rendition in ({"name": "web", "contenttype": "text/html",
                       "href": "data:text/html,<b>x</b>"},
                      {"name": "web", "contenttype": "text/html"},
                      {"name": "print", "contenttype": "application/pdf",
                       "href": "https://valley.example/flood.pdf"}):
        assert parse_item(item(renditions=[rendition])).url is None
    v3 = {"uri": "urn:new:2", "firstCreated": "2025-05-06T07:08:09Z",
          "headlines": [{"role": "main", "value": "New style"}],
          "infoSources": [{"name": "Wire Three"}],
          "renditions": [{"name": "web", "contentType": "text/html",
                          "href": "https://three.example/a"}],
          "standard": {"name": "ninjs", "version": "3.1"}}
    assert parse_item(v3).url == "https://three.example/a"


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"firstcreated": "2010-13-45"}, "firstcreated", "not an ISO 8601 date-time: '2010-13-45'"),
    ({"firstcreated": None, "versioncreated": None}, "firstcreated", "is required"),
    ({"uri": None}, "uri", "is required"),
    ({"uri": "   "}, "uri", "is empty"),
    ({"version": "0"}, "version", ">= 1"),
    ({"version": "1.5"}, "version", "whole number"),
    ({"version": 2}, "version", "must be of type string"),
    ({"pubstatus": "gone"}, "pubstatus", "'gone' is not one of: usable, withheld, canceled"),
    ({"infosources": []}, "infosources[0].name", "the outlet"),
    ({"bodies": [{"role": "main", "value": 5}]}, "bodies[0].value", "must be of type string"),
    ({"bodies": [{"role": "main"}]}, "bodies[0].value", "is required"),
    ({"bodies": [{"role": "main", "value": "x", "oops": 1}]}, "bodies[0].oops",
     "not a field of ninjs 2.1"),
    ({"bodies": None, "headlines": None}, "bodies", "no text and no headline"),
    ({"headlines": [{"value": "x" * 1001}]}, "headlines[0].value", "limit is 1000"),
    ({"wat": True}, "wat", "not a field of ninjs 2.1"),
    ({"type": "poem"}, "type", "not one of"),
])
def test_every_error_names_the_field(changes: dict[str, Any], field: str, words: str) -> None:
    error = error_of(item(**changes))
    assert error.field == field
    assert words in error.message
    assert f"field '{field}'" in str(error)


def test_error_is_located_by_file_and_line() -> None:
    error = error_of(item(firstcreated="2010-13-45")).located("wire.jsonl", 17)
    assert str(error) == ("wire.jsonl line 17: field 'firstcreated': not an ISO 8601 "
                          "date-time: '2010-13-45'")


def test_not_an_object_and_unknown_shape() -> None:
    assert error_of([ITEM]).message == "an article must be a JSON object, got an array"
    assert "cannot tell the format" in error_of({"title": "x"}).message


def test_oversized_item_is_invalid_with_its_size() -> None:
    big = item(bodies=[{"role": "main", "value": "word " * 500}])
    error = error_of(big, max_bytes=1000)
    assert error.field == "$"
    assert "over the limit of 1,000 bytes" in error.message
    with pytest.raises(InvalidArticle, match="over the limit"):
        parse_bytes(orjson.dumps(big), max_bytes=1000)
    assert parse_bytes(orjson.dumps(big), max_bytes=100_000).uri == ITEM["uri"]


def test_parse_bytes_reports_bad_json() -> None:
    with pytest.raises(InvalidArticle, match="not valid JSON"):
        parse_bytes(b'{"uri": ')


def test_bundled_schemas_are_the_iptc_ones() -> None:
    assert validator(2).schema["$id"].startswith("http://www.iptc.org/std/ninjs/ninjs-schema_2.1")
    assert validator(3).schema["$id"].startswith("http://www.iptc.org/std/ninjs/ninjs-schema_3.1")
    assert validator(2) is validator(2)  # compiled once
