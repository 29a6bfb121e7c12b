"""Event contracts: schemas in sync with the code, old events still readable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from storyline.commands.schemas import generated
from storyline.domain.canonical import canonical_bytes, content_hash
from storyline.domain.contracts import ClusteringFeatures
from storyline.domain.events import (
    PUBLISHED_LATEST,
    ArticleReceived,
    DeadLetter,
    publication_time,
)
from storyline.domain.upcasting import (
    RetiredEvent,
    UndecodableEvent,
    decode_any,
    decode_event,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "events"


def test_schemas_directory_matches_the_models() -> None:
    wanted = generated()
    on_disk = {p.name: p.read_bytes() for p in (ROOT / "schemas").glob("*.schema.json")}
    assert set(on_disk) == set(wanted), "run `storyline schemas write`"
    for name, data in wanted.items():
        assert on_disk[name] == data, f"{name} drifted from the code: run `storyline schemas write`"


def test_v1_article_bytes_stored_long_ago_are_read_as_v2() -> None:
    article = decode_event((FIXTURES / "ArticleReceived.v1.json").read_bytes(), ArticleReceived)
    assert article.schema_version == 2
    assert article.source == "Valley Courier"
    assert article.published.isoformat() == "2025-03-03T18:20:00+00:00"
    assert article.version == 2
    assert article.wire_format == "ninjs"


def test_current_events_round_trip_through_canonical_bytes() -> None:
    article = decode_event((FIXTURES / "ArticleReceived.v1.json").read_bytes(), ArticleReceived)
    again = decode_any(canonical_bytes(article))
    assert again == article
    assert content_hash(again) == content_hash(article)


def test_canonical_bytes_do_not_depend_on_key_order() -> None:
    assert canonical_bytes({"b": 1, "a": [2, {"d": 3, "c": 4}]}) == canonical_bytes(
        {"a": [2, {"c": 4, "d": 3}], "b": 1})
    assert canonical_bytes({"a": 1}) == b'{"a":1}'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"event_type": "StoryUpdated", "schema_version": 1}', "expected event_type"),
        (b'{"event_type": "ArticleReceived", "schema_version": 2, "uri": "u", "version": 0,'
         b' "source": "s", "body": "b", "published": "2020-01-01T00:00:00Z"}', "field 'version'"),
    ],
)
def test_undecodable_articles_say_why(data: bytes, message: str) -> None:
    with pytest.raises(UndecodableEvent, match=message):
        decode_event(data, ArticleReceived)


def test_dead_letter_keeps_position_and_payload() -> None:
    letter = DeadLetter(stage="worker", error_type="X", reason="r", source_topic="t",
                        source_partition=0, source_offset=7, payload="{}")
    assert decode_any(canonical_bytes(letter)) == letter


def test_a_malformed_old_event_is_undecodable_not_a_crash() -> None:
    with pytest.raises(UndecodableEvent, match="cannot upgrade ArticleReceived v1: missing field"):
        decode_event(b'{"event_type": "ArticleReceived", "uri": 42}', ArticleReceived)
    # an event without schema_version is read as v1; the reason says so, not just "outlet"
    with pytest.raises(UndecodableEvent, match=r"no schema_version, so it was read as v1; "
                                               r"ArticleReceived events are now written as v2"):
        decode_event(b'{"event_type": "ArticleReceived", "uri": "u", "source": "S"}',
                     ArticleReceived)


def test_a_v1_full_page_story_updated_is_read_as_a_full_v2_change() -> None:
    from storyline.domain.events import StoryUpdated
    from storyline.domain.pages import page_hash, page_of_full

    raw = (FIXTURES / "StoryUpdated.v1.json").read_bytes()
    update = decode_event(raw, StoryUpdated)
    assert update.schema_version == 2
    assert update.changes.full and update.previous_hash is None
    page = page_of_full(update)  # checks the new hash of the page it carries
    assert page_hash(page) == update.content_hash
    assert (page.story_id, page.revision, page.independent_count) == ("story-kursk", 3, 3)
    assert [a.n for a in page.articles] == [1, 2, 3]
    assert page.title == "North Korean forces continue operations in Russia's Kursk"


def test_a_v1_story_updated_whose_content_was_altered_is_refused() -> None:
    import json

    from storyline.domain.events import StoryUpdated

    payload = json.loads((FIXTURES / "StoryUpdated.v1.json").read_bytes())
    payload["title"] = "Something else"
    with pytest.raises(UndecodableEvent, match="does not match its content_hash"):
        decode_event(json.dumps(payload).encode(), StoryUpdated)


def test_an_old_story_split_is_a_retired_event_not_a_crash() -> None:
    """StorySplit was declared but never produced, and is gone from the contracts
    (docs/clustering.md, Splits); one found on a topic reads as RetiredEvent, which
    consumers skip (an UndecodableEvent, so readers that skip those skip it too)."""
    raw = (FIXTURES / "StorySplit.v1.json").read_bytes()
    with pytest.raises(RetiredEvent, match="StorySplit is a retired event type") as caught:
        decode_any(raw)
    assert isinstance(caught.value, UndecodableEvent)
    assert not (ROOT / "schemas" / "StorySplit.v1.schema.json").exists()


def test_the_clusterers_columns_give_one_entry_each() -> None:
    """Terms, counts and names travel as columns (ArticleExtracted v2): a record whose
    columns do not line up is refused, not read with a term's count shifted."""
    names = {"canonical": ["barack obama"], "count": [3], "person": [True], "lede": [False]}
    good = {"day": 1.5, "body_terms": ["oil", "spill"], "body_counts": [2, 1],
            "headline_terms": [], "headline_counts": [], "names": names, "shingles": ""}
    read = ClusteringFeatures.model_validate(good)
    assert read.names.canonical == ("barack obama",) and read.body_counts == (2, 1)
    for broken in ({**good, "body_counts": [2]},
                   {**good, "headline_counts": [1]},
                   {**good, "names": {**names, "lede": []}},
                   {**good, "names": {**names, "count": [-1]}}):
        with pytest.raises(ValidationError):
            ClusteringFeatures.model_validate(broken)
    with pytest.raises(ValidationError):
        read.day = 2.0  # type: ignore[misc]  # frozen like any contract


