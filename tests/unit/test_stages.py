"""The core split into its stages (docs/stages.md, step 1): extract -> ArticleExtracted ->
assign -> ArticleAssigned -> fold, each record carried between stages as JSON (as Kafka will
carry it), gives the events ``Pipeline.process`` gives, byte for byte; and the per-article
analyses survive their JSON round trip exactly.

That ``Pipeline.process`` (the composition) gives the events of the code before the split
was checked on the whole of both dev sets with ``benchmarks/bench_stages.py`` against
``benchmarks/bench_memory.py`` on that code (docs/stages.md, "Status")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TypeVar
from unittest import mock

import hypothesis
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from test_page_citations import ScriptedClusterer, scripted_entries, scripted_log
from test_pipeline import PROPERTY, START, STORIES, build_log, log_entries, records

from storyline.domain.assign import clustering_text
from storyline.domain.canonical import canonical_bytes
from storyline.domain.coldstore import ColdStore
from storyline.domain.contracts import (
    ArticleAssigned,
    ArticleExtracted,
    analysis_from,
    extracted_for_assign,
    extracted_for_page,
    timeline_input_from,
)
from storyline.domain.events import ArticleReceived, PubStatus
from storyline.domain.extract.analysis import Analysis, analysis_of
from storyline.domain.extract.timeline_input import timeline_input
from storyline.domain.facts import ArticleFacts, CitedArticle, pack_sentences
from storyline.domain.page import story, summary, title
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.domain.records import handle_record
from storyline.domain.stages import extract
from storyline.domain.upcasting import decode_event
from storyline.replay import records_from_files

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
M = TypeVar("M", bound=BaseModel)
Record = tuple[bytes | None, bytes | None, LogPosition]


def carried(record: M) -> M:
    """``record`` written to a topic and read back."""
    return type(record).model_validate_json(record.model_dump_json())


def check_merges(pipeline: Pipeline, assigned: ArticleAssigned) -> None:
    """What a merge lists of the absorbed story is what its state holds, in its order: the
    copies under their originals, the versions that withdrew, the ids it had absorbed."""
    for merge in assigned.merges:
        state = pipeline._state(merge.story_id)
        assert state is not None
        uri_of = {a.n: a.uri for a in (*state.articles.values(), *state.withdrawn.values())}
        assert [(a.uri, a.copy_of, a.withdrawn_version) for a in merge.articles] == [
            (a.uri, uri_of[a.copy_of] if a.copy_of else None, None)
            for a in state.articles.values()]
        assert [(a.uri, a.copy_of, a.withdrawn_version) for a in merge.withdrawn] == [
            (a.uri, uri_of[a.copy_of] if a.copy_of else None, a.version)
            for a in state.withdrawn.values()]
        assert list(merge.aliases) == state.aliases


def folded(log: list[Record], pipeline: Pipeline | None = None) -> list[bytes | str]:
    """Every event's bytes and every dead letter, through ``Pipeline.process``."""
    pipeline = pipeline or Pipeline()
    out: list[bytes | str] = []
    for key, value, position in log:
        outcome = handle_record(pipeline, key, value, position, max_bytes=2_000_000)
        out += [canonical_bytes(e) for e in outcome.events]
        if outcome.dead_letter is not None:
            out.append(f"dead {outcome.dead_letter.error_type} {position.offset}")
    return out


def staged(log: list[Record], pipeline: Pipeline | None = None) -> list[bytes | str]:
    """The same through the three stages, each record carried as JSON between them and read
    as each stage reads it (``extracted_for_assign``, ``extracted_for_page``)."""
    pipeline = pipeline or Pipeline()
    out: list[bytes | str] = []
    for _key, value, position in log:
        assert value is not None
        if not pipeline.claim(position):
            continue
        wire = extract(decode_event(value, ArticleReceived), position).model_dump_json()
        try:
            assigned = pipeline.assigner.assign(extracted_for_assign(wire))
            if assigned is None:
                continue
            assigned = carried(assigned)
            check_merges(pipeline, assigned)
            out += [canonical_bytes(e)
                    for e in pipeline.fold(assigned, extracted_for_page(wire))]
        except Exception as exc:  # noqa: BLE001 - a dead letter, as handle_record makes it
            out.append(f"dead {type(exc).__name__} {position.offset}")
    return out


