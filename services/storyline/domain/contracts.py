"""The contracts between the core's three stages (docs/stages.md): what the extract stage
writes to the facts topic (:class:`ArticleExtracted`) and what the assign stage writes to the
assignments topic (:class:`ArticleAssigned`).

``ArticleExtracted`` carries everything downstream needs of one article, computed once: its
facts, the features the clusterer reads, the summary's analysis and the timeline's input.
The per-article dataclasses the fold keeps (``analysis.Analysis``, ``timeline_input.TimelineInput``)
are given here as plain models, and :func:`analysis_from` / :func:`timeline_input_from` turn
them back into exactly the objects the fold computed before the split (a test folds both and
compares the bytes). ``ArticleAssigned`` is lean: where the article goes, and on a merge the
absorbed story's articles with where their facts are.

Like the events in :mod:`storyline.domain.events`, these are frozen models with an
``event_type`` and a ``schema_version``, and ``schemas/`` holds their JSON Schemas.
"""

from __future__ import annotations

import datetime as dt
import sys
from array import array
from typing import Any, Literal, TypeVar

import numpy as np
import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from storyline.domain.events import Contract, PubStatus
from storyline.domain.extract.analysis import Analysis, Sentence, numbers_set
from storyline.domain.extract.timeline_input import (
    TimelineInput,
    _Figure,
    _shared_span,
    _Statement,
    shared_days,
)
from storyline.domain.facts import ArticleFacts, NameKind, Qualifier, TimeSpan
from storyline.domain.packing import pack, unpack
from storyline.domain.upcasting import upcast

_intern = sys.intern
_BAND_BITS = 64


class Carried(Contract):
    """Base of the stage contracts: bytes travel as base64 in JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_bytes="base64",
                              val_json_bytes="base64")


# ---------------------------------------------------------------------------------------------
# Positions.


class SourcePosition(Carried):
    """Where the article is in the articles log: the order the assign stage follows."""

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class FactsPosition(Carried):
    """Where an ``ArticleExtracted`` is on the facts topic (the page stage fetches it)."""

    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


# ---------------------------------------------------------------------------------------------
# ArticleExtracted: the facts topic.


class ClusteringNames(Carried):
    """The article's name mentions as the clusterer reads them, as columns (one entry each,
    in the order the extractor found them): a model a mention cost ~1 µs of parsing each."""

    canonical: tuple[str, ...]
    count: tuple[int, ...]
    person: tuple[bool, ...]
    lede: tuple[bool, ...] = Field(description="Mentioned in the first sentence.")

    @model_validator(mode="after")
    def _columns_of_one_length(self) -> ClusteringNames:
        if not len(self.canonical) == len(self.count) == len(self.person) == len(self.lede):
            raise ValueError("canonical, count, person and lede give one entry a name each")
        if any(c < 0 for c in self.count):
            raise ValueError("a name's count is 0 or more")
        return self


class ClusteringFeatures(Carried):
    """What the clusterer reads of an article, before any of its state: content terms with
    their counts in order of first use (the order term ids are handed out in), names, the
    publication day and the near-duplicate shingles. Terms and counts are columns (version 2
    of ``ArticleExtracted``; version 1 had (term, count) pairs and a model a name, ~3x the
    parsing: ``upcasting`` reads those)."""

    day: float = Field(description="Publication time in days since the epoch.")
    body_terms: tuple[str, ...] = Field(description="Distinct, in order of first use.")
    body_counts: tuple[int, ...] = Field(description="Each body term's count.")
    headline_terms: tuple[str, ...] = Field(description="Distinct, in order of first use.")
    headline_counts: tuple[int, ...] = Field(description="Each headline term's count.")
    names: ClusteringNames
    shingles: bytes = Field(description="Sorted unique uint32 shingle hashes, little-endian.")

    @model_validator(mode="after")
    def _a_count_a_term(self) -> ClusteringFeatures:
        if (len(self.body_terms) != len(self.body_counts)
                or len(self.headline_terms) != len(self.headline_counts)):
            raise ValueError("a count a term: body_counts and headline_counts give one each")
        return self


class LeadSentence(Carried):
    """``analysis.Sentence``: one of the first sentences of an article, analysed."""

    index: int = Field(ge=0)
    text: str
    terms: tuple[str, ...]
    numbers: tuple[str, ...] = Field(description="A set: sorted.")
    negated: bool
    words: tuple[str, ...]
    eligible: bool
    names: tuple[str, ...]
    has_figure: bool
    keys: tuple[int, ...] = Field(
        description="Min-hash keys without their band (the band is the key's position).")
    days: tuple[tuple[dt.date, dt.date], ...] | None = Field(
        default=None,
        description="The day-precise dates of its own event (start, end), in text order, from "
                    "the article's dates; null when the fold finds them in the text itself "
                    "(and in records written before the field).")
    shown: str | None = Field(
        default=None,
        description="The text as the summary quotes it: each day a relative expression stands "
                    "for added after it in brackets (\"on Monday (Mar 16)\"); null when "
                    "nothing is added (and in records written before the field).")


class NameForm(Carried):
    key: str
    display: str
    kind: NameKind


class SummaryAnalysis(Carried):
    """``analysis.Analysis`` without the sentences (the facts carry them) and without what is
    built on demand."""

    lead: tuple[LeadSentence, ...]
    glued_headline: str | None
    lead_terms: tuple[str, ...]
    name_keys: tuple[str, ...]
    name_forms: tuple[NameForm, ...]
    sentence_count: int = Field(ge=0)
    band_keys: tuple[bytes, ...] = Field(description="Per band: uint64 keys, little-endian.")
    band_sentences: tuple[tuple[int, ...], ...]


class TimelineFigure(Carried):
    value: float
    qualifier: Qualifier
    unit: str
    subject: str
    # the act counted (``timeline_input._Figure.act``); "" in facts records of before
    # extract-23, which dropped it: the fold then compared counts of different acts
    act: str = ""


class TimelineStatement(Carried):
    sentence: int = Field(ge=0)
    statement: str
    span: TimeSpan
    stated: bool
    words: tuple[str, ...]
    figures: tuple[TimelineFigure, ...]


class TimelineFeatures(Carried):
    """``timeline_input.TimelineInput``: the article's dated statements and the days it names."""

    days: tuple[dt.date, ...]
    statements: tuple[TimelineStatement, ...]


