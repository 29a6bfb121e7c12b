"""Event dates (#13 items 2-3): a timeline statement is dated by the event it reports,
plans are marked, and only written-out dates of the same event conflict."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from storyline.cli import main
from storyline.domain.events import ArticleReceived
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.extract.timeline_text import Candidate, dated_candidates
from storyline.domain.facts import CitedArticle
from storyline.domain.page.timeline import TimelineIndex
from storyline.evaluation.event_dates_eval import rouge1_f, words


def received(body: str, day: date, uri: str = "urn:x:1") -> ArticleReceived:
    return ArticleReceived(uri=uri, version=1, source=f"Outlet {uri}", headline=None, body=body,
                           published=datetime(day.year, day.month, day.day, 9, tzinfo=UTC))


def candidates(body: str, day: date) -> list[Candidate]:
    article = received(body, day)
    return dated_candidates(extract_facts(article), published=day)


def cited(body: str, day: date, n: int) -> CitedArticle:
    article = received(body, day, uri=f"urn:x:{n}")
    return CitedArticle(n=n, uri=article.uri, version=1, source=article.source, headline=None,
                        published=article.published, facts=extract_facts(article))


def test_the_main_clause_event_dates_the_statement() -> None:
    # published Monday Mar 9 2026: Friday is Mar 6, Sunday Mar 8
    (cand,) = candidates("Two men reported missing on Friday were found safe on Sunday.",
                         date(2026, 3, 9))
    assert cand.span.start == date(2026, 3, 8)
    assert not cand.planned
    assert cand.statement == "Two men reported missing on Friday were found safe."


def test_a_forecast_is_a_plan_not_an_event() -> None:
    (cand,) = candidates("Forecasters said another 80 millimetres could fall by Wednesday.",
                         date(2026, 3, 2))
    assert cand.span.start == date(2026, 3, 4)
    assert cand.planned


def test_a_past_report_of_a_future_date_is_dated_by_the_report() -> None:
    (cand,) = candidates("On Friday, the Coast Guard commander said the flow of leaking oil "
                         "could be contained by Monday.", date(2010, 7, 11))
    assert cand.span.start == date(2010, 7, 9)
    assert not cand.planned
    # the entry shows Friday beside its text; Monday, another day, stays in it
    assert cand.statement == ("The Coast Guard commander said the flow of leaking oil could "
                              "be contained by Monday.")


def test_only_the_entry_s_own_date_leaves_its_text() -> None:
    (cand,) = candidates("Transit workers in Port Halden will walk off the job on Thursday, "
                         "March 5, after talks over pay broke down, their union said on "
                         "Tuesday.", date(2026, 3, 3))
    assert cand.span.start == date(2026, 3, 3)  # the union's Tuesday
    assert cand.statement == ("Transit workers in Port Halden will walk off the job on "
                              "Thursday, March 5, after talks over pay broke down, their "
                              "union said.")
    (cand,) = candidates("BP said it had collected 14,800 barrels of oil on Monday, 33 percent "
                         "more than on Sunday.", date(2010, 6, 8))
    assert cand.span.start == date(2010, 6, 7)
    assert cand.statement == ("BP said it had collected 14,800 barrels of oil, 33 percent "
                              "more than on Sunday.")


@pytest.mark.parametrize("sentence", [
    "Up to 60,000 barrels of oil a day have leaked into the Gulf since 22 April.",
    "Human Rights Watch has put the death toll at more than 300 since the January 25 rally.",
    "BP spreads the blame for the 11 April explosion and resulting leak in its own report.",
    "Investigators are still looking into the cause of Tuesday's fire at the depot.",
    # a relative clause set off by a comma dates its referent
    "The oil spill, which began on April 20, has caused an economic and environmental disaster.",
    "BP faces potentially billions of dollars in fines from the spill, which began in April.",
    "Pro-Mubarak groups were absent from Tahrir Square, where they clashed with protesters "
    "on Monday.",
])
def test_a_date_of_something_else_does_not_date_the_statement(sentence: str) -> None:
    assert candidates(sentence, date(2010, 9, 8)) == []


def test_a_relative_clause_closed_before_the_date_is_over() -> None:
    # published Wednesday Sep 8 2010: Monday is Sep 6
    (cand,) = candidates("BP, which leased the rig from Transocean, said on Monday it would "
                         "pay for the clean-up.", date(2010, 9, 8))
    assert cand.span.start == date(2010, 9, 6)
    # with another date in the main clause, that one dates the statement
    (cand,) = candidates("Obama, who visited the Gulf coast on Friday, will send three of his "
                         "officials back there on Monday.", date(2010, 5, 30))
    assert cand.span.start == date(2010, 5, 31)
    assert cand.planned


def test_a_misresolved_relative_date_is_not_a_conflict() -> None:
    index = TimelineIndex()
    # Mar 18 2026 is a Wednesday; the second source, a day later, says "Wednesday" for the
    # day of the fire, which the first wrote out as March 17
    index.add(cited("Firefighters put out the warehouse fire at the Halden depot on March 17, "
                    "officials said.", date(2026, 3, 18), 1))
    index.add(cited("Firefighters put out the warehouse fire at the Halden depot on Wednesday, "
                    "officials said.", date(2026, 3, 19), 2))
    (entry,) = index.entries(5)
    assert entry.date == date(2026, 3, 17)  # the written-out date wins
    assert [c.n for c in entry.citations] == [1, 2]
    assert entry.conflicts == ()


def test_two_written_out_dates_of_one_event_conflict() -> None:
    index = TimelineIndex()
    index.add(cited("Firefighters put out the warehouse fire at the Halden depot on March 17, "
                    "officials said.", date(2026, 3, 19), 1))
    index.add(cited("Firefighters put out the warehouse fire at the Halden depot on March 18, "
                    "officials said.", date(2026, 3, 19), 2))
    (entry,) = index.entries(5)
    assert {(c.kind, c.value, c.citations) for c in entry.conflicts} == {
        ("date", "Mar 17, 2026", (1,)), ("date", "Mar 18, 2026", (2,))}


def test_a_plan_on_the_page_is_flagged() -> None:
    index = TimelineIndex()
    index.add(cited("Forecasters said another 80 millimetres could fall by Wednesday.",
                    date(2026, 3, 2), 1))
    (entry,) = index.entries(5)
    assert entry.date == date(2026, 3, 4)
    assert entry.planned


def test_rouge1_f() -> None:
    from collections import Counter

    a = Counter(words("BP caps the well"))
    assert rouge1_f(a, a) == 1.0
    assert rouge1_f(a, Counter(words("BP caps the leaking well today"))) == pytest.approx(0.8)
    assert rouge1_f(a, Counter()) == 0.0


def ninjs(uri: str, day: str, body: str) -> dict[str, object]:
    return {
        "uri": uri, "type": "text", "version": "1", "firstcreated": f"{day}T00:00:00Z",
        "versioncreated": f"{day}T00:00:00Z", "pubstatus": "usable", "language": "en",
        "bodies": [{"role": "main", "contenttype": "text/plain", "value": body}],
        "infosources": [{"name": "Wire"}],
    }


def test_eval_event_dates_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "mini"
    (dataset / "gold").mkdir(parents=True)
    articles = [
        # reports the blast on its day: right
        ninjs("urn:x:1", "2010-04-21", "The Deepwater Horizon rig exploded in the Gulf of "
              "Mexico on April 20, killing 11 workers."),
        # the sinking, dated by the publication-relative "Wednesday" of a later piece: wrong
        ninjs("urn:x:2", "2010-04-30", "The burning Deepwater Horizon platform sank to the "
              "bottom of the Gulf on Wednesday."),
        # a plan: the cap was due the day after publication
        ninjs("urn:x:3", "2010-07-14", "Engineers will fit a new containment cap over the "
              "leaking well on July 15."),
        # published before the gold day: not a source for it
        ninjs("urn:x:4", "2010-04-01", "Engineers fitted a new containment cap over the "
              "leaking well on July 15."),
    ]
    gold = {"story": "bp", "name": "bp/gold", "entries": [
        {"date": "2010-04-20", "sentences": [
            "The Deepwater Horizon rig exploded in the Gulf of Mexico, killing 11 workers."]},
        {"date": "2010-04-22", "sentences": [
            "The burning Deepwater Horizon platform sank to the bottom of the Gulf."]},
        {"date": "2010-07-14", "sentences": [
            "Engineers fitted a new containment cap over the leaking well."]},
        {"date": "2010-07-15", "sentences": ["Dow Jones Industrial Average: -19.59"]},
    ]}
    (dataset / "articles.jsonl").write_text(
        "\n".join(json.dumps(a) for a in articles) + "\n", encoding="utf-8")
    (dataset / "gold" / "stories.jsonl").write_text("\n".join(
        json.dumps({"uri": a["uri"], "story": "bp"}) for a in articles) + "\n", encoding="utf-8")
    (dataset / "gold" / "timelines.jsonl").write_text(json.dumps(gold) + "\n", encoding="utf-8")

    out = tmp_path / "out"
    assert main(["eval", "event-dates", "--dataset", str(dataset), "--out", str(out)]) == 0
    assert "overall" in capsys.readouterr().out
    scores = json.loads((out / "scores.json").read_text())
    overall = scores["overall"]
    assert overall["gold_sentences"] == 3  # the Dow Jones line states no event
    assert (overall["matched"], overall["dated_as_events"], overall["correct"]) == (3, 2, 1)
    assert overall["accuracy"] == 0.5
    assert overall["planned"] == 1
    assert overall["errors"]["relative_off"] == 1  # Wednesday Apr 28, not the 22nd
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["outcome"] for e in errors) == ["planned", "relative_off"]
    planned = next(e for e in errors if e["outcome"] == "planned")
    assert planned["uri"] == "urn:x:3" and planned["date"] == "2010-07-15"
    # the sinking's Apr 22 is no day the sentence or its Apr 30 publication can give
    assert overall["ceiling"] == 0.5
    assert not next(e for e in errors if e["outcome"] == "relative_off")["reachable"]
    # each statement is alone in its event on this page: the page dates them as they are
    page = overall["page"]
    assert (page["dated_as_events"], page["correct"], page["not_on_page"]) == (2, 1, 0)
    assert page["errors"]["relative_off"] == 1
    assert scores["any_sentence"]["page"] is None  # scored without the page: no figure


def test_the_page_dates_a_statement_by_the_event_it_joined() -> None:
    """A vague "in April" that restates the April 20 blast shows under April 20 on the page:
    the eval's page figure reads the event each statement joined, not its own date."""
    from storyline.evaluation.event_dates_eval import page_spans

    blast = received("The Deepwater Horizon rig exploded in the Gulf of Mexico on April 20, "
                     "killing 11 workers.", date(2010, 4, 21), uri="urn:x:1")
    later = received("The Deepwater Horizon rig exploded in the Gulf of Mexico in April, "
                     "killing 11 workers, and the well still leaks.", date(2010, 5, 30),
                     uri="urn:x:2")
    (own,) = dated_candidates(extract_facts(later), published=date(2010, 5, 30))
    assert own.span.precision.value == "month"
    spans = page_spans([blast, later])
    assert spans[("urn:x:2", own.sentence)].start == date(2010, 4, 20)
    assert spans[("urn:x:2", own.sentence)].precision.value == "day"
    assert spans[("urn:x:1", 0)] == spans[("urn:x:2", own.sentence)]


