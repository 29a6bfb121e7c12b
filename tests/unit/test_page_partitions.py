"""The page stage partitioned by story id (docs/stages.md, step 5): the assignments folded
by M page partitions, each owning the stories that map to it and rebuilding a story merged
in from another partition out of the facts alone, give the events of one fold, byte for
byte, for any M and any spread of the stories over the partitions."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_page_citations import ScriptedClusterer, scripted_entries, scripted_log
from test_pipeline import PROPERTY, build_log, log_entries, records
from test_stages import carried, folded

from storyline.domain.canonical import canonical_bytes
from storyline.domain.contracts import (
    Absorbed,
    ArticleAssigned,
    ArticleExtracted,
    FactsPosition,
    MovedArticle,
)
from storyline.domain.events import ArticleReceived
from storyline.domain.page.handover import HandoverError, moved_from_facts
from storyline.domain.partitions import PagePartition, page_partition, partitions_of
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.domain.stages import extract
from storyline.domain.upcasting import decode_event
from storyline.replay import records_from_files

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
Record = tuple[bytes | None, bytes | None, LogPosition]


class Partitioned:
    """The assign stage (of ``assigning``) and ``partitions`` page partitions, each record
    carried as JSON between them; ``feed`` gives every event and dead letter of a record,
    the events of one assignment in the order of the partitions it goes to (only the
    survivor's partition emits)."""

    def __init__(self, partitions: int, partition_of: Callable[[str], int] | None = None,
                 assigning: Pipeline | None = None) -> None:
        self.assigning = assigning or Pipeline()
        self.pages = [PagePartition(p, partitions, partition_of=partition_of)
                      for p in range(partitions)]
        self.facts: dict[tuple[int, int], ArticleExtracted] = {}

    def facts_at(self, position: FactsPosition) -> ArticleExtracted:
        return self.facts[(position.partition, position.offset)]

    def feed(self, record: Record) -> list[bytes | str]:
        _key, value, position = record
        assert value is not None
        if not self.assigning.claim(position):
            return []
        extracted = carried(extract(decode_event(value, ArticleReceived), position))
        self.facts[(position.partition, position.offset)] = extracted
        out: list[bytes | str] = []
        try:
            assigned = self.assigning.assigner.assign(extracted)
            if assigned is None:
                return []
            assigned = carried(assigned)
            for p in partitions_of(assigned, self.pages[0].partition_of):
                page = self.pages[p]
                mine = page.owns(assigned.story_id)
                events = page.fold(assigned, extracted if mine else None, self.facts_at)
                out += [canonical_bytes(e) for e in events]
        except Exception as exc:  # noqa: BLE001 - a dead letter, as handle_record makes it
            out.append(f"dead {type(exc).__name__} {position.offset}")
        return out


def partitioned(log: list[Record], partitions: int,
                partition_of: Callable[[str], int] | None = None,
                assigning: Pipeline | None = None) -> list[bytes | str]:
    stages = Partitioned(partitions, partition_of, assigning)
    return [out for record in log for out in stages.feed(record)]


def spread(mapping: dict[str, int], partitions: int) -> Callable[[str], int]:
    """Stories placed by ``mapping`` (the scripted ids), any other by its CRC-32."""
    return lambda story_id: mapping.get(story_id, zlib.crc32(story_id.encode())) % partitions


STORY_SPREAD = st.dictionaries(st.sampled_from(["story-a", "story-b", "story-c"]),
                               st.integers(min_value=0, max_value=2))


@PROPERTY
@given(scripted_entries, st.integers(min_value=1, max_value=3), STORY_SPREAD)
def test_merges_across_partitions_fold_like_one_fold(
        entries: list[tuple[str, int, int]], partitions: int, mapping: dict[str, int]
) -> None:
    """Merges with copies, withdrawals and revivals on both sides, the stories spread over
    1-3 partitions in every way."""
    log, plan = scripted_log(entries)
    one, assigning = Pipeline(), Pipeline()
    for p in (one, assigning):
        p.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    expected = folded(records(log), one)
    assert partitioned(records(log), partitions, spread(mapping, partitions),
                       assigning) == expected


@PROPERTY
@given(log_entries, st.integers(min_value=1, max_value=3))
def test_the_real_clusterer_partitioned_folds_like_one_fold(
        entries: list[tuple[str, int, str]], partitions: int) -> None:
    log = records(build_log(entries))
    assert partitioned(log, partitions) == folded(log)


def test_a_copy_whose_original_stayed_behind_is_no_longer_listed_under_it() -> None:
    """Story B's original is withdrawn there and revived in story A; B (its copy of the
    original, and the withdrawn original) merges into A, then A into C, each merge folded
    on another partition than the absorbed story's: A already held the original, so from
    the first merge on the copy is listed on its own, as one fold of the whole log lists
    it, and the second handover must say so too."""
    log, plan = scripted_log([("new", 1, 0), ("copy", 1, 0), ("withdrawal", 1, 0),
                              ("new", 0, 1), ("new", 2, 2)])
    original, copy = log[0].uri, log[1].uri
    revived = log[0].model_copy(update={"version": 3})
    into_a = log[3].model_copy(update={"uri": "urn:test:into-a"})
    into_c = log[4].model_copy(update={"uri": "urn:test:into-c"})
    plan[into_a.uri] = ("story-a", None, ("story-b",))
    plan[into_c.uri] = ("story-c", None, ("story-a",))
    full = records([*log, revived, into_a, into_c])
    one, assigning = Pipeline(), Pipeline()
    for p in (one, assigning):
        p.assigner.clusterer = ScriptedClusterer(plan)  # type: ignore[assignment]
    stages = Partitioned(2, spread({"story-a": 0, "story-b": 1, "story-c": 1}, 2),
                         assigning)
    expected: list[bytes | str] = []
    got: list[bytes | str] = []
    for i, record in enumerate(full):
        if i == 5:  # the revival is placed in story A
            plan[original] = ("story-a", None, ())
        expected += folded([record], one)
        got += stages.feed(record)
    assert got == expected
    merged = [e for e in expected if isinstance(e, bytes) and b'"StoryMerged"' in e]
    assert len(merged) == 2
    last = one.page("story-c")
    assert last is not None
    listed = {a.uri: a for a in last.articles}
    assert copy in listed and original in listed  # the copy is an entry of its own
    assert not listed[original].copies


@pytest.mark.parametrize("dataset", ["timeline17-dev", "entities-dev"])
def test_dev_articles_on_two_partitions_fold_like_one_fold(dataset: str) -> None:
    path = DATA / dataset / "articles.jsonl"
    if not path.exists():
        pytest.skip("needs ../shared/data (dev corpus)")
    log = records_from_files([path], "t", 120)
    expected = folded(log)
    assert len(expected) >= 100
    assert partitioned(log, 2) == expected


def test_page_partitions_are_the_same_in_every_process() -> None:
    # CRC-32 of the id, not the per-process seeded hash: pinned values, which a change of
    # the function (a deployed topic's stories would move) fails
    assert [page_partition(s, 4) for s in ("story-a", "story-b", "story-c")] == [2, 0, 2]
    assert page_partition("x", 1) == 0
    with pytest.raises(ValueError):
        page_partition("x", 0)


def test_an_assignment_goes_to_its_story_and_each_merged_story_once() -> None:
    position = {"topic": "t", "partition": 0, "offset": 7}
    facts = FactsPosition(partition=0, offset=7)
    assigned = ArticleAssigned(
        position=position, uri="u", version=1, story_id="s1", facts=facts,
        merges=(Absorbed(story_id="s2", articles=()), Absorbed(story_id="s3", articles=())))
    route = {"s1": 1, "s2": 0, "s3": 1}.__getitem__
    assert partitions_of(assigned, route) == [1, 0]
    # on the survivor's partition, only the story folded elsewhere moves in; elsewhere none
    survivor = PagePartition(1, 2, partition_of=route)
    assert [m.story_id for m in survivor.merges_moving_in(assigned)] == ["s2"]
    assert PagePartition(0, 2, partition_of=route).merges_moving_in(assigned) == []


def test_a_handover_that_does_not_describe_a_story_is_refused() -> None:
    facts = FactsPosition(partition=0, offset=0)
    absorbed = Absorbed(story_id="s", articles=(
        MovedArticle(uri="a", facts=facts, copy_of="elsewhere"),))
    with pytest.raises(HandoverError):
        moved_from_facts(absorbed, lambda _: pytest.fail("not read"))  # type: ignore[arg-type,return-value]

