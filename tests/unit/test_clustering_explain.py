"""``storyline story explain``'s core: the clusterer's own decision, recorded as it is made.

The explanation must be the real decision: with a trace on, the clusterer assigns exactly as
without one (Hypothesis streams, the look-alike corpus and, when ../shared is there, the dev
stream), and every explanation names the story, the copy and the merges the assignment made.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dev_facts import facts_of
from hypothesis import given, settings
from hypothesis import strategies as st
from test_clustering import FLU, OIL, OIL_2, article, facts, step

from storyline.domain.assign.clustering import Assignment, Clusterer
from storyline.domain.assign.clustering_explain import (
    ArticleExplanation,
    Explanation,
    Trace,
    describe,
    explain_records,
    render,
)
from storyline.domain.events import ArticleReceived, PubStatus
from storyline.domain.extract.extractor import extract_facts
from storyline.evaluation import corpus

LOOKALIKES = Path(__file__).resolve().parents[1] / "fixtures" / "lookalikes"
DEV = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "timeline17-dev"


def consistent(result: Assignment, e: Explanation | None) -> None:
    """The explanation tells the decision the assignment made, nothing else."""
    assert e is not None
    assert e.story_id == result.story_id
    assert (e.decision == "new_story") == result.is_new_story
    assert (e.decision == "copy") == (result.duplicate_of is not None)
    assert e.duplicate_of == result.duplicate_of
    assert {m.absorbed_id for m in e.merges} == set(result.merged)
    if e.decision == "joined":
        assert e.chosen is not None and e.chosen.refused is None
        assert e.chosen.score >= e.threshold
        # nothing that was not refused scored higher than the chosen story
        assert all(c.score <= e.chosen.score for c in e.candidates if c.refused is None)
        assert all(m.survivor_id == result.story_id for m in e.merges)
    if e.decision == "new_story":
        assert all(c.refused is not None for c in e.candidates)
        assert all(c.score < e.threshold or not c.refused.startswith("below")
                   for c in e.candidates if c.refused is not None)
    for c in e.candidates:
        # the breakdowns decompose the very sums the clusterer used
        assert sum(w for _, w in c.shared_terms) <= c.centroid_cosine + 1e-5
        assert sum(w for _, w in c.shared_names) <= c.names + 1e-9
        assert c.score == pytest.approx(c.text * c.decay + c.names)
    assert describe(e)


def run_both(steps: list[tuple[str, list[str], list[str], int]]) -> None:
    plain, traced = Clusterer(), Clusterer()
    trace = Trace()
    traced.trace = trace
    uris: list[str] = []
    for n, (kind, sentences, names, days) in enumerate(steps):
        if kind == "remove" and uris:
            uri = uris[days % len(uris)]
            plain.remove(uri)
            traced.remove(uri)
            continue
        uri = uris[days % len(uris)] if kind == "correct" and uris else f"urn:h:{n}"
        uris.append(uri)
        a = article(uri, "\n".join(sentences), days=days / 3, version=n + 1)
        trace.reset()
        expected = plain.assign(a, facts(a, *names))
        got = traced.assign(a, facts(a, *names))
        assert got == expected  # the trace observes, never decides
        consistent(got, trace.result)


@settings(max_examples=60, deadline=None)
@given(st.lists(step, min_size=1, max_size=25))
def test_a_traced_clusterer_assigns_as_an_untraced_one_and_explains_it(
    steps: list[tuple[str, list[str], list[str], int]],
) -> None:
    run_both(steps)


def test_join_names_the_score_the_shared_terms_and_the_runner_up() -> None:
    c, trace = Clusterer(), Trace()
    c.trace = trace
    oil = c.assign(article("urn:oil:1", OIL), facts(article("urn:oil:1", OIL), "tony hayward"))
    flu = c.assign(article("urn:flu:1", FLU), facts(article("urn:flu:1", FLU)))
    trace.reset()
    # (flu twice: a runner-up is found through the query's heaviest terms, and a term said
    # once that the flu story shares ties at the cut with those the oil story shares)
    a = article("urn:oil:2", OIL_2 + "\nSwine flu fears kept tourists away, as flu cases rose.",
                days=1)
    got = c.assign(a, facts(a, "tony hayward"))
    e = trace.result
    consistent(got, e)
    assert e is not None and e.decision == "joined" and e.story_id == oil.story_id
    assert e.chosen is not None and e.chosen.story_id == oil.story_id
    terms = dict(e.chosen.shared_terms)
    assert {"oil", "bp", "gulf"} <= set(terms)
    assert dict(e.chosen.shared_names) == {"tony hayward": pytest.approx(e.chosen.names)}
    assert e.runner_up is not None and e.runner_up.story_id == flu.story_id
    assert e.runner_up.score < e.chosen.score
    assert "joined " + oil.story_id in describe(e)


def test_new_story_says_which_rule_refused_the_best_candidate() -> None:
    c, trace = Clusterer(), Trace()
    c.trace = trace
    oil = c.assign(article("urn:oil:1", OIL), facts(article("urn:oil:1", OIL)))
    trace.reset()
    a = article("urn:flu:1", FLU, days=2)
    got = c.assign(a, facts(a))
    e = trace.result
    consistent(got, e)
    assert e is not None and e.decision == "new_story"
    if e.candidates:  # the flu story shares nothing but words like "officials"
        assert e.candidates[0].story_id == oil.story_id
        assert e.candidates[0].refused == "below_threshold"
        assert "below the join threshold" in describe(e)
    else:
        assert "no candidate" in describe(e)


def test_the_identity_rule_is_named_when_it_founds_a_look_alike_story() -> None:
    """The second uprising's first article: close in words to the first uprising's young
    story, refused by the identity rule (issue 11, item 3)."""
    articles = corpus.merged_stream([LOOKALIKES / "uprisings"])
    c, trace = Clusterer(), Trace()
    c.trace = trace
    refusals = []
    for a in articles:
        trace.reset()
        result = c.assign(a, extract_facts(a))
        consistent(result, trace.result)
        e = trace.result
        assert e is not None
        if e.decision == "new_story" and e.candidates:
            refusals.append(e.candidates[0].refused)
    assert any(r is not None and r.startswith("identity:") for r in refusals)


def bridging_log() -> list[ArticleReceived]:
    day0 = dt.datetime(2010, 5, 1, 9, tzinfo=dt.UTC)

    def make(uri: str, body: str, days: float, version: int = 1,
             status: PubStatus = PubStatus.USABLE) -> ArticleReceived:
        return ArticleReceived(uri=uri, version=version, source="test", body=body,
                               published=day0 + dt.timedelta(days=days), pubstatus=status)

    hayward = "BP chief executive Tony Hayward said the company would pay. Tony Hayward spoke."
    # the same spill a year on, naming no one: too stale to join on words, nothing in common
    # to join on names, so a story of its own
    later = ("the oil from the well kept leaking into the sea as engineers prepared a new "
             "dome.\nthe fishermen said the spill and the crude oil slick had ruined their "
             "season.\nthe company said the leak from the well would be capped within weeks.")
    return [
        make("urn:oil:1", hayward + "\n" + OIL, 0),
        make("urn:flu:1", FLU, 1),
        make("urn:oil:2", later, 400),
        make("urn:oil:2b", later, 400.1),  # a copy
        # bridges the two: Hayward's name (the first story's core) and the new words
        make("urn:oil:3", hayward + "\nEngineers prepared a new dome as crude kept leaking "
             "from the well into the sea; fishermen said the slick and the spill ruined "
             "their season, and the company expects the leak to be capped within weeks.", 401),
        make("urn:oil:2", later + "\nA correction.", 402, version=2),
        make("urn:oil:2b", later, 403, version=2, status=PubStatus.WITHDRAWN),
    ]


def explain(uri: str) -> ArticleExplanation:
    found = explain_records(corpus.to_records(bridging_log()), uri,
                            max_bytes=corpus.MAX_ARTICLE_BYTES)
    assert found is not None
    return found


def test_explaining_a_log_matches_the_pipeline_and_follows_the_story() -> None:
    log = bridging_log()
    folded = corpus.fold(log)
    new = explain("urn:oil:2")
    assert new.placement.decision == "new_story"
    assert new.placement.position == {"topic": "articles", "partition": 0, "offset": 2}
    assert new.story_now == folded.pipeline.story_of("urn:oil:2")
    # its story was absorbed later, by the bridging article, into the older oil story
    assert [(m.article_uri, m.role) for m in new.later_merges] == [("urn:oil:3", "absorbed")]
    assert [v.decision for v in new.later_versions] == ["correction"]

    bridge = explain("urn:oil:3")
    e = bridge.placement
    assert e.decision == "joined" and e.story_id == folded.pipeline.story_of("urn:oil:3")
    assert [m.absorbed_id for m in e.merges] == [new.placement.story_id]
    merge = e.merges[0]
    assert merge.reason == "runner_up"
    assert merge.evidence["score_with_article"] >= 0.15
    assert merge.evidence["centroid_cosine"] >= 0.07
    assert "merge (runner_up)" in render(bridge)

    copy = explain("urn:oil:2b")
    assert copy.placement.decision == "copy" and copy.placement.duplicate_of == "urn:oil:2"
    assert copy.withdrawn_at == {"topic": "articles", "partition": 0, "offset": 6}
    assert copy.as_json()["summary"].startswith("a copy of urn:oil:2")
    assert explain_records(corpus.to_records(log), "urn:nowhere",
                           max_bytes=corpus.MAX_ARTICLE_BYTES) is None


@pytest.mark.skipif(not (DEV / "articles.jsonl").is_file(), reason="../shared dev data absent")
def test_explanations_agree_with_every_assignment_on_the_dev_stream() -> None:
    articles = corpus.read_dataset(DEV)[:900]
    plain, traced, trace = Clusterer(), Clusterer(), Trace()
    traced.trace = trace
    seen: dict[str, int] = {}
    for a in articles:
        f = facts_of(a)
        trace.reset()
        expected = plain.assign(a, f)
        got = traced.assign(a, f)
        assert got == expected
        consistent(got, trace.result)
        assert trace.result is not None
        seen[trace.result.decision] = seen.get(trace.result.decision, 0) + 1
        seen["merge"] = seen.get("merge", 0) + bool(got.merged)
    assert seen["joined"] and seen["new_story"] and seen["copy"] and seen["merge"]