@pytest.mark.parametrize(("sentence", "published", "gold", "expected"), [
    ("Officials said the well was capped.", date(2010, 7, 16), date(2010, 7, 16), True),
    ("Officials said the well was capped.", date(2010, 7, 16), date(2010, 7, 15), True),
    ("Officials said the well was capped.", date(2010, 7, 16), date(2010, 7, 14), False),
    ("The well was capped on Wednesday, officials said.", date(2010, 7, 16),
     date(2010, 7, 14), True),  # Wednesday Jul 14
    ("The well was capped on Wednesday, officials said.", date(2010, 7, 16),
     date(2010, 7, 21), True),  # the Wednesday after (a reading of the future) too
    ("The well was capped on Wednesday, officials said.", date(2010, 7, 16),
     date(2010, 7, 7), False),  # nine days back: past the week either side
    ("The well was capped on July 2, officials said.", date(2010, 7, 16),
     date(2010, 7, 2), True),
    ("The well was capped in July, officials said.", date(2010, 7, 16),
     date(2010, 7, 2), False),  # a month gives no day
])
def test_a_gold_day_is_reachable_from_what_the_sentence_and_its_day_give(
        sentence: str, published: date, gold: date, expected: bool) -> None:
    from storyline.evaluation.event_dates_eval import reachable

    facts = extract_facts(received(sentence, published))
    assert reachable(facts, 0, published, gold) is expected


