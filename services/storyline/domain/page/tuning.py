"""The page stage's tuning: every constant that shapes a story page, in one frozen object.

Chosen globally on the dev sets, never per story. Its digest is part of the pipeline
version (:func:`storyline.domain.versions.pipeline_version`), so a revision made with other
values never passes for one made with these: snapshots of other tuning are refused and
``replay --verify`` names both versions. The modules read these values (most as module
constants bound from :data:`PAGE`); limits that bound only cost or memory and never change
a byte (cache sizes, cold-store thresholds) stay beside their code, listed in
``tests/unit/test_tuning.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SummaryTuning:
    """The summary paragraphs (:mod:`storyline.domain.page.summary`)."""

    pool: int = 60  # candidates kept after cheap scoring: bounds the quadratic steps
    lead_bands: int = 2  # of the four LSH bands, for counting support among leads
    support_ranked: int = 240  # candidates whose support from other sources is counted
    candidate_articles: int = 120  # the most recent originals whose leads may be chosen
    # The most recent articles (in order of joining) the summary looks at at all: weights
    # and citations too. Bounds a revision's cost for any story size; an older article that
    # also carries a sentence is then not cited, never miscited.
    story_window: int = 240
    redundant: float = 0.5  # Jaccard of terms above which two candidates say the same thing
    theme_min: float = 0.25  # share of a candidate's distinctive weight a theme must cover
    seed_overlap: float = 0.5  # a new paragraph's seed shares less than this with themes
    support_containment: float = 0.85  # share of a sentence's terms another must hold
    support_jaccard: float = 0.6
    support_ratio: float = 0.75  # difflib ratio over the two word sequences
    key_phrase_words: int = 6
    # The latest development: originals published this close to the newest one; the first
    # paragraph opens with the best of their sentences.
    latest_span_hours: int = 24
    phrase_run: int = 5  # words at most in a label's noun phrase after a determiner
    # The cheap score of a lead sentence: centrality x position x recency x shared names.
    position_decay: float = 0.12  # position factor 1 / (1 + decay x sentence index)
    recency_bonus: float = 0.3  # x (1 + bonus x recency rank in [0, 1])
    shared_name_bonus: float = 0.08  # x (1 + bonus x names other articles carry, capped)
    shared_name_cap: float = 3.0
    support_bonus: float = 0.3  # x (1 + bonus x log2(1 + other sources that support it))
    # A lead sentence that originals of its own source, published on at least this many
    # different days, all lead with (word for word) is that source's page template (a
    # "related stories" line, a standing caption), not a report: never a candidate.
    template_days: int = 3
    # A candidate this close (Jaccard of terms) to a timeline entry on the page is worth
    # less: the page already shows it as a dated entry.
    on_timeline_jaccard: float = 0.7
    on_timeline_factor: float = 0.8
    name_feature_weight: float = 2.0  # a name counts this many terms in a theme's weight
    # A sentence's centrality is its terms' story weight over sqrt(max(its terms, this)):
    # shorter sentences are not preferred for having fewer terms to divide by (the title's
    # options are scored the same way).
    centrality_min_terms: int = 6
    figure_bonus: float = 1.05  # x this for a lead sentence that states a figure
    max_paragraphs: int = 4
    sentences_per_paragraph: int = 3
    # A paragraph's label is a noun phrase of at least label_min_words words, or a name of
    # at least label_name_min_chars characters (a person, place or organisation).
    label_min_words: int = 2
    label_name_min_chars: int = 3


@dataclass(frozen=True, slots=True)
class TitleTuning:
    """The page's title (:mod:`storyline.domain.page.title`)."""

    max_chars: int = 90
    min_words: int = 4
    keep: float = 0.8  # the previous title stays while it scores this share of the best
    lead_span_hours: int = 24  # the lead development: originals this close to the newest
    lead_floor: float = 0.4  # a lead option must score this share of the best to be title
    title_articles: int = 300  # most recent originals whose headlines or leads compete
    lead_sentences: int = 3
    cut_factor: float = 0.85  # a clause cut from a longer sentence reads less like a headline
    # The recent originals' headlines are the options when at least this share has one;
    # otherwise their lead sentences are.
    headline_share: float = 0.5


