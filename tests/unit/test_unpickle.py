"""The collector pause around unpickling: same objects, and the collector as it was; small
frozen records pickled as calls of their class."""

from __future__ import annotations

import dataclasses
import gc
import pickle
from datetime import date

import pytest

from storyline.domain.events import DatePrecision
from storyline.domain.extract.timeline_input import _Figure, _Statement
from storyline.domain.facts import Qualifier, TimeSpan
from storyline.domain.page.timeline import _Member
from storyline.domain.unpickle import (
    made_from_columns,
    pickled_as_call,
    unpickled,
)


def test_unpickled_gives_the_objects_and_leaves_the_collector_as_it_was() -> None:
    value = {"a": [1, 2, (3, "x")], "b": {"c": None}}
    data = pickle.dumps(value)
    assert gc.isenabled()
    assert unpickled(data) == value
    assert gc.isenabled()
    gc.disable()
    try:
        assert unpickled(data) == value
        assert not gc.isenabled()  # not switched on behind its owner's back
    finally:
        gc.enable()


def test_the_collector_is_back_after_a_damaged_state() -> None:
    with pytest.raises(pickle.UnpicklingError):
        unpickled(b"\x80\x05 a damaged state")
    assert gc.isenabled()
    gc.unfreeze()


def _member() -> _Member:
    day = date(2010, 4, 20)
    span = TimeSpan(start=day, end=day, precision=DatePrecision.DAY)
    words = ("rig", "exploded", "gulf")
    figure = _Figure(value=11.0, qualifier=Qualifier.EXACTLY, unit="", subject="workers",
                     act="kill")
    statement = _Statement(sentence=3, statement="The rig exploded in the Gulf.", span=span,
                           stated=True, words=words, figures=(figure,))
    return _Member(seq=7, n=2, uri="urn:a", version=1, source=2, cand=statement, words=words,
                   planned=False)


def test_records_pickled_as_calls_come_back_equal_sharing_what_they_shared() -> None:
    member = _member()
    data = pickle.dumps(member, protocol=pickle.HIGHEST_PROTOCOL)
    for record in (member, member.cand, member.cand.figures[0]):  # a call of the class
        values = tuple(getattr(record, f.name) for f in dataclasses.fields(record))
        assert record.__reduce_ex__(pickle.HIGHEST_PROTOCOL)[:2] == (type(record), values)
    again = pickle.loads(data)
    assert again == member
    assert again.words is again.cand.words  # one tuple, as in the state that was pickled


def test_records_pickled_the_dataclasses_way_still_load() -> None:
    """A state written before (dataclasses' own __getstate__, a list of values)."""
    member = _member()
    reductions = [(cls, cls.__dict__["__reduce__"]) for cls in (_Member, _Statement, _Figure)]
    try:
        for cls, _ in reductions:
            del cls.__reduce__
        data = pickle.dumps(member, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        for cls, reduce in reductions:
            cls.__reduce__ = reduce  # type: ignore[method-assign]
    assert pickle.loads(data) == member


def test_only_slotted_dataclasses_made_of_their_arguments_are_pickled_as_calls() -> None:
    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    for cls in (Unslotted, Derived):
        with pytest.raises(TypeError):
            pickled_as_call(cls)

    @pickled_as_call
    @dataclasses.dataclass(frozen=True, slots=True)
    class One:
        a: tuple[int, ...]

    one = One((1, 2))
    reduced = one.__reduce__()  # a local class: not pickled by reference
    assert not isinstance(reduced, str)
    call, arguments = reduced
    assert call is One and arguments == ((1, 2),) and call(*arguments) == one


def test_records_made_from_columns_are_the_records_calls_make() -> None:
    members = [_member(), _member()]
    columns = [[getattr(m, f.name) for m in members] for f in dataclasses.fields(_Member)]
    made = made_from_columns(_Member, *columns)
    assert made == members and all(type(m) is _Member for m in made)
    assert made[0] is not members[0] and made[0].words is members[0].words
    assert made_from_columns(_Member, *([] for _ in columns)) == []
    with pytest.raises(ValueError):  # a column short
        made_from_columns(_Member, *columns[:-1], columns[-1][:1])
    with pytest.raises(ValueError):  # a column missing
        made_from_columns(_Member, *columns[:-1])

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:  # what a call would check, skipped column by column: refused
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        a: int

    for cls in (Checked, Unslotted):
        with pytest.raises(TypeError):
            made_from_columns(cls, [1])


def test_what_unpickled_made_is_frozen_with_the_heap() -> None:
    """A loaded state lives long: frozen at once, the next young collection does not walk
    it. Not when the collector was off: its owner manages it."""
    value = [{"k": [i, (i, str(i))]} for i in range(200)]
    data = pickle.dumps(value)
    gc.unfreeze()
    try:
        assert unpickled(data) == value
        assert gc.get_freeze_count() > 400 and gc.isenabled()
        gc.unfreeze()
        gc.disable()
        try:
            assert unpickled(data) == value
            assert gc.get_freeze_count() == 0
        finally:
            gc.enable()
    finally:
        gc.unfreeze()