def test_figures_conflict_only_when_each_statement_gives_one_value() -> None:
    blast = ("Hizbullah guerrillas ambushed an Israeli patrol on the border on July 12, 2006, "
             "killing {}.")
    index = TimelineIndex()
    index.add(cited(blast.format("three soldiers"), date(2006, 7, 13), 1))
    index.add(cited(blast.format("eight soldiers"), date(2006, 7, 13), 2))
    (entry,) = index.entries(5)
    assert {(c.kind, c.value) for c in entry.conflicts} == {
        ("figure", "3 soldiers"), ("figure", "8 soldiers")}
    index = TimelineIndex()
    index.add(cited(blast.format("three soldiers and wounding two soldiers"),
                    date(2006, 7, 13), 1))
    index.add(cited(blast.format("eight soldiers"), date(2006, 7, 13), 2))
    (entry,) = index.entries(5)
    assert entry.conflicts == ()  # which of 3 and 2 would 8 contradict?


SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "wire" / "articles.jsonl"
# statement (start of the sentence) -> (the date its entry gets, a plan?)
SAMPLE_DATES = {
    "Forecasters said another 80 millimetres": (date(2026, 3, 4), True),
    "Transit workers in Port Halden will walk off": (date(2026, 3, 3), False),  # said Tuesday
    "More than 2,000 residents were evacuated": (date(2026, 3, 3), False),
    "Damage from last week's flooding": (date(2026, 3, 10), False),  # said on Tuesday
    "The two men reported missing on Friday": (date(2026, 3, 8), False),  # found on Sunday
}


