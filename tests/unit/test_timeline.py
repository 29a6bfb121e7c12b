"""Timeline reconciliation: one entry per event across sources, precise dates, conflicts kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.events import DatePrecision
from storyline.domain.extract.timeline_input import _Statement
from storyline.domain.extract.timeline_text import (
    dated_candidates,
    is_statement,
    strip_dates,
    trim_statement,
)
from storyline.domain.facts import (
    ArticleFacts,
    CitedArticle,
    DateMention,
    Figure,
    Qualifier,
    TimeSpan,
)
from storyline.domain.page.timeline import (
    CONFLICT_DAYS,
    DAY_SETTINGS,
    TimelineIndex,
    _dates_entry,
    _Event,
    _Member,
    _summarise,
    _summary_of_many,
    _summary_of_one,
    build_timeline,
    date_label,
    pages_rank_days_like_build_timeline,
)
from storyline.domain.page.timeline_select import rank_dates
from storyline.domain.page.tuning import SelectSettings

DAY = DatePrecision.DAY


def span(start: date, end: date | None = None, precision: DatePrecision = DAY) -> TimeSpan:
    return TimeSpan(start=start, end=end or start, precision=precision)


def article(
    n: int,
    sentences: list[str],
    dates: list[tuple[int, str, TimeSpan]],
    *,
    figures: list[tuple[int, str, float, str, str]] = (),  # type: ignore[assignment]
    copy_of: int | None = None,
    published: date = date(2010, 4, 25),
    uri: str | None = None,
) -> CitedArticle:
    """An article with hand-made facts; each date/figure is located by its text."""
    uri = uri or f"urn:test:{n}"
    mentions = []
    for index, text, when in dates:
        start = sentences[index].index(text)
        mentions.append(DateMention(span=when, text=text, sentence=index, char_start=start,
                                    char_end=start + len(text), stated=True))
    figs = tuple(
        Figure(value=value, qualifier=Qualifier.EXACTLY, unit=unit, subject=subject, text=text,
               sentence=index)
        for index, text, value, unit, subject in figures
    )
    facts = ArticleFacts(uri=uri, version=1, extractor_version="test", sentences=tuple(sentences),
                         dates=tuple(mentions), figures=figs, names=())
    return CitedArticle(n=n, uri=uri, version=1, source=f"outlet{n}", headline=None,
                        published=datetime(published.year, published.month, published.day,
                                           tzinfo=UTC),
                        facts=facts, copy_of=copy_of)


BLAST_A = ("The Deepwater Horizon rig exploded in the Gulf of Mexico on April 20, "
           "killing 11 workers.")
BLAST_B = ("On April 20 the Deepwater Horizon rig exploded in the Gulf of Mexico, "
           "killing 11 workers.")
SINK = "The burning Deepwater Horizon platform sank to the sea floor on April 22 after two days."


def test_same_event_from_two_sources_is_one_entry_citing_both() -> None:
    index = TimelineIndex()
    index.add(article(1, [BLAST_A], [(0, "April 20", span(date(2010, 4, 20)))]))
    index.add(article(2, [BLAST_B], [(0, "April 20", span(date(2010, 4, 20)))]))
    index.add(article(3, [SINK], [(0, "April 22", span(date(2010, 4, 22)))]))
    entries = index.entries(10)
    assert [e.date for e in entries] == [date(2010, 4, 20), date(2010, 4, 22)]
    blast = entries[0]
    assert [c.n for c in blast.citations] == [1, 2]
    assert [c.uri for c in blast.citations] == ["urn:test:1", "urn:test:2"]
    assert blast.independent_sources == 2
    assert blast.conflicts == ()
    assert "April 20" not in blast.text and "exploded" in blast.text
    assert entries[1].independent_sources == 1


def test_most_precise_date_wins() -> None:
    vague = "The Deepwater Horizon rig exploded in the Gulf of Mexico in April, killing 11 workers."
    index = TimelineIndex()
    index.add(article(1, [vague], [(0, "April", span(date(2010, 4, 1), date(2010, 4, 30),
                                                     DatePrecision.MONTH))]))
    assert index.entries(5)[0].date_precision is DatePrecision.MONTH
    index.add(article(2, [BLAST_A], [(0, "April 20", span(date(2010, 4, 20)))]))
    (entry,) = index.entries(5)
    assert (entry.date, entry.date_end, entry.date_precision) == (date(2010, 4, 20),
                                                                  date(2010, 4, 20), DAY)
    assert entry.date_label == "Apr 20, 2010"
    assert [c.n for c in entry.citations] == [1, 2]
    assert entry.conflicts == ()  # April contains April 20: no disagreement


def test_conflicting_dates_are_kept_with_their_sources() -> None:
    other = BLAST_A.replace("April 20", "April 21")
    index = TimelineIndex()
    index.add(article(1, [BLAST_A], [(0, "April 20", span(date(2010, 4, 20)))]))
    index.add(article(2, [BLAST_B], [(0, "April 20", span(date(2010, 4, 20)))]))
    index.add(article(3, [other], [(0, "April 21", span(date(2010, 4, 21)))]))
    (entry,) = index.entries(5)
    assert entry.date == date(2010, 4, 20)  # two sources against one
    sides = {c.value: c.citations for c in entry.conflicts if c.kind == "date"}
    assert sides == {"Apr 20, 2010": (1, 2), "Apr 21, 2010": (3,)}


def test_conflicting_figures_are_kept_with_their_sources() -> None:
    twelve = BLAST_B.replace("11 workers", "12 workers")
    index = TimelineIndex()
    index.add(article(1, [BLAST_A], [(0, "April 20", span(date(2010, 4, 20)))],
                      figures=[(0, "11 workers", 11, "workers", "workers")]))
    index.add(article(2, [twelve], [(0, "April 20", span(date(2010, 4, 20)))],
                      figures=[(0, "12 workers", 12, "workers", "workers")]))
    (entry,) = index.entries(5)
    figures = [(c.value, c.citations) for c in entry.conflicts if c.kind == "figure"]
    assert figures == [("11 workers", (1,)), ("12 workers", (2,))]


def test_same_figure_from_two_sources_is_no_conflict() -> None:
    index = TimelineIndex()
    for n, text in ((1, BLAST_A), (2, BLAST_B)):
        index.add(article(n, [text], [(0, "April 20", span(date(2010, 4, 20)))],
                          figures=[(0, "11 workers", 11, "workers", "workers")]))
    assert index.entries(5)[0].conflicts == ()


def test_copies_do_not_count_as_independent_sources() -> None:
    index = TimelineIndex()
    index.add(article(1, [BLAST_A], [(0, "April 20", span(date(2010, 4, 20)))]))
    index.add(article(2, [BLAST_A], [(0, "April 20", span(date(2010, 4, 20)))], copy_of=1))
    (entry,) = index.entries(5)
    assert [c.n for c in entry.citations] == [1, 2]
    assert entry.independent_sources == 1


def test_more_sources_outrank_one_when_the_page_is_full() -> None:
    lone = "A small protest against offshore drilling was held outside the BP headquarters today."
    index = TimelineIndex()
    index.add(article(1, [lone], [(0, "today", span(date(2010, 4, 24)))]))
    index.add(article(2, [BLAST_A], [(0, "April 20", span(date(2010, 4, 20)))]))
    index.add(article(3, [BLAST_B], [(0, "April 20", span(date(2010, 4, 20)))]))
    (entry,) = index.entries(1)
    assert entry.date == date(2010, 4, 20)


def test_entry_id_is_stable_as_sources_join() -> None:
    index = TimelineIndex()
    index.add(article(1, [BLAST_A], [(0, "April 20", span(date(2010, 4, 20)))]))
    first = index.entries(5)[0].entry_id
    index.add(article(2, [BLAST_B], [(0, "April 20", span(date(2010, 4, 20)))]))
    assert index.entries(5)[0].entry_id == first


def test_remove_withdraws_citations_and_correction_replaces_them() -> None:
    index = TimelineIndex()
    index.add(article(1, [BLAST_A], [(0, "April 20", span(date(2010, 4, 20)))]))
    index.add(article(2, [BLAST_B], [(0, "April 20", span(date(2010, 4, 20)))]))
    index.remove("urn:test:2")
    assert [c.n for c in index.entries(5)[0].citations] == [1]
    index.remove("urn:test:1")
    assert index.entries(5) == ()
    index.remove("urn:test:unknown")  # a no-op, not an error


# A pool of articles about a handful of events, to combine freely.
EVENTS = [
    (BLAST_A, "April 20", date(2010, 4, 20)),
    (BLAST_B, "April 20", date(2010, 4, 20)),
    (SINK, "April 22", date(2010, 4, 22)),
    ("BP chief executive Tony Hayward testified before a congressional committee on June 17.",
     "June 17", date(2010, 6, 17)),
    ("Engineers fitted a new containment cap over the leaking well on July 15, stopping the oil.",
     "July 15", date(2010, 7, 15)),
    ("The leaking well was fitted with a containment cap on July 15 and the oil stopped.",
     "July 15", date(2010, 7, 15)),
]


def pool_article(n: int, event: int, published: int = 0) -> CitedArticle:
    """Article ``n`` reporting EVENTS[event], published ``published`` days after it."""
    text, when_text, when = EVENTS[event]
    return article(n, [text], [(0, when_text, span(when))],
                   published=when + timedelta(days=published))


sequences = st.lists(st.integers(0, len(EVENTS) - 1), min_size=1, max_size=8)
# (event, days from the event to its article's publication)
published_sequences = st.lists(st.tuples(st.integers(0, len(EVENTS) - 1), st.integers(0, 12)),
                               min_size=1, max_size=8)


def _day_state(index: TimelineIndex) -> tuple[object, ...]:
    return (index.day_ranking(), index._day_rank, index._day_mentions, index._day_sources,
            index._published)


@settings(max_examples=60, deadline=None)
@given(events=published_sequences, extra=st.tuples(st.integers(0, len(EVENTS) - 1),
                                                  st.integers(0, 12)),
       limit=st.integers(1, 6))
def test_add_then_remove_restores_the_entries(events: list[tuple[int, int]],
                                              extra: tuple[int, int], limit: int) -> None:
    index, never = TimelineIndex(), TimelineIndex()
    for n, (event, after) in enumerate(events, start=1):
        index.add(pool_article(n, event, after))
        never.add(pool_article(n, event, after))
    before = index.entries(limit)
    index.add(pool_article(len(events) + 1, *extra))
    index.remove(f"urn:test:{len(events) + 1}")
    assert index.entries(limit) == before == never.entries(limit)
    # the day ranking too is exactly that of never having added the article
    assert _day_state(index) == _day_state(never)


@settings(max_examples=60, deadline=None)
@given(events=published_sequences, copies=st.lists(st.integers(0, 7), max_size=4))
def test_the_day_ranking_is_build_timelines(events: list[tuple[int, int]],
                                            copies: list[int]) -> None:
    """Kept as articles join (copies counting as their original), the page's day ranking is
    ``rank_dates`` of the same articles, and each page entry is on one of its best days."""
    index = TimelineIndex()
    added: list[CitedArticle] = []
    for n, (event, after) in enumerate(events, start=1):
        cited = pool_article(n, event, after)
        if n - 1 in copies and added:
            cited = replace(cited, copy_of=added[-1].copy_of or added[-1].n)
        added.append(cited)
        index.add(cited)
        assert index.day_ranking() == rank_dates(added, None, None)
    entries = index.entries(3)
    ranked = [day for day, _ in index.day_ranking()]
    event_days = {e.date for e in index.entries(100)}
    best = [day for day in ranked if day in event_days][:3]
    assert sorted(e.date for e in entries) == sorted(best)


def test_the_page_ranks_days_with_build_timelines_settings() -> None:
    """The index keeps the days an article mentions, not how: the settings must not weigh
    written-out and resolved dates differently, nor repeats (else carry them in
    TimelineInput)."""
    assert pages_rank_days_like_build_timeline(DAY_SETTINGS)
    assert not pages_rank_days_like_build_timeline(SelectSettings(relative_weight=0.5))


@settings(max_examples=40, deadline=None)
@given(events=sequences)
def test_entries_are_a_function_of_the_input_sequence(events: list[int]) -> None:
    first, second = TimelineIndex(), TimelineIndex()
    for n, event in enumerate(events, start=1):
        first.add(pool_article(n, event))
        second.add(pool_article(n, event))
    assert first.entries(10) == second.entries(10)
    dates = [e.date for e in first.entries(10)]
    assert dates == sorted(dates)
    assert len(set(dates)) == len(dates)  # one entry a day on the page


def test_statements_drop_fillers_and_keep_attribution() -> None:
    assert trim_statement("But meanwhile, officials said the leak had stopped.") == (
        "Officials said the leak had stopped.")
    assert trim_statement("Ukrainian intelligence says the troops moved north.") == (
        "Ukrainian intelligence says the troops moved north.")
    # an entity a feed left in its text reads as the character, as in the summary
    assert trim_statement("The R&amp;B star pleaded not guilty &#8211; again.") == (
        "The R&B star pleaded not guilty – again.")
    assert not is_statement("Will the cap hold when the hurricane season arrives in June?")
    assert not is_statement('"We will make this right," he said on Monday in Houston, Texas.')
    assert not is_statement("At 21:31 21st Jun 2010, Ebi35 wrote: It is a great shame indeed.")
    assert not is_statement("Too short on Monday.")


def test_a_statement_is_prose() -> None:
    # a byline, a listing, a programme's heading, a shouted line: no lower-case word but
    # joining words
    for line in ("Fareed Zakaria Washington Post, August 12",
                 "Karen Yourish and Laura Stanton - The Washington Post, September 30, 2008",
                 "Richard Thompson Barbican Hall, London, Thursday 15th; Corn Exchange, Friday",
                 "Egypt Standoff Continues; Hosni Mubarak's Fortune Aired February 7, 2011 - "
                 "18:00 ET THIS IS A RUSH TRANSCRIPT.",
                 "IF THIS WERE ON LAND, IT WOULD HAVE BEEN PLUGGED A MONTH AGO."):
        assert not is_statement(line), line
    # a sentence dense with names still has its verb
    assert is_statement("Coast Guard Commandant Thad Allen retired Tuesday after 39 years.")
    assert is_statement("Nigerian President Olusegun Obasanjo ordered Taylor's arrest on Monday.")


def test_live_blog_stamps_and_reader_comments_are_not_news() -> None:
    assert trim_statement(
        "(Update 12:40 p.m. Cairo, 5:40 a.m. ET) Protesters said they plan a march Tuesday."
    ) == "Protesters said they plan a march Tuesday."
    assert trim_statement(
        "(Updated 5:45 p.m. (0045 in Egypt)) Protesters in Cairo are calling for him to leave."
    ) == "Protesters in Cairo are calling for him to leave."
    assert trim_statement("2:30 pm ET - Anti-government protests are not limited to Egypt.") == (
        "Anti-government protests are not limited to Egypt.")
    assert not is_statement("5:49 pm | All foreign aid to the government must stop now!!")
    assert not is_statement("7:46 pm | Reply February 8, 2011 at 7:01 pm | Reply He did well.")
    # A clock time inside the news is not a stamp.
    assert is_statement("The talks ended at 5:30 pm without a deal on the aid package.")
    assert trim_statement("The talks ended at 5:30 pm without a deal.") == (
        "The talks ended at 5:30 pm without a deal.")
    assert not is_statement(
        "Earl | September 24, 2008 3:33 PM | Report abuse Obama should move the debate.")


def test_the_articles_own_record_is_not_news() -> None:
    # print-edition notes and corrections date the article, not an event of the story
    for line in (
        "This article appeared on p28 of the Main section section of the Guardian on 00.01 "
        "BST on Monday 27 April 2009.",
        "A version appeared on p7 of the Main section section of the Guardian on Saturday 2 "
        "May 2009.",
        "A version of this article appeared in print on March 3, 2011, on page A1 of the New "
        "York edition.",
        "It was published on guardian.co.uk at 00.38 BST on Saturday 2 May 2009 after the vote.",
        "This article was amended on 8 May 2010 to correct the figure given for BP's revenues.",
        "This story was corrected on 14 March 2012 because the original gave the wrong date.",
    ):
        assert not is_statement(line), line
    # the same words about the news are news
    assert is_statement("Taylor appeared in court on Monday for the first day of his trial.")
    assert is_statement("The report was published on Tuesday and blamed BP for the spill.")
    assert is_statement("The photograph appeared on page one of every paper on Friday morning.")


def test_picture_credits_in_front_are_dropped() -> None:
    assert trim_statement(
        "(AP Photo/Charles Dharapak) (Charles Dharapak - AP) President Bush makes a statement."
    ) == "President Bush makes a statement."
    assert trim_statement("(By Keith Bedford--Bloomberg News) Citigroup executives met.") == (
        "Citigroup executives met.")
    assert trim_statement("(Reuters) - BP said it would pay.") == "BP said it would pay."


def test_no_orphans_of_a_removed_date_or_a_cut_quotation_are_left_in_front() -> None:
    hearing = "May 11/12 - Executives from BP appear at congressional hearings in Washington."
    assert trim_statement(strip_dates(hearing, [(0, 6)])) == (
        "Executives from BP appear at congressional hearings in Washington.")
    assert trim_statement("...The disclosure undercuts a remark by Mr. McCain.") == (
        "The disclosure undercuts a remark by Mr. McCain.")


def _stripped(sentence: str, *dates: str) -> str:
    spans = [(sentence.index(d), sentence.index(d) + len(d)) for d in dates]
    return trim_statement(strip_dates(sentence, spans))


def test_a_removed_date_takes_the_commas_that_were_its_own() -> None:
    # the comma that closed "Monday, March 16," goes when the clause goes on after it
    assert _stripped("Applications open on Monday, March 16, at the Kesterby town hall.",
                     "Monday, March 16") == "Applications open at the Kesterby town hall."
    assert _stripped("The union will return to talks on Monday, March 9, with a mediator, "
                     "the city said.", "Monday, March 9") == (
        "The union will return to talks with a mediator, the city said.")
    assert _stripped("That hiatus ended on May 10, 1940, when Hitler invaded Belgium.",
                     "May 10, 1940") == "That hiatus ended when Hitler invaded Belgium."
    # before an attribution the comma is the sentence's own
    assert _stripped("Talks collapsed on Tuesday, March 3, the union said.",
                     "Tuesday, March 3") == "Talks collapsed, the union said."
    # a comma left before the full stop closed an apposition the date ended
    assert _stripped("The cries followed a request from Sir Jeremy Greenstock, British "
                     "ambassador to the UN, on Wednesday.", "Wednesday") == (
        "The cries followed a request from Sir Jeremy Greenstock, British ambassador to the UN.")
    # credits in front: the date opened the sentence
    assert _stripped("(Download Audio File) On March 12, 1933, Roosevelt delivers the first "
                     "of his fireside chats.", "March 12, 1933") == (
        "Roosevelt delivers the first of his fireside chats.")


def test_a_date_that_is_one_end_of_a_range_or_list_stays() -> None:
    school = "English said the girl attended school on Wednesday to Friday last week."
    assert _stripped(school, "Wednesday") == school
    hearings = "Lawmakers released a letter ahead of hearings on Tuesday and Thursday."
    assert _stripped(hearings, "Tuesday") == hearings
    # "and" joining another clause is no list of dates
    assert _stripped("Verizon will take pre-orders on Feb. 3 and sell it in stores later.",
                     "Feb. 3") == "Verizon will take pre-orders and sell it in stores later."


def test_page_stamps_and_datelines_left_in_front_are_dropped() -> None:
    assert _stripped("Tuesday, September 16, 2008; 4:30 PM Just a day after filing for "
                     "bankruptcy, Lehman Brothers is heading into court.",
                     "Tuesday, September 16, 2008") == (
        "Just a day after filing for bankruptcy, Lehman Brothers is heading into court.")
    assert _stripped("Thursday, October 23, 2008; Page A01 Employers are moving to cut jobs.",
                     "Thursday, October 23, 2008") == "Employers are moving to cut jobs."
    assert trim_statement("20:24 UTC With the spotlight on the spill, BP said it would pay.") == (
        "With the spotlight on the spill, BP said it would pay.")
    assert trim_statement("NEW YORK, Feb. 19--The Dow Jones industrial average slid.") == (
        "The Dow Jones industrial average slid.")
    assert trim_statement("CAIRO, 3 Feb (Reuters) - Protesters gathered again.") == (
        "Protesters gathered again.")
    # a dateline in title case with the wire's credit, a wire's time stamp before one
    assert trim_statement("Cairo, Egypt (CNN)--Egypt braced for a march of millions.") == (
        "Egypt braced for a march of millions.")
    assert trim_statement("2009 06 19 22:54 JST WASHINGTON (Reuters) - The U.S. Congress sent "
                          "Obama the bill.") == "The U.S. Congress sent Obama the bill."
    # an acronym in brackets and an aside are the sentence's own
    assert trim_statement("The UN's World Health Organization (WHO) - which raised its alert - "
                          "said it had no plans.") == (
        "The UN's World Health Organization (WHO) - which raised its alert - said it had no "
        "plans.")
    assert trim_statement("; and the ocean looks a bit slimmer today.") == (
        "The ocean looks a bit slimmer today.")
    # prose that starts with a time keeps it
    assert trim_statement("At 4:30 pm, police arrived at the scene.") == (
        "At 4:30 pm, police arrived at the scene.")
    assert not is_statement(
        "This comment was removed because the moderators found it broke the house rules.")


def test_candidate_statement_loses_only_the_dating_expression() -> None:
    since = "Oil has been leaking into the Gulf of Mexico since April 20, officials said today."
    cited = article(1, [BLAST_B, since], [(0, "April 20", span(date(2010, 4, 20))),
                                          (1, "April 20", span(date(2010, 4, 20)))])
    (first,) = dated_candidates(cited.facts)
    assert first.statement == (
        "The Deepwater Horizon rig exploded in the Gulf of Mexico, killing 11 workers.")
    # "since April 20" starts a period: it does not date the leak, so no entry on April 20
    assert [c.sentence for c in dated_candidates(cited.facts)] == [0]
    today = DateMention(span=span(date(2010, 6, 1)), text="today", sentence=1,
                        char_start=since.index("today"), char_end=len(since) - 1, stated=False)
    both = cited.facts.model_copy(update={"dates": (*cited.facts.dates, today)})
    second = dated_candidates(both)[1]
    assert second.span.start == date(2010, 6, 1)  # what officials said today
    assert "since April 20" in second.statement  # "since" carries meaning: kept


def test_date_labels() -> None:
    assert date_label(span(date(2025, 12, 12))) == "Dec 12, 2025"
    assert date_label(span(date(2025, 8, 1), date(2025, 8, 10),
                           DatePrecision.PART_OF_MONTH)) == "Early Aug 2025"
    assert date_label(span(date(2025, 8, 1), date(2025, 8, 31), DatePrecision.MONTH)) == (
        "Aug 2025")
    assert date_label(span(date(2025, 1, 1), date(2025, 12, 31), DatePrecision.YEAR)) == "2025"


def test_build_timeline_picks_the_most_reported_days() -> None:
    # Each report is published the day after its event, as wire coverage is.
    articles = [
        article(n, [EVENTS[event][0]], [(0, EVENTS[event][1], span(EVENTS[event][2]))],
                published=EVENTS[event][2] + timedelta(days=1))
        for n, event in enumerate([0, 1, 0, 2, 3, 4, 5], 1)
    ]
    timeline = build_timeline(articles, n_dates=2, sentences_per_date=1)
    assert [d for d, _ in timeline] == [date(2010, 4, 20), date(2010, 7, 15)]
    assert all(len(sentences) == 1 for _, sentences in timeline)
    assert "exploded" in timeline[0][1][0]
    assert build_timeline(articles, 2, 1) == timeline  # deterministic
    inside = build_timeline(articles, n_dates=5, sentences_per_date=2,
                            start=date(2010, 6, 1), end=date(2010, 6, 30))
    assert [d for d, _ in inside] == [date(2010, 6, 17)]


def _member(seq: int, n: int, text: str, day: date, end: date | None = None, *,
            stated: bool, precision: DatePrecision = DAY, planned: bool = False) -> _Member:
    """An event member as the index makes it (its words: the text's, as written)."""
    words = tuple(text.lower().rstrip(".").split())
    statement = _Statement(sentence=0, statement=text, span=span(day, end, precision),
                           stated=stated, words=words, figures=())
    return _Member(seq=seq, n=n, uri=f"urn:a:{n}", version=1, source=n, cand=statement,
                   words=words, planned=planned)


def test_a_statement_the_entrys_date_has_left_behind_is_not_cited() -> None:
    """A relative "last week" joined an event while its date was a period ("from the end of
    June to the middle of July"); once a source gives the day ("13 July") the entry is dated
    that day, and the statement, 17 days off and no listed conflict, is not cited for it
    (seen on entities-dev, test_citations_dev); within a resolution's error, or listed, or a
    plan, or overlapping, it is."""
    day = span(date(2011, 7, 13))
    june_20, june_26 = date(2011, 6, 20), date(2011, 6, 26)

    def last_week(*, n: int = 1, planned: bool = False) -> _Member:
        return _member(0, n, "Selection opened last week.", june_20, june_26, stated=False,
                       precision=DatePrecision.PART_OF_MONTH, planned=planned)

    assert not _dates_entry(last_week(), day, set())
    assert _dates_entry(last_week(n=4), day, {4})  # a listed conflict
    assert _dates_entry(last_week(planned=True), day, set())
    near = date(2011, 7, 13) - timedelta(days=CONFLICT_DAYS)
    assert _dates_entry(_member(0, 1, "On Sunday.", near, stated=False), day, set())
    assert not _dates_entry(_member(0, 1, "On July 10.", near, stated=True), day, set())
    assert _dates_entry(_member(0, 1, "In July.", date(2011, 7, 1), date(2011, 7, 31),
                                stated=True, precision=DatePrecision.MONTH), day, set())


def test_the_entry_text_is_a_statement_it_cites() -> None:
    """The statement shown as the entry is chosen among those the entry cites: a central
    statement whose date the entry's date has left behind is neither cited nor shown."""
    # the "last week" statement shares half its words with each of the others, which share
    # none: it is the most central
    period = _member(0, 1, "Candidates register with the Socialist party selection.",
                     date(2011, 6, 21), date(2011, 7, 20), stated=True,
                     precision=DatePrecision.MONTH)
    last_week = _member(1, 2, "Candidates register Socialist party selection registration "
                        "deadline July primaries.", date(2011, 6, 20), date(2011, 6, 26),
                        stated=False, precision=DatePrecision.PART_OF_MONTH)
    deadline = _member(2, 3, "Registration deadline July primaries.", date(2011, 7, 13),
                       stated=True)
    event = _Event(entry_id="e", span=deadline.cand.span,
                   members=[period, last_week, deadline])
    summary = _summarise(event)
    assert summary.span.start == date(2011, 7, 13)
    assert [m.n for m in summary.cited] == [1, 3]
    assert summary.text != last_week.cand.statement


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="abc XYZ.,", min_size=1, max_size=40),
       offset=st.integers(min_value=-400, max_value=400),
       length=st.integers(min_value=0, max_value=40),
       precision=st.sampled_from(list(DatePrecision)),
       stated=st.booleans(), planned=st.booleans(), n=st.integers(min_value=1, max_value=9))
def test_an_event_of_one_statement_is_summarised_as_by_the_general_rule(
        text: str, offset: int, length: int, precision: DatePrecision, stated: bool,
        planned: bool, n: int) -> None:
    """The shortcut for events of one statement (most of those the rankings ask for) gives
    the summary the general rule gives, field for field."""
    day = date(2011, 7, 13) + timedelta(days=offset)
    member = _member(3, n, text, day, day + timedelta(days=length), stated=stated,
                     precision=precision, planned=planned)
    assert _summary_of_one(member) == _summary_of_many([member])
    assert _summarise(_Event(entry_id="e", span=member.cand.span, members=[member])) \
        == _summary_of_many([member])
