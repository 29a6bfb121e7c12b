"""The collector pause around unpickling: same objects, and the collector as it was."""

from __future__ import annotations

import gc
import pickle

from storyline.domain.unpickle import collector_paused, unpickled


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


def test_the_collector_is_paused_inside_and_back_after_an_error() -> None:
    try:
        with collector_paused():
            assert not gc.isenabled()
            raise ValueError("a damaged state")
    except ValueError:
        pass
    assert gc.isenabled()
