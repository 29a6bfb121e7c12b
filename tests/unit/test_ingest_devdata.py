"""Every item of the dev data sets is valid ninjs 2.1 and parses (skipped without
../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyline.ingest.files import iter_file

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SETS = {"timeline17-dev": 2568, "entities-dev": 1577}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SETS))
def test_dev_data_parses(name: str) -> None:
    path = SHARED / "data" / name / "articles.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is not here (no ../shared)")
    results = list(iter_file(path, max_bytes=1_000_000))
    errors = [str(r.error) for r in results if r.error]
    assert errors == []
    articles = [r.article for r in results if r.article]
    assert len(articles) == SETS[name]
    assert all(a.source and a.published.tzinfo is not None for a in articles)
    assert len({a.uri for a in articles}) == SETS[name]
    if name == "entities-dev":  # it has titles; Timeline17 has none
        assert all(a.headline for a in articles)
    else:
        assert all(a.headline is None for a in articles)
