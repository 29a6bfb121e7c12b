"""Each dev article's facts, extracted once per test session.

Several modules score the whole dev sets (clustering, summaries, citations, dates), and each
extracted every article again: ~25 CPU s a module for the same facts. An article's facts
are a function of the article alone (the extract stage's stripes rely on it, and
test_determinism_across_processes holds it across processes), so within one session they are
extracted by this code once and kept as one pickle an article in a folder of the session's
base temp directory, which every xdist worker of the run shares (new each run: nothing is
carried from one run's code to the next; read back, not held in memory). Modules that test
extraction itself (test_extract) call ``extract_facts`` as before.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Iterable
from pathlib import Path

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived
from storyline.domain.extract.extractor import extract_facts
from storyline.domain.facts import ArticleFacts

#: set for the session by tests/unit/conftest.py (None: extracted every time)
shared_dir: Path | None = None
# what this process extracted and what it read back
stats = {"extracted": 0, "found": 0}


def facts_of(article: ArticleReceived) -> ArticleFacts:
    """``extract_facts(article)``, extracted once in the session."""
    key = hashlib.sha256(canonical_bytes(article)).hexdigest()
    path = shared_dir / key[:2] / f"{key}.pickle" if shared_dir is not None else None
    if path is not None and path.is_file():
        found = pickle.loads(path.read_bytes())
        stats["found"] += 1
    else:
        found = extract_facts(article)
        stats["extracted"] += 1
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(partial, path)  # whole or absent for the other workers
    assert isinstance(found, ArticleFacts)
    return found


def all_facts(articles: Iterable[ArticleReceived]) -> list[ArticleFacts]:
    return [facts_of(article) for article in articles]
