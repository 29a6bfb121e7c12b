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


def _article_received_v1_to_v2(payload: Payload) -> Payload:
    # v1 (the pre-release contract) named the outlet ``outlet`` and the publication time
    # ``published_at`` and had no wire format: everything then came in as ninjs.
    out = {k: v for k, v in payload.items() if k not in {"outlet", "published_at"}}
    out["source"] = payload["outlet"]
    out["published"] = payload["published_at"]
    out.setdefault("wire_format", "ninjs")
    out["schema_version"] = 2
    return out


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("ArticleReceived", 1): _article_received_v1_to_v2,
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
        raise UndecodableEvent(
            f"cannot upgrade {event_type} v{payload.get('schema_version', 1)}: {why}") from exc
    try:
        return expected.model_validate(current)
    except ValidationError as exc:
        raise UndecodableEvent(_describe(exc)) from exc


def decode_any(data: bytes) -> Contract:
    payload = orjson.loads(data)
    model = _MODELS.get(str(payload.get("event_type")))
    if model is None:
        raise UndecodableEvent(f"unknown event_type {payload.get('event_type')!r}")
    return decode_event(data, model)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"field '{where}': {error['msg']}")
    return "; ".join(parts)
