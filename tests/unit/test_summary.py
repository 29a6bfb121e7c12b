"""summarise() and choose_title() on hand-made articles: citations, key phrases, determinism."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.events import CitedSentence, SummaryParagraph
from storyline.domain.extract.analysis import Plain, split_glued, terms_of, tokens
from storyline.domain.facts import ArticleFacts, CitedArticle, NameKind, NameMention
from storyline.domain.page.summary import summarise, supports
from storyline.domain.page.title import MAX_CHARS, choose_title

T0 = dt.datetime(2025, 12, 1, 9, tzinfo=dt.UTC)

KIM = NameMention(canonical="kim jong un", display="Kim Jong Un", kind=NameKind.PERSON,
                  count=2, first_sentence=0)
KURSK = NameMention(canonical="kursk", display="Kursk", kind=NameKind.PLACE, count=2,
                    first_sentence=0)


def cited(n: int, sentences: list[str], *, source: str = "Wire", headline: str | None = None,
          copy_of: int | None = None, day: int = 0,
          names: tuple[NameMention, ...] = (KIM, KURSK)) -> CitedArticle:
    uri = f"urn:test:{n}"
    return CitedArticle(
        n=n,
        uri=uri,
        version=1,
        source=source,
        headline=headline,
        published=T0 + dt.timedelta(days=day, hours=n),
        facts=ArticleFacts(uri=uri, version=1, extractor_version="test", sentences=tuple(
            sentences), dates=(), figures=(), names=names),
        copy_of=copy_of,
    )


ENGINEERS = ("Kim Jong Un welcomed about 1,000 military engineers home to Pyongyang after "
             "their mine-clearing mission in Russia's Kursk region.")
ENGINEERS_EDITED = ("Kim Jong Un on Friday welcomed about 1,000 military engineers home to "
                    "Pyongyang after their mine-clearing mission in Russia's Kursk region.")
MUSEUM = ("Construction of a memorial museum for soldiers killed in the Kursk region began "
          "in Pyongyang with Kim Jong Un attending the ceremony.")
ROTATION = ("Ukrainian intelligence says North Korean artillery units still fire on border "
            "villages from the Kursk region under a rotation schedule.")
TROOPS = ("More than 11,000 North Korean troops have been sent to the Kursk region since the "
          "deployment began in October 2024.")
TROOPS_OTHER_FIGURE = ("More than 12,000 North Korean troops have been sent to the Kursk region "
                       "since the deployment began in October 2024.")


def story() -> list[CitedArticle]:
    return [
        cited(1, [ENGINEERS, TROOPS, "Click here to subscribe to our newsletter for updates."],
              source="Yonhap"),
        cited(2, [ROTATION, TROOPS, "Is this the start of a permanent deployment in Kursk?"],
              source="Kyiv Independent", day=1),
        cited(3, [ENGINEERS_EDITED, MUSEUM], source="CNN", day=2),
        cited(4, [MUSEUM, ROTATION], source="Yonhap", day=3),
        cited(5, [ENGINEERS, TROOPS], source="Yonhap English", copy_of=1, day=3),
        cited(6, [TROOPS_OTHER_FIGURE, "The ministry denied any troops were in Kursk at all."],
              source="KCNA", day=4),
    ]


def all_sentences(summary: tuple[SummaryParagraph, ...]) -> list[CitedSentence]:
    return [s for p in summary for s in p.sentences]


def by_text(summary: tuple[SummaryParagraph, ...]) -> dict[str, list[int]]:
    return {s.text: [c.n for c in s.citations] for s in all_sentences(summary)}


def test_a_sentence_in_two_articles_cites_both_and_nothing_else() -> None:
    cites = by_text(summarise(story(), ()))
    assert cites[ROTATION] == [2, 4]
    assert cites[MUSEUM] == [3, 4]


def test_near_identical_wording_supports_but_another_figure_does_not() -> None:
    cites = by_text(summarise(story(), ()))
    engineers = next(t for t in cites if "engineers" in t)
    # article 3 says the same with one more word; 5 is a copy of 1, listed right after it
    assert cites[engineers] == [1, 5, 3]
    troops = next(t for t in cites if "11,000" in t or "12,000" in t)
    if "11,000" in troops:
        assert 6 not in cites[troops]  # 12,000 is not 11,000
        assert set(cites[troops]) == {1, 2, 5}
    else:
        assert cites[troops] == [6]


def test_every_citation_points_at_a_supporting_sentence() -> None:
    articles = {a.n: a for a in story()}
    for sentence in all_sentences(summarise(story(), ())):
        claim = set(terms_of(sentence.text))
        for c in sentence.citations:
            article = articles[c.n]
            assert (c.uri, c.version) == (article.uri, article.version)
            cited_text = article.facts.sentences[c.sentence]
            common = claim & set(terms_of(cited_text))
            assert len(common) >= 0.85 * len(claim), (sentence.text, cited_text)


def test_original_precedes_its_copy_even_when_only_the_copy_is_newer() -> None:
    articles = story()
    summary = summarise(articles, ())
    for sentence in all_sentences(summary):
        ns = [c.n for c in sentence.citations]
        if 5 in ns:
            assert 1 in ns and ns.index(1) < ns.index(5)


def test_questions_boilerplate_and_short_fragments_are_left_out() -> None:
    texts = " ".join(by_text(summarise(story(), ())))
    assert "Click here" not in texts
    assert "?" not in texts
    lone = cited(1, ["Yes.", "He said so.", "But it was not over, officials in Seoul said.",
                     "\"We will never give up the fight for our land,\" she told reporters."])
    assert summarise([lone], ()) == ()


def test_key_phrases_are_short_phrases_of_the_paragraph_or_none() -> None:
    summary = summarise(story(), ())
    assert summary
    phrases = [p.key_phrase for p in summary if p.key_phrase]
    assert phrases
    assert len(set(phrases)) == len(phrases)  # paragraphs are told apart
    for p in summary:
        if not p.key_phrase:
            continue
        assert 1 <= len(p.key_phrase.split()) <= 6
        assert p.key_phrase[0].isupper()
        assert written_in(p.key_phrase, [s.text for s in p.sentences]), p


def written_in(label: str, texts: list[str]) -> bool:
    """Whether one of ``texts`` has ``label`` as written, whole words (its first letter in
    either case: a label raises it)."""
    first = label[0]
    pattern = rf"(?<![\w-])[{first.upper()}{first.lower()}]{re.escape(label[1:])}(?![\w-])"
    return any(re.search(pattern, t) for t in texts)


def test_limits_are_respected_and_redundant_sentences_collapse() -> None:
    summary = summarise(story(), (), max_paragraphs=2, sentences_per_paragraph=2)
    assert 1 <= len(summary) <= 2
    assert all(1 <= len(p.sentences) <= 2 for p in summary)
    texts = [s.text for s in all_sentences(summarise(story(), ()))]
    assert not (ENGINEERS in texts and ENGINEERS_EDITED in texts)
    assert len(texts) == len(set(texts))


def test_same_input_same_output_whatever_the_hash_seed() -> None:
    """Run in two interpreters with different PYTHONHASHSEED: set order must not leak."""
    here = Path(__file__).resolve()
    code = (
        f"import sys; sys.path.insert(0, {str(here.parent)!r}); import test_summary as t; "
        "from storyline.domain.page.summary import summarise; "
        "print(summarise(t.story(), ()))"
    )
    outs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                capture_output=True, text=True).stdout)
    assert len(outs) == 1
    assert summarise(story(), ()) == summarise(list(story()), ())


def test_support_needs_the_numbers_the_polarity_and_the_wording() -> None:
    def statement(text: str, negated: bool = False) -> Plain:
        words = tuple(tokens(text))
        return Plain(terms_of(text), frozenset(w.replace(",", "") for w in words
                                               if w[0].isdigit()), negated, words)

    troops = statement(TROOPS)
    assert supports(troops, troops)
    assert supports(statement(ENGINEERS), statement(ENGINEERS_EDITED))
    assert not supports(troops, statement(TROOPS, negated=True))
    assert not supports(troops, statement(TROOPS_OTHER_FIGURE))
    # the same vocabulary saying something else
    assert not supports(
        statement("A controlled burn of oil from the Deepwater Horizon well in the Gulf."),
        statement("April 21: The Deepwater Horizon oil rig burns in the Gulf."),
    )


def test_title_prefers_a_representative_headline_and_is_sticky() -> None:
    articles = [
        cited(1, [ENGINEERS], headline="Kim Jong Un welcomes engineers home from Kursk"),
        cited(2, [MUSEUM], headline="Memorial museum for Kursk dead begins in Pyongyang"),
        cited(3, [ENGINEERS_EDITED], headline="Kim welcomes Kursk engineers home"),
    ]
    title = choose_title(articles)
    assert title == "Kim Jong Un welcomes engineers home from Kursk"
    # A slightly better headline later does not rename the story...
    more = [*articles, cited(4, [ENGINEERS], headline="Kim Jong Un welcomes engineers home")]
    assert choose_title(more, previous=title) == title
    # ...but a stale title that no longer fits is replaced.
    assert choose_title(more, previous="Weather in Lisbon") != "Weather in Lisbon"


def test_title_without_headlines_is_derived_from_a_lead_and_fits() -> None:
    title = choose_title(story())
    assert 0 < len(title) <= MAX_CHARS
    words = set(tokens(title))
    lead_words = {w for a in story() for s in a.facts.sentences for w in tokens(s)}
    assert words <= lead_words
    assert "click" not in words
    assert choose_title(story()) == title


def test_a_headline_run_into_the_first_sentence_is_split_off() -> None:
    head, rest = split_glued("Michael Jackson doctor gets four years in prison Michael "
                             "Jackson's former doctor, Conrad Murray, has been sentenced.")
    assert head == "Michael Jackson doctor gets four years in prison"
    assert rest.startswith("Michael Jackson's former doctor")
    plain = "Police searched the offices of a doctor in Houston who treated Michael Jackson."
    assert split_glued(plain) == (None, plain)
    # the summary shows the sentence without the headline, and cites the full line
    line = ("Engineers return home to a hero's welcome The engineers came back to Pyongyang "
            "after their mission in the Kursk region of Russia ended.")
    summary = summarise([cited(1, [line])], ())
    [sentence] = all_sentences(summary)
    assert sentence.text.startswith("The engineers came back")
    assert sentence.citations[0].sentence == 0
    assert choose_title([cited(1, [line])]) == "Engineers return home to a hero's welcome"


def test_a_uri_that_comes_back_with_other_content_is_analysed_again() -> None:
    first = summarise([cited(1, [ENGINEERS]), cited(2, [ENGINEERS_EDITED])], ())
    again = summarise([cited(1, [MUSEUM]), cited(2, [MUSEUM])], ())
    assert [s.text for s in all_sentences(first)] != [s.text for s in all_sentences(again)]
    assert by_text(again) == {MUSEUM: [1, 2]}
    assert choose_title([cited(1, [ROTATION], headline="Units still fire from Kursk")]) == (
        "Units still fire from Kursk")
    assert choose_title([cited(1, [ROTATION], headline="Artillery rotation continues")]) == (
        "Artillery rotation continues")


WORDS = ("Kim", "Kursk", "troops", "engineers", "returned", "were", "sent", "to", "the",
         "region", "in", "October", "11,000", "12,000", "not", "museum", "Pyongyang", "said",
         "fighting", "continued", "after", "deployment", "began", "officials")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=20)
                         .map(lambda ws: " ".join(ws).capitalize() + "."),
                         min_size=0, max_size=6),
                min_size=1, max_size=6))
def test_any_story_summarises_with_valid_citations(bodies: list[list[str]]) -> None:
    articles = [cited(i + 1, body, day=i) for i, body in enumerate(bodies)]
    summary = summarise(articles, ())
    assert summary == summarise(articles, ())
    by_n = {a.n: a for a in articles}
    for p in summary:
        assert len(p.key_phrase.split()) <= 6  # empty: no phrase of the text fits
        for s in p.sentences:
            assert s.citations and len({c.n for c in s.citations}) == len(s.citations)
            for c in s.citations:
                cited_words = tokens(by_n[c.n].facts.sentences[c.sentence])
                claim = tokens(s.text)
                assert {w for w in claim if w[0].isdigit()} <= set(cited_words)
                assert ("not" in claim) == ("not" in cited_words)
    title = choose_title(articles)
    assert len(title) <= MAX_CHARS
