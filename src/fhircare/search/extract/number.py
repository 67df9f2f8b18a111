"""number parameters: ``lo``/``hi`` the range the significant digits imply, ``n`` the value.

https://hl7.org/fhir/R4/search.html#number: ``100`` is [99.5, 100.5) and ``7.00`` is
[6.995, 7.005) (see ``normalize.number_range``). A Range (RiskAssessment's probability) is
[low's lo, high's hi) with ``n`` None; an open end is ``-MAX_NUMBER``/``MAX_NUMBER``.
"""

from __future__ import annotations

import sys
from typing import Any

from fhircare.fhir import errors
from fhircare.fhir.errors import FhirError
from fhircare.search.entries import Entry
from fhircare.search.extract.context import ExtractContext, skip
from fhircare.search.normalize import decimal_text, number_range

MAX_NUMBER = sys.float_info.max
"""The open end of a Range or of a Quantity with a comparator (a finite double for BSON)."""


def extract(code: str, values: list[Any], context: ExtractContext) -> list[Entry]:
    """One entry per number (or Range, or ``value`` of a Quantity-like element)."""
    entries: list[Entry] = []
    for value in values:
        try:
            entries.append({"p": code, **number_fields(value)})
        except FhirError as exc:
            skip(code, value, str(exc))
    return entries


def number_fields(value: Any) -> dict[str, Any]:
    """``lo``, ``hi`` and ``n`` of a number, a Range, or a dict with a numeric ``value``."""
    if isinstance(value, dict):
        if "low" in value or "high" in value:
            return range_fields(value)
        if "value" not in value:
            raise errors.invalid("no value to index as a number")
        return value_fields(value["value"], value.get("comparator"))
    return value_fields(value, None)


def value_fields(value: Any, comparator: Any) -> dict[str, Any]:
    """A number's range, opened on one side by a Quantity comparator (``<``, ``>=``...)."""
    lo, hi, n = number_range(decimal_text(value))
    if comparator in ("<", "<="):
        lo = -MAX_NUMBER
    elif comparator in (">", ">="):
        hi = MAX_NUMBER
    elif comparator is not None:
        raise errors.invalid(f"unknown comparator {comparator!r}")
    return {"lo": lo, "hi": hi, "n": n}


def range_fields(value: dict[str, Any]) -> dict[str, Any]:
    """A Range covers [low's lo, high's hi); a missing end is open."""
    low, high = value.get("low"), value.get("high")
    lo = value_fields(_value(low), None)["lo"] if low is not None else -MAX_NUMBER
    hi = value_fields(_value(high), None)["hi"] if high is not None else MAX_NUMBER
    if hi <= lo:
        raise errors.invalid("the Range's high is below its low")
    return {"lo": lo, "hi": hi, "n": None}


def _value(quantity: Any) -> Any:
    if not isinstance(quantity, dict) or "value" not in quantity:
        raise errors.invalid("a Range end without a value")
    return quantity["value"]
