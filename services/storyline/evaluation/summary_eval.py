"""``storyline eval summaries``: how much of what journalists put in their timelines a
page's summary covers, at several moments of the story.

Protocol. For each gold timeline, the story's articles published inside the gold's date
range (as ``storyline eval timeline`` takes them) are folded through the worker's code as a
log of their own (:mod:`storyline.evaluation.corpus`). At ``CHECKPOINTS`` points of that
log (after a quarter, half, three quarters and all of its articles) the page of the story
holding most of the articles so far is read, and its summary (every paragraph's sentences,
key phrases left out) is compared with the gold entries the reader could expect by then:

- ``story``: every gold entry dated on or before the newest article folded (the story so
  far): ROUGE-1 and ROUGE-2 precision / recall / F1 over content words (lower-cased
  ``\\w+`` tokens, stop words out, counts clipped as in ROUGE).
- ``latest``: the gold entries of the last ``LATEST_DAYS`` days up to that moment (the
  latest development the summary should lead with): ROUGE-1 recall of their content words.
- ``lead``: the same recall of the summary's first paragraph alone (does the summary lead
  with the latest development, or bury it?); for the baseline, its sentences.

Beside the page's summary the same scores are given for a baseline a reader gets without
Storyline: the first ``BASELINE_SENTENCES`` sentences of the newest article. Scores are
means over checkpoints, then over gold timelines. The measure is what the summary is for
(cover the story's key facts, latest first); it is not tuned against and the summary
method has no access to the gold.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import structlog

from storyline.domain.events import ArticleReceived, StoryPage
from storyline.domain.pipeline import Pipeline
from storyline.domain.records import handle_record
from storyline.domain.words import STOPWORDS
from storyline.evaluation.corpus import MAX_ARTICLE_BYTES, to_records
from storyline.evaluation.results import write_results
from storyline.evaluation.timeline_eval import (
    GoldTimeline,
    add_gold_arguments,
    gold_stories,
    run_gold_evaluation,
)

log = structlog.get_logger(__name__)

CHECKPOINTS = (0.25, 0.5, 0.75, 1.0)
LATEST_DAYS = 7
BASELINE_SENTENCES = 3
_WORD = re.compile(r"\w+")


def content_words(texts: Iterable[str]) -> Counter[str]:
    words: Counter[str] = Counter()
    for text in texts:
        words.update(w for w in _WORD.findall(text.lower()) if w not in STOPWORDS)
    return words


def bigrams(texts: Iterable[str]) -> Counter[tuple[str, str]]:
    grams: Counter[tuple[str, str]] = Counter()
    for text in texts:
        words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
        grams.update(pairwise(words))
    return grams


def overlap_scores(candidate: Counter[Any], reference: Counter[Any]) -> dict[str, float]:
    """ROUGE-n precision, recall and F1 of clipped counts."""
    hits = sum((candidate & reference).values())
    p = hits / sum(candidate.values()) if candidate else 0.0
    r = hits / sum(reference.values()) if reference else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f}


def summary_sentences(page: StoryPage) -> list[str]:
    return [s.text for paragraph in page.summary for s in paragraph.sentences]


def baseline_sentences(article: ArticleReceived) -> list[str]:
    """The newest article's first sentences: what a reader has without a summary."""
    lines = [line.strip() for line in article.body.split("\n") if line.strip()]
    sentences: list[str] = []
    for line in lines:
        sentences.extend(s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"“])", line) if s)
        if len(sentences) >= BASELINE_SENTENCES:
            break
    return sentences[:BASELINE_SENTENCES]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    at: dt.date
    articles: int
    summary: tuple[str, ...]
    baseline: tuple[str, ...]
    lead: tuple[str, ...] = ()  # the summary's first paragraph


def score_texts(texts: Sequence[str], gold: GoldTimeline, at: dt.date) -> dict[str, float]:
    so_far = [s for d, sents in gold.entries if d <= at for s in sents]
    latest = [s for d, sents in gold.entries
              if at - dt.timedelta(days=LATEST_DAYS) < d <= at for s in sents]
    r1 = overlap_scores(content_words(texts), content_words(so_far))
    r2 = overlap_scores(bigrams(texts), bigrams(so_far))
    scores = {f"story_r1_{k}": v for k, v in r1.items()}
    scores.update({f"story_r2_{k}": v for k, v in r2.items()})
    scores["latest_r1_r"] = (overlap_scores(content_words(texts), content_words(latest))["r"]
                             if latest else float("nan"))
    scores["words"] = float(sum(len(_WORD.findall(t)) for t in texts))
    return scores