class ExtractionFailure(Carried):
    """Extraction raised: the assign stage turns the record into a dead letter where the
    unsplit core would have (only when the article is to be folded)."""

    error_type: str
    reason: str


class ArticleExtracted(Carried):
    """One record of the articles log, extracted. ``facts`` and the analyses are None for a
    withdrawal (nothing of its content is read) and when extraction failed."""

    event_type: Literal["ArticleExtracted"] = "ArticleExtracted"
    schema_version: Literal[2] = 2
    position: SourcePosition
    uri: str
    version: int = Field(ge=1)
    source: str = Field(description="The outlet.")
    headline: str | None
    published: dt.datetime
    pubstatus: PubStatus
    url: str | None = Field(
        default=None, max_length=2048,
        description="The article's url as received; the fold keeps only a web address.")
    fingerprint: str = Field(
        pattern="^[0-9a-f]{16}$",
        description="pipeline.content_fingerprint: a resend with other content conflicts.")
    extractor_version: str
    facts: ArticleFacts | None = None
    clustering: ClusteringFeatures | None = None
    summary: SummaryAnalysis | None = None
    timeline: TimelineFeatures | None = None
    failure: ExtractionFailure | None = None


# What each later stage reads of an ``ArticleExtracted`` record. The assign stage reads its
# clustering features (a quarter of a record's bytes) and never the facts and the page's
# analyses; the page stage reads those and never the clustering features. Validating the
# whole record built every part as models all the same (docs/benchmarks.md, session 39).
_PAGE_PARTS = ("facts", "summary", "timeline")
_ASSIGN_PARTS = ("clustering",)


class _Reading(Carried):
    """A stage's reading of the record: a key it does not read is stepped over by the JSON
    parser, never built (``extra="ignore"``)."""

    model_config = ConfigDict(frozen=True, extra="ignore", ser_json_bytes="base64",
                              val_json_bytes="base64")


