"""A merge guided by the absorbed story's own index gives the index adding one by one gives.

``TimelineIndex.absorb`` with the absorbed story's index (what ``story.absorb`` passes for a
story folded here) lets each moved statement join the event it joined there, matching it only
against the survivor's own events; from the first statement that one of those takes, the rest
are matched in full. The state must be exactly that of ``add`` over the same articles in the
same order (the definition), whatever the two stories hold.
"""

from __future__ import annotations

from datetime import date, timedelta
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from test_timeline import EVENTS, article, span

from storyline.domain.coldstore import MemoryColdStore
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
            guided: bool, matched: list[int] | None = None) -> TimelineIndex:
    """The survivor's index with ``moved`` absorbed (renumbered after its own);
    ``matched``: gets the statements matched in full (their order of addition)."""
    index = TimelineIndex()
    for cited in survivor:
        index.add(cited)
    if matched is not None:
        match = index._match

        def counted(member: timeline._Member) -> int | None:
            matched.append(member.seq)
            return match(member)

        index._match = counted  # type: ignore[method-assign]
        index.absorb(arrivals(survivor, moved), source.inputs(), source if guided else None)
        del index._match
        return index
    index.absorb(arrivals(survivor, moved), source.inputs(), source if guided else None)
    return index


def arrivals(survivor: list[CitedArticle], moved: list[CitedArticle]) -> list[CitedArticle]:
    """``moved`` renumbered after ``survivor``, as story.absorb renumbers them."""
    base = len(survivor) + 1
    number = {cited.n: base + k for k, cited in enumerate(moved)}
    return [cited.model_copy(update={
        "n": number[cited.n],
        "copy_of": number.get(cited.copy_of) if cited.copy_of else None}) for cited in moved]


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
            cited = told(uri, known.n, event, months, after, second).model_copy(
                update={"version": known.version + 1, "copy_of": known.copy_of})
        elif op == 2 and held:
            uri = list(held)[k % len(held)]
            del held[uri]
            index.remove(uri)
            continue
        else:
            cited = told(f"urn:{prefix}:{k}", k, event, months, after, second)
            if op == 3 and held:
                last = list(held.values())[-1]
                cited = cited.model_copy(update={"copy_of": last.copy_of or last.n})
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
        plain = _merged(ours, moved, source, guided=False)
        guided = _merged(ours, moved, source, guided=True)
    assert _state(guided) == _state(plain)
    assert guided.entries(limit) == plain.entries(limit)
    # and what joins later joins the same events
    for k, (event, months, days, _) in enumerate(after, start=1):
        for index in (plain, guided):
            index.add(told(f"urn:later:{k}", 100 + k, event, months, days))
    assert _state(guided) == _state(plain)
    assert guided.entries(limit) == plain.entries(limit)


def test_the_guide_holds_until_a_survivors_event_takes_a_statement() -> None:
    # the survivor has the sinking (pool event 2) only; the absorbed story has new events
    # first, then the sinking told again: the guide holds for the new events, and the
    # sinking's statement joins the survivor's event (matched in full from there)
    ours = [told("urn:s:1", 1, 2, 0, 1, second=False)]
    moved, source = _story("a", [(6, 0, 1, 0), (7, 0, 2, 0), (6, 1, 1, 0), (2, 0, 3, 0),
                                 (7, 1, 2, 0)], None, second=False)
    plain = _merged(ours, moved, source, guided=False)
    calls: list[int] = []
    index = _merged(ours, moved, source, guided=True, matched=calls)
    assert _state(index) == _state(plain)
    statements = [m for event in index._events for m in event.members or ()]
    sinking = min(m.seq for m in statements if m.uri == "urn:a:4")
    # matched in full: the sinking's first statement (the survivor's event took it) and
    # every later one; none before
    assert calls and min(calls) == sinking
    assert calls == sorted(calls) == list(range(sinking, max(m.seq for m in statements) + 1))
    assert index._events[0].members is not None
    assert [m.uri for m in index._events[0].members][:2] == ["urn:s:1", "urn:a:4"]


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
    source = TimelineIndex()
    for cited in moved:
        source.add(cited)
    assert len(source) == 1  # Y joined X there
    plain = _merged(ours, moved, source, guided=False)
    calls: list[int] = []
    guided = _merged(ours, moved, source, guided=True, matched=calls)
    assert _state(guided) == _state(plain)
    assert [[m.uri for m in event.members or ()] for event in guided._events] == [
        ["urn:s:1", "urn:a:2"], ["urn:a:1"]]
    assert calls == [3]  # X followed its guide, Y was matched in full
