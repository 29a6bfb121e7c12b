"""The extract stage's tuning: every constant that shapes what is extracted from an article,
in one frozen object.

Chosen globally on the dev sets, never per document. Its digest is part of the extractor
version and so of the pipeline version (:mod:`storyline.domain.versions`): facts extracted
with other values are never taken for these. Limits that bound only cost or memory (cache
sizes) stay beside their code, listed in ``tests/unit/test_tuning.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExtractTuning:
    # An article's facts (sentences, dates, figures, names, and from them its summary
    # analysis and timeline statements) come from the first this many characters of its
    # body, about 10,000 words: more than a broadcast transcript or a long chronology
    # holds, so what is cut is web pages with their reader comments and the like (the
    # longest of the dev corpora, 671 kB, took ~0.4 s to extract, and the ordered fold held
    # every article behind it). Its story (clustering, duplicates) is still judged on the
    # whole text. A bound on cost chosen by size, not by score (docs/extraction.md).
    analysed_chars: int = 65_536
    # The per-article summary analysis (storyline.domain.extract.analysis)
    lead: int = 8  # sentences of each article that may enter the summary and the centroid
    summary_min_words: int = 8  # a summary sentence has this many words ...
    summary_max_words: int = 45  # ... to this many
    max_quoted_share: float = 0.5  # and at most this share of its characters in quotes
    glued_headline_words: int = 14  # a headline glued to its body is at most this long
    glued_caption_words: int = 30  # ... a caption glued to the text
    # Timeline statements (storyline.domain.extract.timeline_text)
    statement_min_words: int = 6
    statement_max_words: int = 45
    # Dates (storyline.domain.extract.temporal and timex_context)
    lookback_tokens: int = 4  # "the day before yesterday", "a couple of years ago"
    lookback_chars: int = 100
    # How much more a day after publication weighs than a day before it when choosing a
    # year: news mostly reports the past, unless the clause says otherwise ("will", "is due").
    future_weight: int = 4
    future_weight_with_cue: int = 1
    min_headings: int = 3  # dated headings that make a chronology without an announcement
    quarter_reach_chars: int = 1000  # a quarter stays the one the text is about this long
    antecedent_reach_chars: int = 1000  # an antecedent further back is not the one meant


EXTRACT = ExtractTuning()
