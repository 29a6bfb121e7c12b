"""HTML to plain text, one paragraph a line: for ninjs HTML bodies and feed descriptions."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

from storyline.ingest.fields import clean_body

# Elements that end a paragraph or line in the rendered text.
_BLOCKS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "tr", "table", "section", "article", "header", "footer", "pre", "hr", "dd", "dt", "dl",
    "figcaption", "aside", "caption", "nav", "main", "figure", "address", "details",
    "summary",
})
# Table cells: the cells of a row stay on its line, but not glued ("Arsenal2-1Chelsea").
_CELLS = frozenset({"td", "th"})
_SKIPPED = frozenset({"script", "style", "template", "noscript", "head", "title"})
# What HTMLParser reads as markup: a tag, an end tag, a comment, a declaration or a
# processing instruction. A "<" before anything else ("3 < 5", "<5") is a character.
_MARKUP = re.compile(r"<[A-Za-z/!?]")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in _CELLS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in _CELLS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            # a newline inside a paragraph's source is layout, not a line break
            self.parts.append(data.replace("\n", " ").replace("\r", " "))

    def close(self) -> None:
        # an unterminated comment is hidden markup, not text (HTMLParser gives it as data)
        if self.rawdata.startswith("<!--"):
            self.rawdata = ""
        super().close()


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, entities decoded, one block element a line.

    Text without markup is plain text, whatever entities it has: its line breaks are its
    lines, as they are in text without an entity (a description "Closed on Monday.\n
    Ferries resumed (P&amp;O said)." kept its paragraphs only without the "&amp;")."""
    if _MARKUP.search(html) is None:
        return clean_body(unescape(html))
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return clean_body("".join(collector.parts))