def checkpoints(articles: Sequence[ArticleReceived]) -> list[Checkpoint]:
    """The articles folded in log order; the page of the story holding most of them so far,
    read at each checkpoint."""
    pipeline = Pipeline()
    stops = sorted({max(1, round(f * len(articles))) for f in CHECKPOINTS})
    out: list[Checkpoint] = []
    held: Counter[str] = Counter()
    for i, (key, value, position) in enumerate(to_records(articles), start=1):
        handle_record(pipeline, key, value, position, max_bytes=MAX_ARTICLE_BYTES)
        if i not in stops:
            continue
        held = Counter(s for a in articles[:i] if (s := pipeline.story_of(a.uri)) is not None)
        if not held:
            continue
        story_id = min(held.items(), key=lambda item: (-item[1], item[0]))[0]
        page = pipeline.page(story_id)
        if page is None:
            continue
        newest = max(articles[:i], key=lambda a: a.published)
        lead = tuple(s.text for s in page.summary[0].sentences) if page.summary else ()
        out.append(Checkpoint(newest.published.date(), i, tuple(summary_sentences(page)),
                              tuple(baseline_sentences(newest)), lead))
    return out


def _mean(values: Sequence[float]) -> float:
    kept = [v for v in values if v == v]  # NaN: no gold entry in the latest window
    return sum(kept) / len(kept) if kept else float("nan")


def evaluate(dataset: Path, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    by_story, golds = gold_stories(dataset)

    rows: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    for gold in golds:
        inside = [a for a in by_story.get(gold.story, [])
                  if gold.first <= a.published.date() <= gold.last]
        if not inside:
            continue
        points = checkpoints(inside)
        page_scores = [score_texts(c.summary, gold, c.at) for c in points]
        base_scores = [score_texts(c.baseline, gold, c.at) for c in points]
        keys = page_scores[0].keys() if page_scores else ()
        row: dict[str, Any] = {"name": gold.name, "story": gold.story, "articles": len(inside),
                               "checkpoints": len(points)}
        row["summary"] = {k: _mean([s[k] for s in page_scores]) for k in keys}
        row["baseline"] = {k: _mean([s[k] for s in base_scores]) for k in keys}
        lead_scores = [score_texts(c.lead, gold, c.at)["latest_r1_r"] for c in points]
        row["summary"]["lead_latest_r1_r"] = _mean(lead_scores)
        row["baseline"]["lead_latest_r1_r"] = row["baseline"].get("latest_r1_r", float("nan"))
        rows.append(row)
        outputs.append({"name": gold.name, "checkpoints": [
            {"at": c.at.isoformat(), "articles": c.articles, "summary": list(c.summary),
             "lead": list(c.lead),
             "baseline": list(c.baseline)} for c in points]})
        log.info("summary_scored", name=gold.name, **{k: round(v, 4) for k, v in
                                                       row["summary"].items()})

    metrics = ("story_r1_p", "story_r1_r", "story_r1_f", "story_r2_f", "latest_r1_r",
               "lead_latest_r1_r", "words")
    mean = {side: {m: _mean([r[side][m] for r in rows]) for m in metrics}
            for side in ("summary", "baseline")}
    result: dict[str, Any] = {"dataset": dataset.name, "timelines": rows, "mean": mean,
                              "seconds": time.perf_counter() - started}
    write_results(out, "summaries.jsonl", outputs, result)
    return result


def format_table(result: dict[str, Any]) -> str:
    head = (f"{'timeline':<50} {'':>8} {'R1-P':>6} {'R1-R':>6} {'R1-F':>6} {'R2-F':>6} "
            f"{'latest':>6} {'lead':>6} {'words':>6}")
    lines = [head]

    def cells(scores: dict[str, float]) -> str:
        return (f"{scores['story_r1_p']:>6.3f} {scores['story_r1_r']:>6.3f} "
                f"{scores['story_r1_f']:>6.3f} {scores['story_r2_f']:>6.3f} "
                f"{scores['latest_r1_r']:>6.3f} {scores['lead_latest_r1_r']:>6.3f} "
                f"{scores['words']:>6.0f}")

    for r in result["timelines"]:
        lines.append(f"{r['name'][:50]:<50} {'summary':>8} {cells(r['summary'])}")
        lines.append(f"{'':<50} {'baseline':>8} {cells(r['baseline'])}")
    for side in ("summary", "baseline"):
        lines.append(f"{'mean':<50} {side:>8} {cells(result['mean'][side])}")
    lines.append(f"{result['seconds']:.1f} s")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_gold_arguments(parser, "summaries.jsonl and scores.json")


def run(args: argparse.Namespace) -> int:
    return run_gold_evaluation(args, evaluate, format_table)