@PROPERTY
@given(log_entries)
def test_the_stages_through_json_fold_like_the_process(entries: list[tuple[str, int, str]]
                                                       ) -> None:
    log = records(build_log(entries))
    assert staged(log) == folded(log)


@PROPERTY
@given(scripted_entries)
def test_merges_list_the_absorbed_articles_and_fold_alike(entries: list[tuple[str, int, int]]
                                                          ) -> None:
    """Merges with copies, withdrawals and revivals on both sides (a scripted clusterer)."""
    log, plan = scripted_log(entries)
    pipelines = [Pipeline(), Pipeline()]
    for p in pipelines:
        p.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    assert staged(records(log), pipelines[0]) == folded(records(log), pipelines[1])


@PROPERTY
@given(scripted_entries)
def test_a_merge_lists_the_absorbed_storys_entries_as_made_anew(
        entries: list[tuple[str, int, int]]) -> None:
    """story._carry_list (the absorbed story's list entries, renumbered, into the
    survivor's cache) against making every entry anew: the same events, byte for byte."""
    log, plan = scripted_log(entries)
    pipelines = [Pipeline(), Pipeline()]
    for p in pipelines:
        p.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    carried_over = folded(records(log), pipelines[0])
    with mock.patch.object(story, "_carry_list", lambda *_: None):
        made_anew = folded(records(log), pipelines[1])
    assert carried_over == made_anew
    # and the list caches the stories keep (state) hold the same entries
    assert pipelines[0].story_ids == pipelines[1].story_ids
    for story_id in pipelines[0].story_ids:
        kept = [p.story(story_id) for p in pipelines]
        assert kept[0] is not None and kept[1] is not None
        assert kept[0].related_cache == kept[1].related_cache


def test_a_merge_lists_the_absorbed_storys_articles_under_the_headlines_it_had() -> None:
    # two stories (no headlines: each is listed under its first sentence), then a copy in
    # the second and a merge: the absorbed story's entries are carried, not made anew
    log, plan = scripted_log([("new", 0, 0), ("new", 1, 1), ("new", 1, 2), ("copy", 1, 1),
                              ("new", 0, 3), ("merge", 2, 4)])
    pipelines = [Pipeline(), Pipeline()]
    for p in pipelines:
        p.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    real = story._display_headline
    made: list[list[str]] = [[], []]

    def counted(at: int) -> Callable[[CitedArticle, ColdStore | None], str]:
        def display(article: CitedArticle, store: ColdStore | None) -> str:
            made[at].append(article.uri)
            return real(article, store)
        return display

    with mock.patch.object(story, "_display_headline", counted(0)):
        carried_over = folded(records(log), pipelines[0])
    with mock.patch.object(story, "_carry_list", lambda *_: None), \
            mock.patch.object(story, "_display_headline", counted(1)):
        made_anew = folded(records(log), pipelines[1])
    assert carried_over == made_anew
    assert len(made[1]) - len(made[0]) >= 2  # the merge's: made anew there, carried here