def _reading(name: str, without: tuple[str, ...]) -> type[BaseModel]:
    """The ``ArticleExtracted`` fields but ``without``, each with its own annotation and
    ``FieldInfo`` (the same constraints and defaults, nothing written twice)."""
    fields = {key: (info.annotation, info) for key, info in ArticleExtracted.model_fields.items()
              if key not in without}
    reading: type[BaseModel] = create_model(  # type: ignore[call-overload]
        name, __base__=_Reading, **fields)
    return reading


_FOR_ASSIGN = _reading("ArticleExtractedForAssign", _PAGE_PARTS)
_FOR_PAGE = _reading("ArticleExtractedForPage", _ASSIGN_PARTS)


_M = TypeVar("_M", bound=BaseModel)


def _read_as(reading: type[_M], value: bytes | str) -> _M:
    """``value`` read as ``reading``; a record of an earlier schema version (the facts topic
    keeps what earlier versions wrote) is upcast first, off the fast path."""
    try:
        return reading.model_validate_json(value)
    except ValidationError as refused:
        earlier = _earlier_version(value)
        if earlier is None:
            raise
        try:
            current = upcast(earlier)
        except (KeyError, TypeError, ValueError):
            raise refused from None  # broken as the version it says it is
        return reading.model_validate(current)


def _earlier_version(value: bytes | str) -> dict[str, Any] | None:
    """The payload of ``value`` when it is an ``ArticleExtracted`` of an earlier schema
    version, else None."""
    try:
        payload = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or payload.get("event_type") != "ArticleExtracted":
        return None
    version = payload.get("schema_version", 1)
    current = ArticleExtracted.model_fields["schema_version"].default
    return payload if isinstance(version, int) and 1 <= version < current else None


def _construct(read: BaseModel) -> ArticleExtracted:
    return ArticleExtracted.model_construct(read.model_fields_set, **read.__dict__)


def read_extracted(value: bytes | str) -> ArticleExtracted:
    """A facts record, whole, of this schema version or an earlier one (upcast). Raises
    ``ValueError`` as ``model_validate_json`` does."""
    return _read_as(ArticleExtracted, value)


def extracted_for_assign(value: bytes | str) -> ArticleExtracted:
    """The record as the assign stage reads it (``Assigner.assign``): every field validated
    as ``ArticleExtracted`` validates it, but the facts and the page's analyses, left None
    unread (never fold what this returns). Raises ``ValueError`` as ``model_validate_json``
    does; a key of no field is skipped, not refused."""
    return _construct(_read_as(_FOR_ASSIGN, value))


def extracted_for_page(value: bytes | str) -> ArticleExtracted:
    """The record as the page stage reads it (``Pipeline.fold``): every field validated as
    ``ArticleExtracted`` validates it, but the clustering features, left None unread (never
    assign what this returns: ``Assigner.assign`` refuses it). Raises ``ValueError`` as
    ``model_validate_json`` does; a key of no field is skipped, not refused."""
    return _construct(_read_as(_FOR_PAGE, value))


# ---------------------------------------------------------------------------------------------
# ArticleAssigned: the assignments topic.


class MovedArticle(Carried):
    uri: str
    facts: FactsPosition = Field(description="Its latest usable version's ArticleExtracted.")
    copy_of: str | None = Field(
        default=None,
        description="The uri of the article of the same story it is listed under as a copy.")
    withdrawn_version: int | None = Field(
        default=None, ge=1,
        description="For a withdrawn article: the version that withdrew it (its facts are "
                    "those of its last usable version).")


class Absorbed(Carried):
    """A story merged into the assignment's story: its articles in their order in it, and
    its withdrawn articles (one may come back), as they stood before the merge; with what
    the page stage needs to rebuild its part from the facts topic alone (copies, versions of
    withdrawals, the ids it had absorbed), when the story was folded on another partition."""

    story_id: str
    articles: tuple[MovedArticle, ...]
    withdrawn: tuple[MovedArticle, ...] = ()
    aliases: tuple[str, ...] = Field(
        default=(), description="The ids the absorbed story had absorbed, in their order.")


class ArticleAssigned(Carried):
    """Where one article of the log goes. Written only for a record that changes something
    (resends and older versions are not assigned)."""

    event_type: Literal["ArticleAssigned"] = "ArticleAssigned"
    schema_version: Literal[1] = 1
    position: SourcePosition
    uri: str
    version: int = Field(ge=1)
    story_id: str = Field(description="Resolved: the story it joins, or withdraws from.")
    withdrawal: bool = False
    duplicate_of: str | None = None
    merges: tuple[Absorbed, ...] = ()
    facts: FactsPosition


