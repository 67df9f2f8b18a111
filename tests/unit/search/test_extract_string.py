"""string extraction: folding, HumanName and Address parts. https://hl7.org/fhir/R4/search.html#string"""

from __future__ import annotations

import logging

import pytest

from fhircare.search.extract import string
from fhircare.search.extract.context import ExtractContext
from fhircare.search.normalize import fold

CTX = ExtractContext("Patient", "http://example.org/fhir")


def values(entries: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(e["v"], e["x"]) for e in entries]


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("Zoë", "zoe"),
        ("ZOË", "zoe"),
        ("Zoe\u0308", "zoe"),  # already decomposed
        ("Straße", "strasse"),
        ("  Mary \t  Ann\n", "mary ann"),
        ("\uff26\uff55\uff4c\uff4c", "full"),  # fullwidth letters: NFKD compatibility forms
        ("Ångström", "angstrom"),
        ("İstanbul", "istanbul"),
    ],
)
def test_folding_ignores_case_accents_and_spacing(written: str, folded: str) -> None:
    assert fold(written) == folded
    assert string.extract("name", [written], CTX) == [{"p": "name", "v": folded, "x": written}]


def test_accented_and_plain_spellings_fold_alike() -> None:
    assert fold("Zoë") == fold("zoe") == fold("ZOE")


def test_human_name_gives_each_part_and_its_text() -> None:
    name = {
        "use": "official",
        "text": "Dr. Zoë Anne O'Brien Jr.",
        "family": "O'Brien",
        "given": ["Zoë", "Anne"],
        "prefix": ["Dr."],
        "suffix": ["Jr."],
    }
    assert values(string.extract("name", [name], CTX)) == [
        ("dr.", "Dr."),
        ("zoe", "Zoë"),
        ("anne", "Anne"),
        ("o'brien", "O'Brien"),
        ("jr.", "Jr."),
        ("dr. zoe anne o'brien jr.", "Dr. Zoë Anne O'Brien Jr."),
    ]


def test_human_name_without_text_gets_its_parts_joined() -> None:
    entries = string.extract("name", [{"family": "Whitaker", "given": ["Harold"]}], CTX)
    assert values(entries)[-1] == ("harold whitaker", "Harold Whitaker")


def test_name_with_only_text() -> None:
    assert values(string.extract("name", [{"text": "Baby Girl"}], CTX)) == [
        ("baby girl", "Baby Girl")
    ]


def test_address_gives_each_part_and_its_text() -> None:
    address = {
        "use": "home",
        "line": ["318 Walnut Street", "Apt 2"],
        "city": "Springfield",
        "district": "Sangamon",
        "state": "IL",
        "postalCode": "62704",
        "country": "US",
    }
    assert values(string.extract("address", [address], CTX)) == [
        ("318 walnut street", "318 Walnut Street"),
        ("apt 2", "Apt 2"),
        ("springfield", "Springfield"),
        ("sangamon", "Sangamon"),
        ("il", "IL"),
        ("62704", "62704"),
        ("us", "US"),
        (
            "318 walnut street apt 2 springfield sangamon il 62704 us",
            "318 Walnut Street Apt 2 Springfield Sangamon IL 62704 US",
        ),
    ]


def test_address_text_is_used_as_written() -> None:
    entries = string.extract("address", [{"city": "Köln", "text": "Domkloster 4, Köln"}], CTX)
    assert values(entries) == [("koln", "Köln"), ("domkloster 4, koln", "Domkloster 4, Köln")]


@pytest.mark.parametrize(
    "bad",
    [42, True, None, ["nested"], {"coding": [{"code": "x"}]}, "", "   ", "a\x00b", {"use": "old"}],
)
def test_values_that_cannot_be_indexed_are_logged_not_raised(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert string.extract("name", [bad, "Ann"], CTX) == [{"p": "name", "v": "ann", "x": "Ann"}]
    assert "name" in caplog.text
    assert caplog.records[0].levelno == logging.WARNING