def _recording_takes_memo(taken: list[bool]
                          ) -> Callable[[story.StoryState, story.MovedStory], bool]:
    """story._takes_memo, each answer appended to ``taken``."""
    real = story._takes_memo

    def counted(absorbed: story.StoryState, moved: story.MovedStory) -> bool:
        taken.append(real(absorbed, moved))
        return taken[-1]

    return counted


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripted_entries, st.integers(1, 3))  # (one example in four or so takes a memo)
def test_a_survivor_that_takes_the_absorbed_storys_summary_memo_folds_alike(
        entries: list[tuple[str, int, int]], window: int) -> None:
    """story._takes_memo (the survivor takes the memo of an absorbed story that fills the
    summary window) against keeping the survivor's own, and against taking every absorbed
    story's (any memo is a cache of what it was made of): the same events, byte for byte."""
    log, plan = scripted_log(entries)
    pipelines = [Pipeline(), Pipeline(), Pipeline()]
    for p in pipelines:
        p.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    taken: list[bool] = []
    counted = _recording_takes_memo(taken)
    with mock.patch.object(summary, "STORY_WINDOW", window), \
            mock.patch.object(title, "STORY_WINDOW", window):
        with mock.patch.object(story, "_takes_memo", counted):
            memo_taken = folded(records(log), pipelines[0])
        with mock.patch.object(story, "_takes_memo", lambda *_: False):
            own_memo = folded(records(log), pipelines[1])
        with mock.patch.object(story, "_takes_memo", lambda *_: True):
            any_memo = folded(records(log), pipelines[2])
    assert memo_taken == own_memo == any_memo
    if any(kind == "merge" for kind, _, _ in entries):
        hypothesis.event(f"memo taken: {any(taken)}")


def test_a_survivor_takes_the_summary_memo_of_an_absorbed_story_that_fills_the_window(
        ) -> None:
    log, plan = scripted_log([("new", 0, 0), ("new", 1, 1), ("new", 1, 2), ("copy", 1, 1),
                              ("new", 1, 3), ("merge", 2, 4), ("new", 2, 5)])
    pipelines = [Pipeline(), Pipeline()]
    for p in pipelines:
        p.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    taken: list[bool] = []
    counted = _recording_takes_memo(taken)
    with mock.patch.object(summary, "STORY_WINDOW", 3), \
            mock.patch.object(title, "STORY_WINDOW", 3):
        with mock.patch.object(story, "_takes_memo", counted):
            memo_taken = folded(records(log), pipelines[0])
        with mock.patch.object(story, "_takes_memo", lambda *_: False):
            own_memo = folded(records(log), pipelines[1])
    assert memo_taken == own_memo
    assert True in taken


@pytest.mark.parametrize("dataset", ["timeline17-dev", "entities-dev"])
def test_dev_articles_through_the_stages_fold_like_the_process(dataset: str) -> None:
    path = DATA / dataset / "articles.jsonl"
    if not path.exists():
        pytest.skip("needs ../shared/data (dev corpus)")
    log = records_from_files([path], "t", 60)
    expected = folded(log)
    assert len(expected) >= 60
    assert staged(log) == expected


def test_a_conflicting_resend_is_a_dead_letter_in_the_stages_too() -> None:
    first = ArticleReceived(uri="urn:test:a", version=1, source="Valley Courier",
                            body=STORIES["flood"][0], published=START)
    other = first.model_copy(update={"body": STORIES["flood"][1]})
    withdrawn = first.model_copy(update={"version": 2, "pubstatus": PubStatus.WITHDRAWN})
    log = records([first, first, other, withdrawn, withdrawn, first])
    assert staged(log) == folded(log)
    assert "dead ConflictingVersion 2" in folded(log)


def test_an_extraction_failure_is_reported_only_for_an_article_to_fold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import storyline.domain.stages as stages

    real = stages.extract_facts
    good = ArticleReceived(uri="urn:test:a", version=1, source="Valley Courier",
                           body=STORIES["flood"][0], published=START)
    bad = good.model_copy(update={"uri": "urn:test:b"})

    def failing(article: ArticleReceived) -> ArticleFacts:
        if article.uri == bad.uri or fail_all:
            raise ValueError("no facts today")
        return real(article)

    fail_all = False
    monkeypatch.setattr(stages, "extract_facts", failing)
    pipeline = Pipeline()
    first = folded(records([good, bad]), pipeline)
    assert first[-1] == "dead ValueError 1"
    fail_all = True  # a resend of what was folded is idempotent: its facts are not needed
    resent = [(k, v, LogPosition("storyline.articles", 0, 2)) for k, v, _ in records([good])]
    assert folded(resent, pipeline) == []
    extracted = extract(bad, LogPosition("t", 0, 0))
    assert extracted.failure is not None and extracted.facts is None
    assert carried(extracted) == extracted