def test_sample_wire_statements_get_their_event_dates() -> None:
    from storyline.evaluation.corpus import read_dataset  # the production ingest

    found: dict[str, tuple[date, bool]] = {}
    for article in read_dataset(SAMPLE):
        facts = extract_facts(article)
        for cand in dated_candidates(facts, published=article.published.date()):
            sentence = facts.sentences[cand.sentence]
            for start in SAMPLE_DATES:
                if sentence.startswith(start):
                    found[start] = (cand.span.start, cand.planned)
    assert found == SAMPLE_DATES


def demo_timelines() -> dict[str, list[tuple[str, str]]]:
    """The demo's pages (the sample wire and its feed, folded as the worker folds them): by
    title, each timeline entry's date as the page shows it and its text."""
    from storyline.domain.events import StoryUpdated
    from storyline.domain.pipeline import Pipeline
    from storyline.domain.records import handle_record
    from storyline.read.render import date_label
    from storyline.replay import records_from_files

    pipeline = Pipeline()
    stories: set[str] = set()
    wire = [SAMPLE, SAMPLE.parent / "feed.rss"]
    for key, value, position in records_from_files(wire, "storyline.articles"):
        outcome = handle_record(pipeline, key, value, position, max_bytes=1_000_000)
        stories.update(e.story_id for e in outcome.events if isinstance(e, StoryUpdated))
    out: dict[str, list[tuple[str, str]]] = {}
    for story_id in stories:
        page = pipeline.page(story_id)
        assert page is not None
        out[page.title] = [(date_label(entry), entry.text) for entry in page.timeline]
    return out


