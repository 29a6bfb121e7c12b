"""Fact extraction: one article in, its sentences, dates, figures and names out.

Pure and deterministic: the same article always yields the same ``ArticleFacts``, so facts
can be recomputed on replay. Bump ``EXTRACTOR_CODE`` whenever the code changes what it
outputs; the tuning's digest is part of ``EXTRACTOR_VERSION`` by itself.
"""

from __future__ import annotations

import unicodedata

from storyline.domain.canonical import tuning_digest
from storyline.domain.events import ArticleReceived
from storyline.domain.extract.figures import find_figures
from storyline.domain.extract.names import find_names, name_rows
from storyline.domain.extract.temporal import find_dates
from storyline.domain.extract.text import Document, analysed_part, split_sentences
from storyline.domain.extract.tuning import EXTRACT
from storyline.domain.facts import ArticleFacts, NameMention, NameRow

EXTRACTOR_CODE = "extract-25"
# What a character is (a capital, a letter, a word character, its case fold) is the
# interpreter's Unicode database: another one (a newer Python) may read some characters
# otherwise, so a replay on it is another extractor, told apart in the version.
EXTRACTOR_VERSION = (f"{EXTRACTOR_CODE}+{tuning_digest(EXTRACT)}"
                     f"+unicode-{unicodedata.unidata_version}")


def extract_facts(article: ArticleReceived) -> ArticleFacts:
    """Sentences of the body (headline excluded) with the facts found in them; of its first
    ``EXTRACT.analysed_chars`` characters, ended at a sentence's end."""
    doc = Document(split_sentences(analysed_part(article.body, EXTRACT.analysed_chars)))
    published = article.published.date()
    dates = find_dates(doc, published)
    date_spans = [
        (doc.starts[d.sentence] + d.char_start, doc.starts[d.sentence] + d.char_end) for d in dates
    ]
    figures = find_figures(doc, date_spans)
    return ArticleFacts(
        uri=article.uri,
        version=article.version,
        extractor_version=EXTRACTOR_VERSION,
        sentences=doc.sentences,
        dates=tuple(dates),
        figures=tuple(figures),
        names=tuple(find_names(doc)),
    )


def analysed_in_part(article: ArticleReceived) -> bool:
    """Whether :func:`extract_facts` reads only the first part of ``article``'s body."""
    return len(article.body) > EXTRACT.analysed_chars


def clustering_facts(article: ArticleReceived, facts: ArticleFacts) -> ArticleFacts:
    """``facts`` as story placement reads them (``clustering_features``): who an article is
    about is judged on its whole body, as its terms and shingles are, so an article longer
    than the analysed part gets the names of all of it (a 680 kB page's reader comments
    name the people its story is about, and placement without them merged two of the dev
    sets' stories); ``facts`` themselves otherwise."""
    rows = clustering_name_rows(article)
    if rows is None:
        return facts
    return facts.model_copy(update={"names": tuple(
        NameMention(canonical=canonical, display=display, kind=kind, count=count,
                    first_sentence=first_sentence)
        for canonical, display, kind, count, first_sentence in rows)})


def clustering_name_rows(article: ArticleReceived) -> list[NameRow] | None:
    """The names of ``clustering_facts`` as ``names.name_rows`` (the whole body's) when
    they are not those of the article's facts, else None: what ``clustering_features``
    reads, without a model a name."""
    if not analysed_in_part(article):
        return None
    return name_rows(Document(split_sentences(article.body)))
