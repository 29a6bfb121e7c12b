"""Errors at ingest a producer can act on: every problem of an item at once, one position
per message (a column in a JSON line), byte offsets for bad UTF-8, plain words for null and
arrays, a nesting limit stated as such; the same words from files, the CLI and HTTP."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from storyline.cli import main
from storyline.ingest.fields import ROOT, InvalidArticle
from storyline.ingest.files import iter_file
from storyline.ingest.jsontext import MAX_DEPTH, decode_json, nesting_depth
from storyline.ingest.normalise import parse_bytes, parse_item

GOOD = {"uri": "urn:e:1", "source": "Wire", "body": "Text.", "published": "2026-03-01"}


def _error(data: bytes) -> InvalidArticle:
    with pytest.raises(InvalidArticle) as caught:
        parse_bytes(data)
    return caught.value


def test_invalid_utf8_is_named_by_its_byte_and_offset() -> None:
    error = _error(b'{"uri": "x\xff\xfe"}')
    assert error.message == ("not valid UTF-8: byte 0xff at byte offset 10 "
                             "(invalid start byte)")
    assert "surrogates" not in str(error)


def test_a_json_line_error_has_one_position_a_column() -> None:
    with pytest.raises(InvalidArticle) as caught:
        decode_json(b'{"uri": \n', one_line=True)
    assert caught.value.message.startswith("not valid JSON at column 9: ")
    assert "line" not in caught.value.message
    with pytest.raises(InvalidArticle) as caught:
        decode_json(b'{\n"uri": "a",\n"x": }')
    assert caught.value.message.startswith("not valid JSON at line 3, column 6: ")


@pytest.mark.parametrize(("data", "words"), [
    (b"null", "got null"), (b"[1, 2]", "got an array"), (b'"text"', "got a string"),
    (b"7", "got a number"), (b"true", "got a boolean")])
def test_what_was_sent_instead_of_an_object_is_said_in_json_words(data: bytes,
                                                                  words: str) -> None:
    message = _error(data).message
    assert message == f"an article must be a JSON object, {words}"
    assert "NoneType" not in message


def test_deep_nesting_is_refused_as_such() -> None:
    deep = b'{"uri": "u", "x": ' + b"[" * 900 + b"]" * 900 + b"}"
    message = _error(deep).message
    assert message == f"nested 901 levels deep; an article may nest at most {MAX_DEPTH}"
    assert nesting_depth(orjson.loads(b'{"a": [{"b": 1}], "c": 2}')) == 3
    assert nesting_depth(3) == 0


def test_every_problem_of_a_flat_article_is_named_at_once() -> None:
    with pytest.raises(InvalidArticle) as caught:
        parse_item({"headline": 5, "version": "x", "colour": "red"}, fmt="json")
    fields = [field for field, _ in caught.value.problems]
    assert fields == ["colour", "uri", "source", "headline", "body", "published", "version"]
    assert str(caught.value).startswith("7 problems: field 'colour': is not a field")
    assert caught.value.field == "colour"  # the first problem leads, as before


def test_every_missing_ninjs_field_is_named_at_once() -> None:
    with pytest.raises(InvalidArticle) as caught:
        parse_item({"uri": "urn:n:1", "bodies": [{"role": "main", "value": 3}],
                    "pubstatus": "lost"}, fmt="ninjs")
    fields = {field for field, _ in caught.value.problems}
    assert {"bodies[0].value", "pubstatus"} <= fields, caught.value.problems
    assert len(caught.value.problems) >= 2


def test_a_single_problem_reads_as_before() -> None:
    with pytest.raises(InvalidArticle) as caught:
        parse_item({**GOOD, "published": "yesterday"}, fmt="json")
    assert str(caught.value) == "field 'published': not an ISO 8601 date-time: 'yesterday'"
    assert caught.value.problems == (("published", "not an ISO 8601 date-time: 'yesterday'"),)


def test_files_name_the_line_once_and_problems_keep_their_location(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(orjson.dumps(GOOD) + b"\n" + b'{"uri": \n' + b"null\n"
                     + b'{"uri": "u\xc3"}\n' + orjson.dumps({"uri": "urn:x"}) + b"\n")
    results = list(iter_file(path))
    assert [r.ok for r in results] == [True, False, False, False, False]
    messages = [str(r.error) for r in results[1:]]
    assert messages[0].startswith(f"{path} line 2: not valid JSON at column 9: ")
    assert messages[0].removeprefix(str(path)).count("line") == 1
    assert messages[1] == f"{path} line 3: an article must be a JSON object, got null"
    assert messages[2] == (f"{path} line 4: not valid UTF-8: byte 0xc3 at byte offset 10 "
                           "(invalid continuation byte)")
    assert messages[3].startswith(f"{path} line 5: ")
    error = results[4].error
    assert error is not None and error.problems[0][0] == ROOT


def test_the_cli_prints_each_problem_of_an_item(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "flat.jsonl"
    path.write_bytes(orjson.dumps({"uri": "urn:c:1", "body": "Text."}) + b"\n")
    assert main(["ingest", "--dry-run", "--format", "json", str(path)]) == 2
    err = capsys.readouterr().err
    assert (f"{path} line 1: 2 problems: field 'source': is required; field 'published': "
            "is required: the publication time (ISO 8601)") in err


def test_a_publication_time_the_core_cannot_date_is_refused_at_ingest() -> None:
    with pytest.raises(InvalidArticle) as caught:
        parse_item({**GOOD, "published": "9999-12-31T23:00:00Z"}, fmt="json")
    assert caught.value.problems == ((
        "published", "publication time 9999-12-31T23:00:00+00:00 is outside the years 100 "
                     "to 9899 that stories are dated in"),)
    # an offset that leaves the calendar is the same refusal, not an OverflowError
    with pytest.raises(InvalidArticle, match="outside the years 100 to 9899"):
        parse_item({**GOOD, "published": "0001-01-01T00:00:00+01:00"}, fmt="json")
