"""LLM summaries of a story revision, validated, recorded, and replayed from the record.

The live worker, after the core has built revision ``r`` (with its extractive summary),
calls :meth:`LLMSummariser.summarise`. The model sees only numbered facts: the revision's
summary sentences and timeline entries, each with its citations. Its answer must cite fact
ids from that list, and every sentence must share most of its content words with the facts
it cites; otherwise the revision keeps its extractive summary and nothing is recorded. A
valid answer becomes a :class:`SummaryGenerated` record. Replay never calls the model: it
rebuilds revision ``r`` with the core and passes the recorded event to
:func:`apply_recorded`, which yields the same page byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from storyline.domain.canonical import canonical_bytes, sha256_hex
from storyline.domain.events import (
    Citation,
    CitedSentence,
    StoryPage,
    SummaryParagraph,
)
from storyline.domain.extract.analysis import terms_of
from storyline.domain.pages import sealed
from storyline.llm.client import ChatClient, Completion, LLMError
from storyline.llm.records import SummaryGenerated
from storyline.llm.settings import LLMSettings

log = structlog.get_logger(__name__)

MAX_FACTS = 30
MAX_PARAGRAPHS = 4
MAX_SENTENCES = 4
MAX_KEY_PHRASE_WORDS = 6
MAX_SENTENCE_CHARS = 400
GROUNDING = 0.5  # share of a sentence's content words its cited facts must contain

SYSTEM_PROMPT = """You write the summary of a news story page from numbered facts.
Rules:
- Use only the facts given. Do not add names, numbers, dates or claims that are not in them.
- Every sentence must cite, by id, every fact it relies on, and only ids from the list.
- Write at most {paragraphs} paragraphs of 1 to {sentences} sentences. Each paragraph starts
  with a key phrase of at most 6 words naming its theme.
- Answer with JSON only, in this shape:
  {{"paragraphs": [{{"key_phrase": "...", "sentences": [{{"text": "...", "facts": ["F1"]}}]}}]}}
"""


@dataclass(frozen=True, slots=True)
class Fact:
    id: str
    text: str
    citations: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The revision to publish, and the record to write when the model's answer was used."""

    update: StoryPage
    record: SummaryGenerated | None
    fallback: str | None = None  # why the extractive summary was kept


class InvalidAnswer(ValueError):
    pass


class Summariser(Protocol):
    enabled: bool

    async def summarise(self, update: StoryPage) -> Outcome: ...


class ExtractiveSummariser:
    """The default: the core's extractive summary as it is."""

    enabled = False

    async def summarise(self, update: StoryPage) -> Outcome:
        return Outcome(update, None, "llm disabled")


# ---------------------------------------------------------------------------------------------
# Prompt.


def facts_of(update: StoryPage, limit: int = MAX_FACTS) -> tuple[Fact, ...]:
    """The revision's cited statements: summary sentences (F1...), then timeline entries
    (T1...), each with the citations the core verified."""
    out: list[Fact] = []
    sentences = [s for p in update.summary for s in p.sentences]
    for i, s in enumerate(sentences, 1):
        out.append(Fact(f"F{i}", s.text, s.citations))
    for i, e in enumerate(update.timeline, 1):
        out.append(Fact(f"T{i}", f"{e.date_label}: {e.text}", e.citations))
    return tuple(out[:limit])


def messages_for(update: StoryPage, facts: Sequence[Fact]) -> list[dict[str, str]]:
    lines = [f"Story: {update.title}", "Facts:"]
    lines += [f"[{f.id}] {f.text}" for f in facts]
    return [
        {"role": "system",
         "content": SYSTEM_PROMPT.format(paragraphs=MAX_PARAGRAPHS, sentences=MAX_SENTENCES)},
        {"role": "user", "content": "\n".join(lines)},
    ]


def prompt_hash(body: dict[str, Any]) -> str:
    return "sha256:" + sha256_hex(canonical_bytes(body))


# ---------------------------------------------------------------------------------------------
# Answer validation.

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def _citations(ids: Sequence[str], by_id: dict[str, Fact]) -> tuple[Citation, ...]:
    """The union of the facts' citations, in fact order, each article once (a fact's own
    order keeps originals before copies)."""
    seen: set[int] = set()
    out: list[Citation] = []
    for fact_id in ids:
        for c in by_id[fact_id].citations:
            if c.n not in seen:
                seen.add(c.n)
                out.append(c)
    return tuple(out)


def _grounded(text: str, ids: Sequence[str], by_id: dict[str, Fact]) -> bool:
    claim = set(terms_of(text))
    if not claim:
        return False
    source: set[str] = set()
    for fact_id in ids:
        source.update(terms_of(by_id[fact_id].text))
    return len(claim & source) >= GROUNDING * len(claim)


