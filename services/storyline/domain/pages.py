"""Pages and their deltas: the hash of a page, the change from one revision to the next,
and applying a change to get the next page back, byte for byte.

The hash (``page_hash``) is SHA-256 over the canonical JSON of the page without its article
list and without ``content_hash``, then a newline, then the 32-byte SHA-256 digest of the
canonical JSON of each list entry, in list order. Hashing entries one by one lets the
producer keep the digests of entries that did not change, so a revision costs the same
whatever the size of the story's article list; a consumer recomputes the hash with the same
few lines in any language.

The page covers ``previous_hash``, so the hashes form a chain: a consumer that checks each
page's hash and its ``previous_hash`` knows it applied every revision, in order.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from typing import Any, cast

import orjson

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import (
    PageChanges,
    RelatedArticle,
    StoryPage,
    StoryUpdated,
    TimelineEntry,
)

_HEAD_EXCLUDE = frozenset({"content_hash", "articles"})
_PAGE_FIELDS = ("title", "article_count", "independent_count", "published_first",
                "published_last", "summary", "timeline", "aliases")

# Entry digests by identity: the fold reuses the same RelatedArticle object for an entry
# that did not change, so most lookups hit; a miss only costs a hash. An entry is held by a
# weak reference, and its digest goes when it does: a frozen story's entries are let go, and
# a cache that held them alive kept ~28 MB of dead stories' entries at its bound over the
# synthetic log (docs/benchmarks.md, session 24). Still bounded, against a burst of stories.
class _EntryRef(weakref.ref[RelatedArticle]):
    __slots__ = ("key",)

    key: int


def _forget(ref: weakref.ref[RelatedArticle]) -> None:
    """The entry of ``ref`` is gone: so is its digest (unless its key holds a newer one)."""
    key = cast(_EntryRef, ref).key
    found = _DIGESTS.get(key)
    if found is not None and found[0] is ref:
        del _DIGESTS[key]


_DIGESTS: OrderedDict[int, tuple[_EntryRef, bytes]] = OrderedDict()
DIGEST_CACHE_SIZE = 50_000


class PageChainBroken(ValueError):
    """A change that does not apply to the page at hand (missing or reordered revisions,
    or content that does not match its hash)."""


def entry_digest(entry: RelatedArticle) -> bytes:
    key = id(entry)
    found = _DIGESTS.get(key)
    if found is not None and found[0]() is entry:
        return found[1]
    digest = hashlib.sha256(canonical_bytes(entry)).digest()
    ref = _EntryRef(entry, _forget)
    ref.key = key
    _DIGESTS[key] = (ref, digest)
    if len(_DIGESTS) > DIGEST_CACHE_SIZE:
        _DIGESTS.popitem(last=False)
    return digest


# The canonical JSON of recent timeline entries by identity, as fragments of a page head's:
# the fold gives an entry whose event kept its summary as the same object again (an event
# of a long story cites hundreds of articles), so the head is not dumped anew each revision.
# A miss only costs a dump. The pages of the few stories revised last: an entry held here
# is held alive with its citations, and 1,024 of them (pages of stories long frozen) cost
# 8 MB of RSS over timeline17-dev.
_TIMELINE_JSON: OrderedDict[int, tuple[TimelineEntry, orjson.Fragment]] = OrderedDict()
TIMELINE_JSON_CACHE_SIZE = 96


def _timeline_json(entry: TimelineEntry) -> orjson.Fragment:
    """``entry``'s canonical JSON, as it is inside a page's: the same keys and options."""
    key = id(entry)
    found = _TIMELINE_JSON.get(key)
    if found is not None and found[0] is entry:
        return found[1]
    fragment = orjson.Fragment(canonical_bytes(entry))
    _TIMELINE_JSON[key] = (entry, fragment)
    if len(_TIMELINE_JSON) > TIMELINE_JSON_CACHE_SIZE:
        _TIMELINE_JSON.popitem(last=False)
    return fragment


# The entry digests of recent article lists, concatenated, by the identity of the list (a
# tuple, held by the entry): a revision that appends one entry to the previous page's list
# hashes the previous concatenation plus one digest instead of looking up every entry.
_LISTS: OrderedDict[int, tuple[tuple[RelatedArticle, ...], bytes]] = OrderedDict()
LIST_CACHE_SIZE = 16
_DIGEST_SIZE = hashlib.sha256().digest_size


def _entry_digests(entries: tuple[RelatedArticle, ...],
                   before: tuple[RelatedArticle, ...] | None = None) -> bytes:
    """The entries' digests concatenated, in order (reusing those of ``before``, the list
    of the page before, when ``entries`` is that list or that list plus one entry)."""
    found = _LISTS.get(id(entries))
    if found is not None and found[0] is entries:
        return found[1]
    blob: bytes | None = None
    if before is not None:
        hit = _LISTS.get(id(before))
        if hit is not None and hit[0] is before:
            if len(entries) == len(before) + 1 and entries[:-1] == before:
                blob = hit[1] + entry_digest(entries[-1])
            elif (at := one_replaced(entries, before)) is not None:
                blob = (hit[1][:at * _DIGEST_SIZE] + entry_digest(entries[at])
                        + hit[1][(at + 1) * _DIGEST_SIZE:])
            elif entries == before:
                blob = hit[1]
    if blob is None:
        blob = b"".join(map(entry_digest, entries))
    _LISTS[id(entries)] = (entries, blob)
    if len(_LISTS) > LIST_CACHE_SIZE:
        _LISTS.popitem(last=False)
    return blob


def known_list_digests(entries: tuple[RelatedArticle, ...]) -> bytes | None:
    """What :func:`_entry_digests` gives ``entries`` when it is at hand (the list's, or
    every entry's digest in the caches), else None: never computed here."""
    found = _LISTS.get(id(entries))
    if found is not None and found[0] is entries:
        return found[1]
    digests: list[bytes] = []
    for entry in entries:
        hit = _DIGESTS.get(id(entry))
        if hit is None or hit[0]() is not entry:
            return None
        digests.append(hit[1])
    return b"".join(digests)


def remember_list_digests(entries: tuple[RelatedArticle, ...], blob: bytes) -> None:
    """Give the cache ``blob``, the digests of ``entries`` that :func:`known_list_digests`
    gave for an equal list (a story's page list kept with its frozen state: thawed, the
    list is new objects, and the next revision would digest each entry again)."""
    if len(blob) != len(entries) * _DIGEST_SIZE:
        raise ValueError(f"{len(blob)} bytes of digests for {len(entries)} entries")
    _LISTS[id(entries)] = (entries, blob)
    if len(_LISTS) > LIST_CACHE_SIZE:
        _LISTS.popitem(last=False)


def one_replaced(entries: tuple[RelatedArticle, ...], before: tuple[RelatedArticle, ...]
                 ) -> int | None:
    """The position of the one entry of ``entries`` that is not ``before``'s (the same
    length, every other entry equal), or None. A copy joins the entry of its original,
    which is recent: the list is read from its end, the rest compared in C."""
    if len(entries) != len(before):
        return None
    at = len(entries) - 1
    while at >= 0 and entries[at] is before[at]:
        at -= 1
    if at < 0 or entries[:at] != before[:at]:
        return None
    return at


def page_hash(page: StoryPage, before: StoryPage | None = None) -> str:
    """The page's hash (see the module docstring); ``before``, the page it follows, only
    saves work."""
    # the head dumped from a copy without the list (excluded either way: the same bytes,
    # without pydantic walking thousands of entries to leave them out)
    head = page.model_copy(update={"articles": (), "timeline": ()})
    dumped = head.model_dump(mode="json", exclude=set(_HEAD_EXCLUDE))
    dumped["timeline"] = [_timeline_json(entry) for entry in page.timeline]
    digest = hashlib.sha256(canonical_bytes(dumped))
    digest.update(b"\n")
    digest.update(_entry_digests(page.articles,
                                 before.articles if before is not None else None))
    return "sha256:" + digest.hexdigest()


def sealed(page: StoryPage, before: StoryPage | None = None) -> StoryPage:
    """The page with its ``content_hash`` set (``before``: as for ``page_hash``)."""
    return page.model_copy(update={"content_hash": page_hash(page, before)})


def changes_between(before: StoryPage | None, after: StoryPage) -> PageChanges:
    """What turns ``before`` into ``after`` (everything, when there is no ``before``)."""
    if before is None:
        return full_changes(after)
    fields: dict[str, Any] = {name: getattr(after, name) for name in _PAGE_FIELDS
                              if getattr(after, name) != getattr(before, name)}
    listed, now = before.articles, after.articles
    # The common revisions first, without a Python loop over the list (tuple comparisons
    # run in C; identical entries compare by identity): one entry appended, one entry
    # replaced by one of the same number (a copy joined it), the list unchanged. Entry
    # numbers are unique in a page, so the appended one is new; each gives what the
    # general case below gives.
    if len(now) == len(listed) + 1 and now[:-1] == listed:
        return PageChanges(**fields, articles_set=now[-1:], articles_removed=())
    if (at := one_replaced(now, listed)) is not None and now[at].n == listed[at].n:
        return PageChanges(**fields, articles_set=now[at:at + 1] if now[at] != listed[at]
                           else (), articles_removed=())
    if now == listed:
        return PageChanges(**fields, articles_set=(), articles_removed=())
    old = {entry.n: entry for entry in before.articles}
    new_order = [entry.n for entry in after.articles]
    new_ns = set(new_order)
    removed = [n for n in old if n not in new_ns]
    expected = [n for n in old if n in new_ns] + [n for n in new_order if n not in old]
    if new_order == expected:
        changed = tuple(entry for entry in after.articles
                        if (was := old.get(entry.n)) is None
                        or (was is not entry and was != entry))
        return PageChanges(**fields, articles_set=changed, articles_removed=tuple(removed))
    # the list was reordered: say it whole (rare: not produced by the fold today)
    return PageChanges(**fields, articles_set=after.articles, articles_removed=tuple(old))


def full_changes(page: StoryPage) -> PageChanges:
    return PageChanges(full=True, **{name: getattr(page, name) for name in _PAGE_FIELDS},
                       articles_set=page.articles)


def update_for(page: StoryPage, before: StoryPage | None) -> StoryUpdated:
    """The ``StoryUpdated`` that takes a consumer from ``before`` to the sealed ``page``."""
    return StoryUpdated(
        story_id=page.story_id,
        revision=page.revision,
        previous_hash=page.previous_hash,
        content_hash=page.content_hash,
        article_count=page.article_count,
        changes=changes_between(before, page),
        diff=page.diff,
        cause=page.cause,
        pipeline_version=page.pipeline_version,
    )


def apply_changes(before: StoryPage | None, update: StoryUpdated, *, check: bool = True
                  ) -> StoryPage:
    """The page after ``update``, from the page before it. Raises PageChainBroken when the
    update does not follow ``before`` or (``check``) the result does not match its hash."""
    changes = update.changes
    if not changes.full:
        if before is None:
            raise PageChainBroken(
                f"{update.story_id}@{update.revision} is a change and no earlier page is known")
        if before.story_id != update.story_id:
            raise PageChainBroken(f"{update.story_id}@{update.revision} applied to a page of "
                                  f"{before.story_id}")
        if (before.revision + 1 != update.revision
                or before.content_hash != update.previous_hash):
            raise PageChainBroken(
                f"{update.story_id}@{update.revision} follows {update.previous_hash}, the page "
                f"at hand is revision {before.revision} with {before.content_hash}")
    fields: dict[str, Any] = {}
    for name in _PAGE_FIELDS:
        value = getattr(changes, name)
        if value is None:
            if before is None:
                raise PageChainBroken(f"full change without {name}")
            value = getattr(before, name)
        fields[name] = value
    if changes.full or before is None:
        articles = changes.articles_set
    else:
        listed: dict[int, RelatedArticle] = {entry.n: entry for entry in before.articles}
        for n in changes.articles_removed:
            listed.pop(n, None)
        for entry in changes.articles_set:
            listed[entry.n] = entry
        articles = tuple(listed.values())
    page = StoryPage(
        story_id=update.story_id,
        revision=update.revision,
        **fields,
        articles=articles,
        diff=update.diff,
        cause=update.cause,
        pipeline_version=update.pipeline_version,
        previous_hash=update.previous_hash,
        content_hash=update.content_hash,
    )
    if check and page_hash(page) != update.content_hash:
        raise PageChainBroken(
            f"{update.story_id}@{update.revision}: the page built from the change does not "
            "match its content_hash")
    return page


def page_of_full(update: StoryUpdated) -> StoryPage:
    """The page carried whole by a ``full`` update (a first revision, an upcast old one)."""
    return apply_changes(None, update)


class PageFolder:
    """Rebuilds every story's latest page from ``StoryUpdated`` records read in log order.
    A record for a revision already applied (a redelivery) is passed over."""

    def __init__(self) -> None:
        self.pages: dict[str, StoryPage] = {}

    def apply(self, update: StoryUpdated) -> StoryPage | None:
        """The new page, or None for a redelivery; raises PageChainBroken."""
        current = self.pages.get(update.story_id)
        if current is not None and update.revision <= current.revision:
            return None
        page = apply_changes(current, update)
        self.pages[update.story_id] = page
        return page
