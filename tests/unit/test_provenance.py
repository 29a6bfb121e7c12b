"""``ArticleReceived.provenance`` (issue #12): how an article reached the log (``via``, the API
key's id) is recorded in the event and shapes nothing: no fingerprint, no extraction, no
story, no revision. The same item sent by HTTP and from a file is one article, the second
a resend, and the pages are the bytes they would be without it."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from test_pipeline import PROPERTY, START, STORIES, build_log, log_entries, pages_of, records

from storyline.domain.canonical import canonical_bytes, content_hash
from storyline.domain.events import ArticleReceived, Provenance
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.domain.records import handle_record
from storyline.domain.stages import content_fingerprint, extract
from storyline.domain.upcasting import decode_event
from storyline.ingest.normalise import parse_item

TOPIC = "storyline.articles"

ARTICLE = ArticleReceived(uri="urn:test:prov:1", version=1, source="Valley Courier",
                          headline="Arn bursts its banks", body="\n".join(STORIES["flood"][:2]),
                          published=START, url="https://example.org/arn")

provenances = st.one_of(
    st.none(),
    st.just(Provenance(via="file")),
    st.builds(lambda key: Provenance(via="http", api_key_id=key),
              st.sampled_from(["desk-7", "wire-desk", "plain-1", "A", "b.c_d-9"])),
)


def stamped(article: ArticleReceived, provenance: Provenance | None) -> ArticleReceived:
    return article.model_copy(update={"provenance": provenance})


def fold(articles: list[ArticleReceived]) -> list[bytes | str]:
    """Every event's bytes, and every dead letter (a resend taken for a conflicting version
    makes no event either: only its dead letter tells them apart)."""
    pipeline = Pipeline()
    out: list[bytes | str] = []
    for key, value, position in records(articles):
        outcome = handle_record(pipeline, key, value, position, max_bytes=1_000_000)
        out += [canonical_bytes(e) for e in outcome.events]
        if outcome.dead_letter is not None:
            out.append(f"dead {outcome.dead_letter.error_type} {position.offset}")
    return out


# -- the contract -------------------------------------------------------------------------------


def test_an_article_without_provenance_keeps_its_bytes_and_reads_as_none() -> None:
    """Events written before provenance existed have no such key: they read as they are (no
    upcaster) and an article without it serialises to exactly the bytes it had before."""
    raw = canonical_bytes(ARTICLE)
    assert b"provenance" not in raw
    assert decode_event(raw, ArticleReceived).provenance is None
    assert canonical_bytes(decode_event(raw, ArticleReceived)) == raw


def test_provenance_round_trips_and_holds_only_the_key_id() -> None:
    sent = ARTICLE.received("http", "desk-7")
    raw = canonical_bytes(sent)
    assert b'"provenance":{"api_key_id":"desk-7","via":"http"}' in raw
    assert decode_event(raw, ArticleReceived) == sent
    from_file = ARTICLE.received("file")
    assert b'"provenance":{"via":"file"}' in canonical_bytes(from_file)
    assert decode_event(canonical_bytes(from_file), ArticleReceived) == from_file
    # received() replaces what the article carried: only the ingest path says where it came from
    assert from_file.received("http", "other").provenance == Provenance(via="http",
                                                                         api_key_id="other")
    assert sent.without_provenance() == ARTICLE and ARTICLE.without_provenance() is ARTICLE


@pytest.mark.parametrize(("value", "message"), [
    ({"via": "file", "api_key_id": "desk-7"}, "only for via 'http'"),
    ({"via": "carrier-pigeon"}, "via"),
    ({"via": "http", "api_key_id": "slk_x y"}, "api_key_id"),
    ({"via": "http", "api_key_id": ""}, "api_key_id"),
    ({"via": "http", "api_key_hash": "sha256$00"}, "api_key_hash"),
])
def test_bad_provenance_is_refused(value: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Provenance.model_validate(value)


def test_a_parser_never_takes_provenance_from_the_item() -> None:
    """A client cannot claim a provenance: the flat JSON format refuses the key, and ninjs
    has no such field (the handler stamps what it knows anyway)."""
    item = {"uri": "urn:x:1", "source": "Wire", "body": "Text.",
            "published": "2026-03-01T00:00:00Z"}
    with pytest.raises(Exception, match="provenance"):
        parse_item({**item, "provenance": {"via": "http", "api_key_id": "admin"}}, fmt="json")
    assert parse_item(item, fmt="json").provenance is None


# -- it shapes nothing ----------------------------------------------------------------------------


@given(provenances, provenances)
def test_the_fingerprint_and_the_extraction_ignore_provenance(
        one: Provenance | None, other: Provenance | None) -> None:
    a, b = stamped(ARTICLE, one), stamped(ARTICLE, other)
    assert content_fingerprint(a) == content_fingerprint(b) == content_fingerprint(ARTICLE)
    position = LogPosition(TOPIC, 0, 3)
    # everything the assign and fold stages ever see of an article is its ArticleExtracted
    assert canonical_bytes(extract(a, position)) == canonical_bytes(extract(b, position))


def test_the_same_article_by_http_then_from_a_file_is_a_resend() -> None:
    by_http = ARTICLE.received("http", "desk-7")
    from_file = ARTICLE.received("file")
    pipeline = Pipeline()
    first = handle_record(pipeline, None, canonical_bytes(by_http), LogPosition(TOPIC, 0, 0),
                          max_bytes=1_000_000)
    assert len(first.events) == 1 and first.dead_letter is None
    again = handle_record(pipeline, None, canonical_bytes(from_file),
                          LogPosition(TOPIC, 0, 1), max_bytes=1_000_000)
    assert again.events == [] and again.dead_letter is None  # not a ConflictingVersion
    # and the revision is the bytes it is with no provenance at all, or another one
    assert fold([by_http, from_file]) == fold([ARTICLE]) == fold([from_file, by_http])
    # the idempotent POST judges a retry on the article without its provenance
    assert content_hash(by_http.without_provenance()) == content_hash(
        from_file.without_provenance()) == content_hash(ARTICLE)


@PROPERTY
@given(log_entries, st.data())
def test_any_provenance_on_any_record_gives_byte_identical_revisions(
        entries: list[tuple[str, int, str]], data: st.DataObject) -> None:
    """Copies, corrections, withdrawals and resends, each record stamped at random (a resend
    often by another path or key than the first): every event and every rebuilt page is
    the bytes of the same log without provenance."""
    log = build_log(entries)
    stamps = data.draw(st.lists(provenances, min_size=len(log), max_size=len(log)),
                       label="provenances")
    with_provenance = [stamped(a, p) for a, p in zip(log, stamps, strict=True)]
    assert fold(with_provenance) == fold(log)
    assert [canonical_bytes(p) for p in pages_of(with_provenance)] == [
        canonical_bytes(p) for p in pages_of(log)]


def test_a_real_item_posted_and_ingested_folds_alike() -> None:
    """A ninjs item as POST and `storyline ingest` would stamp it, with a later correction
    sent the other way round."""
    item = {
        "uri": "urn:wire:prov-1", "version": "1", "type": "text",
        "firstcreated": "2026-02-05T09:00:00Z", "pubstatus": "usable", "language": "en",
        "headlines": [{"role": "main", "value": "Dam holds after storm"}],
        "infosources": [{"name": "Wire"}],
        "bodies": [{"role": "main", "contenttype": "text/plain",
                    "value": "The Arn dam held on March 3, 2025.\nEngineers inspected it."}],
    }
    v1 = parse_item(item)
    v2 = parse_item({**item, "version": "2", "versioncreated": "2026-02-06T09:00:00Z",
                     "bodies": [{"role": "main", "contenttype": "text/plain",
                                 "value": "The Arn dam held on March 3, 2025.\nEngineers "
                                          "inspected it on March 4."}]})
    plain = fold([v1, v1, v2])
    assert plain == fold([v1.received("http", "desk-7"), v1.received("file"),
                          v2.received("file")])
    assert plain == fold([v1.received("file"), v1.received("http", "wire-desk"),
                          v2.received("http", "desk-7")])
    assert len(plain) == 2


def test_content_still_counts_whatever_the_provenance() -> None:
    """The fingerprint does see content: the same uri and version with another text is a
    conflict, whatever the provenance."""
    other = ARTICLE.model_copy(update={"published": START + dt.timedelta(hours=1)})
    assert content_fingerprint(other) != content_fingerprint(ARTICLE)
    pipeline = Pipeline()
    handle_record(pipeline, None, canonical_bytes(ARTICLE.received("file")),
                  LogPosition(TOPIC, 0, 0), max_bytes=1_000_000)
    out = handle_record(pipeline, None, canonical_bytes(other.received("file")),
                        LogPosition(TOPIC, 0, 1), max_bytes=1_000_000)
    assert out.dead_letter is not None and out.dead_letter.error_type == "ConflictingVersion"


def test_a_snapshot_never_holds_an_article_event() -> None:
    """The state a snapshot pickles keeps what extract made of each article, never the
    ArticleReceived (nor its provenance): so adding provenance changed no pickled class and
    STATE_LAYOUT 20 was re-recorded, not bumped (test_memory_state.py)."""
    log = [a.received("http", "desk-7") if i % 2 else a.received("file")
           for i, a in enumerate(build_log([(story, n, "new") for n in range(3)
                                             for story in sorted(STORIES)]
                                            + [("flood", 1, "correction"),
                                               ("strike", 2, "withdrawal"),
                                               ("recall", 0, "copy")]))]
    pipeline = Pipeline()
    for key, value, position in records(log):
        handle_record(pipeline, key, value, position, max_bytes=1_000_000)
    data = pickle.dumps(pipeline)
    assert len(pipeline.story_ids) >= 3
    for name in (b"ArticleReceived", b"Provenance", b"provenance", b"desk-7"):
        assert name not in data
