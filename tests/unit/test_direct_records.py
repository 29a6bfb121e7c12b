"""Records a producer writes to the articles topic directly, past the ingest paths and their
checks: whatever such a record holds, it is folded or it is a dead letter, and the valid
articles after it fold as they would have without it. (A record whose time had no UTC
offset once failed every later article of its story.)"""

from __future__ import annotations

import datetime as dt

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pipeline import STORIES, TOPIC, article

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryUpdated
from storyline.domain.pages import PageFolder
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.domain.records import handle_record
from storyline.domain.upcasting import decode_event

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
# lines that reach the extractor's edge cases: impossible and far dates, huge figures,
# relative expressions far from the publication, long runs of one character
lines = st.lists(st.one_of(text, st.sampled_from([
    "", "\u200b", "On 31 February 2025 the dam broke.", "It ends by 2099-13-45.",
    "It cost $99999999999999999999999999 billion.", "Between 1 and 1e308 people fled.",
    "In the year 0 the town was founded.", "In 9999 and in 10000 it will be rebuilt.",
    "next year, in 300 years, 3,000 years ago, last millennium, the next century",
    "Q4 2025, H1 2026, FY2027, the 1990s, the 21st century", "1" * 300, "Mr. " * 100,
])), max_size=6)
# the publication time as written by the producer: any offset, none, or far off the calendar
moments = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30))
offsets = st.one_of(st.none(), st.integers(-14 * 60, 14 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))))


def _pages(values: list[bytes]) -> tuple[list[str | None], list[list[str]], list[int]]:
    """Each record's dead-letter reason (None when it folded), the article uris of every page
    the fold made, in order, and how many revisions each record made."""
    pipeline, folder = Pipeline(), PageFolder()
    reasons: list[str | None] = []
    pages: list[list[str]] = []
    revisions: list[int] = []
    for offset, value in enumerate(values):
        handled = handle_record(pipeline, b"k", value, LogPosition(TOPIC, 0, offset),
                                max_bytes=1_000_000)
        reasons.append(handled.dead_letter.reason if handled.dead_letter else None)
        revisions.append(sum(isinstance(e, StoryUpdated) for e in handled.events))
        for event in handled.events:
            if isinstance(event, StoryUpdated):
                page = folder.apply(decode_event(canonical_bytes(event), StoryUpdated))
                assert page is not None
                pages.append([a.uri for a in page.articles])
    return reasons, pages, revisions


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(story=st.sampled_from(sorted(STORIES)), body=lines, headline=st.one_of(st.none(), text),
       version=st.integers(1, 2**63 - 1), moment=moments, offset=offsets,
       language=st.sampled_from(["en", "de", "", "x" * 35]))
def test_a_direct_record_folds_or_is_a_dead_letter_and_spoils_nothing_after_it(
    story: str, body: list[str], headline: str | None, version: int, moment: dt.datetime,
    offset: dt.timezone | None, language: str,
) -> None:
    first, second, third = (article(i, story, i) for i in range(3))
    odd = orjson.loads(canonical_bytes(first))
    odd.update(uri="urn:test:direct", version=version, headline=headline, language=language,
               body="\n".join([STORIES[story][0], *body]),
               published=moment.replace(tzinfo=offset).isoformat())
    good = [canonical_bytes(a) for a in (first, second, third)]
    reasons, pages, revisions = _pages([good[0], orjson.dumps(odd), good[1], good[2]])
    assert reasons[0] is None and reasons[2] is None and reasons[3] is None, reasons
    if reasons[1] is not None:  # refused: the rest is the fold of a log without it
        assert _pages([good[0], b"{}", good[1], good[2]])[1] == pages
    else:  # folded: into its story, a story of its own (a time far away) or as a copy
        assert revisions[1] >= 1, revisions
    assert {first.uri, second.uri, third.uri} <= {uri for page in pages for uri in page}
