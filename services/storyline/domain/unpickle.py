"""Unpickling a large state without the cyclic garbage collector in the way, and pickling
its many small frozen records cheaply.

A story's state or a snapshot's pipeline unpickles into hundreds of thousands of container
objects and makes no garbage. The collector runs on allocation counts, so during such a load
it scans the growing young generations, and now and then the whole heap, over and over, for
nothing: thawing a 2,632-article story took 1.57 CPU s with the collector on and 0.37 s with
it paused, in a worker holding ~580 MB of other objects (docs/benchmarks.md, restart).
"""

from __future__ import annotations

import dataclasses
import gc
import operator
import pickle
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

_T = TypeVar("_T")


def unpickled(data: bytes) -> Any:
    """``pickle.loads`` with the collector paused; only for bytes this code wrote itself.
    What it made is then frozen (``gc.freeze``) with the rest of the heap, as the worker's
    :class:`~storyline.collector.Collector` freezes it every few hundred records: a state
    lives long, and the first young collection after the load would otherwise walk every
    object of it (a third of a long story's thaw; docs/benchmarks.md, session 38). What
    becomes cyclic garbage after is found by the collector's next full collection."""
    if not gc.isenabled():
        return pickle.loads(data)
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        gc.freeze()
        gc.enable()


def pickled_as_call(cls: type[_T]) -> type[_T]:
    """``cls``, a frozen dataclass with slots whose every field is an argument of its
    ``__init__``, pickled as a call of the class with its fields' values. Such a class is
    otherwise pickled through dataclasses' ``__getstate__`` and ``__setstate__``, which walk
    ``fields()`` for every object: about half of what freezing and thawing a story's state
    cost, for its timeline's members, statements and figures (docs/benchmarks.md, session
    36). Unpickling either form gives the same object, so states pickled before still load."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not all(f.init for f in fields) or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass made of its arguments")
    values: Callable[[Any], Any] = operator.attrgetter(*(f.name for f in fields))
    if len(fields) == 1:
        def reduce(self: Any) -> tuple[type[_T], tuple[Any, ...]]:
            return cls, (values(self),)
    else:
        def reduce(self: Any) -> tuple[type[_T], tuple[Any, ...]]:
            return cls, values(self)
    cls.__reduce__ = reduce  # type: ignore[method-assign]
    return cls


def made_from_columns(cls: type[_T], *columns: Sequence[Any]) -> list[_T]:
    """``[cls(*values) for values in zip(*columns)]`` for a class :func:`pickled_as_call`
    accepts (a slotted dataclass made of its arguments, in field order), made column by
    column: each slot set by its descriptor over a whole column in one pass of C. About
    half the cost of a call per object, which is most of what thawing a long story's
    timeline costs; a class with a ``__post_init__`` (which this would skip) is refused."""
    slots = vars(cls).get("__slots__")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if slots is None or hasattr(cls, "__post_init__") or not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass made of its arguments")
    if len(columns) != len(fields) or len({len(c) for c in columns}) > 1:
        raise ValueError(f"{cls.__name__} needs {len(fields)} columns of one length")
    count = len(columns[0]) if columns else 0
    new = object.__new__
    made: list[_T] = [new(cls) for _ in range(count)]
    for field, column in zip(fields, columns, strict=True):
        deque(map(getattr(cls, field.name).__set__, made, column), maxlen=0)
    return made
