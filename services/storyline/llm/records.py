"""The record of one LLM summary: what replay uses instead of calling the model again.

The contract itself lives with the other events (``storyline.domain.events``)."""

from __future__ import annotations

from storyline.domain.events import SummaryGenerated

__all__ = ["SummaryGenerated"]
