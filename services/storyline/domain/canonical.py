"""Canonical JSON and content hashes.

A revision is identified by the SHA-256 of its canonical JSON: keys sorted, no insignificant
whitespace, UTF-8, no NaN. Two runs over the same log must produce the same bytes, so every
serialisation that feeds a hash goes through here.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import orjson
from pydantic import BaseModel

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def canonical_bytes(value: Any) -> bytes:
    """Serialise plain data (or a pydantic model) to canonical JSON bytes."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return orjson.dumps(value, option=_OPTIONS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    return "sha256:" + sha256_hex(canonical_bytes(value))


def tuning_digest(settings: Any) -> str:
    """Eight hex digits of the SHA-256 of a frozen settings dataclass's values (nested ones
    included), for version strings: the same values, the same digest, in any process."""
    return sha256_hex(canonical_bytes(dataclasses.asdict(settings)))[:8]