def _fixture_article() -> ArticleReceived:
    """The article ``ArticleExtracted.v1.json`` was extracted from (extract-25, by the code
    before version 2, at offset 7)."""
    return ArticleReceived(
        uri="urn:fixture:extracted-v1", version=1, source="Valley Courier",
        headline="Aldwater floods Kesterby as levee gives way",
        body="More than 2,000 residents of Kesterby were evacuated on Tuesday as the Aldwater "
             "burst its banks.\nMayor Tomas Reyes said two schools had been opened as "
             "shelters.\nEmergency director Helen Okafor said the river would peak on "
             "Thursday.",
        published=dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC))


def test_a_facts_record_of_version_1_reads_as_the_version_2_of_the_same_article() -> None:
    """A facts topic keeps what earlier versions wrote: a v1 record (terms as pairs, a
    model a name) is upcast, by every stage's reader, to what this version extracts."""
    from storyline.domain.contracts import (
        extracted_for_assign,
        extracted_for_page,
        read_extracted,
    )
    from storyline.domain.pipeline import Pipeline
    from storyline.domain.stages import LogPosition, extract

    v1 = (FIXTURES / "ArticleExtracted.v1.json").read_bytes()
    assert b'"schema_version":1' in v1 and b'"body_terms":[["' in v1
    now = extract(_fixture_article(), LogPosition("storyline.articles", 0, 7))
    assert now.schema_version == 2
    assert now.extractor_version == read_extracted(v1).extractor_version  # else re-record
    assert read_extracted(v1) == now
    assert decode_event(v1, type(now)) == now  # the generic path agrees
    assert extracted_for_assign(v1) == extracted_for_assign(now.model_dump_json())
    assert extracted_for_page(v1) == extracted_for_page(now.model_dump_json())
    assert now.clustering is not None and now.clustering.names.canonical[:2] == (
        "kesterby", "aldwater")
    # and it is placed where the v2 record is
    old, new = Pipeline(), Pipeline()
    assert (old.assigner.assign(extracted_for_assign(v1))
            == new.assigner.assign(extracted_for_assign(now.model_dump_json())))
    # a record that is neither version is still refused, with the reader's own error
    broken = v1.replace(b'"schema_version":1', b'"schema_version":7')
    with pytest.raises(ValidationError):
        read_extracted(broken)
    with pytest.raises(ValidationError):
        extracted_for_assign(v1.replace(b'"body_terms":[["', b'"body_terms":[[7,"'))


def test_a_publication_time_is_read_as_utc_and_refused_where_it_cannot_be_dated() -> None:
    utc = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert publication_time(dt.datetime(2026, 3, 1, 8, 0)) == utc  # no offset: UTC
    moved = publication_time(dt.datetime(2026, 3, 1, 3, 0,
                                         tzinfo=dt.timezone(dt.timedelta(hours=-5))))
    assert moved == utc and moved.utcoffset() == dt.timedelta(0)
    assert publication_time(PUBLISHED_LATEST) == PUBLISHED_LATEST
    for outside in (dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC),
                    dt.datetime(99, 12, 31, 23, 59),
                    # within the bounds as written, before them in UTC
                    dt.datetime(100, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                    # an offset that carries it past year 1: refused, not an OverflowError
                    dt.datetime(1, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))):
        with pytest.raises(ValueError, match="outside the years 100 to 9899"):
            publication_time(outside)
    base = decode_event((FIXTURES / "ArticleReceived.v1.json").read_bytes(), ArticleReceived)
    with pytest.raises(ValidationError, match="outside the years 100 to 9899"):
        ArticleReceived.model_validate({**base.model_dump(), "published": "9999-12-31T23:00:00"})
