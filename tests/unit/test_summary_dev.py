"""Summaries of the dev gold stories: every citation supports its sentence (skips without
../shared)."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from dev_facts import facts_of

from storyline.domain.events import ArticleReceived, SummaryParagraph
from storyline.domain.extract.analysis import tokens
from storyline.domain.facts import CitedArticle
from storyline.domain.page.summary import summarise
from storyline.domain.page.title import MAX_CHARS, choose_title

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SETS = ("timeline17-dev", "entities-dev")


def _items(name: str) -> Iterator[tuple[ArticleReceived, str]]:
    base = DATA / name
    if not (base / "articles.jsonl").exists():
        pytest.skip(f"{base} is absent")
    with (base / "gold" / "stories.jsonl").open(encoding="utf-8") as lines:
        gold = {r["uri"]: r["story"] for r in map(json.loads, lines)}
    with (base / "articles.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            body = next(b["value"] for b in item["bodies"] if b.get("role") == "main")
            headlines = item.get("headlines") or [{}]
            yield (
                ArticleReceived(
                    uri=item["uri"],
                    version=int(item["version"]),
                    source=item["infosources"][0]["name"],
                    headline=headlines[0].get("value"),
                    body=body,
                    published=dt.datetime.fromisoformat(item["versioncreated"]),
                ),
                gold[item["uri"]],
            )


@cache
def stories(name: str) -> dict[str, list[CitedArticle]]:
    """Gold stories as the fold would see them: citation numbers in log order."""
    out: dict[str, list[CitedArticle]] = {}
    for article, story in _items(name):
        members = out.setdefault(story, [])
        members.append(
            CitedArticle(
                n=len(members) + 1,
                uri=article.uri,
                version=article.version,
                source=article.source,
                headline=article.headline,
                published=article.published,
                facts=facts_of(article),
            )
        )
    return out


def _words(text: str) -> list[str]:
    return tokens(text)


# the day the summary adds after a relative expression ("on Monday (Mar 16)"): not the source's
GLOSS = re.compile(r" \([A-Z][a-z]{2} \d{1,2}\)")


def near_identical(claim: str, sentence: str) -> bool:
    """The cited sentence holds the claim: contains it, or matches it word for word but for
    a few words (difflib ratio over word sequences), with every number of the claim."""
    a, b = _words(claim), _words(sentence)
    if not set(w for w in a if w[0].isdigit()) <= set(b):
        return False
    if " ".join(a) in " ".join(b):
        return True
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.7


def check(summary: tuple[SummaryParagraph, ...], articles: list[CitedArticle]) -> int:
    by_n = {a.n: a for a in articles}
    checked = 0
    for paragraph in summary:
        label = paragraph.key_phrase
        assert len(label.split()) <= 6
        if label:  # a phrase its sentences write (first letter raised), or no label
            pattern = rf"(?<![\w-])[{label[0].upper()}{label[0].lower()}]{re.escape(label[1:])}"
            assert any(re.search(pattern, s.text) for s in paragraph.sentences), paragraph
        for sentence in paragraph.sentences:
            assert sentence.citations
            ns = [c.n for c in sentence.citations]
            assert len(ns) == len(set(ns))
            for c in sentence.citations:
                article = by_n[c.n]
                assert (c.uri, c.version) == (article.uri, article.version)
                cited_text = article.facts.sentences[c.sentence]
                quoted = GLOSS.sub("", sentence.text)
                assert near_identical(quoted, cited_text), (sentence.text, cited_text)
                checked += 1
    return checked


@pytest.mark.slow
@pytest.mark.parametrize("name", SETS)
def test_every_citation_supports_its_sentence(name: str) -> None:
    total = multi = 0
    for members in stories(name).values():
        # Early, middle and final revisions of each story.
        for size in sorted({min(5, len(members)), len(members) // 2, len(members)} - {0}):
            prefix = members[:size]
            summary = summarise(prefix, ())
            assert summary
            total += check(summary, prefix)
            multi += sum(1 for p in summary for s in p.sentences if len(s.citations) > 1)
            title = choose_title(prefix)
            assert 0 < len(title) <= MAX_CHARS
    assert total > 100
    assert multi > 0  # some sentences are corroborated by more than one article
