"""The scope x interaction matrix: each case a request, the status it must get under each
scope profile, and what its answer must (``has``) and must not (``SECRET``) hold.

``PROFILES`` are the tokens (scopes, launch patient ``a``). A case lists its expected status
per profile; a profile it does not list expects ``DENIED`` (403). Whatever the status, a
patient-scoped answer must not hold the other patient's marker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.integration.security.population import batch

PATIENT_A = "a-patient"
PROFILES: dict[str, tuple[str, str | None]] = {
    "patient-rs": ("patient/*.rs", PATIENT_A),
    "patient-v1-read": ("patient/*.read", PATIENT_A),
    "patient-cruds": ("patient/*.cruds", PATIENT_A),
    "patient-careplan": ("patient/CarePlan.rs", PATIENT_A),
    "patient-vitals": ("patient/Observation.rs?category=vital-signs", PATIENT_A),
    "user-rs": ("user/*.rs", None),
    "system": ("system/*.cruds", None),
}
"""Name → (scopes, launch patient)."""
NARROWED = frozenset(name for name, (scope, _) in PROFILES.items() if scope.startswith("patient/"))
READERS = ("patient-rs", "patient-v1-read", "patient-cruds")
"""The profiles that read and search every type in the patient's compartment."""
DENIED = 403


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: dict[str, int]
    body: Any = None
    has: tuple[str, ...] = ()
    """Strings a 2xx answer must contain (Alice's data is there) for the profiles that
    read every type."""
    lacks: tuple[str, ...] = field(default=())
    """Strings no answer to a narrowed profile may contain, besides the marker."""
    headers: dict[str, str] = field(default_factory=dict)


def _all(status: int, *names: str) -> dict[str, int]:
    return dict.fromkeys(names, status)


def _readers(status: int, **more: int) -> dict[str, int]:
    return {**_all(status, *READERS), "user-rs": 200, "system": 200, **more}


def _plan(patient: str, plan_id: str | None = None) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient}"},
    }
    if plan_id:
        plan["id"] = plan_id
    return plan


READS = [
    Case("read own patient", "GET", "Patient/a-patient", _readers(200), has=("Alice",)),
    Case("read other patient", "GET", "Patient/b-patient", _readers(404)),
    Case(
        "read own care plan",
        "GET",
        "CarePlan/a-plan",
        _readers(200, **{"patient-careplan": 200}),
        has=("a-plan",),
    ),
    Case(
        "read other care plan",
        "GET",
        "CarePlan/b-plan",
        _readers(404, **{"patient-careplan": 404}),
    ),
    Case(
        "vread other care plan",
        "GET",
        "CarePlan/b-plan/_history/1",
        _readers(404, **{"patient-careplan": 404}),
    ),
    Case(
        "history of other care plan",
        "GET",
        "CarePlan/b-plan/_history",
        _readers(200, **{"patient-careplan": 200}),
        lacks=("fullUrl",),
    ),
    Case(
        "read other's task",
        "GET",
        "Task/b-task",
        _readers(404),
    ),
    Case(
        "read shared practitioner",
        "GET",
        "Practitioner/shared-pr",
        _readers(200),
        has=("Shared",),
    ),
    Case(
        "read own vital sign",
        "GET",
        "Observation/a-obs",
        _readers(200, **{"patient-vitals": 200}),
        has=("a-obs",),
    ),
    Case(
        "read own lab outside the restriction",
        "GET",
        "Observation/a-lab",
        _readers(200, **{"patient-vitals": 404}),
    ),
]

SEARCHES = [
    Case(
        "search care plans",
        "GET",
        "CarePlan",
        _readers(200, **{"patient-careplan": 200}),
        has=("a-plan",),
    ),
    Case(
        "search care plans of the other patient",
        "GET",
        "CarePlan?subject=Patient/b-patient",
        _readers(200, **{"patient-careplan": 200}),
        lacks=("b-plan",),
    ),
    Case(
        "search with _include and _revinclude",
        "GET",
        "CarePlan?_include=CarePlan:subject&_include=CarePlan:care-team"
        "&_revinclude=Provenance:target&_revinclude=Task:focus",
        _readers(200, **{"patient-careplan": 200}),
        has=("a-plan",),
    ),
    Case(
        "_include of types the token cannot read is dropped",
        "GET",
        "CarePlan?_include=CarePlan:subject&_include=CarePlan:goal",
        _readers(200, **{"patient-careplan": 200}),
        has=("a-plan",),
    ),
    Case(
        "_has on the other patient's plans",
        "GET",
        "Patient?_has:CarePlan:subject:status=active",
        _readers(200),
        has=("a-patient",),
    ),
    Case(
        "chain to the other patient's name",
        "GET",
        "CarePlan?subject:Patient.family=Bob",
        _readers(200, **{"patient-careplan": 200}),
        lacks=("b-plan",),
    ),
    Case(
        "search by the other patient's name",
        "GET",
        "Patient?family=Bob",
        _readers(200),
        lacks=("b-patient",),
    ),
    Case(
        "search observations (restricted to vital signs)",
        "GET",
        "Observation",
        _readers(200, **{"patient-vitals": 200}),
        has=("a-obs",),
    ),
    Case(
        "search all types",
        "GET",
        "?_type=CarePlan,Task,Observation,Patient",
        _readers(200, **{"patient-careplan": 200, "patient-vitals": 200}),
    ),
    Case(
        "type history",
        "GET",
        "CarePlan/_history",
        _readers(200, **{"patient-careplan": 200}),
        has=("a-plan",),
    ),
    Case(
        "system history",
        "GET",
        "_history?_count=50",
        _readers(200, **{"patient-careplan": 200, "patient-vitals": 200}),
        has=("a-plan",),
    ),
    Case(
        "search tasks without a Task scope",
        "GET",
        "Task",
        _readers(200),
        has=("a-task",),
    ),
]

