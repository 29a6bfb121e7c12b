"""``storyline eval event-dates``: is a timeline statement dated to the event it reports?

The label is external: the dates journalists gave the entries of the gold timelines. For each
sentence of each gold timeline entry (date D), the source statement that matches it best is
looked up among the dated statements the page would make entries of (the sentences
:func:`~storyline.domain.extract.timeline_text.dated_candidates` keeps: a date expression of month
precision or finer, a stand-alone statement) in the story's articles published from D to
the gold timeline's last date (an article published before D cannot report the event; the end is the
protocol's window of ``storyline eval timeline``). The match is ROUGE-1 F (lower-cased word
tokens, stop-words kept, no stemming, counts clipped) >= ``MIN_ROUGE`` (0.5); ties go to the
earliest article, then the earliest sentence. The matched sentence is then dated as the page
dates it: :func:`~storyline.domain.extract.timeline_text.dated_candidates` (the statements the
page's :class:`~storyline.domain.page.timeline.TimelineIndex` is built from) with the article's
publication day, so a statement about a day after publication is a plan, not an event.

Outcome of a matched sentence:

- ``correct``: dated as an event (not a plan), day precision, the gold day;
- ``planned``: marked as a plan (its date is after the article's publication);
- ``undated``: the page does not date it (no date expression of month precision or finer,
  or not a stand-alone statement): not an entry, so not scored for accuracy;
- otherwise an error, classified (first that applies): ``too_vague`` (a month or part of a
  month that contains the gold day), ``publication_date`` (dated to the article's
  publication day, the gold is another day), ``other_date_in_sentence`` (another date
  expression of the sentence is the gold day: the wrong one was chosen),
  ``relative_off_by_one`` / ``relative_off_by_week`` / ``relative_off`` (a resolved relative
  expression, 1 day, 7 days or otherwise off), ``stated_differs`` (an explicit date that is
  not the gold day: background date, or the journalist dated the entry otherwise).

The same match over every sentence of those articles (``any_sentence`` in scores.json)
says how often the best source sentence of a gold entry carries no date the page can use.

Accuracy = correct / (matched sentences dated as events); ``accuracy_all_dated`` counts plans
as wrong too.

Two figures beside it:

- ``ceiling``: the share of those statements whose gold day any dating that reads only the
  sentence and its article's publication day could give (:func:`reachable`): the
  publication day or the day before, a day-precision date the sentence mentions, or a day
  within a week of publication of a weekday it names. What the match's label allows, whatever
  the dating rules: a gold day outside all of these is the journalist's knowledge, not the
  sentence's.
- ``page``: the date the page gives the same statements, which is the date of the event
  each joined once the story's articles (all of its usable ones, as a log of their own,
  through the worker's code) were reconciled: a vague "in April" that restates the April 20
  blast shows under April 20. The same outcomes, counted over the statements dated as
  events above that are on the page (``not_on_page``: those that are not).

Figures per data set and per story (the held-out view: a rule chosen on some stories is
checked on the others). ``errors.jsonl``: every matched statement wrong by either dating.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from storyline.domain.events import ArticleReceived, DatePrecision, PubStatus
from storyline.domain.extract.text import wordset
from storyline.domain.extract.timeline_text import Candidate, dated_candidates
from storyline.domain.facts import ArticleFacts, TimeSpan
from storyline.evaluation.results import write_results
from storyline.evaluation.timeline_eval import add_gold_arguments, run_gold_evaluation

MIN_ROUGE = 0.5
MIN_GOLD_WORDS = 5  # words without digits: "Dow Jones Industrial Average: -19.59" says no event
THRESHOLDS = (0.5, 0.6, 0.7)  # accuracy at stricter matches: how much is matching noise
# days from the gold date to the matched statement's article: a statement written on the
# day or the day after reports that day's event; one written weeks later that matches the
# gold wording is often a later report of another occurrence (an updated cost, a revised
# estimate), so accuracy by lag says how much of the error is the match's, not the dating's
LAGS = ((0, 0), (1, 1), (2, 7), (8, None))
_WORD = re.compile(r"\w+(?:['’]\w+)*")
# Content words only for the candidate search (the score itself keeps stop-words).
_STOP = wordset(
    """a an the and or but of to in on at by for with from as is are was were be been has have
    had it its this that he she they his her their not who which said says will would""")

# a weekday named in a sentence may be any of the week either side of its publication
_WEEKDAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
                      re.IGNORECASE)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
REACH_DAYS = 7
# (uri, sentence) -> the date of the event the page put that statement in
PageSpans = Mapping[tuple[str, int], TimeSpan]

ERROR_KINDS = ("too_vague", "publication_date", "other_date_in_sentence",
               "relative_off_by_one", "relative_off_by_week", "relative_off", "stated_differs")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def rouge1_f(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    p, r = overlap / sum(b.values()), overlap / sum(a.values())
    return 2 * p * r / (p + r)


@dataclass(frozen=True, slots=True)
class _Sentence:
    article: int  # index into the story's article list
    index: int
    counts: Counter[str]


def _best_match(gold: Counter[str], pool: Sequence[_Sentence],
                inverted: Mapping[str, list[int]], allowed: set[int]
                ) -> tuple[float, _Sentence] | None:
    shared: Counter[int] = Counter()
    for word in gold:
        if word in _STOP:
            continue
        for i in inverted.get(word, ()):
            if pool[i].article in allowed:
                shared[i] += 1
    best: tuple[float, int, int, _Sentence] | None = None
    for i, n in shared.items():
        if n < 2:
            continue
        sentence = pool[i]
        f = rouge1_f(gold, sentence.counts)
        key = (f, -sentence.article, -sentence.index, sentence)
        if best is None or key[:3] > best[:3]:
            best = key
    if best is None or best[0] < MIN_ROUGE:
        return None
    return best[0], best[3]


def classify(cand: Candidate | None, facts: ArticleFacts, sentence: int, published: dt.date,
             gold: dt.date) -> str:
    """The outcome of one matched sentence (see the module docstring)."""
    if cand is None:
        return "undated"
    if cand.planned:
        return "planned"
    span = cand.span
    if span.precision is DatePrecision.DAY and span.start == gold:
        return "correct"
    if span.start <= gold <= span.end:
        return "too_vague"
    if span.precision is DatePrecision.DAY and span.start == published:
        return "publication_date"
    others = [m for m in facts.dates if m.sentence == sentence
              and m.span.precision is DatePrecision.DAY and m.span.start == gold]
    if others:
        return "other_date_in_sentence"
    if not cand.stated:
        off = abs((span.start - gold).days)
        return ("relative_off_by_one" if off == 1 else
                "relative_off_by_week" if off == 7 else "relative_off")
    return "stated_differs"


def reachable(facts: ArticleFacts, sentence: int, published: dt.date, gold: dt.date) -> bool:
    """Whether a dating that reads only sentence ``sentence`` of ``facts`` and the
    article's ``published`` day could give the ``gold`` day (see the module docstring)."""
    if gold in (published, published - dt.timedelta(days=1)):
        return True
    if any(m.sentence == sentence and m.span.precision is DatePrecision.DAY
           and m.span.start == gold for m in facts.dates):
        return True
    named = {_WEEKDAYS.index(w.lower()) for w in _WEEKDAY.findall(facts.sentences[sentence])}
    return abs((gold - published).days) <= REACH_DAYS and gold.weekday() in named


