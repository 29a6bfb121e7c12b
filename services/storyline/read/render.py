"""A story page as Markdown or plain text, from one ``StoryPage`` and nothing else.

Pure functions: the same revision always renders to the same bytes. The HTML pages use the
same helpers (citation lists, date formats) so every surface shows the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from storyline.domain.events import (
    Citation,
    ConflictingValue,
    RelatedArticle,
    StoryPage,
    SummaryParagraph,
    TimelineEntry,
)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def counts_line(update: StoryPage) -> str:
    """'Updated (7 articles, 5 independent reports)': copies of a wire story are counted as
    articles but not as independent reports."""
    return (f"Updated ({plural(update.article_count, 'article')}, "
            f"{plural(update.independent_count, 'independent report')})")


def citation_numbers(citations: Iterable[Citation]) -> list[int]:
    """Citation numbers in order of first mention, each once."""
    seen: list[int] = []
    for citation in citations:
        if citation.n not in seen:
            seen.append(citation.n)
    return seen


def brackets(numbers: Iterable[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def day_label(moment: dt.datetime | dt.date) -> str:
    """'Dec 12, 2025', the format of the reference page."""
    return f"{moment:%b} {moment.day}, {moment.year}"


def conflict_label(conflict: ConflictingValue) -> str:
    sources = brackets(sorted(set(conflict.citations)))
    return f"{conflict.kind} given as {conflict.value} {sources}".rstrip()


def conflicts_text(conflicts: Sequence[ConflictingValue]) -> str:
    """Disagreements stay visible on the page: the entry shows one value, the others are
    named with the articles that state them."""
    if not conflicts:
        return ""
    return "Sources disagree: " + "; ".join(conflict_label(c) for c in conflicts) + "."


def around_marks(text: str) -> tuple[str, str]:
    """The sentence cut where its citation marks go, (before, after): the reference puts
    them before the closing full stop ("... reconnaissance [1]."), every view alike."""
    stripped = text.rstrip()
    if stripped.endswith((".", "!", "?")):
        return stripped[:-1].rstrip(), stripped[-1]
    return stripped, ""


def sentence_with_citations(text: str, citations: Sequence[Citation]) -> str:
    marks = brackets(citation_numbers(citations))
    if not marks:
        return text
    before, after = around_marks(text)
    return f"{before} {marks}{after}"


def paragraph_text(paragraph: SummaryParagraph) -> str:
    return " ".join(sentence_with_citations(s.text, s.citations) for s in paragraph.sentences)


def entry_text(entry: TimelineEntry) -> str:
    text = sentence_with_citations(entry.text, entry.citations)
    note = conflicts_text(entry.conflicts)
    return f"{text} {note}" if note else text


def date_label(entry: TimelineEntry) -> str:
    """The label says how precise the date is; one inferred from 'yesterday' is marked, and
    so is a plan or forecast ("could fall by Wednesday"): every source wrote before that
    day, so it is what was expected, not what happened."""
    notes = [note for note, shown in (("inferred", not entry.date_stated),
                                      ("expected", entry.planned)) if shown]
    return f"{entry.date_label} ({', '.join(notes)})" if notes else entry.date_label


def carried_by(article: RelatedArticle) -> str:
    """'[2] Coastal Radio News, [5] KBS': the copies with their own citation numbers (pages
    written before copies were listed name only the outlets)."""
    if article.copies:
        return ", ".join(f"[{c.n}] {c.source}" for c in article.copies)
    return ", ".join(article.also_carried_by)


def article_line(article: RelatedArticle) -> str:
    line = f"[{article.n}] {article.source}: {article.headline}, {day_label(article.published)}"
    if article.copies or article.also_carried_by:
        line += f"; also carried by {carried_by(article)}"
    if article.withdrawn:
        line += " (withdrawn by the source)"
    return line


def articles_heading(update: StoryPage) -> str:
    return f"All related articles ({plural(update.article_count, 'article')})"


def render_markdown(update: StoryPage) -> str:
    lines = [f"# {update.title}", "", f"_{counts_line(update)}_", ""]
    for paragraph in update.summary:
        label = f"**{paragraph.key_phrase}** " if paragraph.key_phrase else ""
        lines += [f"{label}{paragraph_text(paragraph)}", ""]
    if update.timeline:
        lines += ["## Timeline", ""]
        lines += [f"- **{date_label(e)}** – {entry_text(e)}" for e in update.timeline]
        lines.append("")
    lines += [f"## {articles_heading(update)}", ""]
    lines += [f"{article_line(a)}  " for a in update.articles]
    lines += ["", f"Story {update.story_id}, revision {update.revision}", ""]
    return "\n".join(lines)


def render_text(update: StoryPage) -> str:
    lines = [update.title, counts_line(update), ""]
    for paragraph in update.summary:
        key = paragraph.key_phrase.rstrip()
        lead = "" if not key else key + " " if key.endswith((".", "!", "?", ":")) else f"{key}. "
        lines += [f"{lead}{paragraph_text(paragraph)}", ""]
    if update.timeline:
        lines.append("Timeline")
        lines += [f"{date_label(e)} – {entry_text(e)}" for e in update.timeline]
        lines.append("")
    lines.append(articles_heading(update))
    lines += [article_line(a) for a in update.articles]
    lines += ["", f"Story {update.story_id}, revision {update.revision}", ""]
    return "\n".join(lines)
