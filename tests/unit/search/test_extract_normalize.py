"""The normalisation indexing and queries share. https://hl7.org/fhir/R4/search.html#ptypes"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fhircare.fhir.errors import Category, FhirError
from fhircare.search.normalize import (
    canonical_number,
    composite_part,
    date_range,
    decimal_text,
    fold,
    number_range,
    reference_key,
    split_canonical,
)


def test_number_range_is_lo_hi_and_value() -> None:
    assert number_range("100") == (99.5, 100.5, 100.0)
    assert number_range("1e2") == (50.0, 150.0, 100.0)
    assert number_range("-0.5") == (-0.55, -0.45, -0.5)


def test_date_range_of_a_query_value() -> None:
    assert date_range("2026-03") == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("call", "bad"),
    [
        (number_range, "abc"),
        (number_range, "1_000"),
        (number_range, " 5"),
        (number_range, "NaN"),
        (number_range, "Infinity"),
        (number_range, "1e999"),
        (date_range, "2026-02-30"),
        (date_range, "2026/02/01"),
        (canonical_number, "x"),
        (lambda text: reference_key(text, None), "Patient/ 1"),
    ],
)
def test_bad_input_is_a_400(call: Callable[[str], object], bad: str) -> None:
    with pytest.raises(FhirError) as raised:
        call(bad)
    assert raised.value.category is Category.INVALID


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("8.10", "8.1"),
        ("81e-1", "8.1"),
        ("1e2", "100"),
        ("100", "100"),
        ("-0.0", "0"),
        ("0.00012", "0.00012"),
        ("7", "7"),
    ],
)
def test_canonical_number(text: str, canonical: str) -> None:
    assert canonical_number(text) == canonical


def test_decimal_text_refuses_non_numbers() -> None:
    assert decimal_text(8.1) == "8.1"
    for bad in (True, "8.1", None, float("nan")):
        with pytest.raises(FhirError):
            decimal_text(bad)


def test_fold_is_idempotent() -> None:
    for text in ("Zoë", "Straße", "İstanbul", "ǅ", "ﬁle"):
        assert fold(fold(text)) == fold(text)


def test_split_canonical() -> None:
    assert split_canonical("http://x/Q/1|2.0") == ("http://x/Q/1", "2.0")
    assert split_canonical("http://x/Q/1") == ("http://x/Q/1", None)
    assert split_canonical("http://x/Q/1|") == ("http://x/Q/1", None)


def test_reference_key() -> None:
    assert reference_key("http://me/fhir/Patient/1/_history/2", "http://me/fhir") == (
        "Patient/1",
        "Patient",
    )
    assert reference_key("http://me/fhirx/Patient/1", "http://me/fhir") == (
        "http://me/fhirx/Patient/1",
        "Patient",
    )
    assert reference_key("patient/1", None) == ("patient/1", None)


def test_composite_part() -> None:
    assert composite_part("token", "http://loinc.org|4548-4") == "http://loinc.org|4548-4"
    assert composite_part("string", "Zoë") == "zoe"
    assert composite_part("reference", "Patient/1") == "Patient/1"
    assert composite_part("uri", "http://x/Y") == "http://x/Y"


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_fold_of_ascii_text_is_the_unicode_fold(text: str) -> None:
    """The ASCII shortcut gives what NFKD, dropping marks and casefolding give."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    assert fold(text) == " ".join(kept.split())
