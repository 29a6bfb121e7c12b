"""Whatever JSON arrives, the parser answers with an article or an InvalidArticle."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.ingest.fields import InvalidArticle
from storyline.ingest.normalise import parse_item

KEYS = ["uri", "version", "firstcreated", "versioncreated", "pubstatus", "language", "bodies",
        "headlines", "infosources", "standard", "type", "source", "body", "published",
        "headline", "body_text", "body_html", "firstCreated", "pubStatus", "infoSources",
        "copyrightholder", "role", "value", "name", "contenttype", "url"]

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | \
    st.floats(allow_nan=False) | st.text(max_size=30) | \
    st.sampled_from(["2026-03-03T12:00:00Z", "2010-13-45", "usable", "withheld", "1", "0",
                     "main", "<p>x</p>", "text/html", "2.1", "3.1", "1.0", ""])
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=6),
    max_leaves=20,
)
objects = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values,
                          max_size=10)

VALID: dict[str, Any] = {
    "uri": "urn:x:1", "version": "1", "firstcreated": "2026-03-03T12:00:00Z",
    "bodies": [{"role": "main", "value": "Text."}], "infosources": [{"name": "Wire"}],
}


def outcome(obj: Any, fmt: Any = "auto") -> None:
    try:
        parse_item(obj, fmt=fmt, max_bytes=100_000)
    except InvalidArticle as exc:
        assert exc.field
        assert exc.message


@settings(max_examples=300, deadline=None)
@given(objects, st.sampled_from(["auto", "ninjs", "json"]))
def test_random_objects_only_raise_invalid_article(obj: dict[str, Any], fmt: str) -> None:
    outcome(obj, fmt)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALID)), json_values)
def test_one_corrupted_field_of_a_valid_item(key: str, value: Any) -> None:
    obj = copy.deepcopy(VALID)
    obj[key] = value
    outcome(obj)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_any_json_value(value: Any) -> None:
    outcome(value)