# Every entry of the demo's pages with the day the sample wire gives its event, read off the
# articles by hand (publication days and weekdays of March 2026): (date as shown, the start
# of the entry's text). "inferred": resolved from a weekday or "overnight"; "expected": a
# plan or forecast.
DEMO_DATES = {
    "National aid approved for Eastmoor flood victims": [
        ("Mar 2, 2026 (inferred)", "The Aldwater river rose by almost two metres overnight"),
        ("Mar 3, 2026 (inferred)", "More than 2,000 residents were evacuated"),  # Tuesday
        ("Mar 4, 2026 (inferred, expected)", "Forecasters said another 80 millimetres"),
        ("Mar 5, 2026 (inferred)", "A levee on the Aldwater gave way"),  # Thursday
        ("Mar 6, 2026 (inferred)", "Two people were reported missing"),  # Friday
        ("Mar 8, 2026 (inferred)", "The two men reported missing on Friday were found"),
        ("Mar 10, 2026 (inferred)", "Damage from last week's flooding"),  # said Tuesday
        ("Mar 14, 2026 (inferred)", "Most of the people evacuated from Kesterby"),  # Saturday
        ("Mar 15, 2026 (inferred)", "The national government approved $40 million"),
        ("Mar 16, 2026 (expected)", "Applications open at the Kesterby town hall"),
    ],
    "Trains run again in Port Halden after strike ends": [
        ("Mar 3, 2026 (inferred)", "Transit workers in Port Halden will walk off"),
        ("Mar 5, 2026 (inferred)", "Port Halden's metro and bus network came to a halt"),
        ("Mar 9, 2026", "Halden Metro and Transit Workers Union Local 12 will return"),
        ("Mar 11, 2026 (inferred)", "Halden Metro and its striking workers reached"),
        ("Mar 12, 2026 (expected)", "Service will resume"),
        ("Mar 13, 2026 (inferred)", "Metro trains and buses returned"),  # Friday
    ],
    "Norvik names new heater supplier & extends refund deadline": [
        ("Mar 4, 2026 (inferred)", "Norvik Appliances recalled about 48,000"),  # Wednesday
        ("Mar 7, 2026 (inferred)", "The National Product Safety Board said"),  # Saturday
        ("Mar 12, 2026 (inferred)", "Shares in Norvik Appliances fell 9 percent"),
        ("Mar 16, 2026 (inferred)", "Norvik Appliances said it had chosen a new"),  # Monday
        ("Late Apr 2026 (expected)", "Board chair Samuel Brandt said a preliminary"),
    ],
}


def test_every_date_on_the_demo_pages_is_its_event_s() -> None:
    pages = demo_timelines()
    assert sorted(pages) == sorted(DEMO_DATES)
    for title, expected in DEMO_DATES.items():
        shown = pages[title]
        assert [label for label, _ in shown] == [label for label, _ in expected], title
        for (_, text), (_, start) in zip(shown, expected, strict=True):
            assert text.startswith(start), (title, text)


def test_the_sample_wire_timelines_read_whole_without_their_dates() -> None:
    """The demo's pages: every entry reads whole once its date has moved beside it."""
    texts = [text for entries in demo_timelines().values() for _, text in entries]
    assert "Applications open at the Kesterby town hall." in texts
    assert ("Halden Metro and Transit Workers Union Local 12 will return to talks with a "
            "mediator, the city said.") in texts
    for text in texts:
        assert not re.search(r",\s*[.;:]|\s[,.;:]|^[,;:]|\b(?:on|in|at|by)\s*[,.]$",
                             text), text


def test_accuracy_by_days_from_the_gold_date_to_the_source() -> None:
    """Each matched statement counts in the bucket of its article's lag after the gold day;
    unmatched gold sentences count in none."""
    from storyline.evaluation.event_dates_eval import by_lag

    def row(published: str, outcome: str) -> dict[str, object]:
        return {"gold_date": "2010-04-20", "published": published, "outcome": outcome}

    rows = [row("2010-04-20", "correct"), row("2010-04-20", "relative_off_by_one"),
            row("2010-04-21", "correct"), row("2010-04-25", "stated_differs"),
            row("2010-05-30", "correct"), row("2010-05-30", "planned"),
            row("2010-04-20", "unmatched")]
    lags = by_lag(rows)
    assert list(lags) == ["0", "1", "2-7", "8+"]
    assert (lags["0"]["correct"], lags["0"]["dated_as_events"]) == (1, 2)
    assert (lags["1"]["correct"], lags["1"]["dated_as_events"]) == (1, 1)
    assert (lags["2-7"]["correct"], lags["2-7"]["dated_as_events"]) == (0, 1)
    assert (lags["8+"]["correct"], lags["8+"]["dated_as_events"], lags["8+"]["planned"]) == (
        1, 1, 1)