STAGE_CONTRACTS: tuple[type[Carried], ...] = (ArticleExtracted, ArticleAssigned)


# ---------------------------------------------------------------------------------------------
# The per-article dataclasses of the fold, to and from their models.


def summary_analysis(analysis: Analysis) -> SummaryAnalysis:
    return SummaryAnalysis.model_construct(
        lead=tuple(LeadSentence.model_construct(
            index=s.index, text=s.text, terms=s.terms, numbers=tuple(sorted(s.numbers)),
            negated=s.negated, words=s.words, eligible=s.eligible, names=s.names,
            has_figure=s.has_figure,
            keys=tuple(k & ((1 << _BAND_BITS) - 1) for k in s.keys),
            days=s.days, shown=s.shown,
        ) for s in analysis.lead),
        glued_headline=analysis.glued_headline,
        lead_terms=analysis.lead_terms,
        name_keys=analysis.name_keys,
        name_forms=tuple(NameForm.model_construct(key=k, display=d, kind=kind)
                         for k, (d, kind) in analysis.name_forms.items()),
        sentence_count=analysis.sentence_count,
        band_keys=tuple(_le(keys) for keys in analysis.band_keys),
        band_sentences=tuple(tuple(s) for s in analysis.band_sentences),
    )


def pack_summary(model: SummaryAnalysis) -> bytes:
    return pack(model.model_dump_json().encode())


def unpack_summary(packed: bytes) -> SummaryAnalysis:
    return SummaryAnalysis.model_validate_json(unpack(packed))


def analysis_from(model: SummaryAnalysis, packed_sentences: bytes) -> Analysis:
    """The ``Analysis`` the fold keeps, sharing ``packed_sentences`` (the article's sentences
    as its packed facts hold them)."""
    words = _interned
    return Analysis(
        lead=tuple(Sentence(
            index=s.index, text=s.text, terms=words(s.terms), numbers=numbers_set(s.numbers),
            negated=s.negated, eligible=s.eligible, names=words(s.names),
            has_figure=s.has_figure,
            keys=tuple((band << _BAND_BITS) | k for band, k in enumerate(s.keys)),
            days=s.days, shown=s.shown,
        ) for s in model.lead),
        glued_headline=model.glued_headline,
        lead_terms=words(model.lead_terms),
        name_keys=words(model.name_keys),
        # display forms interned as the keys are: a story's articles name the same people
        # and places, each analysis of its window held its own copy of each
        name_forms={_intern(f.key): (_intern(f.display), f.kind) for f in model.name_forms},
        sentence_count=model.sentence_count,
        packed_sentences=packed_sentences,
        band_keys=tuple(_from_le(keys) for keys in model.band_keys),
        band_sentences=tuple(array("I", s) for s in model.band_sentences),
    )


def timeline_features(prepared: TimelineInput) -> TimelineFeatures:
    return TimelineFeatures.model_construct(
        days=prepared.days,
        statements=tuple(TimelineStatement.model_construct(
            sentence=s.sentence, statement=s.statement, span=s.span, stated=s.stated,
            words=s.words,
            figures=tuple(TimelineFigure.model_construct(
                value=f.value, qualifier=f.qualifier, unit=f.unit, subject=f.subject,
                act=f.act)
                for f in s.figures),
        ) for s in prepared.statements),
    )


def timeline_input_from(model: TimelineFeatures) -> TimelineInput:
    return TimelineInput(
        days=shared_days(model.days),
        statements=tuple(_Statement(
            sentence=s.sentence, statement=s.statement, span=_shared_span(s.span),
            stated=s.stated, words=_interned(s.words),
            figures=tuple(_Figure(f.value, f.qualifier, _intern(f.unit), _intern(f.subject),
                                  _intern(f.act))
                          for f in s.figures),
        ) for s in model.statements),
    )


def _interned(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(map(_intern, values))


def _le(values: array[int]) -> bytes:
    return np.frombuffer(values, dtype=np.uint64).astype("<u8").tobytes()


def _from_le(data: bytes) -> array[int]:
    return array("Q", np.frombuffer(data, dtype="<u8").astype(np.uint64).tobytes())
