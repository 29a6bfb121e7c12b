"""Faults a review found in the ingest side, each pinned by what the item must mean: the
format it is read as, the instant it is dated, the text it carries."""

from __future__ import annotations

from typing import Any

import pytest

from storyline.domain.events import PubStatus
from storyline.ingest.fields import InvalidArticle
from storyline.ingest.normalise import detect_format, parse_item

FLAT: dict[str, Any] = {"uri": "urn:flat:1", "source": "Wire", "body": "Text.",
                        "published": "2026-03-01T09:00:00Z", "version": 2}


@pytest.mark.parametrize(("status", "expected"), [
    ("usable", PubStatus.USABLE), ("withdrawn", PubStatus.WITHDRAWN),
    ("canceled", PubStatus.CANCELED)])
def test_flat_article_with_pubstatus_is_read_as_flat(status: str, expected: PubStatus) -> None:
    article = parse_item(dict(FLAT, pubstatus=status))
    assert (article.wire_format, article.pubstatus, article.version) == ("json", expected, 2)


def test_pubstatus_alone_still_means_ninjs() -> None:
    # nothing but the key both formats share: a ninjs notice, as before
    assert detect_format({"uri": "urn:n:1", "pubstatus": "canceled"}) == "ninjs"
    assert detect_format({"uri": "urn:n:1", "pubstatus": "usable",
                          "firstcreated": "2026-03-01T09:00:00Z", "body": "x"}) == "ninjs"
    with pytest.raises(InvalidArticle, match="ninjs"):
        parse_item({"uri": "urn:n:1", "pubstatus": "usable", "firstcreated": "2026-03-01",
                    "body": "Text."})
