"""Look-alike stories (issue 11): concurrent stories told with the same vocabulary but about
different people and places stay apart, and each stays whole.

``tests/fixtures/lookalikes`` (hand-written, fictional, ninjs 2.1 as the ingest reads it):

* ``uprisings``: two uprisings in neighbouring countries over the same three months,
  interleaved (Valdoria: Krevic, Varga, Mirenza, Port Caldera, Republican Guard; Karesh:
  Bahrami, Sefer, Tarbel, Dunmor, Kareshi National Army), both told with "protesters",
  "regime", "forces", "ceasefire", "UN Security Council", "NATO", and sharing the
  international actors (the UN Secretary-General, the US Secretary of State, NATO's chief);
* ``politicians``: two politicians of one country (Lindqvist, Berglund) covered over the
  same five years: same parliament, same capital, same elections.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest

from storyline.domain.assign.clustering import Clusterer, ClusteringConfig
from storyline.domain.extract.extractor import extract_facts
from storyline.evaluation import corpus
from storyline.evaluation.clustering_eval import bcubed, load_gold

LOOKALIKES = Path(__file__).resolve().parents[1] / "fixtures" / "lookalikes"
SETS = {
    "uprisings": [LOOKALIKES / "uprisings"],
    "politicians": [LOOKALIKES / "politicians"],
    "both": [LOOKALIKES / "uprisings", LOOKALIKES / "politicians"],
}


@pytest.mark.parametrize("name", sorted(SETS))
def test_lookalikes_are_separated_and_whole(name: str) -> None:
    datasets = SETS[name]
    articles = corpus.merged_stream(datasets)
    gold = load_gold(datasets)
    stories = corpus.place_articles(articles, ClusteringConfig()).stories
    pieces: dict[str, set[str]] = {}
    for uri, story in stories.items():
        pieces.setdefault(gold[uri], set()).add(story)
    mixed = {story for story in stories.values()
             if len({gold[u] for u, s in stories.items() if s == story}) > 1}
    assert mixed == set(), "a story holds articles of two gold stories"
    assert {g: len(p) for g, p in pieces.items()} == dict.fromkeys(pieces, 1)
    scores = bcubed(stories, gold)
    assert (scores.precision, scores.recall) == (1.0, 1.0)


def test_the_corpus_is_what_the_issue_asks_for() -> None:
    up = corpus.read_dataset(LOOKALIKES / "uprisings")
    assert 30 <= len(up) <= 60
    gold = load_gold(SETS["uprisings"])
    labels = [gold[a.uri] for a in up]
    assert labels.count(labels[0]) * 2 == len(labels)
    switches = sum(a != b for a, b in pairwise(labels))
    assert switches >= len(labels) // 2  # interleaved in time, not one after the other
    for word in ("protesters", "regime", "forces", "ceasefire", "UN Security Council", "NATO"):
        for story in set(labels):
            assert any(word in a.body for a, s in zip(up, labels, strict=True) if s == story)


def test_name_spread_is_the_count_of_live_stories_carrying_each_name() -> None:
    """The spread that makes a name widespread is kept incrementally (joins, trims,
    withdrawals, merges): it must equal a recount over the live stories."""
    articles = corpus.merged_stream(SETS["both"])
    clusterer = Clusterer(replace(ClusteringConfig(), story_names=3))  # trims often
    for i, article in enumerate(articles):
        clusterer.assign(article, extract_facts(article))
        if i % 7 == 3:
            clusterer.remove(articles[i - 2].uri)
    recount: dict[int, int] = {}
    for story in clusterer._stories.values():
        for nid in story.names:
            recount[nid] = recount.get(nid, 0) + 1
    assert clusterer._name_stories == recount
    assert clusterer._name_stories  # the stream names people and places