OPERATIONS = [
    Case(
        "$everything of own patient",
        "GET",
        "Patient/a-patient/$everything",
        _readers(200),
        has=("a-plan", "a-obs", "shared-pr"),
    ),
    Case("$everything of other patient", "GET", "Patient/b-patient/$everything", _readers(404)),
    Case("type-level $everything", "GET", "Patient/$everything", _readers(200), has=("a-plan",)),
    Case(
        "$worklist of the shared practitioner",
        "GET",
        "Practitioner/shared-pr/$worklist",
        _readers(200),
        has=("a-task",),
    ),
    Case(
        "$progress of own plan",
        "GET",
        "CarePlan/a-plan/$progress",
        _readers(200, **{"patient-careplan": 200}),
        has=("a-plan",),
    ),
    Case(
        "$progress of other plan",
        "GET",
        "CarePlan/b-plan/$progress",
        _readers(404, **{"patient-careplan": 404}),
    ),
    Case(
        "$apply to the other patient",
        "GET",
        "PlanDefinition/shared-plandef/$apply?subject=Patient/b-patient",
        {"patient-cruds": 400, "system": 200},
    ),
    Case(
        "$apply persisted for own patient",
        "POST",
        "PlanDefinition/shared-plandef/$apply?subject=Patient/a-patient&persist=true",
        {"patient-cruds": 201, "system": 201},
        body={"resourceType": "Parameters"},
    ),
    Case(
        "$apply persisted for the other patient",
        "POST",
        "PlanDefinition/shared-plandef/$apply?subject=Patient/b-patient&persist=true",
        {"patient-cruds": 400, "system": 201},
        body={"resourceType": "Parameters"},
    ),
    Case(
        "$validate own plan",
        "GET",
        "CarePlan/a-plan/$validate",
        _readers(200, **{"patient-careplan": 200}),
        has=("information",),
    ),
    Case(
        "$validate the other patient's plan",
        "GET",
        "CarePlan/b-plan/$validate",
        _readers(404, **{"patient-careplan": 404}),
    ),
    Case(
        "$validate a body (nothing is read or stored)",
        "POST",
        "CarePlan/$validate",
        _readers(200, **{"patient-careplan": 200}),
        body=_plan("b-patient"),
    ),
    Case("$reindex", "POST", "$reindex", {"system": 200}),
    Case("$sync-status", "GET", "$sync-status", {"system": 200}),
    Case(
        "batch reading both patients",
        "POST",
        "",
        _readers(200, **{"patient-careplan": 200, "patient-vitals": 200}),
        body=batch(
            "CarePlan/b-plan",
            "CarePlan?subject=Patient/b-patient",
            "Patient/b-patient/$everything",
            "Observation/b-obs",
        ),
    ),
]

WRITES = [
    Case(
        "create a plan for own patient",
        "POST",
        "CarePlan",
        {"patient-cruds": 201, "system": 201},
        body=_plan(PATIENT_A),
    ),
    Case(
        "create a plan for the other patient",
        "POST",
        "CarePlan",
        {"system": 201},
        body=_plan("b-patient"),
    ),
    Case(
        "update the other patient's plan",
        "PUT",
        "CarePlan/b-plan",
        {"patient-cruds": 404, "system": 200},
        body=_plan(PATIENT_A, "b-plan"),
    ),
    Case(
        "move own plan to the other patient",
        "PUT",
        "CarePlan/a-plan",
        {"system": 200},
        body=_plan("b-patient", "a-plan"),
    ),
    Case(
        "patch the other patient's plan",
        "PATCH",
        "CarePlan/b-plan",
        {"patient-cruds": 404, "system": 200},
        body=[{"op": "replace", "path": "/status", "value": "revoked"}],
        headers={"Content-Type": "application/json-patch+json"},
    ),
    Case(
        "delete the other patient's plan",
        "DELETE",
        "CarePlan/b-plan",
        {"patient-cruds": 200, "system": 200},
    ),
    Case(
        "conditional update on the other patient's identifier",
        "PUT",
        "CarePlan?identifier=SECRET-B-b",
        {"patient-cruds": 201, "system": 201},  # the system token replaced b-plan above
        body=_plan(PATIENT_A),
    ),
    Case(
        "create a practitioner (not patient data)",
        "POST",
        "Practitioner",
        {"system": 201},
        body={"resourceType": "Practitioner", "name": [{"family": "New"}]},
    ),
    Case(
        "transaction writing for the other patient",
        "POST",
        "",
        {"system": 200},
        body={
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": _plan(PATIENT_A), "request": {"method": "POST", "url": "CarePlan"}},
                {"resource": _plan("b-patient"), "request": {"method": "POST", "url": "CarePlan"}},
            ],
        },
    ),
]

CASES = READS + SEARCHES + OPERATIONS + WRITES
