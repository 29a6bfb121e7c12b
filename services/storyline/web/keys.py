"""API keys for ``POST /v1/articles``, stored hashed.

``STORYLINE_API_KEYS`` is a comma-separated list of entries ``ID:sha256$SALT$HASH``:
``ID`` names the key (it is recorded as the provenance of every article submitted with it,
and labels its rate limit), ``SALT`` is 16 random bytes and ``HASH`` is
HMAC-SHA256(SALT, secret), both hex. ``storyline keys new --id NAME`` makes a secret and
prints it once, with the entry to add; the setting never holds the secret, so a leaked
configuration (an environment dump, a ``ps``) does not leak a key.

Why not a slow KDF (scrypt, PBKDF2)? Those protect low-entropy passwords from guessing. A
key made here is 32 random bytes: no dictionary reaches it, and a fast salted hash keeps
every request cheap (a slow KDF would cost each POST tens of milliseconds of CPU).

Every entry is checked, with :func:`hmac.compare_digest`, whatever the outcome of the ones
before, so timing says nothing about which entry matched or how much of a hash did.

Plain-text entries (the old format: the secret itself) are still accepted, deprecated: each
is named ``plain-N`` (its position) and a warning naming only that is logged when the API
starts. Replace them with hashed entries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import structlog

from storyline.domain.events import API_KEY_ID_PATTERN
from storyline.errors import ConfigurationError

log = structlog.get_logger(__name__)

SCHEME = "sha256"
SECRET_PREFIX = "slk_"
_ID = re.compile(API_KEY_ID_PATTERN)  # the id is recorded in ArticleReceived.provenance
_HASHED = re.compile(r"(?P<id>[^:$,\s]+):(?P<scheme>[A-Za-z0-9_-]+)\$(?P<rest>.*)")
_HEX = re.compile(r"[0-9a-f]+")


class InvalidKeyEntry(ConfigurationError, ValueError):
    """An entry of STORYLINE_API_KEYS that cannot be used (the message never holds it)."""


@dataclass(frozen=True)
class KeyEntry:
    key_id: str
    salt: bytes
    digest: bytes
    plain: bool = False


def digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).digest()


def hashed_entry(key_id: str, secret: str, salt: bytes | None = None) -> str:
    """The STORYLINE_API_KEYS entry of ``secret`` under ``key_id``."""
    if _ID.fullmatch(key_id) is None:
        raise InvalidKeyEntry(f"key id {key_id!r}: 1-64 letters, digits, '.', '_' or '-', "
                              "starting with a letter or digit")
    salt = secrets.token_bytes(16) if salt is None else salt
    return f"{key_id}:{SCHEME}${salt.hex()}${digest(salt, secret).hex()}"


def new_key(key_id: str) -> tuple[str, str]:
    """A fresh secret and its entry."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return secret, hashed_entry(key_id, secret)


def parse_entry(raw: str, position: int) -> KeyEntry:
    match = _HASHED.fullmatch(raw)
    if match is None:
        # the old format: the secret in clear. Kept working, deprecated.
        salt = secrets.token_bytes(16)
        return KeyEntry(f"plain-{position}", salt, digest(salt, raw), plain=True)
    key_id, scheme = match["id"], match["scheme"]
    where = f"STORYLINE_API_KEYS entry {position} ({key_id})"
    if _ID.fullmatch(key_id) is None:
        raise InvalidKeyEntry(f"{where}: the id must be 1-64 letters, digits, '.', '_', '-'")
    if scheme != SCHEME:
        raise InvalidKeyEntry(f"{where}: unknown scheme {scheme!r} (known: {SCHEME})")
    parts = match["rest"].split("$")
    if (len(parts) != 2 or not all(_HEX.fullmatch(p) for p in parts)
            or len(parts[1]) != 64 or len(parts[0]) < 16):
        raise InvalidKeyEntry(f"{where}: expected {key_id}:{SCHEME}$<salt hex>$<64 hex "
                              "digits>, as `storyline keys new` prints it")
    return KeyEntry(key_id, bytes.fromhex(parts[0]), bytes.fromhex(parts[1]))


class KeyRing:
    """The keys of STORYLINE_API_KEYS, verified without ever keeping a secret."""

    def __init__(self, entries: list[KeyEntry]) -> None:
        ids = [e.key_id for e in entries]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise InvalidKeyEntry(f"STORYLINE_API_KEYS names a key id twice: {duplicates}")
        self.entries = entries

    @classmethod
    def parse(cls, setting: str | None) -> KeyRing:
        raws = [r.strip() for r in (setting or "").split(",") if r.strip()]
        return cls([parse_entry(raw, n) for n, raw in enumerate(raws, start=1)])

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def plain_ids(self) -> list[str]:
        return [e.key_id for e in self.entries if e.plain]

    def warn_if_plain(self) -> None:
        if self.plain_ids:
            log.warning("api_keys.plain_text_deprecated", entries=self.plain_ids,
                        hint="replace each with the hashed entry `storyline keys new --id "
                        "NAME` prints; plain-text keys will be refused in a later release")

    def verify(self, secret: str) -> str | None:
        """The id of the key ``secret`` is, or None."""
        found: str | None = None
        for entry in self.entries:
            if hmac.compare_digest(digest(entry.salt, secret), entry.digest):
                found = entry.key_id
        return found
