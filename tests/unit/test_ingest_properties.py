"""Whatever JSON arrives, the parser answers with an article or an InvalidArticle."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.ingest.fields import InvalidArticle
from storyline.ingest.ninjs import shape, string_keys, validator
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


def _restring(value: Any, key: str, keep: frozenset[str], new: str) -> Any:
    if isinstance(value, str):
        return value if key in keep else new
    if isinstance(value, dict):
        return {k: _restring(v, k, keep, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_restring(v, key, keep, new) for v in value]
    return value


ninjs_like = st.fixed_dictionaries(
    {"uri": st.text(max_size=5)},
    optional={k: json_values for k in ["type", "pubstatus", "bodies", "headlines",
                                       "infosources", "version", "associations", "pubStatus",
                                       "representationtype", "renditions", "standard"]},
)


@settings(max_examples=300, deadline=None)
@given(ninjs_like, st.sampled_from([2, 3]), st.text(max_size=12))
def test_validity_depends_only_on_the_shape(obj: dict[str, Any], gen: int, new: str) -> None:
    """The soundness of the valid-shape cache: changing strings the shape hides never
    changes what the IPTC schema says."""
    keep = string_keys(gen)
    assert keep is not None
    other = _restring(obj, "", keep, new)
    assert shape(other, gen) == shape(obj, gen)
    full = validator(gen)
    assert full.is_valid(other) == full.is_valid(obj)


def test_deeply_nested_item_is_invalid_not_a_crash() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    obj = dict(VALID, bodies=[{"role": "main", "value": "x", "nested": deep}])
    with pytest.raises(InvalidArticle, match="nested too deeply"):
        parse_item(obj)
    with pytest.raises(InvalidArticle, match="not JSON data"):  # orjson's own depth limit
        parse_item(obj, max_bytes=10_000)
