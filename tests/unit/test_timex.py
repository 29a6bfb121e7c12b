"""TIMEX3 values of the date finder, anchored to the document creation time, and
``storyline eval dates`` (its scorer agrees with ../shared/tools/score_timex.py)."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import pytest
from script_module import script_module

from storyline.cli import main
from storyline.domain.extract.temporal import find_dates, spoken_year
from storyline.domain.extract.text import Document, split_sentences
from storyline.domain.extract.timex import Timex, find_timexes
from storyline.evaluation import dates_eval
from storyline.evaluation.dates_eval import align, halves, pair, predict, score

DCT = date(1998, 3, 4)  # a Wednesday, ISO week 10


def timexes(text: str, dct: date = DCT) -> list[Timex]:
    return find_timexes(Document(split_sentences(text)), dct)


def values(text: str, dct: date = DCT) -> list[tuple[str, str, str]]:
    return [(t.text, t.type, t.value) for t in timexes(text, dct)]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Talks resumed yesterday.", ("yesterday", "DATE", "1998-03-03")),
        ("He left on Friday.", ("Friday", "DATE", "1998-02-27")),
        ("The board will meet Friday.", ("Friday", "DATE", "1998-03-06")),
        ("Prices fell last week.", ("last week", "DATE", "1998-W09")),
        ("Prices fell this week.", ("this week", "DATE", "1998-W10")),
        ("They met over the weekend.", ("the weekend", "DATE", "1998-W09-WE")),
        ("Sales rose last month.", ("last month", "DATE", "1998-02")),
        ("Sales rose last year.", ("last year", "DATE", "1997")),
        ("Sales will rise this year.", ("this year", "DATE", "1998")),
        ("It opened two years ago.", ("two years ago", "DATE", "1996")),
        ("Profit fell in the third quarter.", ("the third quarter", "DATE", "1997-Q3")),
        ("The deal closed in March 1996.", ("March 1996", "DATE", "1996-03")),
        ("Output peaked in mid-1995.", ("mid-1995", "DATE", "1995")),
        ("It happened on Jan. 12, 1998.", ("Jan. 12, 1998", "DATE", "1998-01-12")),
        ("Sales in the second half of 1997 rose.", ("the second half of 1997", "DATE", "1997-H2")),
        ("The floods came last summer.", ("last summer", "DATE", "1997-SU")),
        ("Sales for fiscal 1997 rose.", ("fiscal 1997", "DATE", "1997")),
        ("The bonds are due 2003.", ("2003", "DATE", "2003")),
        ("He spoke this morning.", ("this morning", "TIME", "1998-03-04TMO")),
        ("Atlanta, nineteen ninety-six.", ("nineteen ninety-six", "DATE", "1996")),
        ("The approach of the year two thousand.", ("the year two thousand", "DATE", "2000")),
        ("The index is now higher.", ("now", "DATE", "PRESENT_REF")),
        ("It currently owns 72%.", ("currently", "DATE", "PRESENT_REF")),
        ("It recently fended off a bid.", ("recently", "DATE", "PAST_REF")),
        ("That may change in the future.", ("the future", "DATE", "FUTURE_REF")),
        ("Hate groups dropped through the 1990s.", ("the 1990s", "DATE", "199")),
        ("Hate groups dropped through the nineties.", ("the nineties", "DATE", "199")),
        ("It is a 20th century idea.", ("20th century", "DATE", "19")),
        ("Sales in the current fiscal year rose.", ("the current fiscal year", "DATE", "1998")),
        ("Costs should fall by year end.", ("year end", "DATE", "1998")),
    ],
)
def test_one_expression(sentence: str, expected: tuple[str, str, str]) -> None:
    assert values(sentence) == [expected]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Sales for the full year rose 13%.", ("the full year", "DATE", "1998")),
        ("For the year, volume was flat.", ("the year", "DATE", "1998")),
        ("In the fiscal year ended then, it earned $2 million.",
         ("the fiscal year", "DURATION", "P1Y")),
        ("Profit should rise throughout the fiscal year.", ("the fiscal year", "DURATION", "P1Y")),
    ],
)
def test_the_year_a_report_is_about(sentence: str, expected: tuple[str, str, str]) -> None:
    assert values(sentence) == [expected]


def test_the_year_is_no_date_without_a_preposition_or_before_ago() -> None:
    assert values("He was named player of the year.") == []
    assert values("The year before, it lost money.") == []
    assert values("Sales rose in the year ago period.") == []  # not "in the year"
    # and never a page date
    assert find_dates(Document(split_sentences("Sales for the full year rose.")), DCT) == []


def test_anaphors_take_the_time_last_mentioned() -> None:
    text = ("Imports reached $1.5 billion in 1988. Its share fell that year. "
            "In March 1996 the board met. The following month it sold the unit. "
            "On Feb. 3, 1997 talks opened; the next day they broke down.")
    found = [(t.text, t.value) for t in timexes(text) if t.type == "DATE"]
    assert found == [("1988", "1988"), ("that year", "1988"), ("March 1996", "1996-03"),
                     ("The following month", "1996-04"), ("Feb. 3, 1997", "1997-02-03"),
                     ("the next day", "1997-02-04")]


def test_an_anaphor_needs_a_fine_enough_antecedent_near_enough() -> None:
    assert values("Sales rose in 1988. The following month was worse.") == [
        ("1988", "DATE", "1988")]
    assert values("That year was hard.") == []  # no antecedent
    far = "It began in 1988. " + "Nothing else happened then. " * 40 + "That year was hard."
    assert [t.text for t in timexes(far)] == ["1988"]


def test_ranges_keep_their_ends_apart_as_timeml_does() -> None:
    text = "Output rose from June to August 1997."
    assert values(text) == [("June", "DATE", "1997-06"), ("August 1997", "DATE", "1997-08")]
    # the page's date is one span
    (mention,) = find_dates(Document(split_sentences(text)), DCT)
    assert (mention.span.start, mention.span.end) == (date(1997, 6, 1), date(1997, 8, 31))


def test_the_latest_quarter_is_the_quarter_the_report_is_about() -> None:
    dct = date(1989, 10, 30)
    text = ("Aetna reported third-quarter profit of $100 million. In the latest quarter, "
            "sales rose. In the year-ago quarter, it earned $80 million, and a year ago it "
            "had a loss. This quarter's results include a charge.")
    assert [(t.text, t.value) for t in timexes(text, dct)] == [
        ("third-quarter", "1989-Q3"),
        ("the latest quarter", "1989-Q3"),
        ("the year-ago quarter", "1988-Q3"),
        ("a year ago", "1988-Q3"),
        ("This quarter", "1989-Q3"),
    ]


def test_without_a_quarter_mentioned() -> None:
    dct = date(1989, 10, 30)
    # the last quarter completed before publication; "current" is publication's own
    assert values("Sales rose in the latest quarter.", dct)[0][2] == "1989-Q3"
    assert values("Sales will rise in the current quarter.", dct)[0][2] == "1989-Q4"
    # "a year earlier" is a year before the last date mentioned, "a year ago" before the DCT
    assert values("In 1985 it lost money; a year earlier it had earned $5.", dct)[1][2] == "1984"
    assert values("It lost money a year ago.", dct)[0][2] == "1988"


def test_a_quarter_stops_being_the_reference_after_a_few_paragraphs() -> None:
    dct = date(1989, 10, 30)
    text = "Profit rose in the second quarter. " + "Nothing else happened. " * 60 + (
        "In the latest quarter it lost money.")
    assert values(text, dct)[-1][2] == "1989-Q3"


def test_no_reference_words_inside_durations_or_events() -> None:
    assert values("Sales rose in the past two months.") == [
        ("the past two months", "DURATION", "P2M")]
    assert values("He died soon after the war.") == []


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Stocks hit a five year low.", ("five year", "DURATION", "P5Y")),
        ("Net for the first nine months rose.", ("the first nine months", "DURATION", "P9M")),
        ("A two-week strike ended.", ("two-week", "DURATION", "P2W")),
        ("The talks took several years.", ("several years", "DURATION", "PXY")),
        ("He was jailed for a year.", ("a year", "DURATION", "P1Y")),
        ("It lasted 45 minutes.", ("45 minutes", "DURATION", "PT45M")),
        ("It was the first rise in years.", ("years", "DURATION", "PXY")),
        ("Prices rose in recent weeks.", ("recent weeks", "DURATION", "PXW")),
        ("The lead fell in the last twenty four hours.",
         ("the last twenty four hours", "DURATION", "PT24H")),
    ],
)
def test_durations(sentence: str, expected: tuple[str, str, str]) -> None:
    assert values(sentence) == [expected]


def test_a_duration_ago_is_a_date() -> None:
    assert values("It opened five years ago.") == [("five years ago", "DATE", "1993")]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Police said he was seized at 10 p.m. Wednesday.",
         ("10 p.m. Wednesday", "TIME", "1998-03-04T22:00")),
        ("Talks broke off at noon Tuesday.", ("noon Tuesday", "TIME", "1998-03-03T12:00")),
        ("The offer expires at 5 p.m. EST, March 9.",
         ("5 p.m. EST, March 9", "TIME", "1998-03-09T17:00")),
        ("They met Monday evening.", ("Monday evening", "TIME", "1998-03-02TEV")),
        ("Shares rose mid-afternoon yesterday.",
         ("mid-afternoon yesterday", "TIME", "1998-03-03TAF")),
    ],
)
def test_times_of_day(sentence: str, expected: tuple[str, str, str]) -> None:
    assert values(sentence) == [expected]


def test_spoken_years() -> None:
    assert spoken_year("nineteen ninety-six") == 1996
    assert spoken_year("nineteen eighty four") == 1984
    assert spoken_year("two thousand and three") == 2003
    assert values("nineteen people died.") == []


def test_align_maps_collapsed_text_back_to_the_original() -> None:
    original = "\nThe  deal\n\nclosed   Jan. 5,  1998 .\n"
    doc = Document(split_sentences(original))
    where = align(original, doc.text)
    (t,) = find_timexes(doc, DCT)
    start, end = where[t.start], where[t.end - 1] + 1
    assert original[start:end] == "Jan. 5,  1998"


def test_predict_rows_carry_offsets_into_the_original_text() -> None:
    text = "\nPrices  fell yesterday.\n"
    (row,) = predict("d1", DCT, text)
    assert row == {"doc_id": "d1", "start": 14, "end": 23, "type": "DATE",
                   "value": "1998-03-03", "text": "yesterday"}


def test_pairing_is_one_to_one_in_text_order() -> None:
    gold = [{"doc_id": "d", "start": 0, "end": 10}, {"doc_id": "d", "start": 12, "end": 15}]
    pred = [{"doc_id": "d", "start": 2, "end": 14}]
    assert pair(gold, pred) == [(0, 0)]  # the pred began inside gold 0


def test_halves_are_fixed_and_disjoint() -> None:
    split = halves(["c", "a", "d", "b", "e"])
    assert split == {"all": ["a", "b", "c", "d", "e"], "dev_half": ["a", "c", "e"],
                     "heldout_half": ["b", "d"]}


def _fixture(root: Path) -> Path:
    (root / "gold").mkdir(parents=True)
    docs = [
        {"doc_id": "a1", "dct": "1998-03-04",
         "text": "\nSales rose last week. Profit fell in the third quarter.\n"},
        {"doc_id": "a2", "dct": "1989-10-30", "text": "\nIt now owns 72% and left on Friday.\n"},
    ]
    gold = [
        {"doc_id": "a1", "start": 12, "end": 21, "text": "last week", "type": "DATE",
         "value": "1998-W09"},
        {"doc_id": "a1", "start": 38, "end": 55, "text": "the third quarter", "type": "DATE",
         "value": "1997-Q4"},
        {"doc_id": "a2", "start": 4, "end": 7, "text": "now", "type": "DATE",
         "value": "PRESENT_REF"},
    ]
    for name, rows in (("documents.jsonl", docs), ("gold/timexes.jsonl", gold)):
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def test_eval_dates_writes_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = _fixture(tmp_path / "set")
    out = tmp_path / "out"
    assert main(["eval", "dates", "--dataset", str(dataset), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "timexes.jsonl").open(encoding="utf-8")]
    assert [(r["doc_id"], r["start"], r["end"], r["type"], r["value"]) for r in rows] == [
        ("a1", 12, 21, "DATE", "1998-W09"),
        ("a1", 38, 55, "DATE", "1997-Q3"),
        ("a2", 4, 7, "DATE", "PRESENT_REF"),
        ("a2", 29, 35, "DATE", "1989-10-27"),
    ]
    scores = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    for part in ("all", "dev_half", "heldout_half"):
        for kind in ("all_types", "date"):
            assert {"strict_p", "strict_r", "strict_f1", "relaxed_p", "relaxed_r", "relaxed_f1",
                    "type_acc", "value_acc", "value_f1"} <= set(scores[part][kind])
    whole = scores["all"]["date"]
    assert (whole["gold"], whole["pred"], whole["relaxed_match"]) == (3, 4, 3)
    assert whole["value_acc"] == pytest.approx(2 / 3)
    assert whole["relaxed_f1"] == pytest.approx(2 * 0.75 * 1.0 / 1.75)
    assert "heldout_half" in capsys.readouterr().out


def test_eval_dates_refuses_a_folder_without_gold(tmp_path: Path) -> None:
    assert main(["eval", "dates", "--dataset", str(tmp_path), "--out", str(tmp_path / "o")]) == 2


# --- the real development set (skipped when ../shared is absent) ----------------------------

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
TIMEBANK = SHARED / "data" / "timebank-dev"
SCORER = SHARED / "tools" / "score_timex.py"

needs_timebank = pytest.mark.skipif(
    not (TIMEBANK / "documents.jsonl").is_file(), reason="../shared/data/timebank-dev absent"
)


@pytest.fixture(scope="module")
def timebank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("timebank")
    assert dates_eval.run(argparse.Namespace(dataset=TIMEBANK, out=out)) == 0
    return out, json.loads((out / "scores.json").read_text(encoding="utf-8"))


@needs_timebank
def test_timebank_floors(timebank: tuple[Path, dict[str, dict[str, dict[str, float]]]]) -> None:
    _, scores = timebank
    # measured (docs/extraction.md, extract-24: DATE relaxed F1 0.946 / 0.954 / 0.937, value
    # F1 0.856 / 0.865 / 0.847) and cut to two decimals; before the issue-13 work the whole
    # set scored DATE relaxed F1 0.818, value F1 0.709, 0.923 / 0.821 before its second pass,
    # 0.931 / 0.832 before its third and 0.939 / 0.848 before its fourth
    for part, relaxed, value in (("all", 0.94, 0.85), ("dev_half", 0.95, 0.86),
                                 ("heldout_half", 0.93, 0.84)):
        date_scores = scores[part]["date"]
        assert date_scores["relaxed_f1"] >= relaxed, part
        assert date_scores["value_f1"] >= value, part
    assert scores["all"]["all_types"]["relaxed_f1"] >= 0.94
    assert scores["all"]["all_types"]["value_f1"] >= 0.84


@needs_timebank
@pytest.mark.skipif(not SCORER.is_file(), reason="../shared/tools/score_timex.py absent")
def test_scorer_agrees_with_the_shared_one(
        timebank: tuple[Path, dict[str, dict[str, dict[str, float]]]]) -> None:
    out, scores = timebank
    shared = script_module("score_timex", SCORER)
    rows = shared.load(str(out / "timexes.jsonl"))
    theirs = shared.score(rows, str(TIMEBANK))
    ours = scores["all"]["all_types"]
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value), key
    # and on a part of the documents, against our score() called directly
    gold = shared.load(str(TIMEBANK / "gold" / "timexes.jsonl"))
    documents = shared.load(str(TIMEBANK / "documents.jsonl"))
    ids = halves(d["doc_id"] for d in documents)["heldout_half"]
    assert score(rows, gold, ids)["value_f1"] == pytest.approx(
        scores["heldout_half"]["all_types"]["value_f1"])


# extract-20 (issue 13, third pass): each rule with a sentence of its own and its TIMEX3.


def test_a_season_with_the_and_no_year_is_the_one_in_progress_or_nearest() -> None:
    autumn = date(1998, 10, 15)
    assert values("Orders slowed over the summer.", autumn) == [("the summer", "DATE", "1998-SU")]
    assert values("Demand was weak in the early summer.", autumn) == [
        ("the early summer", "DATE", "1998-SU")]
    assert values("Rains are heavy during the winter.", date(1999, 1, 20)) == [
        ("the winter", "DATE", "1998-WI")]
    # not "the fall of" a thing, nor a season's name in a compound, nor a page date
    assert values("It bet on the fall of the yen.", autumn) == []
    assert values("Prices rose in the summer months.", autumn) == []
    text = "Orders slowed over the summer."
    assert find_dates(Document(split_sentences(text)), autumn) == []


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Its current share of the market is 40%.", [("current", "DATE", "PRESENT_REF")]),
        ("He was promoted to his current job.", [("current", "DATE", "PRESENT_REF")]),
        ("Holders may buy shares at the then current price.",
         [("then current", "DATE", "PAST_REF")]),
        ("The current account deficit widened.", []),
        ("Its current assets exceed its debts.", []),
    ],
)
def test_current_before_its_noun_is_the_present(
        sentence: str, expected: list[tuple[str, str, str]]) -> None:
    assert values(sentence) == expected


def test_the_last_half_and_the_first_two_quarters_are_halves() -> None:
    assert values("Profit will be lower for the last half of 1997.") == [
        ("the last half of 1997", "DATE", "1997-H2")]
    assert values("Losses should continue through the first two quarters of 1999.") == [
        ("the first two quarters of 1999", "DATE", "1999-H1")]


def test_titles_are_no_dates() -> None:
    assert values("The coach talked to USA Today before the game.") == []
    assert values('Baker said on ABC\'s "This Week" that sanctions work.') == []
    assert values("She told NBC's Today show she would run.") == []
    # an opening adverb after a glued byline, and a date in capitals, stay dates
    assert values("By Ann Smith Yesterday, the talks failed.")[0][:2] == ("Yesterday", "DATE")
    assert values("PRICES ROSE THIS WEEK") == [("THIS WEEK", "DATE", "1998-W10")]
    # a quarter-to-quarter comparison is no reference quarter
    assert values("The quarter-to-quarter comparison improved.") == []


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("A third flight leaves each Thursday.", ("each Thursday", "SET", "XXXX-WXX-4")),
        ("The parade is held every July.", ("every July", "SET", "XXXX-07")),
        ("It pays $5 million in interest every quarter.", ("every quarter", "SET", "P1Q")),
        ("Part of the revenue each month goes to the bank.", ("each month", "SET", "P1M")),
    ],
)
def test_recurrences_are_sets(sentence: str, expected: tuple[str, str, str]) -> None:
    assert values(sentence) == [expected]


def test_the_week_nothing_fixes_is_an_underspecified_week() -> None:
    assert values("For the week, the index fell 2%.") == [("the week", "DATE", "1998-WXX")]
    assert values("It was the week's busiest session.") == [("the week", "DATE", "1998-WXX")]
    assert values("Sales in the week ended Friday rose.")[0][0] != "the week"


def test_a_deadline_or_a_start_weighs_the_future_as_a_cue_does() -> None:
    # published March 4: August is nearer back than ahead, unless a deadline says ahead
    assert values("The loan must be repaid by August.") == [("August", "DATE", "1998-08")]
    assert values("The board named him chairman, effective July 1.") == [
        ("July 1", "DATE", "1998-07-01")]
    # not in a clause told in the past
    assert values("By August, sales had fallen.") == [("August", "DATE", "1997-08")]


def test_the_latest_quarter_has_ended_by_publication() -> None:
    dct = date(1998, 11, 2)
    text = ("Profit fell in the third quarter. The storm will mean a fourth-quarter charge. "
            "In the latest quarter, sales rose from a year ago.")
    assert [(t.text, t.value) for t in timexes(text, dct)] == [
        ("the third quarter", "1998-Q3"), ("fourth-quarter", "1998-Q4"),
        ("the latest quarter", "1998-Q3"), ("a year ago", "1997-Q3")]


def test_a_year_earlier_is_not_counted_back_from_a_year_ago() -> None:
    text = "Output fell 8% from a year ago. Costs rose compared with a year earlier."
    assert values(text) == [("a year ago", "DATE", "1997"), ("a year earlier", "DATE", "1997")]


def test_the_year_after_the_months_a_report_covers() -> None:
    assert values("Revenue fell in the first nine months of the year.") == [
        ("the first nine months", "DURATION", "P9M"), ("the year", "DATE", "1998")]


def test_a_month_before_its_noun_and_a_year_after_into() -> None:
    assert values("It is selling itself under a June agreement.") == [
        ("June", "DATE", "1997-06")]
    assert values("Shares fell after the February crash.") == [("February", "DATE", "1998-02")]
    assert values("The slump will last into 1999.") == [("1999", "DATE", "1999")]
    # "May" is a name too, and a march is no month
    assert values("Critics of the May government spoke.") == []
    assert values("He joined the March on Washington.") == []


# extract-24 (issue 13, fourth pass): each rule with a sentence of its own and its TIMEX3.


def test_the_past_before_an_amount_is_part_of_a_duration() -> None:
    assert values("Rents have doubled over the past thirty years.") == [
        ("the past thirty years", "DURATION", "P30Y")]
    assert values("Trading was thin in recent quarters.") == [
        ("recent quarters", "DURATION", "PXQ")]
    assert values("Banks stayed shut over the past couple of days.") == [
        ("the past couple of days", "DURATION", "P2D")]
    assert values("He has seen it all in the past.") == [("the past", "DATE", "PAST_REF")]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Fares may rise again in the future.", [("the future", "DATE", "FUTURE_REF")]),
        ("Growers worry about the future.", [("the future", "DATE", "FUTURE_REF")]),
        ("Rates will stay low for the foreseeable future.",
         [("the foreseeable future", "DATE", "FUTURE_REF")]),
        # what lies ahead for something, no time
        ("The talks decide the future of the mill.", []),
        ('"The future looks bleak," the mayor said.', []),
    ],
)
def test_the_future_is_a_time_only_after_a_preposition_of_time(
        sentence: str, expected: list[tuple[str, str, str]]) -> None:
    assert values(sentence) == expected


def test_the_near_and_short_term_as_nouns_are_the_future() -> None:
    assert values("Margins will stay thin in the near term.") == [
        ("the near term", "DATE", "FUTURE_REF")]
    assert values("The cuts help only in the short term, analysts said.") == [
        ("the short term", "DATE", "FUTURE_REF")]
    # adjectives: no time of their own
    assert values("The long-term outlook is poor.") == []
    assert values("It cut the near-term forecast.") == []
    assert values("Storms are small next to the long-term, costly harm of a spill.") == []


def test_later_in_the_day_is_the_day_last_mentioned() -> None:
    assert values("Ministers met on Monday. Later in the day the strike ended.") == [
        ("Monday", "DATE", "1998-03-02"), ("the day", "DATE", "1998-03-02")]
    assert values("Earlier in the day, shares fell.") == [("the day", "DATE", "1998-03-04")]


def test_the_previous_weekday_is_counted_from_the_day_last_mentioned() -> None:
    text = "Stocks fell on Feb. 20, 1998, down 3% from the previous Monday."
    assert values(text)[-1] == ("the previous Monday", "DATE", "1998-02-16")
    text = "The ship sailed on Feb. 20, 1998, and docked the following Tuesday."
    assert values(text)[-1] == ("the following Tuesday", "DATE", "1998-02-24")
    # with no day before it, the weekday keeps its own reading
    assert values("It was lower than the previous Friday.") == [
        ("Friday", "DATE", "1998-02-27")]


def test_one_day_after_a_modal_is_the_future_not_a_duration() -> None:
    assert values("She believes the city will one day host the games.") == [
        ("one day", "DATE", "FUTURE_REF")]
    assert values("The strike lasted one day.") == [("one day", "DURATION", "P1D")]


def test_a_decade_with_an_apostrophe_is_the_last_one_by_publication() -> None:
    assert values("Prices soared in the '80s.") == [("the '80s", "DATE", "198")]
    assert values("The style of the mid-’70s is back.") == [("the mid-’70s", "DATE", "197")]
    assert values("Jazz of the '20s filled the hall.", date(2026, 5, 1)) == [
        ("the '20s", "DATE", "202")]
    assert values("Jazz of the '30s filled the hall.", date(2026, 5, 1)) == [
        ("the '30s", "DATE", "193")]


def test_a_year_before_a_name_after_an_article_or_a_possessive() -> None:
    assert values("The court upheld a 1971 Convention on air piracy.") == [
        ("1971", "DATE", "1971")]
    assert values("He cut his 1999 Boeing delivery forecast.") == [("1999", "DATE", "1999")]
    # a page date too; not a count without an article or possessive, nor a clock time
    text = "She recalled her 1994 Senate race."
    assert [m.text for m in find_dates(Document(split_sentences(text)), DCT)] == ["1994"]
    assert values("Some 2000 Iraqis fled.") == []
    assert values("They set a 1900 GMT deadline.") == []


def test_a_persons_age_is_no_duration() -> None:
    assert values("Ms. Vance, 47 years old, will succeed him.") == []
    assert values("The chief, who is 61 years old, retires in 1999.") == [
        ("1999", "DATE", "1999")]
    assert values("The truce is 8 years old and the talks lasted 12 years.")[-1] == (
        "12 years", "DURATION", "P12Y")


def test_the_last_decade_is_a_calendar_decade() -> None:
    assert values("Wages lost ground in the last decade.") == [
        ("the last decade", "DATE", "198")]
    assert values("Demand will double in the next decade.") == [
        ("the next decade", "DATE", "200")]
    # spanned, or the ten years up to now: a duration; a decade of something else: none
    assert values("Output doubled over the last decade.") == [
        ("the last decade", "DURATION", "P1DE")]
    assert values("Output doubled in the past decade.") == [
        ("the past decade", "DURATION", "P1DE")]
    assert values("It was built in the last decade of the century.") == []


def test_weekdays_in_the_plural_recur() -> None:
    assert values("The show airs on Saturday nights.") == [
        ("Saturday nights", "SET", "XXXX-WXX-6TNI")]
    assert values("The market is closed on Sundays.") == [("Sundays", "SET", "XXXX-WXX-7")]
    # no page date either; one Saturday night stays one
    text = "The show airs on Saturday nights."
    assert find_dates(Document(split_sentences(text)), DCT) == []
    assert values("The show aired on Saturday night.") == [
        ("Saturday night", "TIME", "1998-02-28TNI")]


def test_a_modifier_is_part_of_the_extent() -> None:
    assert values("Crowds gathered early Tuesday.") == [("early Tuesday", "DATE", "1998-03-03")]
    assert values("Later yesterday, the talks resumed.") == [
        ("Later yesterday", "DATE", "1998-03-03")]
    assert values("The rebels took the town almost two years ago.") == [
        ("almost two years ago", "DATE", "1996")]
    assert values("Sales for fiscal 1997 rose.") == [("fiscal 1997", "DATE", "1997")]
    # "the" of "the third-quarter results" is the noun's
    assert values("It beat the third-quarter forecast.") == [
        ("third-quarter", "DATE", "1997-Q3")]