def parse_answer(text: str, facts: Sequence[Fact]) -> tuple[SummaryParagraph, ...]:
    """The model's paragraphs with citations resolved, or InvalidAnswer."""
    by_id = {f.id: f for f in facts}
    try:
        payload = json.loads(_FENCE.sub("", text.strip()))
        raw_paragraphs = payload["paragraphs"]
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidAnswer(f"not the requested JSON: {e}") from e
    if not isinstance(raw_paragraphs, list) or not 1 <= len(raw_paragraphs) <= MAX_PARAGRAPHS:
        raise InvalidAnswer("paragraphs must be a list of 1 to 4")
    paragraphs: list[SummaryParagraph] = []
    for raw in raw_paragraphs:
        if not isinstance(raw, dict):
            raise InvalidAnswer("a paragraph is not an object")
        key_phrase = raw.get("key_phrase")
        sentences = raw.get("sentences")
        if not isinstance(key_phrase, str) or not key_phrase.strip():
            raise InvalidAnswer("a paragraph has no key phrase")
        if len(key_phrase.split()) > MAX_KEY_PHRASE_WORDS:
            raise InvalidAnswer(f"key phrase too long: {key_phrase!r}")
        if not isinstance(sentences, list) or not 1 <= len(sentences) <= MAX_SENTENCES:
            raise InvalidAnswer("a paragraph must have 1 to 4 sentences")
        cited: list[CitedSentence] = []
        for s in sentences:
            if not isinstance(s, dict):
                raise InvalidAnswer("a sentence is not an object")
            body, ids = s.get("text"), s.get("facts")
            if not isinstance(body, str) or not body.strip() or len(body) > MAX_SENTENCE_CHARS:
                raise InvalidAnswer("a sentence has no text or is too long")
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
                raise InvalidAnswer(f"sentence cites no fact ids: {body[:80]!r}")
            unknown = sorted(set(ids) - by_id.keys())
            if unknown:
                raise InvalidAnswer(f"cites unknown fact ids {unknown}")
            if not _grounded(body, ids, by_id):
                raise InvalidAnswer(f"sentence not supported by its facts: {body[:80]!r}")
            cited.append(CitedSentence(text=" ".join(body.split()),
                                       citations=_citations(ids, by_id)))
        paragraphs.append(SummaryParagraph(key_phrase=" ".join(key_phrase.split()),
                                           sentences=tuple(cited)))
    return tuple(paragraphs)


# ---------------------------------------------------------------------------------------------
# Live and replay.


def _with_summary(update: StoryPage, paragraphs: tuple[SummaryParagraph, ...]
                  ) -> StoryPage:
    """The revision with another summary and its content hash recomputed as the core does."""
    return sealed(update.model_copy(update={"summary": paragraphs}))


class RecordMismatch(ValueError):
    """A recorded summary that does not belong to the revision it is applied to."""


def apply_recorded(record: SummaryGenerated, update: StoryPage) -> StoryPage:
    """Revision ``update`` (as the core rebuilt it) with the recorded LLM summary: what replay
    does instead of calling the model. Raises RecordMismatch when the record was made for
    another revision or cites an article the revision does not have."""
    if (record.story_id, record.revision) != (update.story_id, update.revision):
        raise RecordMismatch(
            f"record for {record.story_id}@{record.revision}, "
            f"revision is {update.story_id}@{update.revision}"
        )
    if record.base_content_hash != update.content_hash:
        raise RecordMismatch(
            f"{update.story_id}@{update.revision} differs from the revision the summary was "
            "generated for (core or extractor changed?)"
        )
    known = {(c.n, c.uri, c.version) for p in update.summary for s in p.sentences
             for c in s.citations}
    known |= {(c.n, c.uri, c.version) for e in update.timeline for c in e.citations}
    for p in record.paragraphs:
        for s in p.sentences:
            for c in s.citations:
                if (c.n, c.uri, c.version) not in known:
                    raise RecordMismatch(f"citation [{c.n}] {c.uri} is not among the facts")
    return _with_summary(update, record.paragraphs)


class LLMSummariser:
    """Calls the model for a revision; falls back to the extractive summary on any error."""

    enabled = True

    def __init__(self, client: ChatClient) -> None:
        self.client = client

    async def summarise(self, update: StoryPage) -> Outcome:
        facts = facts_of(update)
        if not facts:
            return Outcome(update, None, "no facts")
        messages = messages_for(update, facts)
        body = self.client.request_body(messages)
        try:
            completion: Completion = await self.client.complete(messages)
            paragraphs = parse_answer(completion.text, facts)
        except (LLMError, InvalidAnswer) as e:
            log.warning("llm.summary.fallback", story_id=update.story_id,
                        revision=update.revision, error=type(e).__name__, reason=str(e))
            return Outcome(update, None, f"{type(e).__name__}: {e}")
        record = SummaryGenerated(
            story_id=update.story_id,
            revision=update.revision,
            base_content_hash=update.content_hash,
            model=completion.model,
            prompt_hash=prompt_hash(body),
            input_fact_ids=tuple(f.id for f in facts),
            paragraphs=paragraphs,
        )
        return Outcome(apply_recorded(record, update), record)


def summariser_from_settings(settings: LLMSettings | None = None
                             ) -> tuple[Summariser, ChatClient | None]:
    """The configured summariser and the client to close at shutdown (None when off)."""
    settings = settings or LLMSettings()
    if not settings.enabled:
        return ExtractiveSummariser(), None
    if not settings.model:
        raise ValueError("STORYLINE_LLM_ENABLED is set but STORYLINE_LLM_MODEL is empty")
    client = ChatClient(settings)
    return LLMSummariser(client), client
