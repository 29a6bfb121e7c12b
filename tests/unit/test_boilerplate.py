"""The boilerplate test with its substring prefilter answers as the case-insensitive
pattern does: every part's substring is in every ASCII text the part matches."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.extract.analysis import BOILERPLATE, BOILERPLATE_PARTS, is_boilerplate


@pytest.mark.parametrize(("key", "part"), BOILERPLATE_PARTS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_match_of_a_part_holds_its_substring(key: str, part: str,
                                                    data: st.DataObject) -> None:
    # ``\b`` needs a neighbour that is no word character: given one on each side
    core = data.draw(st.from_regex(re.compile(part.replace(r"\b", ""), re.IGNORECASE),
                                   fullmatch=True, alphabet=st.characters(max_codepoint=127)))
    text = f" {core} "
    assert re.search(part, text, re.IGNORECASE)
    assert key in text.lower()


_TEXT = st.text(alphabet=st.sampled_from(list("abcdeilmoprstuvwxyz ABCEHILMOPRSTVW.-:@'é")),
                max_size=40)
_PHRASES = st.sampled_from(["photo", "E-mail", "HTTPS:", "file photo", "is seen", "aired",
                            "Click Here", "newsletter", "photographer", "seen", "ſubscribe",
                            "videos", "updated at", "transcripts"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_TEXT | _PHRASES, max_size=5).map(" ".join))
def test_the_prefilter_answers_as_the_pattern(text: str) -> None:
    assert is_boilerplate(text) == (BOILERPLATE.search(text) is not None)


def test_the_phrases_it_is_for() -> None:
    assert is_boilerplate("Photo: AP. Click here to subscribe.")
    assert is_boilerplate("The interview aired on Sunday.")
    assert not is_boilerplate("The photographer said the rig burned for 36 hours.")
    assert is_boilerplate("ſubscribe now")  # not ASCII: the pattern itself decides
