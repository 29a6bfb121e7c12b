"""One fields-set object for all the instances of a pydantic model class that set the same
fields.

Pydantic gives each instance, and each ``model_copy``, its own set of the names of its set
fields: 728 bytes for nine fields, more than the instance's ``__dict__``. A story keeps a
model for each of its articles for its whole life (its list entry, and each copy under it;
its ``CitedArticle`` was one too and is now a slotted record), so those sets were ~0.7 kB
an article in play. Frozen models never change their set, and ``model_copy`` copies it
before adding to it, so sharing equal sets changes nothing but memory
(``model_fields_set`` and ``exclude_unset`` see the same names)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

# (class, the names) -> the one set of those names; a class has few distinct ones
_SHARED: dict[tuple[type[BaseModel], frozenset[str]], set[str]] = {}


def shared_fields_set(model: M) -> M:
    """``model``, its fields set replaced by the shared one with the same names (a model
    that is not frozen keeps its own: setting an attribute adds to it in place)."""
    if not model.model_config.get("frozen"):
        return model
    own = model.__pydantic_fields_set__
    key = (type(model), frozenset(own))
    shared = _SHARED.get(key)
    if shared is None:
        shared = _SHARED.setdefault(key, own)
    elif shared is not own:
        object.__setattr__(model, "__pydantic_fields_set__", shared)
    return model
