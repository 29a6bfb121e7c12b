"""Second-chance merges: co-occurring runner-ups and stray single articles."""

from __future__ import annotations

from dataclasses import replace

from test_clustering import FLU, OIL, OIL_2, article, facts

from storyline.domain.assign.clustering import Assignment, Clusterer, ClusteringConfig

# close to OIL (0.68) and to OIL_2 (0.40), so it picks OIL's story with OIL_2's as runner-up
OIL_3 = (
    "Crude oil leaking from the BP well in the Gulf of Mexico reached Louisiana beaches.\n"
    "Engineers said the containment dome and drilling mud had failed so far.\n"
    "The coast guard said the oil spill was the worst the company had faced."
)

# OIL_2 scores 0.49 with OIL: below this join threshold, so it founds a stray single story;
# the first-chance merge is off so that only the second-chance rules can join the two.
# FLU scores about 0.05 with OIL (a few shared common words): under the stray bar.
STRICT = ClusteringConfig(
    threshold=0.5, merge_threshold=2.0, near_score=0.1, near_size=1, near_wait_days=1.0
)


def feed(config: ClusteringConfig, third_day: float) -> list[Assignment]:
    clusterer = Clusterer(config)
    out = []
    stream = [("a", OIL, 0.0), ("f", FLU, 0.5), ("b", OIL_2, 1.0), ("c", OIL_3, third_day)]
    for uri, body, day in stream:
        a = article(uri, body, day)
        out.append(clusterer.assign(a, facts(a)))
    return out


def test_stray_single_is_folded_into_the_story_it_nearly_joined() -> None:
    config = replace(STRICT, cooccur_score=0.0)
    oil, flu, stray, third = feed(config, third_day=3.0)
    assert stray.is_new_story
    assert third.story_id == oil.story_id
    assert third.merged == (stray.story_id,)
    assert flu.story_id not in third.merged


def test_stray_is_not_folded_before_it_has_waited() -> None:
    config = replace(STRICT, cooccur_score=0.0)
    oil, _, _, third = feed(config, third_day=1.5)
    assert third.story_id == oil.story_id and third.merged == ()


def test_a_corroborating_tie_merges_a_near_miss_without_waiting() -> None:
    config = replace(STRICT, near_wait_days=-1.0)
    oil, _, stray, third = feed(config, third_day=1.5)
    assert third.story_id == oil.story_id
    assert third.merged == (stray.story_id,)


def test_without_second_chance_the_stray_stays_apart() -> None:
    config = replace(STRICT, cooccur_score=0.0, near_score=0.0, near_wait_days=-1.0)
    oil, _, stray, third = feed(config, third_day=3.0)
    assert stray.is_new_story and third.story_id == oil.story_id and third.merged == ()


def feed_small(config: ClusteringConfig, *stray_people: str) -> list[Assignment]:
    """OIL founds the big story; OIL_2 founds a stray that a copy then grows to two
    articles; OIL_3 joins the big story two days later."""
    clusterer = Clusterer(config)
    out = []
    stream = [
        ("a", OIL, 0.0, ("tony hayward",)),
        ("b", OIL_2, 1.0, stray_people),
        ("b-copy", OIL_2, 1.1, stray_people),
        ("c", OIL_3, 3.0, ("tony hayward",)),
    ]
    for uri, body, day, people in stream:
        a = article(uri, body, day)
        out.append(clusterer.assign(a, facts(a, *people)))
    return out


# core people from the first article on, so the people check has something to compare
SMALL = replace(STRICT, cooccur_score=0.0, core_min_articles=1.0)


def test_a_small_stray_story_naming_nobody_else_is_folded() -> None:
    oil, stray, copy, third = feed_small(SMALL)
    assert stray.is_new_story and copy.story_id == stray.story_id
    assert third.story_id == oil.story_id and third.merged == (stray.story_id,)


def test_a_small_stray_story_about_someone_else_stays_apart() -> None:
    oil, stray, _, third = feed_small(SMALL, "barack obama")
    assert stray.is_new_story
    assert third.story_id == oil.story_id and third.merged == ()


def test_only_single_strays_fold_when_near_max_size_is_one() -> None:
    oil, _, _, third = feed_small(replace(SMALL, near_max_size=1))
    assert third.story_id == oil.story_id and third.merged == ()


def test_a_small_stray_sharing_no_vocabulary_with_the_story_stays_apart() -> None:
    oil, _, _, third = feed_small(replace(SMALL, near_fold_centroid=1.01))
    assert third.story_id == oil.story_id and third.merged == ()
