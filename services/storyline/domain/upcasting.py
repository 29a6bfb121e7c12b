"""Reading events of any schema version.

Producers write only the newest version of each event; the log keeps every version ever
written, forever. Each upcaster lifts a payload one version up, so reading an old event is
a chain of small, individually tested steps ending in validation by the current model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from storyline.domain.events import (
    ALL_EVENTS,
    Contract,
)

Payload = dict[str, Any]
T = TypeVar("T", bound=Contract)
Upcaster = Callable[[Payload], Payload]


class UndecodableEvent(ValueError):
    """The bytes are not an event this version of Storyline can read."""


class RetiredEvent(UndecodableEvent):
    """An event type the contracts no longer hold (``RETIRED``). It changes nothing any
    reader keeps, so consumers skip it (counted, logged), never dead-letter or crash on it."""

    def __init__(self, event_type: str, why: str) -> None:
        super().__init__(f"{event_type} is a retired event type: {why}")
        self.event_type = event_type


# Event types that were once in the contracts, and why a reader may skip them.
RETIRED: dict[str, str] = {
    # StorySplit v1 (parent_id, child_id, moved_uris): declared, never produced by any
    # version (the clusterer has no split; docs/clustering.md, "Splits"). Any page change a
    # split would make arrives as StoryUpdated events of the stories involved anyway.
    "StorySplit": "no version of Storyline ever produced it; the contract was removed "
                  "(docs/clustering.md, Splits), so it is skipped",
}


def _article_received_v1_to_v2(payload: Payload) -> Payload:
    # v1 (the pre-release contract) named the outlet ``outlet`` and the publication time
    # ``published_at`` and had no wire format: everything then came in as ninjs.
    out = {k: v for k, v in payload.items() if k not in {"outlet", "published_at"}}
    out["source"] = payload["outlet"]
    out["published"] = payload["published_at"]
    out.setdefault("wire_format", "ninjs")
    out["schema_version"] = 2
    return out




def _story_updated_v1_to_v2(payload: Payload) -> Payload:
    # v1 carried the whole page, hashed as its canonical JSON without ``content_hash``. v2
    # carries a change and hashes pages as storyline.domain.pages.page_hash does, chained by
    # ``previous_hash``. An old event becomes a ``full`` change (it holds everything) that
    # starts a chain; its own v1 hash is checked first, so a damaged one is refused.
    from storyline.domain.canonical import content_hash
    from storyline.domain.events import StoryPage
    from storyline.domain.pages import full_changes, sealed

    declared = payload["content_hash"]
    if content_hash({k: v for k, v in payload.items() if k != "content_hash"}) != declared:
        raise ValueError("StoryUpdated v1 content does not match its content_hash")
    page_fields = {k: v for k, v in payload.items()
                   if k not in {"event_type", "schema_version", "content_hash"}}
    page = sealed(StoryPage.model_validate({**page_fields, "previous_hash": None,
                                            "content_hash": ""}))
    changes = full_changes(page).model_dump(mode="json")
    return {
        "event_type": "StoryUpdated",
        "schema_version": 2,
        "story_id": page.story_id,
        "revision": page.revision,
        "previous_hash": None,
        "content_hash": page.content_hash,
        "article_count": page.article_count,
        "changes": changes,
        "diff": payload["diff"],
        "cause": payload["cause"],
        "pipeline_version": payload["pipeline_version"],
    }


def _article_extracted_v1_to_v2(payload: Payload) -> Payload:
    # v1 gave the clusterer's terms as [term, count] pairs and its names as an object each;
    # v2 gives them as columns (the same values, in the same order: ~3x faster to parse)
    out = {**payload, "schema_version": 2}
    clustering = payload.get("clustering")
    if clustering is not None:
        columns = {k: v for k, v in clustering.items()
                   if k not in {"body_terms", "headline_terms", "names"}}
        for terms, counts in (("body_terms", "body_counts"),
                              ("headline_terms", "headline_counts")):
            pairs = clustering[terms]
            columns[terms] = [term for term, _ in pairs]
            columns[counts] = [count for _, count in pairs]
        names = clustering["names"]
        columns["names"] = {field: [name[field] for name in names]
                            for field in ("canonical", "count", "person", "lede")}
        out["clustering"] = columns
    return out


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("ArticleReceived", 1): _article_received_v1_to_v2,
    ("StoryUpdated", 1): _story_updated_v1_to_v2,
    ("ArticleExtracted", 1): _article_extracted_v1_to_v2,
}

_MODELS: dict[str, type[Contract]] = {
    model.model_fields["event_type"].default: model for model in ALL_EVENTS
}


def upcast(payload: Payload) -> Payload:
    event_type = payload.get("event_type")
    version = payload.get("schema_version", 1)
    while (str(event_type), int(version)) in UPCASTERS:
        payload = UPCASTERS[(str(event_type), int(version))](payload)
        version = payload["schema_version"]
    return payload


def decode_event(data: bytes, expected: type[T]) -> T:
    """Decode bytes from a topic into the current version of ``expected``."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UndecodableEvent(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UndecodableEvent(f"expected a JSON object, got {type(payload).__name__}")
    event_type = payload.get("event_type")
    expected_type = expected.model_fields["event_type"].default
    if event_type != expected_type:
        raise UndecodableEvent(f"expected event_type {expected_type!r}, got {event_type!r}")
    try:
        current = upcast(payload)
    except (KeyError, TypeError, ValueError) as exc:
        why = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        if "schema_version" not in payload:
            current_version = expected.model_fields["schema_version"].default
            why += (f" (the event carries no schema_version, so it was read as v1; "
                    f"{event_type} events are now written as v{current_version})")
        raise UndecodableEvent(
            f"cannot upgrade {event_type} v{payload.get('schema_version', 1)}: {why}") from exc
    try:
        return expected.model_validate(current)
    except ValidationError as exc:
        raise UndecodableEvent(_describe(exc)) from exc


def decode_any(data: bytes) -> Contract:
    payload = orjson.loads(data)
    event_type = str(payload.get("event_type"))
    model = _MODELS.get(event_type)
    if model is None and event_type in RETIRED:
        raise RetiredEvent(event_type, RETIRED[event_type])
    if model is None:
        raise UndecodableEvent(f"unknown event_type {payload.get('event_type')!r}")
    return decode_event(data, model)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"field '{where}': {error['msg']}")
    return "; ".join(parts)
