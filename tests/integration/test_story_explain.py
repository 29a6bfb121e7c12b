"""`storyline story explain` on a real broker, as an operator runs it: the look-alike
uprisings are ingested (`storyline ingest`), the worker places them, and the command's
explanation (a replay of the articles topic with the clusterer's decision recorded) names
the story the worker put each article in."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from test_worker_replay import (  # the worker fixtures, shared
    STORYLINE,
    env,  # noqa: F401 - the fixture
    read_all,
    start_worker,
    stop,
    wait_caught_up,
)

from storyline.domain.events import StoryMerged, StoryUpdated
from storyline.domain.pages import PageFolder
from storyline.domain.upcasting import decode_any
from storyline.evaluation import corpus
from storyline.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
UPRISINGS = ROOT / "tests" / "fixtures" / "lookalikes" / "uprisings"


def worker_stories(settings: Settings) -> dict[str, str]:
    """uri -> the story the worker's published pages hold it in (after merges)."""
    folder = PageFolder()
    alias: dict[str, str] = {}
    for raw in asyncio.run(read_all(settings, settings.story_updates)):
        event = decode_any(raw)
        if isinstance(event, StoryMerged):
            alias[event.absorbed_id] = event.survivor_id
        elif isinstance(event, StoryUpdated):
            folder.apply(event)
    out: dict[str, str] = {}
    for story_id, page in folder.pages.items():
        if story_id in alias:
            continue  # absorbed: its articles are on the survivor's page
        for article in page.articles:
            out[article.uri] = story_id
    return out


def explain(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STORYLINE, "story", "explain", *args], env=environment,
                          capture_output=True, text=True, timeout=300)


def test_explain_names_the_story_the_worker_chose_and_why(
    env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,  # noqa: F811
) -> None:
    ingested = subprocess.run([*STORYLINE, "ingest", str(UPRISINGS / "articles.jsonl")],
                              env=env, capture_output=True, text=True, timeout=300)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        wait_caught_up(env)
    finally:
        stop(worker)
    placed = worker_stories(settings_for(env))
    articles = corpus.read_dataset(UPRISINGS)
    assert {a.uri for a in articles} <= set(placed), log.read_text()[-3000:]
    assert len(set(placed.values())) == 2  # the two uprisings, apart

    seen: list[str] = []
    for article in articles[:8]:  # each call replays the log: a few, both stories' founders
        result = explain(env, article.uri, "--json")
        assert result.returncode == 0, result.stderr
        found = json.loads(result.stdout)
        assert found["story_now"] == placed[article.uri]  # what the worker decided
        placement = found["placement"]
        seen.append(placement["decision"])
        if placement["decision"] == "joined":
            assert placement["chosen"]["score"] >= placement["threshold"]
            assert placement["chosen"]["shared_terms"] or placement["chosen"]["shared_names"]
            assert found["summary"].startswith("joined " + placement["chosen"]["story_id"])
        elif placement["candidates"]:
            # the second uprising's founder: its look-alike refused by the identity rule
            assert placement["candidates"][0]["refused"].startswith("identity:")
            text = explain(env, article.uri)
            assert text.returncode == 0, text.stderr
            assert "decision: new_story" in text.stdout and "identity rule" in text.stdout
    assert seen.count("new_story") == 2 and "joined" in seen

    missing = explain(env, "urn:not:on:the:log")
    assert missing.returncode == 1 and "no placement" in missing.stderr
