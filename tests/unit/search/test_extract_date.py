"""date extraction: precision ranges, zones, Period and Timing.

https://hl7.org/fhir/R4/search.html#date
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from fhircare.search.extract import date
from fhircare.search.extract.context import ExtractContext
from fhircare.search.normalize import MAX_DATE, MIN_DATE, date_range

CTX = ExtractContext("Observation", "http://example.org/fhir")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "lo", "hi"),
    [
        ("2026", utc(2026, 1, 1), utc(2027, 1, 1)),
        ("2026-02", utc(2026, 2, 1), utc(2026, 3, 1)),
        ("2026-12", utc(2026, 12, 1), utc(2027, 1, 1)),
        ("2028-02-29", utc(2028, 2, 29), utc(2028, 3, 1)),
        ("2026-12-31", utc(2026, 12, 31), utc(2027, 1, 1)),
        ("2026-09-14T09:30Z", utc(2026, 9, 14, 9, 30), utc(2026, 9, 14, 9, 31)),
        ("2026-09-14T09:30:00Z", utc(2026, 9, 14, 9, 30), utc(2026, 9, 14, 9, 30, 1)),
        ("2026-09-14T09:30:00", utc(2026, 9, 14, 9, 30), utc(2026, 9, 14, 9, 30, 1)),
        (
            "2026-09-14T09:30:00.031Z",
            utc(2026, 9, 14, 9, 30, 0, 31000),
            utc(2026, 9, 14, 9, 30, 0, 32000),
        ),
        (
            "2026-09-14T09:30:00.1+02:00",
            utc(2026, 9, 14, 7, 30, 0, 100000),
            utc(2026, 9, 14, 7, 30, 0, 200000),
        ),
        (
            "2026-09-14T09:30:00.123456789Z",
            utc(2026, 9, 14, 9, 30, 0, 123456),
            utc(2026, 9, 14, 9, 30, 0, 123457),
        ),
        ("2026-03-16T08:45:00-05:00", utc(2026, 3, 16, 13, 45), utc(2026, 3, 16, 13, 45, 1)),
        ("2026-12-31T23:30:00-01:00", utc(2027, 1, 1, 0, 30), utc(2027, 1, 1, 0, 30, 1)),
        ("2026-01-01T00:00:00+14:00", utc(2025, 12, 31, 10), utc(2025, 12, 31, 10, 0, 1)),
        ("9999", utc(9999, 1, 1), MAX_DATE),
    ],
)
def test_a_value_covers_its_precision(written: str, lo: datetime, hi: datetime) -> None:
    entries = date.extract("date", [written], CTX)
    assert entries == [{"p": "date", "lo": lo, "hi": hi}]
    assert entries[0]["lo"].tzinfo is UTC and entries[0]["hi"].tzinfo is UTC


def test_the_start_of_the_calendar_clamps_to_min() -> None:
    lo, hi = date_range("0001-01-01T00:00:00+01:00")
    assert lo == MIN_DATE and hi > lo


def test_period() -> None:
    period = {"start": "2026-03-01", "end": "2026-03-31T17:00:00Z"}
    assert date.extract("date", [period], CTX) == [
        {"p": "date", "lo": utc(2026, 3, 1), "hi": utc(2026, 3, 31, 17, 0, 1)}
    ]


def test_period_open_ends() -> None:
    assert date.extract("date", [{"start": "2026-03"}, {"end": "2026"}], CTX) == [
        {"p": "date", "lo": utc(2026, 3, 1), "hi": MAX_DATE},
        {"p": "date", "lo": MIN_DATE, "hi": utc(2027, 1, 1)},
    ]


def test_timing_events_and_bounds() -> None:
    timing = {
        "event": ["2026-10-01T08:00:00Z", "2026-10-02"],
        "repeat": {"boundsPeriod": {"start": "2026-10-01", "end": "2026-12-31"}, "frequency": 1},
    }
    assert date.extract("date", [timing], CTX) == [
        {"p": "date", "lo": utc(2026, 10, 1, 8), "hi": utc(2026, 10, 1, 8, 0, 1)},
        {"p": "date", "lo": utc(2026, 10, 2), "hi": utc(2026, 10, 3)},
        {"p": "date", "lo": utc(2026, 10, 1), "hi": utc(2027, 1, 1)},
    ]


def test_timing_with_only_a_frequency_has_nothing_to_index_and_is_no_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    timing = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert date.extract("activity-date", [timing], CTX) == []
    assert caplog.records == []


@pytest.mark.parametrize(
    "bad",
    [
        "2026-02-30",
        "2026-13",
        "2026-3-1",
        "yesterday",
        "08:00:00",
        "2026-09-14T25:00:00Z",
        "2026-09-14T09:30:00+15:00",
        "2026-09-14T09Z",
        "2026-09-14+02:00",
        2026,
        None,
        ["2026"],
        {"value": "2026"},
        {"start": "2026-03-02", "end": "2026-03-01"},
        {"start": "March"},
        {"event": ["not a date"]},
    ],
)
def test_values_that_cannot_be_indexed_are_logged_not_raised(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert date.extract("date", [bad, "2026"], CTX) == [
            {"p": "date", "lo": utc(2026, 1, 1), "hi": utc(2027, 1, 1)}
        ]
    assert "search parameter date" in caplog.text


def test_primitive_extension_siblings_are_ignored() -> None:
    period = {"start": "2026", "_start": {"extension": [{"url": "x", "valueString": "y"}]}}
    assert date.extract("date", [period], CTX) == [
        {"p": "date", "lo": utc(2026, 1, 1), "hi": MAX_DATE}
    ]


def test_a_period_end_that_is_not_a_string_is_not_taken_as_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="fhircare.search"):
        assert date.extract("date", [{"start": "2026", "end": 2027}], CTX) == []
    assert "not a dateTime" in caplog.text
