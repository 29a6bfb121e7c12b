"""The record of one LLM summary: what replay uses instead of calling the model again."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from storyline.domain.events import Contract, SummaryParagraph


class SummaryGenerated(Contract):
    """An LLM summary of one story revision, already validated against its input facts.

    Replay takes ``paragraphs`` from here (see ``storyline.llm.summariser.apply_recorded``);
    only a live worker ever calls the model."""

    event_type: Literal["SummaryGenerated"] = "SummaryGenerated"
    schema_version: Literal[1] = 1
    story_id: str
    revision: int = Field(ge=1, description="The story revision the summary applies to.")
    base_content_hash: str = Field(
        description="content_hash of that revision as the core built it (extractive summary)."
    )
    model: str = Field(description="The model name the endpoint reported.")
    prompt_hash: str = Field(description="sha256 of the canonical JSON of the request body.")
    input_fact_ids: tuple[str, ...] = Field(description="Fact ids the prompt offered.")
    paragraphs: tuple[SummaryParagraph, ...]
