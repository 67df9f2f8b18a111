"""The Patient compartment as a predicate, and supporting references (``care/compartment.py``).

https://hl7.org/fhir/R4/compartmentdefinition-patient.html and
https://hl7.org/fhir/R4/references.html#literal; evaluated in memory on index entries, as
the stores' exact match does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhircare.care.compartment import (
    Scope,
    clinical_date_codes,
    compartment_predicate,
    compartment_query,
    compartment_types,
    local_references,
    supporting_keys,
)
from fhircare.search.indexer import Indexer
from fhircare.search.match import matches
from fhircare.search.registry import default_registry

REGISTRY = default_registry()
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def picked(scope: Scope, resource: dict[str, Any], updated: datetime = T0) -> bool:
    found = compartment_predicate(REGISTRY, scope)
    assert found is not None
    fields = {"rid": resource["id"], "type": resource["resourceType"], "lastUpdated": updated}
    return matches(found, Indexer(REGISTRY).entries(resource), fields)


def test_the_types_and_their_care_dates_come_from_the_definitions() -> None:
    types = compartment_types(REGISTRY)
    assert {"CarePlan", "Communication", "Goal", "Observation", "Patient", "Task"} <= set(types)
    assert not {"Practitioner", "Organization", "Location"} & set(types)
    assert clinical_date_codes(REGISTRY, "Observation") == ["date"]
    assert clinical_date_codes(REGISTRY, "Task") == []


def test_a_resource_is_in_by_its_compartment_parameters_only() -> None:
    ann = Scope("ann")
    observation = {
        "resourceType": "Observation",
        "id": "o",
        "subject": {"reference": "Patient/ann"},
    }
    assert picked(ann, observation)
    assert not picked(Scope("bob"), observation)
    about = {"resourceType": "Observation", "id": "o2", "focus": [{"reference": "Patient/ann"}]}
    assert not picked(ann, about)  # focus is no compartment parameter of Observation
    owned: dict[str, Any] = {"resourceType": "Task", "id": "t", "intent": "order"}
    owned["owner"] = {"reference": "Patient/ann"}
    assert not picked(ann, owned)
    assert picked(ann, {**owned, "for": {"reference": "Patient/ann"}})
    assert picked(Scope(None), observation)  # type level: any patient
    linked = {
        "resourceType": "Patient",
        "id": "ann",
        "link": [{"other": {"reference": "Patient/ann"}, "type": "seealso"}],
    }
    assert not picked(ann, linked)  # the patient itself comes first, on its own
    assert picked(ann, {**linked, "id": "ann2"})
    assert picked(Scope(None), {"resourceType": "Patient", "id": "zed"})


def test_filters() -> None:
    observation = {
        "resourceType": "Observation",
        "id": "o",
        "subject": {"reference": "Patient/ann"},
        "effectiveDateTime": "2026-05-10",
    }
    may, june = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    assert picked(Scope("ann", care_start=may, care_end=june), observation)
    assert not picked(Scope("ann", care_start=june), observation)
    assert not picked(Scope("ann", care_end=may), observation)
    undated = {**observation, "id": "o2"}
    del undated["effectiveDateTime"]
    assert not picked(Scope("ann", care_start=may), undated)
    goal = {"resourceType": "Goal", "id": "g", "subject": {"reference": "Patient/ann"}}
    assert picked(Scope("ann", care_start=june), goal)  # no care date in R4: not filtered
    assert not picked(Scope("ann", types=frozenset({"Observation"})), goal)
    assert picked(Scope("ann", since=T0), goal, T0)
    assert not picked(Scope("ann", since=june), goal, may)
    assert compartment_query(REGISTRY, Scope("ann", types=frozenset({"Practitioner"})), 5) is None


def test_supporting_references() -> None:
    base = "http://fhir.example/fhir"
    task = {
        "resourceType": "Task",
        "id": "t",
        "for": {"reference": "Patient/ann"},
        "owner": {"reference": f"{base}/Practitioner/p1/_history/2"},
        "requester": {"reference": "https://elsewhere.example/fhir/Practitioner/p9"},
        "basedOn": [{"reference": "CarePlan/cp"}],
        "location": {"reference": "#loc"},
        "focus": {"reference": "urn:uuid:0f1c7a48-1f4c-4a55-9b4e-0b7b2b5ad7b1"},
        "insurance": [{"reference": "Coverage/c1"}],
        "restriction": {"recipient": [{"reference": "Organization/o1"}]},
    }
    assert sorted(local_references(task, base)) == [
        "CarePlan/cp",
        "Coverage/c1",
        "Organization/o1",
        "Patient/ann",
        "Practitioner/p1",
    ]
    keys = supporting_keys(REGISTRY, [task, task], base)
    assert keys == [("Coverage", "c1"), ("Organization", "o1"), ("Practitioner", "p1")]
    only = supporting_keys(REGISTRY, [task], base, frozenset({"Organization"}))
    assert only == [("Organization", "o1")]
