"""What changed between any two revisions of a story (not only consecutive ones)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from storyline.domain.events import Citation, RelatedArticle, StoryPage, TimelineEntry
from storyline.read.render import date_label, entry_text, paragraph_text


class EntryView(BaseModel):
    entry_id: str
    date_label: str
    text: str


class TextPiece(BaseModel):
    """A run of a word-level diff: kept, removed or added words."""

    op: Literal["same", "del", "ins"]
    text: str


class EntryChange(BaseModel):
    """A timeline entry in both revisions. ``text_diff`` is the word-level diff of its text
    as shown (citation marks and conflicts included); ``date_changed`` says whether its date
    label changed; ``notes`` name what changed that the text does not show (a cited article
    corrected, another supporting sentence, the count of independent sources). A change is
    never shown as the same text removed and added."""

    entry_id: str
    before: EntryView
    after: EntryView
    date_changed: bool = False
    text_diff: list[TextPiece] = []
    notes: list[str] = []


class ArticleView(BaseModel):
    n: int
    uri: str
    source: str
    headline: str
    version: int = 1
    note: str = Field(default="", description="For a changed entry: what changed.")


class RevisionDelta(BaseModel):
    story_id: str
    from_revision: int
    to_revision: int
    title_changed: bool
    title_before: str
    title_after: str
    summary_changed: bool
    summary_before: list[str]
    summary_after: list[str]
    entries_added: list[EntryView]
    entries_changed: list[EntryChange]
    entries_removed: list[EntryView]
    articles_added: list[ArticleView]
    articles_removed: list[ArticleView]
    articles_changed: list[ArticleView]
    article_count_before: int
    article_count_after: int


def _entry(entry: TimelineEntry) -> EntryView:
    return EntryView(entry_id=entry.entry_id, date_label=date_label(entry), text=entry_text(entry))


_WORDS = re.compile(r"\S+\s*")


class _Word(str):
    """A word with the space after it, equal to the same word with any other space after it:
    "[2]." at the end of a text and "[2]. " before added words are one word kept, not one
    struck and one inserted."""

    __slots__ = ("bare",)
    bare: str

    def __new__(cls, text: str) -> _Word:
        word = super().__new__(cls, text)
        word.bare = text.rstrip()
        return word

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Word) and self.bare == other.bare

    def __hash__(self) -> int:
        return hash(self.bare)


def text_diff(before: str, after: str) -> list[TextPiece]:
    """Word-level diff (words keep their trailing space, compared without it; a kept word is
    written as the text after has it); equal texts give one kept run."""
    old = [_Word(w) for w in _WORDS.findall(before)]
    new = [_Word(w) for w in _WORDS.findall(after)]
    pieces: list[TextPiece] = []

    def add(op: Literal["same", "del", "ins"], words: Sequence[str]) -> None:
        if not words:
            return
        if pieces and pieces[-1].op == op:
            pieces[-1] = TextPiece(op=op, text=pieces[-1].text + "".join(words))
        else:
            pieces.append(TextPiece(op=op, text="".join(words)))

    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("same", new[j1:j2])
        else:
            add("del", old[i1:i2])
            add("ins", new[j1:j2])
    return pieces


def _cited(citations: tuple[Citation, ...]) -> dict[int, tuple[int, set[int]]]:
    out: dict[int, tuple[int, set[int]]] = {}
    for c in citations:
        version, sentences = out.get(c.n, (c.version, set()))
        out[c.n] = (max(version, c.version), sentences | {c.sentence})
    return out


def _notes(before: TimelineEntry, after: TimelineEntry) -> list[str]:
    """What changed in an entry that its shown text and date do not say."""
    notes: list[str] = []
    old, new = _cited(before.citations), _cited(after.citations)
    for n in sorted(set(old) & set(new)):
        if new[n][0] != old[n][0]:
            notes.append(f"[{n}] corrected: now version {new[n][0]}")
        elif new[n][1] != old[n][1]:
            notes.append(f"[{n}] now supports it with another sentence")
    if before.independent_sources != after.independent_sources:
        notes.append(f"independent sources {before.independent_sources} → "
                     f"{after.independent_sources}")
    if (before.date, before.date_end) != (after.date, after.date_end) and (
            date_label(before) == date_label(after)):
        notes.append(f"dated {after.date.isoformat()} to {after.date_end.isoformat()}, was "
                     f"{before.date.isoformat()} to {before.date_end.isoformat()}")
    return notes


def _change(before: TimelineEntry, after: TimelineEntry) -> EntryChange:
    old, new = _entry(before), _entry(after)
    notes = _notes(before, after)
    if old.text == new.text and old.date_label == new.date_label and not notes:
        notes = ["details of its sources changed"]
    return EntryChange(entry_id=after.entry_id, before=old, after=new,
                       date_changed=old.date_label != new.date_label,
                       text_diff=text_diff(old.text, new.text), notes=notes)


def _article_note(before: RelatedArticle, after: RelatedArticle) -> str:
    notes: list[str] = []
    if after.version != before.version:
        notes.append(f"corrected: version {after.version}")
    if (after.source, after.headline) != (before.source, before.headline):
        notes.append(f"was {before.source}: {before.headline}")
    if after.url != before.url:
        notes.append("web address " + ("removed" if after.url is None else
                                       "added" if before.url is None else "changed"))
    old = {c.n for c in before.copies}
    new = {c.n for c in after.copies}
    if added := [f"[{c.n}] {c.source}" for c in after.copies if c.n not in old]:
        notes.append("also carried by " + ", ".join(added))
    if gone := [f"[{c.n}] {c.source}" for c in before.copies if c.n not in new]:
        notes.append("no longer carried by " + ", ".join(gone))
    changed = [f"[{c.n}]" for c in after.copies if c.n in old and c not in before.copies]
    if changed:
        notes.append("copies corrected: " + ", ".join(changed))
    if not notes and after.also_carried_by != before.also_carried_by:
        notes.append("also carried by " + (", ".join(after.also_carried_by) or "no other"))
    return "; ".join(notes) or "details changed"


def _summary(update: StoryPage) -> list[str]:
    return [f"{p.key_phrase}: {paragraph_text(p)}" if p.key_phrase else paragraph_text(p)
            for p in update.summary]


def diff_revisions(before: StoryPage, after: StoryPage) -> RevisionDelta:
    """Entries are matched by their stable ``entry_id``, articles by uri; lists keep the
    order of the page they come from."""
    old_entries = {e.entry_id: e for e in before.timeline}
    new_entries = {e.entry_id: e for e in after.timeline}
    old_articles = {a.uri: a for a in before.articles}
    new_articles = {a.uri: a for a in after.articles}

    def article(a: RelatedArticle) -> ArticleView:
        return ArticleView(n=a.n, uri=a.uri, source=a.source, headline=a.headline,
                           version=a.version)

    return RevisionDelta(
        story_id=after.story_id,
        from_revision=before.revision,
        to_revision=after.revision,
        title_changed=before.title != after.title,
        title_before=before.title,
        title_after=after.title,
        summary_changed=before.summary != after.summary,
        summary_before=_summary(before),
        summary_after=_summary(after),
        entries_added=[_entry(e) for e in after.timeline if e.entry_id not in old_entries],
        entries_changed=[
            _change(old_entries[e.entry_id], e)
            for e in after.timeline
            if e.entry_id in old_entries and old_entries[e.entry_id] != e
        ],
        entries_removed=[_entry(e) for e in before.timeline if e.entry_id not in new_entries],
        articles_added=[article(a) for a in after.articles if a.uri not in old_articles],
        articles_removed=[article(a) for a in before.articles if a.uri not in new_articles],
        # a correction or withdrawal: same citation number, new version, headline or source
        articles_changed=[
            article(a).model_copy(update={"note": _article_note(old_articles[a.uri], a)})
            for a in after.articles if a.uri in old_articles and old_articles[a.uri] != a],
        article_count_before=before.article_count,
        article_count_after=after.article_count,
    )
