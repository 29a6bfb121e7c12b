"""One rule for what a content word is (issue #10: one tokeniser family): the summary's
analyses and the timeline's statements keep a word as a term, or not, alike, and fold its
plural alike. (The clustering's vectors keep their own list and fold for now: see
storyline.domain.words.)"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.extract.analysis import terms_of
from storyline.domain.extract.timeline_text import content_tokens
from storyline.domain.words import STOPWORDS, stem

# Words every tokeniser reads whole: letters only (the analyses keep digit groups, the
# vectors hyphenated words, the statements "u.s.": each view's own joins, not the rule).
_LETTERS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=14)
_WORD = _LETTERS | st.sampled_from(sorted(STOPWORDS)) | st.sampled_from(
    ["agencies", "troops", "crisis", "press", "virus", "news", "series", "says", "buses"])


def _rule(word: str) -> str | None:
    return None if len(word) < 2 or word in STOPWORDS else stem(word)


@settings(max_examples=400, deadline=None)
@given(_WORD)
def test_the_analyses_and_the_statements_keep_a_word_as_the_same_term(word: str) -> None:
    expected = _rule(word)
    terms = () if expected is None else (expected,)
    assert terms_of(word) == terms
    assert content_tokens(word) == terms
    assert content_tokens(word.capitalize()) == terms


def test_the_plural_fold() -> None:
    assert [stem(w) for w in ("agencies", "troops", "stories", "officers")] == [
        "agency", "troop", "story", "officer"]
    # words of up to four letters, and "ss", "us", "is" endings, are no plurals
    assert [stem(w) for w in ("news", "gas", "press", "virus", "crisis", "analysis")] == [
        "news", "gas", "press", "virus", "crisis", "analysis"]
    assert stem("1990s") == "1990s"  # a number is left as written


def test_calendar_and_reporting_words_are_no_terms() -> None:
    text = "Officials said on Tuesday in January that the report was released"
    assert terms_of(text) == ("released",)
    assert content_tokens(text) == ("released",)