# -- the per-article analyses, carried ----------------------------------------------------

words = st.sampled_from([
    "Lowmere", "River", "Arn", "flood", "residents", "evacuated", "said", "on", "March",
    "3,", "2025", "the", "mayor", "Ines", "Varga", "2,000", "$1.5", "million", "percent",
    "12", "in", "June", "last", "week", "yesterday", "Castelford", "union", "strike",
    "won't", "not", "\"quoted\"", "U.S.", "NATO", "troops", "killed", "at", "least", "40",
    "by", "Tuesday", "Q3", "early", "August", "(AP)", "—", "LONDON", "-"])
sentences = st.lists(words, min_size=1, max_size=24).map(lambda w: " ".join(w) + ".")
bodies = st.lists(sentences, min_size=1, max_size=14).map("\n".join)


def _state_of(analysis: Analysis) -> dict[str, object]:
    skip = {"statements", "title_options", "serial"}
    return {f.name: getattr(analysis, f.name) for f in fields(Analysis) if f.name not in skip}


@PROPERTY
@given(bodies, st.one_of(st.none(), sentences), st.integers(min_value=0, max_value=400))
def test_what_extract_carries_round_trips_exactly(body: str, headline: str | None, day: int
                                                   ) -> None:
    article = ArticleReceived(uri="urn:test:x", version=1, source="Valley Courier",
                              headline=headline, body=body,
                              published=START + dt.timedelta(days=day, minutes=7 * day))
    extracted = extract(article, LogPosition("t", 0, day))
    again = carried(extracted)
    assert again == extracted
    assert again.model_dump_json() == extracted.model_dump_json()
    facts = again.facts
    assert facts is not None and again.summary is not None and again.timeline is not None
    assert again.clustering is not None
    # the fold's objects, made from the JSON, are the ones it computed before the split
    packed = pack_sentences(facts.sentences)
    assert _state_of(analysis_from(again.summary, packed)) == _state_of(analysis_of(facts))
    assert timeline_input_from(again.timeline) == timeline_input(
        facts, article.published.date())
    # the clustering terms are the content words by the clusterer's regex, normalised, in
    # order of first use (the order the vocabulary hands out ids in), headline words twice
    counts: dict[str, int] = {}
    for text, weight in ((body, 1), (headline or "", 2)):
        for word in clustering_text._WORD.findall(text.lower()):
            term = clustering_text._normalise(word)
            if term is not None:
                counts[term] = counts.get(term, 0) + weight
    carried_counts: dict[str, int] = {}
    features = again.clustering
    for term, count in zip(features.body_terms, features.body_counts, strict=True):
        carried_counts[term] = count
    for term, count in zip(features.headline_terms, features.headline_counts, strict=True):
        carried_counts[term] = carried_counts.get(term, 0) + 2 * count
    assert list(carried_counts.items()) == list(counts.items())


@PROPERTY
@given(bodies, st.one_of(st.none(), sentences), st.integers(min_value=0, max_value=400))
def test_each_stage_reads_the_record_as_the_contract_does_but_the_parts_it_never_reads(
        body: str, headline: str | None, day: int) -> None:
    article = ArticleReceived(uri="urn:test:x", version=1, source="Valley Courier",
                              headline=headline, body=body,
                              published=START + dt.timedelta(days=day, minutes=7 * day))
    extracted = extract(article, LogPosition("t", 0, day))
    wire = extracted.model_dump_json()
    page_parts = {"facts": None, "summary": None, "timeline": None}
    assert extracted_for_assign(wire) == extracted.model_copy(update=page_parts)
    assert extracted_for_page(wire) == extracted.model_copy(update={"clustering": None})