def page_spans(articles: Sequence[ArticleReceived]) -> dict[tuple[str, int], TimeSpan]:
    """The date the page gives each statement of ``articles`` folded as a log of their own
    (every story they went to)."""
    from storyline.evaluation.corpus import fold, stories_of

    if not articles:
        return {}
    pipeline = fold(articles).pipeline
    out: dict[tuple[str, int], TimeSpan] = {}
    for story_id in sorted(set(stories_of(pipeline, articles).values())):
        state = pipeline.story(story_id)
        if state is not None:
            out.update(state.timeline.event_spans())
    return out


def score_story(golds: Sequence[Any], articles: Sequence[ArticleReceived],
                facts: Mapping[str, ArticleFacts], statements_only: bool = True,
                page: PageSpans | None = None) -> list[dict[str, Any]]:
    """One row per gold sentence of the story's gold timelines; the match is looked for
    among the page's dated statements, or among all sentences (``statements_only=False``).
    ``page``: the dates the story's page gives its statements (:func:`page_spans`)."""
    pool: list[_Sentence] = []
    inverted: dict[str, list[int]] = {}
    candidates: list[dict[int, Candidate]] = []
    for k, article in enumerate(articles):
        article_facts = facts[article.uri]
        candidates.append({c.sentence: c for c in dated_candidates(
            article_facts, published=article.published.date())})
        for index, text in enumerate(article_facts.sentences):
            if statements_only and index not in candidates[-1]:
                continue
            counts = Counter(words(text))
            if not counts:
                continue
            for word in counts:
                if word not in _STOP:
                    inverted.setdefault(word, []).append(len(pool))
            pool.append(_Sentence(k, index, counts))
    days = [a.published.date() for a in articles]
    rows: list[dict[str, Any]] = []
    for gold in golds:
        for day, sentences in gold.entries:
            allowed = {k for k, pub in enumerate(days) if day <= pub <= gold.last}
            for text in sentences:
                if sum(1 for w in words(text) if not any(c.isdigit() for c in w)) \
                        < MIN_GOLD_WORDS:
                    continue
                row: dict[str, Any] = {"timeline": gold.name, "story": gold.story,
                                       "gold_date": day.isoformat(), "gold": text}
                found = _best_match(Counter(words(text)), pool, inverted, allowed)
                if found is None:
                    row["outcome"] = "unmatched"
                    rows.append(row)
                    continue
                f, match = found
                article = articles[match.article]
                article_facts = facts[article.uri]
                cand = candidates[match.article].get(match.index)
                row.update(
                    rouge1_f=round(f, 3), uri=article.uri,
                    published=days[match.article].isoformat(),
                    sentence=article_facts.sentences[match.index],
                    outcome=classify(cand, article_facts, match.index, days[match.article], day),
                    mentions=[m.text for m in article_facts.dates if m.sentence == match.index],
                )
                if cand is not None:
                    row.update(date=cand.span.start.isoformat(),
                               precision=cand.span.precision.value, date_text=cand.date_text,
                               stated=cand.stated, planned=cand.planned,
                               reachable=reachable(article_facts, match.index,
                                                   days[match.article], day))
                    shown = page.get((article.uri, match.index)) if page is not None else None
                    if shown is not None:
                        row.update(page_date=shown.start.isoformat(),
                                   page_precision=shown.precision.value,
                                   page_outcome=classify(replace(cand, span=shown),
                                                         article_facts, match.index,
                                                         days[match.article], day))
                    elif page is not None:
                        row["page_outcome"] = "not_on_page"
                rows.append(row)
    return rows


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    outcomes = Counter(r["outcome"] for r in rows)
    matched = sum(n for o, n in outcomes.items() if o != "unmatched")
    events = matched - outcomes["undated"] - outcomes["planned"]
    dated = events + outcomes["planned"]
    return {
        "gold_sentences": len(rows),
        "matched": matched,
        "dated_as_events": events,
        "correct": outcomes["correct"],
        "accuracy": outcomes["correct"] / events if events else None,
        "accuracy_all_dated": outcomes["correct"] / dated if dated else None,
        # a month or week that contains the gold day counts as right at its precision
        "accuracy_lenient": ((outcomes["correct"] + outcomes["too_vague"]) / events
                             if events else None),
        "planned": outcomes["planned"],
        "undated": outcomes["undated"],
        "errors": {kind: outcomes[kind] for kind in ERROR_KINDS},
        "ceiling": _ceiling(rows, events),
        "page": _page(rows),
    }


