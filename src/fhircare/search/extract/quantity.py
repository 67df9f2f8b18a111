"""quantity parameters: as number (``lo``/``hi``/``n``) plus ``s`` system, ``c`` code, ``u`` unit.

https://hl7.org/fhir/R4/search.html#quantity: Quantity and its profiles (Age, Count,
Distance, Duration, SimpleQuantity, MoneyQuantity), Money (``s`` is ISO 4217 and ``c`` the
currency), a bare number (no units), and Range (low..high, units from whichever end has them).
"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import errors
from fhircare.fhir.errors import FhirError
from fhircare.search.entries import Entry
from fhircare.search.extract.context import ExtractContext, fields, skip, text
from fhircare.search.extract.number import number_fields

ISO_4217 = "urn:iso:std:iso:4217"


def extract(code: str, values: list[Any], context: ExtractContext) -> list[Entry]:
    """One entry per Quantity, Money, Range or number; bad values are logged and skipped."""
    entries: list[Entry] = []
    for value in values:
        try:
            entries.append({"p": code, **number_fields(value), **_units(value)})
        except FhirError as exc:
            skip(code, value, str(exc))
    return entries


def _units(value: Any) -> dict[str, str | None]:
    if not isinstance(value, dict):
        return {"s": None, "c": None, "u": None}
    if "low" in value or "high" in value:
        ends = [e for e in (value.get("low"), value.get("high")) if isinstance(e, dict)]
        units = [_units(e) for e in ends]
        return next((u for u in units if any(u.values())), units[0] if units else _units(None))
    if "currency" in value:
        currency = text(value["currency"])
        return {"s": ISO_4217 if currency else None, "c": currency, "u": currency}
    bare = not fields(value) & {"unit", "system", "code"}
    if bare and fields(value) - {"id", "extension", "value", "comparator"}:
        raise errors.invalid("not a Quantity, Money or Range")
    return {
        "s": text(value.get("system")),
        "c": text(value.get("code")),
        "u": text(value.get("unit")),
    }
