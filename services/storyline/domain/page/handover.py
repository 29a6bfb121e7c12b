"""A story handed over by a merge to a page partition that never folded it.

The page stage is partitioned by story id (docs/stages.md, "Merges across page
partitions"): when story A of partition p merges into story B of partition q, q has none of
A's state. It rebuilds what the merge moves (:class:`~.story.MovedStory`) from the
assignment alone: the ``Absorbed`` record lists A's articles and withdrawn articles in
their order in A, each with where its facts are on the facts topic, the article of A it is
listed under as a copy, and the version that withdrew it; and the ids A had absorbed. Every
part of a moved article is a function of its facts (its citation data, packed facts and
timeline input), so what q absorbs is what p would have handed over, and the survivor's
revisions are the same bytes however the stories are spread over partitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from storyline.domain.contracts import (
    Absorbed,
    ArticleExtracted,
    FactsPosition,
    MovedArticle,
    timeline_input_from,
)
from storyline.domain.facts import CitedArticle, ColdFacts
from storyline.domain.page.story import MovedStory, cite, with_packed_analysis

FactsAt = Callable[[FactsPosition], ArticleExtracted]


class HandoverError(ValueError):
    """An ``Absorbed`` record that does not describe a story (a copy of an article the story
    does not hold, facts that are not the article's)."""


def moved_from_facts(absorbed: Absorbed, facts_at: FactsAt) -> MovedStory:
    """What a merge moves of the story ``absorbed`` describes, its articles read with
    ``facts_at`` (the facts topic at a position)."""
    everyone = (*absorbed.articles, *absorbed.withdrawn)
    # numbers in the story's order: a merge renumbers by that order and reads the numbers
    # only to keep each copy under its original
    number = {moved.uri: n for n, moved in enumerate(everyone, start=1)}
    if len(number) != len(everyone):
        raise HandoverError(f"story {absorbed.story_id} lists an article twice")

    def held(moved: MovedArticle) -> tuple[CitedArticle, ArticleExtracted]:
        if moved.copy_of is not None and moved.copy_of not in number:
            raise HandoverError(f"{moved.uri} is listed as a copy of {moved.copy_of}, which "
                                f"story {absorbed.story_id} does not hold")
        extracted = facts_at(moved.facts)
        if extracted.uri != moved.uri:
            raise HandoverError(f"the facts at {moved.facts} are those of {extracted.uri}, "
                                f"not of {moved.uri}")
        facts, summary = extracted.facts, extracted.summary
        if facts is None or summary is None or extracted.timeline is None:
            raise HandoverError(f"the facts at {moved.facts} ({moved.uri}) are not a usable "
                                "article's")
        copy_of = number[moved.copy_of] if moved.copy_of is not None else None
        cited = cite(extracted, facts, n=number[moved.uri], copy_of=copy_of)
        return with_packed_analysis(cited, summary), extracted

    articles: dict[str, CitedArticle] = {}
    inputs = {}
    for moved in absorbed.articles:
        cited, extracted = held(moved)
        articles[moved.uri] = cited
        assert extracted.timeline is not None  # checked by held
        inputs[moved.uri] = timeline_input_from(extracted.timeline)
    withdrawn: dict[str, CitedArticle] = {}
    for moved in absorbed.withdrawn:
        if moved.withdrawn_version is None:
            raise HandoverError(f"the withdrawn {moved.uri} of story {absorbed.story_id} "
                                "carries no withdrawal version")
        cited, extracted = held(moved)
        assert extracted.facts is not None  # checked by held
        # as story.withdraw_article keeps it: its first sentence, nothing packed
        withdrawn[moved.uri] = replace(cited, version=moved.withdrawn_version,
                                       facts=ColdFacts.pack(extracted.facts, keep=False))
    return MovedStory(absorbed.story_id, articles, withdrawn, inputs, list(absorbed.aliases))