def test_a_stage_refuses_a_record_whose_parts_it_reads_are_not_the_contracts() -> None:
    extracted = extract(ArticleReceived(uri="urn:test:x", version=1, source="Valley Courier",
                                        headline="Flood", body="The river rose on Monday.",
                                        published=START), LogPosition("t", 0, 3))
    payload = extracted.model_dump(mode="json")
    for read in (extracted_for_assign, extracted_for_page):
        for broken in ({"version": 0}, {"uri": None}, {"fingerprint": "nothex"},
                       {"position": {"topic": "t", "partition": 0}}):
            with pytest.raises(ValueError):
                read(orjson.dumps(payload | broken))
        with pytest.raises(ValueError):
            read(b"{not json")
    # what a stage never reads it never checks: it is stepped over, not built
    not_facts = orjson.dumps(payload | {"facts": {"sentences": 7}})
    assert extracted_for_assign(not_facts).clustering == extracted.clustering
    with pytest.raises(ValueError):
        extracted_for_page(not_facts)
    not_clustering = orjson.dumps(payload | {"clustering": [1, 2]})
    assert extracted_for_page(not_clustering).facts == extracted.facts
    with pytest.raises(ValueError):
        extracted_for_assign(not_clustering)


def test_an_assignment_is_lean() -> None:
    log = records(build_log([("flood", 0, "new"), ("flood", 1, "new"), ("strike", 0, "new")]))
    pipeline = Pipeline()
    sizes = []
    for _key, value, position in log:
        assert value is not None and pipeline.claim(position)
        extracted = extract(decode_event(value, ArticleReceived), position)
        assigned = pipeline.assigner.assign(extracted)
        assert assigned is not None
        sizes.append(len(assigned.model_dump_json()))
        pipeline.fold(assigned, extracted)
    assert max(sizes) < 400


def test_a_facts_record_from_before_the_day_glosses_reads_and_quotes_as_written() -> None:
    """``LeadSentence.shown`` is optional: a facts record written before it (no such key)
    still parses, and its sentences are quoted as written; the same record with it carries
    the gloss."""
    import json

    article = ArticleReceived(
        uri="urn:test:gloss", version=1, source="Valley Courier", headline=None,
        body="Workers walked off the job on Tuesday after talks over pay broke down.",
        published=dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC))
    extracted = extract(article, LogPosition("t", 0, 0))
    assert extracted.summary is not None and extracted.facts is not None
    (lead,) = extracted.summary.lead
    assert lead.shown == ("Workers walked off the job on Tuesday (Mar 3) after talks over pay "
                          "broke down.")
    old = json.loads(extracted.model_dump_json())
    for sentence in old["summary"]["lead"]:
        del sentence["shown"]
    before = ArticleExtracted.model_validate_json(json.dumps(old))
    assert before.summary is not None
    analysis = analysis_from(before.summary, pack_sentences(extracted.facts.sentences))
    assert [s.shown for s in analysis.lead] == [None]
    assert analysis.lead[0].text == lead.text


def test_the_act_a_figure_counts_is_carried() -> None:
    """The act a figure counts ("killed 40 troops": kill) decides whether two counts can
    contradict each other (timeline ``_Figure.act``); the facts topic dropped it, so every
    fold (single or staged) compared counts of different acts: found by the round-trip
    property above on "Lowmere Lowmere killed 40 troops Tuesday."."""
    article = ArticleReceived(uri="urn:test:x", version=1, source="Valley Courier",
                              body="Lowmere Lowmere killed 40 troops Tuesday.",
                              published=START)
    extracted = extract(article, LogPosition("t", 0, 0))
    assert extracted.facts is not None and extracted.timeline is not None
    expected = timeline_input(extracted.facts, START.date())
    assert [f.act for s in expected.statements for f in s.figures] == ["kill"]
    assert timeline_input_from(carried(extracted).timeline) == expected
    assert timeline_input_from(extracted.timeline) == expected  # the single worker's path
