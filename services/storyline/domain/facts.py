"""Facts extracted from one article: the input of clustering, reconciliation and summaries.

These are value objects of the pure core (not Kafka contracts): they are recomputed from the
article on replay, so changing them needs a new ``EXTRACTOR_VERSION``, never an upcaster.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from storyline.domain.events import DatePrecision
from storyline.domain.fieldsets import shared_fields_set
from storyline.domain.packing import pack, unpack


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimeSpan(Fact):
    """A calendar period: [start, end] inclusive, at the precision the source stated it."""

    start: date
    end: date
    precision: DatePrecision


class DateMention(Fact):
    span: TimeSpan
    text: str  # the expression as written: "Dec. 12", "last week"
    sentence: int  # index into ArticleFacts.sentences
    char_start: int  # offsets of ``text`` inside that sentence
    char_end: int
    stated: bool  # False when resolved against the publication time ("yesterday")


class Qualifier(StrEnum):
    EXACTLY = "exactly"
    ABOUT = "about"
    MORE_THAN = "more_than"
    AT_LEAST = "at_least"
    LESS_THAN = "less_than"
    AT_MOST = "at_most"


class Figure(Fact):
    value: float
    qualifier: Qualifier
    unit: str  # "USD", "%", "people", or the counted noun: "troops", "engineers"
    subject: str  # what the number is about, as short as the sentence allows
    text: str
    sentence: int


class NameKind(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    PLACE = "place"
    OTHER = "other"


class NameMention(Fact):
    canonical: str  # alias-reconciled key: "kim jong un" for "Kim Jong-un" and "Kim Jong Un"
    display: str  # the most complete surface form seen in this article
    kind: NameKind
    count: int  # mentions in the article
    first_sentence: int


# A NameMention's fields as a tuple, in its order (``extract.names.name_rows``): canonical,
# display, kind, count, first_sentence.
NameRow = tuple[str, str, NameKind, int, int]


class ArticleFacts(Fact):
    uri: str
    version: int
    extractor_version: str
    sentences: tuple[str, ...]
    dates: tuple[DateMention, ...]
    figures: tuple[Figure, ...]
    names: tuple[NameMention, ...]


class ColdFacts(ArticleFacts):
    """An article's facts as a story keeps them after folding it: the first sentence (the page
    lists an article without a headline by it) and the whole facts packed (pickled, then
    :mod:`storyline.domain.packing`; about 8 kB for a 13 kB article whose facts take 130 kB as
    objects), the sentences apart (``packed_sentences``, which the summary's analysis of the
    article shares). ``dates``, ``figures`` and ``names`` are empty and ``sentences`` holds only
    the first; :func:`full_facts` gives the facts themselves. Withdrawn articles keep no packed
    copy (both empty): nothing reads their facts again. After its revision the packed parts go
    to the cold store (:func:`storyline.domain.page.story.store_facts`): in the summary window
    the article keeps only its packed sentences (:meth:`windowed`), outside it the shared
    :data:`STORED` as its facts, as nothing reads them unless it comes back into the window
    (:meth:`restored`)."""

    packed: bytes  # pack(pickle(the facts without their sentences))
    packed_sentences: bytes  # pack(pickle(tuple of the sentences))
    # pack(JSON) of the article's SummaryAnalysis as the extract stage made it: a summary
    # memo rebuilt after a thaw or a drop unpacks it (~0.6 ms) instead of analysing the
    # facts again (~12 ms an article); empty when the fold was not given one
    packed_analysis: bytes = b""
    stored: bool = False  # the three are empty here, kept in the cold store

    @classmethod
    def pack(cls, facts: ArticleFacts, *, keep: bool = True) -> ColdFacts:
        if keep:
            facts = full_facts(facts)
        # the values come from validated facts; one fields-set object for all (frozen
        # models never add to it) instead of a set per article
        return cls.model_construct(
            _COLD_FIELDS,
            uri=facts.uri,
            version=facts.version,
            extractor_version=facts.extractor_version,
            sentences=facts.sentences[:1],
            dates=(),
            figures=(),
            names=(),
            packed=_pack(facts.model_copy(update={"sentences": ()})) if keep else b"",
            packed_sentences=pack_sentences(facts.sentences) if keep else b"",
            packed_analysis=b"",
            stored=False,
        )

    def with_analysis(self, packed_analysis: bytes) -> ColdFacts:
        return shared_fields_set(self.model_copy(update={"packed_analysis": packed_analysis}))

    def windowed(self) -> ColdFacts:
        """These facts once their packed parts are in the cold store too, while the article
        is in its story's summary window: the packed sentences stay (its analysis shares
        them), the packed facts and analysis are read from the store when needed."""
        return shared_fields_set(self.model_copy(update={"packed": b"", "packed_analysis": b""}))

    @classmethod
    def restored(cls, packed: bytes, packed_sentences: bytes, packed_analysis: bytes
                 ) -> ColdFacts:
        """The facts an article kept before they went to the cold store (``STORED``), from
        the three packed parts that went there."""
        facts = pickle.loads(unpack(packed))  # packed by this process's code
        if not isinstance(facts, ArticleFacts):
            raise TypeError(f"packed facts are a {type(facts).__name__}")
        return cls.model_construct(
            _COLD_FIELDS,
            uri=facts.uri,
            version=facts.version,
            extractor_version=facts.extractor_version,
            sentences=unpack_sentences(packed_sentences)[:1],
            dates=(),
            figures=(),
            names=(),
            packed=packed,
            packed_sentences=packed_sentences,
            packed_analysis=packed_analysis,
            stored=False,
        )

    def unpack(self) -> ArticleFacts:
        if self.stored:
            raise ValueError(f"the facts of {self.uri} v{self.version} are in the cold store: "
                             "bring them back first (story.restore_window_facts)")
        if not self.packed:
            where = "are in the cold store" if self.packed_sentences else "were not kept"
            raise ValueError(f"the facts of {self.uri} v{self.version} {where}")
        facts = pickle.loads(unpack(self.packed))  # packed by this process's code
        if not isinstance(facts, ArticleFacts):
            raise TypeError(f"packed facts of {self.uri} are a {type(facts).__name__}")
        return facts.model_copy(update={"sentences": unpack_sentences(self.packed_sentences)})


def _pack(value: object) -> bytes:
    return pack(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def pack_sentences(sentences: tuple[str, ...]) -> bytes:
    return _pack(sentences)


def unpack_sentences(packed: bytes) -> tuple[str, ...]:
    sentences = pickle.loads(unpack(packed))  # packed by this process's code
    if not isinstance(sentences, tuple):
        raise TypeError(f"packed sentences are a {type(sentences).__name__}")
    return sentences


_COLD_FIELDS = set(ColdFacts.model_fields)

# What every article of a story keeps as its facts once they are in the cold store: one
# shared object instead of a copy per article (with its first sentence, ~1.6 kB), as an
# article outside the summary window is read only for its citation data; its first
# sentence (the list shows it for an article without a headline) is read from the store on
# the rare revision that lists it anew (story.build_revision). Which article it belongs to
# is its CitedArticle's (uri, version), the store's key.
STORED = ColdFacts.model_construct(
    _COLD_FIELDS, uri="", version=0, extractor_version="", sentences=(), dates=(), figures=(),
    names=(), packed=b"", packed_sentences=b"", packed_analysis=b"", stored=True)


def full_facts(facts: ArticleFacts) -> ArticleFacts:
    """The article's whole facts, unpacked when a story keeps them packed."""
    return facts.unpack() if isinstance(facts, ColdFacts) else facts


@dataclass(frozen=True, slots=True)
class CitedArticle:
    """An article as a story sees it: its citation number, provenance and facts.

    A plain frozen record, not a pydantic model: a story keeps one for each of its articles
    for its whole life, and a model's ``__dict__`` was ~290 of its ~540 bytes (an article
    outside the summary window shares its facts, STORED). Its values come from an article
    the contracts validated; it is never read from or written to JSON."""

    n: int  # citation number in the story, stable for the story's life (order of joining)
    uri: str
    version: int
    source: str
    headline: str | None
    published: datetime
    facts: ArticleFacts  # ColdFacts in a story's state: read them through full_facts()
    copy_of: int | None = None  # citation number of the original when this is a near-copy
    url: str | None = None  # its web address (events.web_address), None when it has none
