"""``fhir/jsonio.py``: JSON in without losing what the client wrote, and only Unicode."""

from __future__ import annotations

import pytest

from fhircare.fhir import jsonio
from fhircare.fhir.errors import Category, FhirError
from fhircare.validation import validate_resource


def test_numbers_and_order_are_kept() -> None:
    text = b'{"b":7.00,"a":1e2,"c":[0.031]}'
    assert jsonio.dumps(jsonio.loads(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        b'{"family":"\\ud800"}',  # a lone high surrogate (found by test_fuzz.py: a 500)
        b'{"family":"a\\udfffb"}',  # a lone low one
        b'{"\\ud83d":1}',  # in a key
        b'{"x":[{"y":"\\ude00\\ud83d"}]}',  # a pair in the wrong order
    ],
)
def test_lone_surrogates_are_invalid_json(text: bytes) -> None:
    with pytest.raises(FhirError) as refused:
        jsonio.loads(text)
    assert refused.value.category == Category.INVALID
    assert "surrogate" in str(refused.value)


def test_surrogate_pairs_are_text() -> None:
    assert jsonio.loads(b'{"x":"\\ud83d\\ude00"}') == {"x": "\U0001f600"}
    assert jsonio.dumps(jsonio.loads(b'{"x":"\\ud83d\\ude00"}')) == '{"x":"😀"}'.encode()


def test_minus_zero_is_kept_and_is_an_integer() -> None:
    """``-0`` read back as ``0`` (found by test_fuzz.py); it is a valid FHIR integer."""
    text = b'{"resourceType":"Patient","multipleBirthInteger":-0,"n":[0,-0,12]}'
    value = jsonio.loads(text)
    assert jsonio.dumps(value) == text
    assert value["multipleBirthInteger"] == 0 and type(value["n"][2]) is int
    validate_resource({"resourceType": "Patient", "multipleBirthInteger": value["n"][1]})
    with pytest.raises(FhirError):  # a decimal is still no integer
        validate_resource({"resourceType": "Patient", "multipleBirthInteger": jsonio.loads("0.0")})
