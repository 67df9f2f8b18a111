"""The access gate and narrowing as pure decisions: letters per interaction, 403 naming
the scope, predicates per grant."""

from __future__ import annotations

import pytest

from fhircare.fhir.errors import Category, FhirError
from fhircare.interactions.access import FULL, Access
from fhircare.interactions.access_gate import check, interaction_kind
from fhircare.interactions.access_narrowing import NOTHING, Narrowing
from fhircare.interactions.request import FhirRequest
from fhircare.search.predicates import AnyOf, Entry, Field
from fhircare.search.registry import default_registry
from fhircare.security.scopes import ScopeSet

TYPES = frozenset({"CarePlan", "Patient", "Task", "Practitioner"})


def _access(scopes: str, patient: str | None = "p1") -> Access:
    return Access(ScopeSet.from_claims(scopes), patient)


def _refusal(access: Access, kind: str, request: FhirRequest) -> str:
    with pytest.raises(FhirError) as caught:
        check(access, kind, request, TYPES)
    assert caught.value.category is Category.FORBIDDEN
    return caught.value.issues[0].diagnostics


def test_conditional_kinds() -> None:
    plain = FhirRequest("POST", "CarePlan")
    conditional = FhirRequest("POST", "CarePlan", headers={"if-none-exist": "identifier=x"})
    assert interaction_kind("create", plain, "single") == "create"
    assert interaction_kind("create", conditional, "single") == "create-conditional"
    assert interaction_kind("delete-conditional", plain, "multiple") == (
        "delete-conditional-multiple"
    )


def test_each_interaction_needs_its_letters() -> None:
    reader = _access("patient/CarePlan.r")
    check(reader, "read", FhirRequest("GET", "CarePlan", "x"), TYPES)
    assert "patient/CarePlan.s" in _refusal(reader, "search-type", FhirRequest("GET", "CarePlan"))
    creator = _access("patient/CarePlan.c")
    check(creator, "create", FhirRequest("POST", "CarePlan"), TYPES)
    message = _refusal(creator, "create-conditional", FhirRequest("POST", "CarePlan"))
    assert "patient/CarePlan.s" in message


def test_administration_needs_system_wide_scopes() -> None:
    request = FhirRequest("POST")
    assert "system/*.cruds" in _refusal(_access("user/*.cruds", None), "$reindex", request)
    check(_access("system/*.*", None), "$reindex", request, TYPES)
    check(FULL, "$sync", request, TYPES)


def test_a_query_without_type_needs_s_on_some_type() -> None:
    request = FhirRequest("GET")
    check(_access("patient/Task.s"), "search-system", request, TYPES)
    _refusal(_access("patient/Task.r"), "search-system", request)


def test_bundles_have_no_letters_of_their_own() -> None:
    check(_access("patient/Task.r"), "transaction", FhirRequest("POST"), TYPES)


def test_narrowing_predicates() -> None:
    registry = default_registry()
    narrowing = Narrowing(_access("patient/*.rs"), registry)
    assert narrowing.predicate("Practitioner", "s") is None  # not patient data
    own = narrowing.predicate("Patient", "s")
    assert isinstance(own, Field) and own.cond.value == "p1"
    plans = narrowing.predicate("CarePlan", "s")
    assert isinstance(plans, Entry | AnyOf)
    assert "Patient/p1" in repr(plans)
    assert Narrowing(_access("patient/Task.rs"), registry).predicate("CarePlan", "s") is NOTHING
    assert Narrowing(_access("user/*.rs", None), registry).system_predicate("s") is None


def test_membership_reads_the_same_references_as_the_index() -> None:
    narrowing = Narrowing(_access("patient/*.cruds"), default_registry(), "http://x/fhir")
    mine = {"resourceType": "CarePlan", "subject": {"reference": "http://x/fhir/Patient/p1"}}
    other = {"resourceType": "CarePlan", "subject": {"reference": "Patient/p2"}}
    assert narrowing.sees("CarePlan", mine, "r")
    assert not narrowing.sees("CarePlan", other, "r")
    assert narrowing.sees("Patient", {"resourceType": "Patient", "id": "p1"}, "r")
    assert not narrowing.sees("Patient", {"resourceType": "Patient", "id": "p2"}, "r")
    practitioner = {"resourceType": "Practitioner", "id": "d"}
    assert narrowing.sees("Practitioner", practitioner, "r")
    assert not narrowing.may_write("Practitioner", practitioner, "c")


def test_restrictions_narrow_reads() -> None:
    access = _access("patient/Observation.rs?category=vital-signs")
    narrowing = Narrowing(access, default_registry())
    system = "http://terminology.hl7.org/CodeSystem/observation-category"

    def observation(code: str) -> dict[str, object]:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "Patient/p1"},
            "category": [{"coding": [{"system": system, "code": code}]}],
        }

    assert narrowing.sees("Observation", observation("vital-signs"), "r")
    assert not narrowing.sees("Observation", observation("laboratory"), "r")
