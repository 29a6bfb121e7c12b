"""ninjs embargoes (`embargoed` in 1.x/2.x, `embargoedUntil` in 3.x) are decided where an item
arrives, by that edge's clock: POST /v1/articles answers 422, `storyline ingest` counts and
dead-letters the item as invalid. A past embargo changes nothing, and what reads the files
or the log again (replay, the worker) never checks one: the core reads no clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from test_ingest_cli import RecordingProducer

from storyline.cli import main
from storyline.domain.events import ArticleReceived, PubStatus
from storyline.ingest.cli import _ingest
from storyline.ingest.embargo import Embargo, embargo_of
from storyline.ingest.files import iter_file
from storyline.ingest.normalise import parse_item
from storyline.read.config import ReadSettings
from storyline.read.store import open_store
from storyline.settings import Settings, get_settings
from storyline.web.app import create_app
from storyline.web.keys import new_key

NOW = dt.datetime(2026, 12, 6, 7, 40, tzinfo=dt.UTC)
LATER = "2026-12-08T06:00:00Z"
EARLIER = "2026-12-01T06:00:00Z"

V2: dict[str, Any] = {
    "uri": "urn:wire:results-q1", "version": "1", "firstcreated": "2026-12-05T09:00:00Z",
    "pubstatus": "usable", "headlines": [{"role": "main", "value": "Norvik profits triple"}],
    "bodies": [{"role": "main", "value": "Norvik Devices will report record profits."}],
    "infosources": [{"name": "Business Wire"}], "standard": {"name": "ninjs", "version": "2.1"},
}
V3: dict[str, Any] = {
    "uri": "urn:wire:results-q1-v3", "version": "1", "firstCreated": "2026-12-05T09:00:00Z",
    "headlines": [{"role": "main", "value": "Norvik profits triple"}],
    "bodies": [{"role": "main", "value": "Norvik Devices will report record profits."}],
    "infoSources": [{"name": "Business Wire"}], "standard": {"name": "ninjs", "version": "3.1"},
}


def v2(embargo: str | None, **changes: Any) -> dict[str, Any]:
    item = {**V2, **changes}
    return item if embargo is None else {**item, "embargoed": embargo}


def v3(embargo: str | None, **changes: Any) -> dict[str, Any]:
    item = {**V3, **changes}
    return item if embargo is None else {**item, "embargoedUntil": embargo}


# -- HTTP --------------------------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.sent: list[ArticleReceived] = []

    async def send(self, article: ArticleReceived,
                   headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]:
        self.sent.append(article)
        return 0, len(self.sent) - 1


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Sink, dict[str, str]]]:
    secret, entry = new_key("desk")
    sink = Sink()
    app = create_app(open_store(tmp_path / "read.sqlite3"), settings=Settings(topic_prefix=""),
                     read_settings=ReadSettings(api_keys=entry), sink=sink, now=lambda: NOW)
    with TestClient(app) as client:
        yield client, sink, {"X-API-Key": secret}


@pytest.mark.parametrize(("item", "field"), [(v2(LATER), "embargoed"),
                                             (v3(LATER), "embargoedUntil")])
def test_post_of_an_item_under_embargo_is_422_naming_the_time(
        api: tuple[TestClient, Sink, dict[str, str]], item: dict[str, Any], field: str) -> None:
    client, sink, headers = api
    answer = client.post("/v1/articles", json=item, headers=headers)
    assert answer.status_code == 422
    assert answer.json() == {"error": f"embargoed until {LATER}; send it again then",
                             "field": field}
    assert sink.sent == []


@pytest.mark.parametrize("item", [
    v2(EARLIER), v3(EARLIER), v2(None), v3(None),
    v2("2026-12-06T07:40:00Z"),  # the embargo's own instant is the first one it is free
    v3("2026-12-06T08:39:00+01:00"),  # a minute ago, written with an offset
    v2("2026-12-06T07:39:59"),  # no offset: UTC, as every ingest time
    # a withdrawal shows nothing: refusing it would keep the killed article on its page
    v2(LATER, pubstatus="withheld", version="2"), v3(LATER, pubStatus="canceled"),
])
def test_post_with_a_past_or_no_embargo_is_accepted(
        api: tuple[TestClient, Sink, dict[str, str]], item: dict[str, Any]) -> None:
    client, sink, headers = api
    answer = client.post("/v1/articles", json=item, headers=headers)
    assert answer.status_code == 202, answer.text
    assert [a.uri for a in sink.sent] == [item["uri"]]


def test_post_embargo_times_are_said_in_utc_and_an_unreadable_one_is_refused(
        api: tuple[TestClient, Sink, dict[str, str]]) -> None:
    client, sink, headers = api
    offset = client.post("/v1/articles", json=v3("2026-12-06T09:40:00.5+01:00"),
                         headers=headers)
    assert (offset.status_code, offset.json()["error"]) == (
        422, "embargoed until 2026-12-06T08:40:00.500000Z; send it again then")
    unreadable = client.post("/v1/articles", json=v2("next Tuesday"), headers=headers)
    assert unreadable.status_code == 422
    assert unreadable.json() == {"error": "not an ISO 8601 date-time: 'next Tuesday'",
                                 "field": "embargoed"}
    assert sink.sent == []


# -- storyline ingest ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STORYLINE_LOG_LEVEL", "warning")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def write_lines(path: Path, *items: dict[str, Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(item) + b"\n" for item in items))
    return path


def test_cli_judges_embargoes_by_its_clock(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "wire.jsonl", v2(LATER), v3(EARLIER),
                       v3(LATER, uri="urn:wire:3"), v2(None, uri="urn:wire:4"))
    tally, _ = asyncio.run(_ingest([path], "auto", True, get_settings(), None,
                                   now=lambda: NOW))
    assert (tally.produced, tally.invalid) == (2, 2)
    # a week on, the same file goes in whole
    tally, _ = asyncio.run(_ingest([path], "auto", True, get_settings(), None,
                                   now=lambda: NOW + dt.timedelta(days=7)))
    assert (tally.produced, tally.invalid) == (4, 0)


def test_cli_reports_and_dead_letters_an_embargoed_item_like_an_invalid_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import storyline.ingest.producer as producer_module

    RecordingProducer.published, RecordingProducer.letters = [], []
    monkeypatch.setattr(producer_module, "ArticleProducer", RecordingProducer)
    far = "2999-01-01T00:00:00Z"  # main() runs on the real clock
    path = write_lines(tmp_path / "wire.jsonl", v2(EARLIER), v3(far))
    assert main(["ingest", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"invalid: {path} line 2: field 'embargoedUntil': embargoed "
                                f"until {far}; send it again then"]
    assert "produced 1 to" in out and "invalid 1 to" in out
    assert [orjson.loads(raw)["uri"] for raw in RecordingProducer.published] == [V2["uri"]]
    [letter] = RecordingProducer.letters
    assert letter.key == f"{path}:2"
    assert "embargoed until 2999-01-01T00:00:00Z" in letter.reason
    assert orjson.loads(letter.payload) == v3(far)  # the item itself, to send again later

    document = tmp_path / "wire.json"
    document.write_bytes(orjson.dumps([v3(far), v2(None)]))
    assert main(["ingest", "--dry-run", str(document)]) == 2
    out, err = capsys.readouterr()
    assert f"invalid: {document} item 1: field 'embargoedUntil': embargoed until" in err
    assert "1 valid, 1 invalid" in out


# -- what reads the items again never checks ---------------------------------------------------


def test_files_and_the_parser_carry_the_embargo_but_never_hold_an_item_back(
        tmp_path: Path) -> None:
    path = write_lines(tmp_path / "wire.jsonl", v2("2999-01-01T00:00:00Z"), v2(None))
    embargoed, plain = iter_file(path)  # what replay reads
    assert embargoed.article is not None and embargoed.error is None
    assert embargoed.embargo == Embargo("embargoed", "2999-01-01T00:00:00Z")
    assert plain.article is not None and plain.embargo is None and plain.raw == ""
    assert embargoed.article == plain.article.model_copy(update={"uri": V2["uri"]})
    assert parse_item(v3("2999-01-01T00:00:00Z")).pubstatus is PubStatus.USABLE


def test_only_ninjs_has_an_embargo() -> None:
    assert embargo_of(v3(LATER)) == Embargo("embargoedUntil", LATER)
    v1 = {"uri": "urn:1", "headline": "h", "body_text": "T", "versioncreated": EARLIER,
          "copyrightholder": "W", "embargoed": LATER}
    assert embargo_of(v1) == Embargo("embargoed", LATER)  # ninjs 1.x
    flat = {"uri": "urn:1", "source": "W", "body": "T", "published": EARLIER,
            "embargoed": LATER}
    assert embargo_of(flat) is None and embargo_of(flat, "json") is None
    assert embargo_of(v2(LATER), "json") is None
    assert embargo_of(["not", "an", "item"]) is None
