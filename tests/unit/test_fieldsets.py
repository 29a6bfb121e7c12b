"""Shared fields sets: memory only, never what a model says about its set fields."""

from __future__ import annotations

import pickle

from test_pipeline import build_log, records

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import RelatedArticle, StoryUpdated
from storyline.domain.fieldsets import shared_fields_set
from storyline.domain.pipeline import Pipeline
from storyline.replay import fold_records


def _entry(n: int) -> RelatedArticle:
    return RelatedArticle(n=n, uri=f"urn:x:{n}", version=1, source="Wire",
                          headline="A headline", published="2025-03-01T00:00:00Z",
                          also_carried_by=(), copies=(), url=None)


def test_fully_set_instances_share_one_set_and_copies_do_not_change_it() -> None:
    a, b = shared_fields_set(_entry(1)), shared_fields_set(_entry(2))
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    names = _entry(1).model_fields_set
    assert a.model_fields_set == names and "withdrawn" not in names  # left to its default
    copied = a.model_copy(update={"withdrawn": True})
    assert copied.__pydantic_fields_set__ is not a.__pydantic_fields_set__
    assert copied.model_fields_set == names | {"withdrawn"}
    assert a.model_fields_set == b.model_fields_set == names
    assert canonical_bytes(a) == canonical_bytes(_entry(1))


def test_instances_that_set_other_fields_share_other_sets() -> None:
    partly = shared_fields_set(RelatedArticle.model_construct({"n", "uri"}, n=1,
                                                              uri="urn:x:1"))
    assert partly.model_fields_set == {"n", "uri"}
    full = shared_fields_set(_entry(3))
    assert partly.__pydantic_fields_set__ is not full.__pydantic_fields_set__


def test_a_fold_keeps_one_set_for_its_list_entries_and_their_copies() -> None:
    log = build_log([("flood", i, "new") for i in range(5)] + [("flood", 1, "copy")])
    pipeline = Pipeline()
    events = fold_records(records(log), max_bytes=1_000_000, pipeline=pipeline).events
    assert any(isinstance(e, StoryUpdated) for e in events)
    [story_id] = pipeline.story_ids
    state = pipeline.story(story_id)
    assert state is not None and state.last is not None
    # a story's articles are slotted records: no fields set, no __dict__ at all
    assert all(not hasattr(c, "__dict__") for c in state.articles.values())
    for models in (list(state.related_cache.values()),
                   [c for e in state.related_cache.values() for c in e.copies]):
        assert models
        assert len({id(m.__pydantic_fields_set__) for m in models}) == 1
    # pickled together (snapshots, frozen stories) they still share one
    again = pickle.loads(pickle.dumps(state))
    assert len({id(m.__pydantic_fields_set__) for m in again.related_cache.values()}) == 1
    assert list(again.articles.values()) == list(state.articles.values())


def test_a_model_that_is_not_frozen_keeps_its_own() -> None:
    from pydantic import BaseModel

    class Loose(BaseModel):
        a: int = 0
        b: int = 0

    one, two = shared_fields_set(Loose(a=1)), shared_fields_set(Loose(a=2))
    two.b = 3  # adds "b" to two's set, in place
    assert one.model_fields_set == {"a"} and two.model_fields_set == {"a", "b"}
