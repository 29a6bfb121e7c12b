"""The timeline's months go cold: where an event's members are never changes a page.

An index with a cold store lets the months no statement has looked at for a while go to the
store and brings them back when a statement may match one of their events, when the page
shows one, and for a withdrawal or a merge. Every page must be the one an index that keeps
everything in memory gives, whatever went cold when.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from test_timeline import EVENTS as SHARED_EVENTS
from test_timeline import article, span

from storyline.domain.coldstore import MemoryColdStore
from storyline.domain.facts import CitedArticle
from storyline.domain.page import timeline
from storyline.domain.page.timeline import TimelineIndex

# The shared pool and a second event on April 20, told twice in other words: two events of
# one day, each with two sources, whose order on the day only their centrality decides;
# and a quote.
EVENTS = [
    *SHARED_EVENTS,
    ("Coast Guard cutters searched the night waters for eleven missing crew members on "
     "April 20.", "April 20", date(2010, 4, 20)),
    ("On April 20 Coast Guard crews searched through the night for the eleven missing crew "
     "members and found nothing.", "April 20", date(2010, 4, 20)),
    # a mention of the day that is no statement (a quote): the day's events are ranked
    # again without any statement coming near them, from what their month left behind
    ('"We will never forget what happened on April 20," a survivor said.', "April 20",
     date(2010, 4, 20)),
]


@contextmanager
def eager_cold() -> Iterator[None]:
    """Every month not looked at by the latest statement goes cold at once."""
    with mock.patch.object(timeline, "COLD_AFTER", 0), \
            mock.patch.object(timeline, "COLD_CHECK_EVERY", 1):
        yield


def dated(n: int, event: int, months_later: int, after: int) -> CitedArticle:
    """EVENTS[event] moved ``months_later`` months on (so the story spans many months),
    published ``after`` days after it."""
    text, when_text, when = EVENTS[event]
    moved = date(when.year + (when.month - 1 + months_later) // 12,
                 (when.month - 1 + months_later) % 12 + 1, when.day)
    label = f"{moved:%B} {moved.day}"
    return article(n, [text.replace(when_text, label)], [(0, label, span(moved))],
                   published=moved + timedelta(days=after))


def cold_index(store: MemoryColdStore) -> TimelineIndex:
    index = TimelineIndex()
    index.attach(store, "timeline:story:")
    return index


# (event, months later, days to publication, then: 0 add, 1 withdraw an earlier article,
# 2 pickle and attach again)
steps = st.lists(st.tuples(st.integers(0, len(EVENTS) - 1), st.integers(0, 5),
                           st.integers(0, 9), st.sampled_from([0, 0, 0, 1, 2])),
                 min_size=1, max_size=14)


@settings(max_examples=80, deadline=None)
@given(steps=steps, limit=st.integers(1, 5))
def test_cold_months_change_no_page(steps: list[tuple[int, int, int, int]],
                                    limit: int) -> None:
    store = MemoryColdStore()
    with eager_cold():
        warm, cold = TimelineIndex(), cold_index(store)
        for n, (event, months, after, action) in enumerate(steps, start=1):
            if action == 1 and n > 1:
                uri = f"urn:test:{(n * 7) % (n - 1) + 1}"
                warm.remove(uri)
                cold.remove(uri)
            else:
                warm.add(dated(n, event, months, after))
                cold.add(dated(n, event, months, after))
            if action == 2:
                cold = pickle.loads(pickle.dumps(cold))
                cold.attach(store, "timeline:story:")
            assert cold.entries(limit) == warm.entries(limit)
            cold.let_cold_months_go()
            assert cold.entries(limit) == warm.entries(limit)
            assert cold.day_ranking() == warm.day_ranking()
        assert cold.inputs() == warm.inputs()
        # every month that came back left the store: it holds the cold months only
        assert len(store) == len(cold._cold)


def test_a_month_goes_cold_comes_back_and_leaves_the_store() -> None:
    store = MemoryColdStore()
    with eager_cold():
        index = cold_index(store)
        index.add(dated(1, 0, 0, 1))  # April 20
        for n in range(2, 6):  # later months only
            index.add(dated(n, 3, n, 1))
            index.let_cold_months_go()
        april = timeline._month_key(date(2010, 4, 20))
        assert april in index._cold and len(store) >= 1
        assert all(index._events[i].members is None for i in index._cold[april])
        # the page still shows the cold event, read from the store
        assert any(e.date == date(2010, 4, 20) for e in index.entries(10))
        # a second source for April 20 joins the cold event: its month comes back
        index.add(dated(9, 1, 0, 2))
        assert april not in index._cold
        (entry,) = [e for e in index.entries(10) if e.date == date(2010, 4, 20)]
        assert [c.n for c in entry.citations] == [1, 9]
        assert entry.independent_sources == 2


def test_an_index_without_a_store_keeps_everything() -> None:
    with eager_cold():
        index = TimelineIndex()
        for n in range(1, 8):
            index.add(dated(n, n % len(EVENTS), n, 1))
            index.let_cold_months_go()
        assert not index._cold
        assert all(event.members is not None for event in index._events)


def test_a_merge_takes_the_cold_months_statements() -> None:
    store = MemoryColdStore()
    with eager_cold():
        absorbed, warm = cold_index(store), TimelineIndex()
        for n in range(1, 8):
            for index in (absorbed, warm):
                index.add(dated(n, n % len(EVENTS), n, 1))
            absorbed.let_cold_months_go()
        assert absorbed._cold
        assert absorbed.inputs() == warm.inputs()
        assert not absorbed._cold and len(store) == 0


def test_a_cold_days_events_are_ranked_again_by_what_their_month_left() -> None:
    """A quote mentions a cold day (no statement comes near its events): the day's events
    are ranked again from their cold summaries, and the better told of the two (the blast,
    told twice in near-identical words) still leads the day."""
    store = MemoryColdStore()
    search, blast, testimony, quote = (len(SHARED_EVENTS), 0, 3, len(EVENTS) - 1)
    with eager_cold():
        warm, cold = TimelineIndex(), cold_index(store)
        for n, event in enumerate((search, search + 1, blast, blast + 1, testimony, quote),
                                  start=1):
            for index in (warm, cold):
                index.add(dated(n, event, 0, 1))
            cold.let_cold_months_go()
            assert cold.entries(1) == warm.entries(1)
        assert timeline._month_key(date(2010, 4, 20)) in cold._cold
        (entry,) = cold.entries(1)
        assert entry.date == date(2010, 4, 20) and "rig exploded" in entry.text


def _told_twice() -> tuple[TimelineIndex, TimelineIndex, MemoryColdStore]:
    """An index (with a store: some months cold) and its twin without one, each event of
    EVENTS told by two articles, the page asked so that the events hold summaries."""
    store = MemoryColdStore()
    cold, warm = cold_index(store), TimelineIndex()
    with eager_cold():
        for n in range(1, 2 * len(EVENTS) + 1):
            for index in (cold, warm):
                index.add(dated(n, (n - 1) // 2, (n - 1) // 2, n % 3))
                index.entries(5)
            cold.let_cold_months_go()
    assert cold._cold, "some months went cold"
    return cold, warm, store


def _assert_same_story(index: TimelineIndex, twin: TimelineIndex, store: MemoryColdStore
                       ) -> None:
    """``index`` gives the pages ``twin`` gives, now and after two more articles."""
    assert index.entries(10) == twin.entries(10)
    with eager_cold():
        for n in (40, 41):
            for each in (index, twin):
                each.add(dated(n, n % len(EVENTS), 1, 2))
            index.let_cold_months_go()
            assert index.entries(10) == twin.entries(10)
            assert index.day_ranking() == twin.day_ranking()
    assert index.inputs() == twin.inputs()
    assert len(store) == len(index._cold)


def test_a_pickled_index_comes_back_sharing_what_it_shared() -> None:
    """Pickled as columns (session 38), an index comes back with each event's members and
    summary as they were, a summary's cited members its event's own objects, a member's
    words its statement's, and pages and rankings as an index never pickled gives."""
    cold, warm, store = _told_twice()
    copy = pickle.loads(pickle.dumps(cold, protocol=pickle.HIGHEST_PROTOCOL))
    copy.attach(store, "timeline:story:")
    assert len(copy._events) == len(cold._events)
    shared = 0
    for before, after in zip(cold._events, copy._events, strict=True):
        assert (after.entry_id, after.span, after.sources, after.members) == (
            before.entry_id, before.span, before.sources, before.members)
        assert after.summary == before.summary
        if after.members is None:
            continue
        for member in after.members:
            assert member.words is member.cand.words
        if after.summary is not None and not isinstance(after.summary, timeline._ColdSummary):
            for cited in after.summary.cited:
                assert any(cited is member for member in after.members)
                shared += 1
    assert shared >= 2, "summaries cite members"
    _assert_same_story(copy, warm, store)


def test_an_index_and_a_cold_month_pickled_by_earlier_code_still_load() -> None:
    """The form before session 38: the events pickled as objects, a cold month as a dict of
    member lists by event."""
    cold, warm, store = _told_twice()
    state = cold.__getstate__()
    state["_events"] = timeline._events_unpacked(state.pop("_event_columns"))
    old = TimelineIndex.__new__(TimelineIndex)
    old.__setstate__(pickle.loads(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))
    old.attach(store, "timeline:story:")
    for month in old._cold:  # each cold month as that code wrote it
        store.put(old._cold_key(month), pickle.dumps(old._read_month(month)))
    _assert_same_story(old, warm, store)