@dataclass(frozen=True, slots=True)
class SelectSettings:
    """Which days and statements a timeline shows (:mod:`storyline.domain.page.
    timeline_select`, shared by the page's index and the evaluation's ``build_timeline``).
    Chosen on the dev sets (docs/timelines.md)."""

    pub_weight: float = 0.5  # an article published on a day counts this much for the day
    proximity_days: int = 7  # mentions from articles published this close count fully
    far_weight: float = 0.5  # weight of mentions from articles published further away
    lead_sentences: int = 10  # opening statements of same-day articles are candidates
    redundancy: float = 0.3  # max cosine between two statements of one day
    length_prior: float = 0.0  # penalty per word beyond free_words, per 100 words
    free_words: int = 25
    same_day_weight: float = 1.0  # a mention of the article's own publication day
    relative_weight: float = 1.0  # a resolved mention ("on Tuesday") next to a stated one
    lead_days: int = 1  # articles published on the day or this many days after it
    future_weight: float = 1.0  # a mention of a day after publication: a plan, not an event
    volume_alpha: float = 0.2  # divide by (articles published within volume_days)^alpha
    volume_days: int = 3
    mention_boost: float = 0.0  # added to the centroid score of statements naming the day
    idf_by_day: bool = False  # document frequency counts days rather than statements
    repeat_weight: float = 0.0  # extra weight of each repeated mention within one article
    retro_weight: float = 1.6  # a mention of a day before publication: looked back on
    retro_min_days: int = 1  # ... at least this many days before
    retro_max_days: int = 100000  # ... and at most this many
    retro_stated_only: bool = False  # only explicit dates ("April 20") count as looking back
    inferred_near_weight: float = 1.0  # "today"/"yesterday"/"on Monday": within a day of pub
    compress: bool = False  # drop trailing elaboration clauses and attribution
    compress_min_words: int = 8
    story_weight: float = 0.1  # weight of the similarity to the whole story's centroid
    ideal_words: int = 0  # when set, penalise |words - ideal| per 100 words by length_prior
    ahead_penalty: float = 0.15  # subtracted from the score of a statement about a later day
    headlines: bool = True  # headlines of articles published on the day (or after) compete
    position_bonus: float = 0.0  # added to a statement's score / (1 + its sentence index)
    idf_power: float = 1.0  # IDF raised to this power: >1 favours day-specific words more
    pronoun_penalty: float = 0.0  # a statement opening with a pronoun does not stand alone
    # A statement recalling its day from a later article is a summary of what happened (on
    # the dev sets its ROUGE against the gold is ~2-4x that of other candidates): a bonus when
    # the article came out more than recall_far_days after the day, a smaller one from 2 days.
    recall_far_bonus: float = 0.1
    recall_near_bonus: float = 0.05
    recall_far_days: int = 7
    recall_near_days: int = 2
    headline_min_words: int = 5  # a shorter headline ("Oil spill") is no statement of the day


@dataclass(frozen=True, slots=True)
class TimelineTuning:
    """The page's timeline (:mod:`storyline.domain.page.timeline`)."""

    same_event: float = 0.34  # Dice of content words for statements with overlapping dates
    min_shared: int = 3  # ... and at least this many shared words
    same_event_other_day: float = 0.6  # ... for statements dated differently: a conflict
    conflict_days: int = 3  # how far apart two day dates of one event may be
    compare_members: int = 6  # an event is matched against its first members only
    centrality_panel: int = 20
    figure_panel: int = 20
    same_figure_claim: float = 0.5  # Dice above which two statements claim the same thing
    per_day: int = 1  # entries that share a day on the page: one, the most salient
    small_sources: int = 8
    # The event's representative statement: central, then short-ish: each word beyond
    # long_statement_words costs long_statement_penalty of centrality.
    long_statement_words: int = 30
    long_statement_penalty: float = 0.01
    # An event's salience: its sources + mention_weight x log(1 + mentions of its day) +
    # centrality + day_precision_bonus when dated to a day.
    mention_weight: float = 0.5
    day_precision_bonus: float = 0.5
    select: SelectSettings = field(default_factory=SelectSettings)


@dataclass(frozen=True, slots=True)
class PageTuning:
    summary: SummaryTuning = field(default_factory=SummaryTuning)
    title: TitleTuning = field(default_factory=TitleTuning)
    timeline: TimelineTuning = field(default_factory=TimelineTuning)
    timeline_limit: int = 12  # entries on a page: the reference page shows nine


PAGE = PageTuning()
