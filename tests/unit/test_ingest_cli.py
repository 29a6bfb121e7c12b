"""`storyline ingest` as a user runs it, without a broker: --dry-run, exit codes, messages."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from storyline.cli import main
from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived, Provenance
from storyline.domain.upcasting import decode_event
from storyline.ingest.files import iter_file
from storyline.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
WIRE = ROOT / "samples" / "wire"
ITEM = {"uri": "urn:cli:1", "source": "Wire", "body": "Text.", "published": "2026-03-01"}


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STORYLINE_LOG_LEVEL", "warning")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_dry_run_of_valid_files_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--dry-run", str(WIRE / "articles.jsonl"),
                 str(WIRE / "feed.rss")]) == 0
    out, err = capsys.readouterr()
    count = sum(1 for line in (WIRE / "articles.jsonl").read_text().splitlines() if line)
    assert f"{count + 2} valid, 0 invalid" in out
    assert "invalid:" not in err


def test_invalid_items_exit_2_and_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--dry-run", str(WIRE / "invalid.jsonl")]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith("invalid: ")]
    assert len(lines) == 3
    assert lines[0] == (f"invalid: {WIRE / 'invalid.jsonl'} line 1: field 'firstcreated': "
                        "not an ISO 8601 date-time: '2026-13-45T08:00:00Z'")
    assert "line 2: field 'infosources[0].name'" in lines[1]
    assert "line 3: not valid JSON" in lines[2]
    assert "0 valid, 3 invalid" in out


def test_format_option_is_applied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "flat.jsonl"
    path.write_bytes(orjson.dumps(ITEM) + b"\n")
    assert main(["ingest", "--dry-run", "--format", "json", str(path)]) == 0
    assert main(["ingest", "--dry-run", "--format", "ninjs", str(path)]) == 2
    assert "not a field of ninjs 2.1" in capsys.readouterr().err


def test_missing_file_is_fatal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--dry-run", "no/such/file.jsonl"]) == 1
    assert "cannot read no/such/file.jsonl" in capsys.readouterr().err


def test_unreachable_broker_is_fatal(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("STORYLINE_BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")
    assert main(["ingest", str(WIRE / "articles.jsonl")]) == 1
    err = capsys.readouterr().err
    assert f"storyline ingest: cannot reach the Kafka broker at 127.0.0.1:{port}" in err


class RecordingProducer:
    """Stands in for ArticleProducer: keeps what ``storyline ingest`` would publish (the
    articles' bytes) and the dead letters it would send."""

    published: ClassVar[list[bytes]] = []
    letters: ClassVar[list[Any]] = []

    def __init__(self, settings: object, **_: object) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    @staticmethod
    def _done() -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def enqueue(self, article: ArticleReceived) -> asyncio.Future[None]:
        RecordingProducer.published.append(canonical_bytes(article))
        return self._done()

    async def enqueue_dead_letter(self, letter: Any) -> asyncio.Future[None]:
        RecordingProducer.letters.append(letter)
        return self._done()


def test_ingested_articles_carry_via_file_and_no_key_id(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    import storyline.ingest.producer as producer_module
    import storyline.ingest.versions as versions_module

    RecordingProducer.published = []
    monkeypatch.setattr(producer_module, "ArticleProducer", RecordingProducer)

    async def empty_log(*_: object) -> int:
        return 0  # no broker: the feed's version index reads an empty articles log

    monkeypatch.setattr(versions_module, "caught_up", empty_log)
    monkeypatch.setenv("STORYLINE_DATA_DIR", str(tmp_path))
    files = [WIRE / "articles.jsonl", WIRE / "feed.rss"]
    assert main(["ingest", *map(str, files)]) == 0
    events = [decode_event(raw, ArticleReceived) for raw in RecordingProducer.published]
    parsed = [r.article for path in files for r in iter_file(path) if r.article]
    assert len(events) == len(parsed) > 2
    assert {e.provenance for e in events} == {Provenance(via="file")}
    assert all(b'"provenance":{"via":"file"}' in raw for raw in RecordingProducer.published)
    # the provenance is all that was added: the articles are as parsed
    assert [e.without_provenance() for e in events] == parsed
    assert "produced" in capsys.readouterr().out
