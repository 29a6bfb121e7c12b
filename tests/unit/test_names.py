"""Names: chunking, kinds and alias reconciliation inside an article."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storyline.domain.extract.names import find_names, normalise
from storyline.domain.extract.text import Document, split_sentences
from storyline.domain.facts import NameKind as K
from storyline.domain.facts import NameMention


def names(text: str) -> dict[str, NameMention]:
    return {n.canonical: n for n in find_names(Document(split_sentences(text)))}


@pytest.mark.parametrize(
    ("surfaces", "canonical"),
    [
        (["Kim Jong Un", "Kim Jong-un", "Kim Jong-Un"], "kim jong un"),
        (["North Korea", "DPRK", "N. Korea", "North Korean"], "north korea"),
        (["U.S.", "United States", "US", "U.S", "USA"], "united states"),
        (["BP", "British Petroleum"], "bp"),
        (["U.N.", "United Nations"], "united nations"),
        (["Britain", "UK", "United Kingdom"], "united kingdom"),
    ],
)
def test_aliases_share_one_key(surfaces: list[str], canonical: str) -> None:
    for surface in surfaces:
        found = names(f"Officials said {surface} had agreed.")
        assert list(found) == [canonical], surface


def test_normalise() -> None:
    assert normalise("Kim Jong-un's") == "kim jong un"
    assert normalise("The Hague") == "hague"
    assert normalise("Dilma Rousseff") == normalise("DILMA ROUSSEFF")
    assert normalise("Zoë Ball") == "zoe ball"


def test_surname_after_full_name_maps_to_it() -> None:
    found = names(
        "President Barack Obama spoke on Friday.\n"
        "Obama said Kim Jong Un had agreed.\n"
        "Kim later denied it, and Mr. Obama left."
    )
    assert found["barack obama"].count == 3
    assert found["barack obama"].kind is K.PERSON
    assert found["kim jong un"].count == 2
    assert "obama" not in found and "kim" not in found


def test_surname_maps_to_the_most_recent_full_name() -> None:
    found = names("George Bush met Jeb Bush.\nBush said no.")
    assert found["jeb bush"].count == 2
    assert found["george bush"].count == 1


def test_acronym_of_a_longer_name_maps_to_it() -> None:
    found = names(
        "The Revolutionary United Front rebelled.\nThe RUF then took Freetown.\nRUF fighters fled."
    )
    assert found["revolutionary united front"].count == 3
    assert found["revolutionary united front"].kind is K.ORGANISATION


def test_short_organisation_name_maps_to_the_full_one() -> None:
    found = names("Lehman Brothers filed for bankruptcy.\nInvestors in Lehman lost everything.")
    assert found["lehman brothers"].count == 2


@pytest.mark.parametrize(
    ("sentence", "canonical", "kind", "display"),
    [
        ("Shares of Goldman Sachs Group fell.", "goldman sachs group", K.ORGANISATION, None),
        ("Oil reached the Gulf of Mexico coast.", "gulf of mexico", K.PLACE, None),
        ("The Federal Reserve cut rates.", "federal reserve", K.ORGANISATION, None),
        ("Foreign Minister Monie Captan was fired.", "monie captan", K.PERSON, None),
        ("Sen. John Kerry ran in 2004.", "john kerry", K.PERSON, None),
        ("Egypt's Hosni Mubarak resigned.", "hosni mubarak", K.PERSON, None),
        ("Egypt's Hosni Mubarak resigned.", "egypt", K.PLACE, None),
        ("Troops remain in Kursk.", "kursk", K.PLACE, None),
        ("Charles Taylor of Liberia was tried.", "liberia", K.PLACE, None),
        ("Charles Taylor of Liberia was tried.", "charles taylor", K.PERSON, None),
        ("The Korean Central News Agency (KCNA) said so.", "korean central news agency",
         K.ORGANISATION, "Korean Central News Agency"),
    ],
)  # fmt: skip
def test_kinds_and_titles(sentence: str, canonical: str, kind: K, display: str | None) -> None:
    found = names(sentence)
    assert canonical in found, list(found)
    assert found[canonical].kind is kind
    if display is not None:
        assert found[canonical].display == display


def test_sentence_openers_and_dates_are_not_names() -> None:
    found = names(
        "Ships were back today.\nThe company said on Monday that in December it would sell.\n"
        "But he said THE NEW PARADIGM FOR MARKETS was wrong."
    )
    assert found == {}


def test_a_capitalised_opener_is_a_name_when_seen_inside_a_sentence() -> None:
    found = names("Soros blames the Fed.\nA book by George Soros explains it.\nSoros writes well.")
    assert found["george soros"].count == 3
    assert found["george soros"].first_sentence == 0


def test_order_is_by_first_mention() -> None:
    found = find_names(Document(split_sentences("Egypt and Israel met.\nIran and Egypt argued.")))
    assert [(n.canonical, n.first_sentence, n.count) for n in found] == [
        ("egypt", 0, 2),
        ("israel", 0, 1),
        ("iran", 1, 1),
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *" .,'-\n",
                *("Kim", "Jong", "Un", "U.S.", "The", "of", "President", "Bank", "America"),
                *("DPRK", "said", "Obama", "Mr.", "North", "Korea", "'s", "&", "Co", "AT"),
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_never_crashes_and_is_deterministic(text: str) -> None:
    doc = Document(split_sentences(text))
    found = find_names(doc)
    assert found == find_names(doc)
    for n in found:
        assert n.canonical == n.canonical.lower().strip()
        assert n.count >= 1
        assert 0 <= n.first_sentence < len(doc.sentences)
    assert len({n.canonical for n in found}) == len(found)


def test_hyphenated_surname_and_initials_map_to_the_full_name() -> None:
    found = names(
        "Dominique Strauss-Kahn was arrested.\n"
        "Strauss-Kahn denied it, and the IMF said DSK would resign; Mr Strauss-Kahn left."
    )
    assert found["dominique strauss kahn"].count == 4
    assert found["international monetary fund"].count == 1
    assert set(found) == {"dominique strauss kahn", "international monetary fund"}


def test_detokenised_hyphens_and_glued_places() -> None:
    found = names(
        "Dominique Strauss - Kahn spoke.\n"
        "Liberia Charles Taylor went to the Hague of Charles Taylor."
    )
    assert found["dominique strauss kahn"].display == "Dominique Strauss-Kahn"
    assert found["charles taylor"].count == 2
    assert found["liberia"].kind is K.PLACE
    assert found["hague"].kind is K.PLACE


def test_sentence_initial_words_only_stand_for_people() -> None:
    found = names(
        "The World Health Organization met.\nWorld markets fell.\n"
        "Kim Jong Un spoke.\nKim left.\nTexas A&M University and Google-driven ads grew."
    )
    assert found["world health organization"].count == 1
    assert "world" not in found
    assert found["kim jong un"].count == 2
    assert found["texas a&m university"].kind is K.ORGANISATION
    assert "google" in found and "google driven" not in found


def test_gazetteer_places_demonyms_and_particles() -> None:
    found = names(
        "The New York Times said Palestinians and Israelis met Osama bin Laden in Sicily.\n"
        "Blaise Campaore of Burkina Faso and al-Qaida were named."
    )
    assert found["new york times"].kind is K.ORGANISATION
    assert found["palestine"].kind is K.PLACE
    assert found["israel"].kind is K.PLACE
    assert found["osama bin laden"].kind is K.PERSON
    assert found["sicily"].kind is K.PLACE
    assert found["burkina faso"].kind is K.PLACE
    assert found["blaise campaore"].kind is K.PERSON
    assert found["al qaeda"].kind is K.ORGANISATION


def test_a_place_glued_after_a_person_is_split_off() -> None:
    found = names("He said Ehud Olmert Israel and Prime Minister Tony Blair Britain met.")
    assert set(found) == {"ehud olmert", "israel", "tony blair", "united kingdom"}
