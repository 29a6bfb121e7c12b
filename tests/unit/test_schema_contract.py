"""The JSON Schemas in schemas/ say what a consumer receives: every event Storyline writes
validates against its schema, and what it always writes the schema requires (a consumer
generating types from it gets no Optional ``event_type``, ``schema_version`` or
``previous_hash``, and a list entry's ``url`` as a string that may be absent, never null).
The articles topic's schema says what a producer may send: defaults may be left out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from storyline.domain.canonical import canonical_bytes
from storyline.replay import fold_records, records_from_files

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
SAMPLE = ROOT / "samples" / "wire" / "articles.jsonl"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def test_every_event_of_the_sample_wire_validates_against_its_schema() -> None:
    events = fold_records(records_from_files([SAMPLE], "t", 10_000),
                          max_bytes=2_000_000).events
    assert len(events) >= 15
    validators = {
        "StoryUpdated": jsonschema.Draft202012Validator(schema("StoryUpdated.v2.schema.json")),
        "StoryMerged": jsonschema.Draft202012Validator(schema("StoryMerged.v1.schema.json")),
    }
    seen = set()
    for event in events:
        document = json.loads(canonical_bytes(event))
        validators[document["event_type"]].validate(document)
        seen.add(document["event_type"])
    assert "StoryUpdated" in seen


def test_what_storyline_always_writes_is_required() -> None:
    updated = schema("StoryUpdated.v2.schema.json")
    assert {"event_type", "schema_version", "previous_hash", "content_hash",
            "pipeline_version"} <= set(updated["required"])
    entry = updated["$defs"]["RelatedArticle"]
    assert "url" not in entry["required"] and entry["properties"]["url"]["type"] == "string"
    assert {"also_carried_by", "withdrawn", "copies"} <= set(entry["required"])
    for name in ("StoryMerged.v1", "StoryPage.v1", "DeadLetter.v1", "SummaryGenerated.v1",
                 "ArticleExtracted.v2", "ArticleAssigned.v1"):
        assert {"event_type", "schema_version"} <= set(
            schema(f"{name}.schema.json")["required"]), name
    # the clusterer's columns: every one of them, or a term's count would shift
    clustering = schema("ArticleExtracted.v2.schema.json")["$defs"]
    assert set(clustering["ClusteringFeatures"]["required"]) == {
        "day", "body_terms", "body_counts", "headline_terms", "headline_counts", "names",
        "shingles"}
    assert set(clustering["ClusteringNames"]["required"]) == {
        "canonical", "count", "person", "lede"}


def test_a_producer_of_articles_may_leave_the_defaults_out() -> None:
    received = schema("ArticleReceived.v2.schema.json")
    assert set(received["required"]) == {"uri", "version", "source", "body", "published"}
    minimal = {"uri": "urn:x:1", "version": 1, "source": "Wire", "body": "Text.",
               "published": "2026-03-01T08:00:00Z"}
    jsonschema.Draft202012Validator(received).validate(minimal)
