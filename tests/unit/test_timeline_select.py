"""Date ranking and statement compression of the evaluation view (``build_timeline``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from storyline.domain.events import DatePrecision
from storyline.domain.extract.timeline_text import compress_statement
from storyline.domain.facts import ArticleFacts, CitedArticle, DateMention, TimeSpan
from storyline.domain.page.timeline_select import SETTINGS, rank_dates


def _mentioning(n: int, day: date, published: date) -> CitedArticle:
    label = f"{day:%B} {day.day}"
    text = f"The rig number {n} exploded in the Gulf of Mexico on {label}."
    start = text.index(label)
    mention = DateMention(span=TimeSpan(start=day, end=day, precision=DatePrecision.DAY),
                          text=label, sentence=0, char_start=start,
                          char_end=start + len(label), stated=True)
    facts = ArticleFacts(uri=f"urn:t:{n}", version=1, extractor_version="test",
                         sentences=(text,), dates=(mention,), figures=(), names=())
    return CitedArticle(n=n, uri=f"urn:t:{n}", version=1, source=f"outlet{n}", headline=None,
                        published=datetime(published.year, published.month, published.day,
                                           tzinfo=UTC), facts=facts)


def test_a_day_looked_back_on_outranks_one_announced_ahead() -> None:
    """Same number of sources each; mentions written after the day weigh more than
    mentions written before it (a plan is not yet an event)."""
    past, ahead = date(2010, 4, 20), date(2010, 4, 30)
    pub = date(2010, 4, 25)
    articles = [_mentioning(1, past, pub), _mentioning(2, ahead, pub)]
    ranked = dict(rank_dates(articles, None, None))
    assert ranked[past] > ranked[ahead]
    neutral = dict(rank_dates(articles, None, None,
                              replace(SETTINGS, retro_weight=1.0)))
    assert neutral[past] == neutral[ahead]


def test_compression_drops_trailing_elaboration_and_attribution() -> None:
    assert compress_statement(
        "BP said it had capped the leaking well, which ended 87 days of oil flowing into the "
        "Gulf.") == "BP said it had capped the leaking well."
    assert compress_statement(
        "The Coast Guard suspended the search for 11 missing workers, officials said."
    ) == "The Coast Guard suspended the search for 11 missing workers."


def test_compression_keeps_a_short_core_whole() -> None:
    sentence = "Obama visited the coast, which he had promised to do for weeks."
    assert compress_statement(sentence) == sentence
