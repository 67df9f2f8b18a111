"""uri extraction: exact. https://hl7.org/fhir/R4/search.html#uri"""

from __future__ import annotations

import logging

import pytest

from fhircare.search.extract import uri
from fhircare.search.extract.context import ExtractContext

CTX = ExtractContext("Questionnaire", "http://example.org/fhir")


def test_uri_is_kept_exactly() -> None:
    written = "http://Example.org/fhir/Questionnaire/PHQ-9|1.0"
    assert uri.extract("url", [written, "urn:oid:1.2.3"], CTX) == [
        {"p": "url", "v": written},
        {"p": "url", "v": "urn:oid:1.2.3"},
    ]


@pytest.mark.parametrize("bad", [3, {"url": "x"}, "two words", "", "a\x00"])
def test_bad_uris_are_logged(bad: object, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert uri.extract("url", [bad], CTX) == []
    assert "url" in caplog.text
