"""A small fake parameter table for the parse/format tests, and checks that it is coherent.

It stands in for ``search/registry.py``: ``lookup(type, code)`` as ``parse`` calls it.
``alias`` is a string on Patient but a token on Group, to make ``subject.alias`` ambiguous;
``Observation.focus`` may refer to any type.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhircare.search.limits import SearchLimits
from fhircare.search.parse import PARAM_TYPES


@dataclass(frozen=True)
class FakeParam:
    code: str
    type: str
    targets: tuple[str, ...] = ()
    components: tuple[object, ...] = ()


def _params(*params: FakeParam) -> dict[str, FakeParam]:
    return {p.code: p for p in params}


P = FakeParam
COMMON = _params(
    P("_id", "token"),
    P("_lastUpdated", "date"),
    P("_tag", "token"),
    P("_profile", "uri"),
    P("_security", "token"),
    P("_source", "uri"),
)
TYPES: dict[str, dict[str, FakeParam]] = {
    "Patient": _params(
        P("name", "string"),
        P("family", "string"),
        P("birthdate", "date"),
        P("identifier", "token"),
        P("gender", "token"),
        P("general-practitioner", "reference", ("Organization", "Practitioner")),
        P("organization", "reference", ("Organization",)),
        P("link", "reference", ("Patient",)),
        P("alias", "string"),
    ),
    "Group": _params(
        P("name", "string"),
        P("member", "reference", ("Patient", "Practitioner")),
        P("alias", "token"),
    ),
    "Practitioner": _params(P("name", "string"), P("identifier", "token")),
    "Organization": _params(
        P("name", "string"),
        P("identifier", "token"),
        P("partof", "reference", ("Organization",)),
    ),
    "Encounter": _params(
        P("subject", "reference", ("Group", "Patient")),
        P("patient", "reference", ("Patient",)),
        P("date", "date"),
        P("status", "token"),
        P("length", "quantity"),
    ),
    "Location": _params(
        P("name", "string"),
        P("near", "special"),
        P("partof", "reference", ("Location",)),
    ),
    "Observation": _params(
        P("code", "token"),
        P("identifier", "token"),
        P("subject", "reference", ("Group", "Patient")),
        P("patient", "reference", ("Patient",)),
        P("encounter", "reference", ("Encounter",)),
        P("performer", "reference", ("Organization", "Patient", "Practitioner")),
        P("focus", "reference"),
        P("date", "date"),
        P("value-quantity", "quantity"),
        P("value-string", "string"),
        P("value-number", "number"),
        P("instantiates", "uri"),
        # components as the registry holds them: (code of the component's parameter, path)
        P(
            "code-value-quantity",
            "composite",
            components=(("code", "code"), ("value-quantity", "value")),
        ),
        # components given as parameter types
        P("code-value-date", "composite", components=("token", "date")),
        # components unknown: each read as a string
        P("combo", "composite"),
    ),
}
ALL_TYPES = tuple(sorted(TYPES))
LIMITS = SearchLimits()


def params_of(resource_type: str | None) -> dict[str, FakeParam]:
    """Every parameter of ``resource_type`` (the common ones only for None)."""
    if resource_type is None:
        return dict(COMMON)
    return {**COMMON, **TYPES.get(resource_type, {})}


def lookup(resource_type: str | None, code: str) -> FakeParam | None:
    return params_of(resource_type).get(code)


def test_every_fake_parameter_has_a_search_type() -> None:
    for resource_type in (None, *ALL_TYPES):
        for code, param in params_of(resource_type).items():
            assert param.code == code
            assert param.type in PARAM_TYPES


def test_every_fake_reference_targets_a_fake_type() -> None:
    for params in TYPES.values():
        for param in params.values():
            assert set(param.targets) <= set(TYPES)
            assert param.targets == tuple(sorted(param.targets))
