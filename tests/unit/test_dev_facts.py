"""dev_facts: an article's facts read back from the session's folder are the facts
extract_facts gives, and an article is extracted once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dev_facts
import pytest

from storyline.domain.events import ArticleReceived
from storyline.domain.extract.extractor import extract_facts


def test_facts_are_extracted_once_and_read_back_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dev_facts, "shared_dir", tmp_path)
    monkeypatch.setattr(dev_facts, "stats", {"extracted": 0, "found": 0})
    published = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
    first, other = (ArticleReceived(uri=f"urn:dev:{n}", version=1, source="Wire",
                                    headline="Harbour fares rise",
                                    body=f"Ferry fares rose by {n} per cent on Monday, the "
                                         "harbour board said.", published=published)
                    for n in (4, 5))
    made = dev_facts.all_facts([first, other, first])
    assert dev_facts.stats == {"extracted": 2, "found": 1}
    assert made == [extract_facts(first), extract_facts(other), extract_facts(first)]
    assert made[0] != made[1]
    assert len(list(tmp_path.rglob("*.pickle"))) == 2 and not list(tmp_path.rglob("*.part"))
    # another version of the article is another article
    again = dev_facts.facts_of(first.model_copy(update={"version": 2}))
    assert dev_facts.stats == {"extracted": 3, "found": 1} and again.version == 2
