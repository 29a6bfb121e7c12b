"""A merge guided by the absorbed story's own index gives the index adding one by one gives.

``TimelineIndex.absorb`` with the absorbed story's index (what ``story.absorb`` passes for a
story folded here) lets each moved statement join the event it joined there, matching it only
against the survivor's own events; from the first statement that one of those takes, the rest
are matched in full. The state must be exactly that of ``add`` over the same articles in the
same order (the definition), whatever the two stories hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from unittest import mock

import hypothesis
from hypothesis import given, settings
from hypothesis import strategies as st
from test_timeline import EVENTS, article, span

from storyline.domain.coldstore import MemoryColdStore
from storyline.domain.events import DatePrecision
from storyline.domain.facts import CitedArticle
from storyline.domain.page import timeline
from storyline.domain.page.timeline import TimelineIndex

# Sentences that restate no pool event: events the survivor does not have.
OTHER = [
    ("Divers recovered a damaged valve from the seabed near the wreck on {}.", "valve"),
    ("The company announced a compensation fund for fishermen of the coast on {}.", "fund"),
    ("Federal inspectors closed the fishing grounds off three states on {}.", "grounds"),
]


def told(uri: str, n: int, event: int, months_later: int, after: int, second: bool = True
         ) -> CitedArticle:
    """Article ``uri``: a pool event (or, from len(EVENTS) on, an OTHER sentence on the
    pool event's day) moved ``months_later`` months on, published ``after`` days later."""
    text, when_text, when = EVENTS[event % len(EVENTS)]
    moved = date(when.year + (when.month - 1 + months_later) // 12,
                 (when.month - 1 + months_later) % 12 + 1, when.day)
    label = f"{moved:%B} {moved.day}"
    if event >= len(EVENTS):
        sentence = OTHER[event % len(OTHER)][0].format(label)
    else:
        sentence = text.replace(when_text, label)
    if not second:
        return article(n, [sentence], [(0, label, span(moved))],
                       published=moved + timedelta(days=after), uri=uri)
    # a statement every article makes: the same event on days near each other
    also = f"Officials said the work went on through {label}, as planned before."
    return article(n, [sentence, also], [(0, label, span(moved)), (1, label, span(moved))],
                   published=moved + timedelta(days=after), uri=uri)


def _state(index: TimelineIndex) -> dict[str, object]:
    return index.__getstate__()


def _merged(survivor: list[CitedArticle], moved: list[CitedArticle], source: TimelineIndex,
            guided: bool | None, matched: list[int] | None = None) -> TimelineIndex:
    """The survivor's index with ``moved`` absorbed (renumbered after its own): guided by
    ``source`` (``moved``'s index), absorbed without it (False: a story handed over from
    its facts) or added one by one (None, the definition); ``matched``: gets the
    statements matched in full (their order of addition)."""
    index = TimelineIndex()
    for cited in survivor:
        index.add(cited)
    match = index._match
    if matched is not None:
        def counted(member: timeline._Member) -> int | None:
            matched.append(member.seq)
            return match(member)

        index._match = counted  # type: ignore[method-assign]
    inputs = source.inputs()
    if guided is None:
        for cited in arrivals(survivor, moved):
            index.add(cited, inputs.get(cited.uri))
    else:
        index.absorb(arrivals(survivor, moved), inputs, source if guided else None)
    if matched is not None:
        del index._match
    return index


def arrivals(survivor: list[CitedArticle], moved: list[CitedArticle]) -> list[CitedArticle]:
    """``moved`` renumbered after ``survivor``, as story.absorb renumbers them."""
    base = len(survivor) + 1
    number = {cited.n: base + k for k, cited in enumerate(moved)}
    return [replace(cited, n=number[cited.n],
                    copy_of=number.get(cited.copy_of) if cited.copy_of else None)
            for cited in moved]


# (event, months later, days to publication, op: 0 add, 1 correct an earlier one, 2 withdraw
# an earlier one, 3 a copy of the previous one)
story_steps = st.lists(st.tuples(st.integers(0, len(EVENTS) + len(OTHER) - 1),
                                 st.integers(0, 4), st.integers(0, 9),
                                 st.sampled_from([0, 0, 0, 0, 1, 2, 3])),
                       min_size=0, max_size=12)


def _story(prefix: str, steps: list[tuple[int, int, int, int]], store: MemoryColdStore | None,
           second: bool = True) -> tuple[list[CitedArticle], TimelineIndex]:
    """A story's articles in its order (a correction keeps its place, as a story's dict
    does; the index moves it to the end) and its index."""
    index = TimelineIndex()
    if store is not None:
        index.attach(store, f"timeline:{prefix}:")
    held: dict[str, CitedArticle] = {}
    for k, (event, months, after, op) in enumerate(steps, start=1):
        if op == 1 and held:
            uri = list(held)[k % len(held)]
            known = held[uri]
            cited = replace(told(uri, known.n, event, months, after, second),
                            version=known.version + 1, copy_of=known.copy_of)
        elif op == 2 and held:
            uri = list(held)[k % len(held)]
            del held[uri]
            index.remove(uri)
            continue
        else:
            cited = told(f"urn:{prefix}:{k}", k, event, months, after, second)
            if op == 3 and held:
                last = list(held.values())[-1]
                cited = replace(cited, copy_of=last.copy_of or last.n)
        held[cited.uri] = cited
        index.add(cited)
        index.let_cold_months_go()
    return list(held.values()), index


@settings(max_examples=150, deadline=None)
@given(survivor=story_steps, absorbed=story_steps, cold=st.booleans(),
       limit=st.integers(1, 6), after=story_steps)
def test_a_guided_merge_is_the_merge_added_one_by_one(
        survivor: list[tuple[int, int, int, int]], absorbed: list[tuple[int, int, int, int]],
        cold: bool, limit: int, after: list[tuple[int, int, int, int]]) -> None:
    with mock.patch.object(timeline, "COLD_AFTER", 0 if cold else timeline.COLD_AFTER), \
            mock.patch.object(timeline, "COLD_CHECK_EVERY", 1 if cold else
                              timeline.COLD_CHECK_EVERY):
        ours, _ = _story("s", survivor, None)
        moved, source = _story("a", absorbed, MemoryColdStore() if cold else None)
        plain = _merged(ours, moved, source, guided=None)
        merged = [_merged(ours, moved, source, guided=guided) for guided in (True, False)]
    assert [_state(index) for index in merged] == [_state(plain)] * 2
    pages = [index.entries(limit) for index in (plain, *merged)]
    assert pages[1:] == pages[:1] * 2
    # and what joins later joins the same events
    for k, (event, months, days, _) in enumerate(after, start=1):
        for index in (plain, *merged):
            index.add(told(f"urn:later:{k}", 100 + k, event, months, days))
    assert [_state(index) for index in merged] == [_state(plain)] * 2
    pages = [index.entries(limit) for index in (plain, *merged)]
    assert pages[1:] == pages[:1] * 2


def test_only_a_statement_whose_event_is_not_here_as_there_is_matched_in_full() -> None:
    # the survivor has the sinking (pool event 2); the absorbed story has events of its own
    # and the sinking told twice (the second joined the first there). The first sinking
    # joins the survivor's event (it made one there: no event of the source counts), so
    # the second's event is not here: it alone is matched in full; the rest follow the
    # source, checked against the survivor's events
    ours = [told("urn:s:1", 1, 2, 0, 1, second=False)]
    moved, source = _story("a", [(6, 0, 1, 0), (7, 0, 2, 0), (2, 0, 3, 0), (6, 1, 1, 0),
                                 (2, 0, 2, 0), (7, 1, 2, 0), (6, 0, 4, 0)], None, second=False)
    assert len(source) == 5
    plain = _merged(ours, moved, source, guided=None)
    calls: list[int] = []
    index = _merged(ours, moved, source, guided=True, matched=calls)
    assert _state(index) == _state(plain)
    seq = {m.uri: m.seq for event in index._events for m in event.members or ()}
    assert calls == [seq["urn:a:5"]]
    assert index._events[0].members is not None
    assert [m.uri for m in index._events[0].members] == ["urn:s:1", "urn:a:3", "urn:a:5"]
    # the last one joined the first's event, as there
    assert [m.uri for m in index._events[1].members or ()] == ["urn:a:1", "urn:a:7"]


def test_a_story_whose_order_is_not_its_index_is_added_one_by_one() -> None:
    # a correction keeps its place in the story, its index moves it to the end: no guide
    moved, source = _story("a", [(0, 0, 1, 0), (3, 0, 1, 0), (4, 0, 2, 0), (5, 0, 2, 1)],
                           None)
    assert [c.uri for c in moved] != list(source._articles)
    assert source._guide(moved, source.inputs()) is None
    in_order, source = _story("a", [(0, 0, 1, 0), (3, 0, 1, 0), (4, 0, 2, 0)], None)
    assert source._guide(in_order, source.inputs()) is not None


def test_a_survivors_event_as_similar_as_the_guides_takes_the_statement() -> None:
    # Y restates X (the absorbed story's event, made first there) and Z (the survivor's)
    # equally (Dice 0.5 each; X and Z share nothing): the older event, the survivor's, wins
    day = date(2010, 4, 20)

    def one(uri: str, n: int, text: str) -> CitedArticle:
        return article(n, [text], [(0, "April 20", span(day))], published=day, uri=uri)

    ours = [one("urn:s:1", 1, "Firefighters sprayed burning tankers while crews waited on "
                               "April 20.")]
    moved = [one("urn:a:1", 1, "Pilots flew rescue helicopters toward Louisiana shores on "
                               "April 20."),
             one("urn:a:2", 2, "Pilots flew rescue crews over burning tankers on April 20.")]
    source = _index_of(moved)
    assert len(source) == 1  # Y joined X there
    plain = _merged(ours, moved, source, guided=None)
    calls: list[int] = []
    guided = _merged(ours, moved, source, guided=True, matched=calls)
    assert _state(guided) == _state(plain)
    assert [[m.uri for m in event.members or ()] for event in guided._events] == [
        ["urn:s:1", "urn:a:2"], ["urn:a:1"]]
    assert calls == []  # both followed their guide, Y compared with the survivor's event


# Statements composed of a few words from a small vocabulary, on days near each other: many
# events restate others in part (ties, near-misses, statements that two events would take),
# so the survivor's events take statements that made or joined events of the absorbed story,
# and those then differ from the source's.
WHO = ["Pilots", "Divers", "Engineers"]
DID = ["inspected", "repaired", "closed"]
WHAT = ["the pipeline", "a valve", "the tanker", "the platform", "two pumps"]
WHERE = ["Houston", "Louisiana"]
MONTH = DatePrecision.MONTH
composed = st.lists(  # an article: its statements (who, did, what, what, where, day)
    st.lists(st.tuples(st.integers(0, len(WHO) - 1), st.integers(0, len(DID) - 1),
                       st.integers(0, len(WHAT) - 1), st.integers(0, len(WHAT) - 1),
                       st.integers(0, len(WHERE) - 1), st.integers(16, 23)),
             min_size=1, max_size=3),
    max_size=10)


def _index_of(articles: list[CitedArticle]) -> TimelineIndex:
    """A story's own index of ``articles``, added one by one (the absorbed story's)."""
    index = TimelineIndex()
    for cited in articles:
        index.add(cited)
    return index


def _composed(prefix: str, stories: list[list[tuple[int, ...]]]) -> list[CitedArticle]:
    """The articles ``urn:<prefix>:1``, ``:2``, ... telling ``stories`` (composed_article)."""
    return [composed_article(f"urn:{prefix}:{n}", n, told) for n, told in enumerate(stories, 1)]


def composed_article(uri: str, n: int, statements: list[tuple[int, ...]]) -> CitedArticle:
    sentences, dates = [], []
    for k, (who, did, what, also, where, day) in enumerate(statements):
        if day < 17:  # "in April": an event a day-dated statement makes precise
            label, when, on = "April", span(date(2010, 4, 1), date(2010, 4, 30), MONTH), "in"
        else:
            label, when, on = f"April {day}", span(date(2010, 4, day)), "on"
        sentences.append(f"{WHO[who]} {DID[did]} {WHAT[what]} and {WHAT[also]} near "
                         f"{WHERE[where]} {on} {label}.")
        dates.append((k, label, when))
    return article(n, sentences, dates, published=date(2010, 4, 25), uri=uri)


@settings(max_examples=400, deadline=None)
@given(survivor=composed, absorbed=composed, after=composed,
       compare=st.sampled_from([1, 2, 3, timeline.COMPARE_MEMBERS]))
def test_a_guided_merge_of_overlapping_stories_is_the_merge_added_one_by_one(
        survivor: list[list[tuple[int, ...]]], absorbed: list[list[tuple[int, ...]]],
        after: list[list[tuple[int, ...]]], compare: int) -> None:
    # (fewer members compared: an event that lacks one, or gained one, matches otherwise)
    with mock.patch.object(timeline, "COMPARE_MEMBERS", compare):
        ours = _composed("s", survivor)
        moved = _composed("a", absorbed)
        source = _index_of(moved)
        plain = _merged(ours, moved, source, guided=None)
        guided = _merged(ours, moved, source, guided=True)
        assert _state(guided) == _state(plain)
        for n, told in enumerate(after, 1):
            for index in (plain, guided):
                index.add(composed_article(f"urn:later:{n}", 100 + n, told))
        assert _state(guided) == _state(plain)
        assert guided.entries(5) == plain.entries(5)


def test_an_event_that_lost_a_statement_to_the_survivor_is_matched_as_it_is_here() -> None:
    # X ("in April") made an event of the absorbed story, which Y ("April 18") made precise
    # there; here the survivor's Z (April 18, more like Y than X is, unlike X) takes Y, so
    # the event stays "April": W (April 23, like X) restates it here, not there (5 days
    # from April 18)
    ours = [composed_article("urn:s:1", 1, [(1, 1, 2, 3, 0, 18)])]
    moved = [composed_article("urn:a:1", 1, [(0, 0, 0, 1, 0, 16)]),
             composed_article("urn:a:2", 2, [(0, 1, 2, 3, 0, 18)]),
             composed_article("urn:a:3", 3, [(0, 0, 0, 2, 0, 23)])]
    source = _index_of(moved)
    assert [[m.uri for m in event.members or ()] for event in source._events] == [
        ["urn:a:1", "urn:a:2"], ["urn:a:3"]]
    plain = _merged(ours, moved, source, guided=None)
    guided = _merged(ours, moved, source, guided=True)
    assert _state(guided) == _state(plain)
    assert [[m.uri for m in event.members or ()] for event in guided._events] == [
        ["urn:s:1", "urn:a:2"], ["urn:a:1", "urn:a:3"]]


@settings(max_examples=200, deadline=None)
@given(survivor=composed, absorbed=composed, compare=st.sampled_from([1, 2]),
       scan=st.sampled_from([0, 3, timeline.GUIDED_SCAN, 10**6]))
def test_a_guided_merges_lookup_finds_the_events_nearby_finds_among_its_own(
        survivor: list[list[tuple[int, ...]]], absorbed: list[list[tuple[int, ...]]],
        compare: int, scan: int) -> None:
    # _GuidedLookup, the fast path of a guided statement's match, against the plain one:
    # every event _nearby finds that is the survivor's or differs from the source's (read
    # from its maps, or its registrations one by one while there are at most ``scan``)
    best = TimelineIndex._best
    checked: list[int] = []

    def compared(index: TimelineIndex, member: timeline._Member, below: int,
                 also: set[int] | None = None,
                 lookup: timeline._GuidedLookup | None = None) -> tuple[float, int | None]:
        if lookup is not None:
            span = member.cand.span
            assert lookup.nearby(span) == [i for i in index._nearby(span)
                                           if i < below or (also and i in also)]
            checked.append(member.seq)
        return best(index, member, below, also, lookup)

    with mock.patch.object(timeline, "COMPARE_MEMBERS", compare), \
            mock.patch.object(timeline, "GUIDED_SCAN", scan), \
            mock.patch.object(TimelineIndex, "_best", compared):
        ours = _composed("s", survivor)
        moved = _composed("a", absorbed)
        source = _index_of(moved)
        guided = _merged(ours, moved, source, guided=True)
        plain = _merged(ours, moved, source, guided=None)  # (no lookup: nothing checked)
    assert _state(guided) == _state(plain)
    assert len(checked) == sum(len(told) for told in absorbed)


def _handing(checked: list[int]
             ) -> Callable[[TimelineIndex, TimelineIndex, list[int | None], set[int]], None]:
    """TimelineIndex._hand_summaries, checking each summary it hands on against the one
    _summarise makes of the event as it is (``checked``: gets their indexes)."""
    hand = TimelineIndex._hand_summaries

    def checking(index: TimelineIndex, source: TimelineIndex, image: list[int | None],
                 differ: set[int]) -> None:
        hand(index, source, image, differ)
        for at, (event, count, summary) in (index._handed or {}).items():
            assert event is index._events[at] and count == len(event.members or ())
            assert summary == timeline._summarise(event)
            checked.append(at)

    return checking


@settings(max_examples=250, deadline=None)
@given(survivor=composed, absorbed=composed, after=composed,
       compare=st.sampled_from([1, 2, timeline.COMPARE_MEMBERS]), backwards=st.booleans(),
       orphans=st.lists(st.sampled_from([False, False, False, True]), min_size=1, max_size=4))
def test_a_guided_merge_hands_on_the_summaries_a_summary_of_its_events_makes(
        survivor: list[list[tuple[int, ...]]], absorbed: list[list[tuple[int, ...]]],
        after: list[list[tuple[int, ...]]], compare: int, backwards: bool,
        orphans: list[bool]) -> None:
    # the fast path of the rerank after a merge (the absorbed story's summaries of the
    # events made as there, renumbered) against summarising them anew: each summary, and
    # the pages and states after the merge and after later articles. ``backwards``: the
    # absorbed story's numbers descend in its order (the merge renumbers them ascending:
    # summaries sort their citations anew); ``orphans``: which of its articles copy an
    # original that is not in it (the merge makes each an original: a source of its own)
    checked: list[int] = []
    with mock.patch.object(timeline, "COMPARE_MEMBERS", compare), \
            mock.patch.object(TimelineIndex, "_hand_summaries", _handing(checked)):
        ours = _composed("s", survivor)
        moved = [replace(composed_article(f"urn:a:{k}",
                                          len(absorbed) + 1 - k if backwards else k, told),
                         copy_of=99 if orphans[k % len(orphans)] else None)
                 for k, told in enumerate(absorbed, 1)]
        source = _index_of(moved)
        source.entries(5)  # (its summaries made, as at the absorbed story's last revision)
        plain = _merged(ours, moved, source, guided=None)
        guided = _merged(ours, moved, source, guided=True)
        assert _state(guided) == _state(plain)
        for n, told in enumerate(after[:2], 1):  # (some join events handed on: not used)
            for index in (plain, guided):
                index.add(composed_article(f"urn:later:{n}", 100 + n, told))
        assert guided.entries(5) == plain.entries(5)
        assert _state(guided) == _state(plain)
    hypothesis.event(f"summaries handed on: {bool(checked)}")


def test_a_merge_of_a_story_whose_events_have_several_statements_hands_their_summaries_on(
        ) -> None:
    checked: list[int] = []
    with mock.patch.object(TimelineIndex, "_hand_summaries", _handing(checked)):
        moved = [composed_article("urn:a:1", 1, [(0, 0, 0, 1, 0, 18), (1, 1, 2, 3, 1, 20)]),
                 composed_article("urn:a:2", 2, [(0, 0, 0, 1, 0, 18), (1, 1, 2, 3, 1, 20)]),
                 composed_article("urn:a:3", 3, [(0, 0, 0, 1, 0, 18)])]
        source = _index_of(moved)
        source.entries(5)
        ours = [composed_article("urn:s:1", 1, [(2, 2, 4, 4, 1, 22)])]
        plain = _merged(ours, moved, source, guided=None)
        guided = _merged(ours, moved, source, guided=True)
        assert guided.entries(5) == plain.entries(5)
        assert _state(guided) == _state(plain)
    assert len(checked) == 2  # the two events told twice or more


def test_a_merge_summarises_anew_an_event_whose_copies_lose_their_original() -> None:
    # two copies of an original the absorbed story does not hold (withdrawn) tell the same
    # event: one source there; the merge makes each an original, two sources here, so the
    # event's summary there is not handed on (its source count differs)
    checked: list[int] = []
    with mock.patch.object(TimelineIndex, "_hand_summaries", _handing(checked)):
        moved = [replace(composed_article(f"urn:a:{n}", n, [(0, 0, 0, 1, 0, 18)]), copy_of=99)
                 for n in (1, 2)]
        source = _index_of(moved)
        source.entries(5)
        assert source._events[0].summary is not None
        assert source._events[0].summary.sources == 1
        ours = [composed_article("urn:s:1", 1, [(2, 2, 4, 4, 1, 22)])]
        plain = _merged(ours, moved, source, guided=None)
        guided = _merged(ours, moved, source, guided=True)
        assert guided.entries(5) == plain.entries(5)
        assert _state(guided) == _state(plain)
        assert plain._events[1].summary is not None
        assert plain._events[1].summary.sources == 2
    assert checked == []


def test_two_merges_before_a_revision_hand_on_the_summaries_of_both() -> None:
    # a revision can follow several merges (an article joins two stories at once): the
    # summaries handed on by the first stay for the rerank after the second
    first = [composed_article("urn:a:1", 1, [(0, 0, 0, 1, 0, 18), (1, 1, 2, 3, 1, 20)]),
             composed_article("urn:a:2", 2, [(0, 0, 0, 1, 0, 18), (1, 1, 2, 3, 1, 20)])]
    second = [composed_article("urn:b:1", 1, [(2, 2, 4, 4, 1, 22)]),
              composed_article("urn:b:2", 2, [(2, 2, 4, 4, 1, 22)])]
    sources = []
    for moved in (first, second):
        source = _index_of(moved)
        source.entries(5)
        sources.append(source)
    ours = [composed_article("urn:s:1", 1, [(1, 0, 3, 2, 0, 17)])]
    guided, plain = TimelineIndex(), TimelineIndex()
    for index in (guided, plain):
        index.add(ours[0])
    into_first = arrivals(ours, first)
    into_second = arrivals([*ours, *first], second)
    guided.absorb(into_first, sources[0].inputs(), sources[0])
    guided.absorb(into_second, sources[1].inputs(), sources[1])
    for cited in (*into_first, *into_second):
        plain.add(cited, None)
    # an event of each story as it was there (the survivor's statement joined another)
    handed = guided._handed
    assert handed is not None
    assert "_handed" not in guided.__getstate__()  # (not state: a pickle leaves it out)
    made = [[e.members[0].uri for e in guided._events[i:i + 1] if e.members]
            for i in sorted(handed)]
    assert [uri[0][:5] for uri in made] == ["urn:a", "urn:b"]
    expected = plain.entries(5)
    summarised: list[list[str]] = []
    many = timeline._summary_of_many

    def counted(members: list[timeline._Member]) -> timeline._Summary:
        summarised.append([m.uri for m in members])
        return many(members)

    with mock.patch.object(timeline, "_summary_of_many", counted):
        assert guided.entries(5) == expected
    # only the event the survivor's statement joined is summarised anew
    assert summarised == [["urn:s:1", "urn:a:1", "urn:a:2"]]
    assert _state(guided) == _state(plain)
