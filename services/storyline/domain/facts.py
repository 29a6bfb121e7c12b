"""Facts extracted from one article: the input of clustering, reconciliation and summaries.

These are value objects of the pure core (not Kafka contracts): they are recomputed from the
article on replay, so changing them needs a new ``EXTRACTOR_VERSION``, never an upcaster.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from storyline.domain.events import DatePrecision


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


class ArticleFacts(Fact):
    uri: str
    version: int
    extractor_version: str
    sentences: tuple[str, ...]
    dates: tuple[DateMention, ...]
    figures: tuple[Figure, ...]
    names: tuple[NameMention, ...]


class CitedArticle(Fact):
    """An article as a story sees it: its citation number, provenance and facts."""

    n: int  # citation number in the story, stable for the story's life (order of joining)
    uri: str
    version: int
    source: str
    headline: str | None
    published: datetime
    facts: ArticleFacts
    copy_of: int | None = None  # citation number of the original when this is a near-copy
