"""What a reader can check on any page: every citation resolves, the counts agree.

``citation_problems(page)`` lists, in words, each way the page breaks its own references:

- a ``[n]`` (summary sentence, timeline entry, conflict side) with no article ``n`` on the
  page's list, neither a listed entry nor one of the copies listed under an entry;
- a citation whose uri or version is not the one listed under its number;
- a number listed twice;
- ``article_count`` that is not the number of articles listed (entries and their copies),
  ``independent_count`` that is not the number of entries.

Used by the property tests, the dev-set check (``benchmarks/check_citations.py``) and
nothing on the write path: the fold is built so that the list is right, this says whether it
is.
"""

from __future__ import annotations

from collections.abc import Iterator

from storyline.domain.events import Citation, StoryPage


def listed_articles(page: StoryPage) -> dict[int, tuple[str, int]]:
    """Citation number -> (uri, version) of every article on the list, copies included."""
    listed: dict[int, tuple[str, int]] = {}
    for entry in page.articles:
        listed[entry.n] = (entry.uri, entry.version)
        for copy in entry.copies:
            listed[copy.n] = (copy.uri, copy.version)
    return listed


def _citations(page: StoryPage) -> Iterator[tuple[str, Citation]]:
    for p, paragraph in enumerate(page.summary):
        for s, sentence in enumerate(paragraph.sentences):
            for citation in sentence.citations:
                yield f"summary {p}.{s}", citation
    for entry in page.timeline:
        for citation in entry.citations:
            yield f"timeline {entry.entry_id}", citation


def citation_problems(page: StoryPage) -> list[str]:
    where = f"{page.story_id}@{page.revision}"
    problems: list[str] = []
    listed = listed_articles(page)
    numbers = [entry.n for entry in page.articles]
    numbers += [copy.n for entry in page.articles
                for copy in entry.copies]
    if len(numbers) != len(set(numbers)):
        problems.append(f"{where}: a citation number is listed twice: {sorted(numbers)}")
    for place, citation in _citations(page):
        found = listed.get(citation.n)
        if found is None:
            problems.append(f"{where} {place}: [{citation.n}] is not on the list")
        elif found != (citation.uri, citation.version):
            problems.append(f"{where} {place}: [{citation.n}] cites {citation.uri} "
                            f"v{citation.version}, the list has {found[0]} v{found[1]}")
    for entry in page.timeline:
        for conflict in entry.conflicts:
            for n in conflict.citations:
                if n not in listed:
                    problems.append(f"{where} timeline {entry.entry_id} conflict: [{n}] is "
                                    "not on the list")
    if page.article_count != len(numbers):
        problems.append(f"{where}: {page.article_count} articles counted, {len(numbers)} "
                        "listed")
    if page.independent_count != len(page.articles):
        problems.append(f"{where}: {page.independent_count} independent reports counted, "
                        f"{len(page.articles)} list entries")
    return problems
