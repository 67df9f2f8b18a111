"""The Patient compartment as one store query, and the resources a page of it refers to.

https://hl7.org/fhir/R4/compartmentdefinition-patient.html: a resource is in the compartment
of Patient/p when one of the parameters the CompartmentDefinition names for its type
(``SearchParamRegistry.patient_compartment``) refers to Patient/p. Every type is asked in
one system-level ``SearchQuery`` with one branch per type::

    (type = CarePlan and (patient = Patient/p or performer = Patient/p))
    or (type = Task and (patient = Patient/p or focus = Patient/p)) or ...

so a page costs one query however many types there are, and it pages with the store's
exact keyset paging (key order, ``Type/id``) as a search does. The branches read only the
index entries written with each resource, so the compartment is that of the types fhircare
indexes (``search/data/patient-compartment.json``); a resource of an R4 compartment type
fhircare does not index (a NutritionOrder) is stored without index entries and appears
only when a listed resource refers to it, as a supporting resource. Without a patient (type-level
``Patient/$everything``) a branch asks for a reference to any ``Patient/``, plus every
Patient.

Optional filters (``Scope``):

- ``types``: only the branches of these types.
- care dates (``start``/``end``): a resource of a type R4's clinical-date parameter covers
  (http://hl7.org/fhir/SearchParameter/clinical-date; of fhircare's types
  AllergyIntolerance, CarePlan, CareTeam, Consent, DiagnosticReport, Encounter,
  Immunization, Observation and Procedure) is kept when that date overlaps
  [start, end], and left out when it has none, as a search on it would. Other types have
  no care date in R4 and are not filtered by these (Blaze does the same).
- ``since``: ``meta.lastUpdated`` at or after it, on every type.

Supporting resources are what a page's resources refer to (any literal ``Type/id`` in their
JSON, as HAPI follows every stored reference, one level) when the type is outside the
compartment definition: Practitioner, Organization, Location, Medication, ... A reference
to a compartment type (a CarePlan, another Patient) is not followed: the patient's own are
matches on some page, and another patient's records are not this patient's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhircare.fhir.errors import FhirError
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.bundle_references import references
from fhircare.search.normalize import reference_key
from fhircare.search.predicates import (
    ID_FIELD,
    LAST_UPDATED_FIELD,
    TYPE_FIELD,
    AllOf,
    AnyOf,
    Cond,
    Entry,
    Field,
    Not,
    Predicate,
)
from fhircare.search.registry import SearchParamRegistry
from fhircare.storage.protocol import Position, SearchQuery

CLINICAL_DATE = "http://hl7.org/fhir/SearchParameter/clinical-date"
PATIENT = "Patient"


@dataclass(frozen=True)
class Scope:
    """Whose compartment (``patient_id`` None: every patient's) and what of it."""

    patient_id: str | None = None
    types: frozenset[str] | None = None
    care_start: datetime | None = None
    care_end: datetime | None = None
    since: datetime | None = None

    def wants(self, resource_type: str) -> bool:
        return self.types is None or resource_type in self.types


def compartment_types(registry: SearchParamRegistry) -> list[str]:
    """The types the Patient CompartmentDefinition links to a Patient, sorted."""
    return sorted(t for t in registry.resource_types if registry.patient_compartment(t))


def clinical_date_codes(registry: SearchParamRegistry, resource_type: str) -> list[str]:
    """The codes under which ``resource_type`` has R4's clinical-date parameter."""
    params = registry.params_for(resource_type)
    return sorted(code for code, param in params.items() if param.url == CLINICAL_DATE)


def compartment_predicate(registry: SearchParamRegistry, scope: Scope) -> Predicate | None:
    """What ``scope`` asks, as one predicate over every type; None when it asks nothing
    (``types`` names no compartment type). The patient itself is not part of it."""
    if scope.patient_id is None:
        target = Cond("r", "prefix", f"{PATIENT}/")
    else:
        target = Cond("r", "eq", f"{PATIENT}/{scope.patient_id}")
    branches = [
        branch
        for t in compartment_types(registry)
        if scope.wants(t) and (branch := _branch(registry, t, scope, target)) is not None
    ]
    if not branches:
        return None
    found = _any(branches)
    if scope.since is None:
        return found
    return AllOf((found, Field(Cond(LAST_UPDATED_FIELD, "gte", scope.since))))


def compartment_query(
    registry: SearchParamRegistry,
    scope: Scope,
    count: int,
    after: Position | None = None,
    as_of: int | None = None,
) -> SearchQuery | None:
    """The store query of one page (in key order), None when ``scope`` asks nothing."""
    found = compartment_predicate(registry, scope)
    if found is None:
        return None
    return SearchQuery(None, (found,), count, after, (), as_of)


def _branch(
    registry: SearchParamRegistry, resource_type: str, scope: Scope, target: Cond
) -> Predicate | None:
    is_type = Field(Cond(TYPE_FIELD, "eq", resource_type))
    if resource_type == PATIENT and scope.patient_id is None:
        return is_type
    codes = [
        code
        for code in registry.patient_compartment(resource_type)
        if (param := registry.get(resource_type, code)) is not None and param.type == "reference"
    ]
    if not codes:
        return None
    parts: list[Predicate] = [is_type, _any([Entry(code, (target,)) for code in codes])]
    if resource_type == PATIENT and scope.patient_id is not None:
        # Patients linking to this one; the patient itself comes first, on its own
        parts.append(Not(Field(Cond(ID_FIELD, "eq", scope.patient_id))))
    parts += _care_dates(registry, resource_type, scope)
    return AllOf(tuple(parts))


def _care_dates(registry: SearchParamRegistry, resource_type: str, scope: Scope) -> list[Predicate]:
    """The clinical date overlapping [start, end): one index entry ``[lo, hi)`` with
    ``hi > start`` and ``lo < end``."""
    conds = []
    if scope.care_start is not None:
        conds.append(Cond("hi", "gt", scope.care_start))
    if scope.care_end is not None:
        conds.append(Cond("lo", "lt", scope.care_end))
    codes = clinical_date_codes(registry, resource_type) if conds else []
    if not codes:
        return []
    return [_any([Entry(code, tuple(conds)) for code in codes])]


def _any(parts: list[Predicate]) -> Predicate:
    return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))


# --- supporting resources ----------------------------------------------------------------


def is_supporting_type(registry: SearchParamRegistry, resource_type: str) -> bool:
    """A type outside the Patient compartment definition (Practitioner, Organization, ...)."""
    return resource_type in RESOURCE_TYPES and not registry.patient_compartment(resource_type)


def local_references(resource: Mapping[str, Any], base_url: str | None) -> Iterator[str]:
    """``Type/id`` of each literal reference to this server in ``resource`` (relative, or
    absolute on ``base_url``; ``_history`` dropped); not ``#contained``, ``urn:`` or
    other servers."""
    for _, text in references(resource, str(resource.get("resourceType"))):
        try:
            key, kind = reference_key(text, base_url)
        except FhirError:
            continue
        if kind is not None and "://" not in key:
            yield key


def supporting_keys(
    registry: SearchParamRegistry,
    resources: Iterable[Mapping[str, Any]],
    base_url: str | None,
    types: frozenset[str] | None = None,
) -> list[tuple[str, str]]:
    """(type, id) of each supporting resource ``resources`` refer to, once, sorted (of
    ``types`` only, when given)."""
    wanted: set[tuple[str, str]] = set()
    for resource in resources:
        for key in local_references(resource, base_url):
            kind, id = key.split("/", 1)
            if is_supporting_type(registry, kind) and (types is None or kind in types):
                wanted.add((kind, id))
    return sorted(wanted)
