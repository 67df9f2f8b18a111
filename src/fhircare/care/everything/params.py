"""The input parameters of ``Patient/$everything``, from a query string or a Parameters body.

https://hl7.org/fhir/R4/patient-operation-everything.html#inputs: ``start`` and ``end``
(date), ``_since`` (instant), ``_type`` (code, repeatable; each may be a comma-separated
list) and ``_count`` (integer, the page size). ``GET`` carries them in the query; ``POST``
in a Parameters resource (https://hl7.org/fhir/R4/operations.html#request), where the query
may add more. A date may be given at any precision (``2026``, ``2026-03``,
``2026-03-16T08:45:00Z``): ``start`` means from its first instant, ``end`` up to its last,
``_since`` from its first.

A malformed value, ``start`` after ``end``, an unknown ``_type``, or a single-valued
parameter given twice is 400. Other parameters are ignored, as search ignores them, and
named in an OperationOutcome entry; with ``Prefer: handling=strict`` they are 400.
``format_params`` writes the parameters back as a query (the ``self`` and ``next`` links).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fhircare.fhir import errors, jsonio
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.paging import CURSOR, page_size
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.resource_body import check_resource
from fhircare.search.normalize import date_range

SINGLE = ("start", "end", "_since", "_count")
NAMES = (*SINGLE, "_type")
IGNORED = ("_format", "_pretty", CURSOR)
"""Handled elsewhere (the response format, the page position): never reported unknown."""

# The value[x] each parameter takes in a Parameters body.
_VALUE_KINDS = {
    "start": ("valueDate", "valueDateTime"),
    "end": ("valueDate", "valueDateTime"),
    "_since": ("valueInstant", "valueDateTime", "valueDate"),
    "_type": ("valueCode", "valueString"),
    "_count": ("valueInteger", "valuePositiveInt", "valueUnsignedInt"),
}


@dataclass(frozen=True)
class EverythingParams:
    """The parameters as given (``start``/``end``/``since`` as written, for the links) and
    what they mean (``care_start``, ``care_end``, ``since_instant``)."""

    count: int
    start: str | None = None
    end: str | None = None
    since: str | None = None
    types: tuple[str, ...] = ()
    cursor: str | None = None
    unknown: tuple[str, ...] = ()
    care_start: datetime | None = None
    care_end: datetime | None = None
    since_instant: datetime | None = None

    @property
    def type_set(self) -> frozenset[str] | None:
        return frozenset(self.types) if self.types else None


def parse_params(context: Context, request: FhirRequest) -> EverythingParams:
    """The parameters of ``request``: its query, plus its Parameters body on a POST."""
    pairs = list(request.query)
    if request.method == "POST" and request.body.strip():
        pairs += body_pairs(context, request.body)
    single: dict[str, str] = {}
    types: list[str] = []
    unknown: list[str] = []
    cursor = None
    for name, value in pairs:
        if name == CURSOR:
            cursor = value or None
        elif name in SINGLE:
            if name in single:
                raise errors.invalid(f"{name} may be given only once", name)
            if value:
                single[name] = value
        elif name == "_type":
            types += _types(value)
        elif name not in IGNORED and name not in unknown:
            unknown.append(name)
    if unknown and "handling=strict" in request.headers.get("prefer", ""):
        raise errors.unsupported(f"Unknown $everything parameters: {', '.join(unknown)}", *unknown)
    start, end, since = single.get("start"), single.get("end"), single.get("_since")
    care_start = _bound(start, "start", 0)
    care_end = _bound(end, "end", 1)
    if care_start is not None and care_end is not None and care_start >= care_end:
        raise errors.invalid(f"start ({start}) is after end ({end})", "start")
    counted = replace(request, query=(("_count", single["_count"]),) if "_count" in single else ())
    return EverythingParams(
        count=page_size(context, counted),
        start=start,
        end=end,
        since=since,
        types=tuple(dict.fromkeys(types)),
        cursor=cursor,
        unknown=tuple(unknown),
        care_start=care_start,
        care_end=care_end,
        since_instant=_bound(since, "_since", 0),
    )


def format_params(params: EverythingParams, cursor: str | None) -> list[tuple[str, str]]:
    """The query that asks for the same again (at ``cursor``): what paging links carry."""
    pairs = [(k, v) for k, v in (("start", params.start), ("end", params.end)) if v]
    if params.since:
        pairs.append(("_since", params.since))
    if params.types:
        pairs.append(("_type", ",".join(params.types)))
    pairs.append(("_count", str(params.count)))
    if cursor is not None:
        pairs.append((CURSOR, cursor))
    return pairs


def body_pairs(context: Context, body: bytes) -> list[tuple[str, str]]:
    """A Parameters body as (name, value) pairs, each value as a query would spell it."""
    resource = check_resource(jsonio.loads(body), "Parameters", context.limits)
    pairs = []
    for index, parameter in enumerate(resource.get("parameter") or ()):
        name = parameter.get("name")
        where = f"Parameters.parameter[{index}]"
        kinds = _VALUE_KINDS.get(name)
        if kinds is None:
            pairs.append((str(name), ""))
            continue
        values = [k for k in parameter if k.startswith("value") or k in ("resource", "part")]
        if len(values) != 1 or values[0] not in kinds:
            raise errors.invalid(
                f"{where}: {name} takes one of {', '.join(kinds)}", f"{where}.value[x]"
            )
        pairs.append((name, _text(parameter[values[0]], name, where)))
    return pairs


def _text(value: Any, name: str, where: str) -> str:
    if name == "_count":
        if isinstance(value, bool) or not isinstance(value, int):
            raise errors.invalid(f"{where}: _count must be an integer", f"{where}.value[x]")
        return str(value)
    if not isinstance(value, str):
        raise errors.invalid(f"{where}: {name} must be a string", f"{where}.value[x]")
    return value


def _types(value: str) -> list[str]:
    types = [t.strip() for t in value.split(",") if t.strip()]
    for t in types:
        if t not in RESOURCE_TYPES:
            raise errors.invalid(f"_type: '{t[:64]}' is not a supported resource type", "_type")
    return types


def _bound(text: str | None, name: str, side: int) -> datetime | None:
    """The first (``side`` 0) or last-exclusive (1) instant ``text`` covers."""
    if text is None:
        return None
    try:
        return date_range(text)[side]
    except errors.FhirError:
        raise errors.invalid(
            f"{name}: '{text[:80]}' is not a valid date, dateTime or instant", name
        ) from None