_NOT_EVENTS = ("unmatched", "undated", "planned")


def _ceiling(rows: Sequence[Mapping[str, Any]], events: int) -> float | None:
    """The share of the statements dated as events whose gold day is :func:`reachable`."""
    reach = sum(1 for r in rows if r["outcome"] not in _NOT_EVENTS and r.get("reachable"))
    return reach / events if events else None


def _page(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The outcomes of the statements dated as events, by the date the page gives them
    (None: the rows were scored without the page, as ``any_sentence``'s are)."""
    outcomes = Counter(r["page_outcome"] for r in rows
                       if r["outcome"] not in _NOT_EVENTS and "page_outcome" in r)
    if not outcomes:
        return None
    missing = outcomes.pop("not_on_page", 0)
    total = sum(outcomes.values())
    return {
        "dated_as_events": total,
        "correct": outcomes["correct"],
        "accuracy": outcomes["correct"] / total if total else None,
        "not_on_page": missing,
        "errors": {kind: outcomes[kind] for kind in ERROR_KINDS},
    }


def by_threshold(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in THRESHOLDS:
        s = summarise([r if r["outcome"] == "unmatched" or r["rouge1_f"] >= t
                       else {**r, "outcome": "unmatched"} for r in rows])
        out[f"{t:.1f}"] = {k: s[k] for k in ("dated_as_events", "correct", "accuracy",
                                             "accuracy_lenient", "planned")}
    return out


def by_lag(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    def lag(row: Mapping[str, Any]) -> int:
        return (dt.date.fromisoformat(row["published"])
                - dt.date.fromisoformat(row["gold_date"])).days

    matched = [(lag(r), r) for r in rows if r["outcome"] != "unmatched"]
    out: dict[str, Any] = {}
    for low, high in LAGS:
        s = summarise([r for days, r in matched
                       if days >= low and (high is None or days <= high)])
        name = f"{low}" if low == high else f"{low}-{high}" if high is not None else f"{low}+"
        out[name] = {k: s[k] for k in ("dated_as_events", "correct", "accuracy", "planned")}
    return out


def evaluate_facts(dataset: Path, articles: Sequence[ArticleReceived],
                   facts: Mapping[str, ArticleFacts], page: bool = False
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows and scores; ``page``: each story's articles folded too, for the dates its
    page gives (``page`` in the scores)."""
    from storyline.evaluation.timeline_eval import load_gold

    stories, golds = load_gold(dataset)
    by_story: dict[str, list[ArticleReceived]] = {}
    for article in articles:
        story = stories.get(article.uri)
        if story is not None and article.pubstatus is PubStatus.USABLE and article.uri in facts:
            by_story.setdefault(story, []).append(article)
    rows: list[dict[str, Any]] = []
    anywhere: list[dict[str, Any]] = []
    for story in sorted({g.story for g in golds}):
        story_golds = [g for g in golds if g.story == story]
        shown = page_spans(by_story.get(story, [])) if page else None
        rows += score_story(story_golds, by_story.get(story, []), facts, page=shown)
        anywhere += score_story(story_golds, by_story.get(story, []), facts,
                                statements_only=False)
    scores: dict[str, Any] = {"dataset": dataset.name, "min_rouge": MIN_ROUGE,
                              "overall": summarise(rows), "stories": {},
                              "any_sentence": summarise(anywhere),
                              "by_min_rouge": by_threshold(rows),
                              "by_source_lag_days": by_lag(rows)}
    for story in sorted({r["story"] for r in rows}):
        scores["stories"][story] = summarise([r for r in rows if r["story"] == story])
    return rows, scores


def evaluate(dataset: Path, out: Path) -> dict[str, Any]:
    from storyline.domain.extract.extractor import extract_facts
    from storyline.evaluation.timeline_eval import load_articles, load_gold

    stories, _ = load_gold(dataset)
    articles = [a for a in load_articles(dataset) if a.uri in stories]
    facts = {a.uri: extract_facts(a) for a in articles}
    rows, scores = evaluate_facts(dataset, articles, facts, page=True)
    write_results(out, "errors.jsonl",
                  (row for row in rows if row["outcome"] != "unmatched" and (
                      row["outcome"] != "correct" or row.get("page_outcome", "correct")
                      != "correct")),
                  scores)
    return scores


def format_table(scores: Mapping[str, Any]) -> str:
    lines = [f"{'story':<24} {'gold':>5} {'match':>5} {'events':>6} {'ok':>5} {'acc':>6} "
             f"{'plans':>5} {'undated':>7}"]
    for name, s in [*scores["stories"].items(), ("overall", scores["overall"])]:
        acc = f"{s['accuracy']:.3f}" if s["accuracy"] is not None else "-"
        lines.append(f"{name[:24]:<24} {s['gold_sentences']:>5} {s['matched']:>5} "
                     f"{s['dated_as_events']:>6} {s['correct']:>5} {acc:>6} {s['planned']:>5} "
                     f"{s['undated']:>7}")
    lines.append("stricter matches: " + ", ".join(
        f"ROUGE-1>={t}: {v['correct']}/{v['dated_as_events']}"
        for t, v in scores["by_min_rouge"].items()))
    lines.append("by days from the gold date to the source: " + ", ".join(
        f"{lag}: {v['correct']}/{v['dated_as_events']}"
        for lag, v in scores["by_source_lag_days"].items()))
    overall = scores["overall"]
    errors = overall["errors"]
    lines.append("errors: " + ", ".join(f"{k} {v}" for k, v in errors.items()))
    if overall["ceiling"] is not None:
        lines.append(f"ceiling (gold day reachable from the sentence and its publication day): "
                     f"{overall['ceiling']:.3f}")
    page = overall["page"]
    if page is not None and page["accuracy"] is not None:
        lines.append(f"as the page dates them (the event each joined): {page['correct']}/"
                     f"{page['dated_as_events']} ({page['accuracy']:.3f}), not on the page "
                     f"{page['not_on_page']}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_gold_arguments(parser, "scores.json and errors.jsonl")


def run(args: argparse.Namespace) -> int:
    return run_gold_evaluation(args, evaluate, format_table)
