"""Two patients' care records, and one practitioner and organization they share.

Patient ``a`` (Alice) is the launch patient of the patient-scoped tokens; patient ``b``
(Bob) is the other one. Every resource of Bob's carries the marker ``SECRET-B`` in its
content (an identifier, a note, a description), so a response leaks Bob's data exactly
when the marker is in it: requests never name the marker themselves.
"""

from __future__ import annotations

from typing import Any

SECRET = "SECRET-B"
PRACTITIONER = "shared-pr"
ORGANIZATION = "shared-org"
PLAN_DEFINITION = "shared-plandef"
PATIENTS = {"a": "Alice", "b": "Bob"}
CATEGORIES = "http://terminology.hl7.org/CodeSystem/observation-category"


def _identifier(p: str) -> list[dict[str, Any]]:
    return [{"system": "urn:fhircare:test", "value": f"SECRET-{p.upper()}-{p}"}]


def records(p: str) -> list[dict[str, Any]]:
    """The care record of patient ``p`` (``a`` or ``b``)."""
    patient = f"Patient/{p}-patient"
    ident = _identifier(p)
    return [
        {
            "resourceType": "Patient",
            "id": f"{p}-patient",
            "identifier": ident,
            "name": [{"family": PATIENTS[p], "given": ["Test"]}],
            "generalPractitioner": [{"reference": f"Practitioner/{PRACTITIONER}"}],
        },
        {
            "resourceType": "Condition",
            "id": f"{p}-cond",
            "identifier": ident,
            "subject": {"reference": patient},
            "code": {"text": "diabetes"},
        },
        {
            "resourceType": "Goal",
            "id": f"{p}-goal",
            "identifier": ident,
            "lifecycleStatus": "active",
            "description": {"text": f"goal of {p}"},
            "subject": {"reference": patient},
            "target": [{"dueDate": "2020-01-01"}],
        },
        {
            "resourceType": "CareTeam",
            "id": f"{p}-team",
            "identifier": ident,
            "status": "active",
            "subject": {"reference": patient},
            "participant": [{"member": {"reference": f"Practitioner/{PRACTITIONER}"}}],
        },
        {
            "resourceType": "CarePlan",
            "id": f"{p}-plan",
            "identifier": ident,
            "status": "active",
            "intent": "plan",
            "subject": {"reference": patient},
            "author": {"reference": f"Practitioner/{PRACTITIONER}"},
            "careTeam": [{"reference": f"CareTeam/{p}-team"}],
            "goal": [{"reference": f"Goal/{p}-goal"}],
            "activity": [{"reference": {"reference": f"Task/{p}-task"}}],
        },
        {
            "resourceType": "Task",
            "id": f"{p}-task",
            "identifier": ident,
            "status": "requested",
            "intent": "order",
            "for": {"reference": patient},
            "focus": {"reference": f"CarePlan/{p}-plan"},
            "basedOn": [{"reference": f"CarePlan/{p}-plan"}],
            "owner": {"reference": f"Practitioner/{PRACTITIONER}"},
            "restriction": {"period": {"end": "2020-01-01T00:00:00Z"}},
        },
        _observation(p, "obs", "vital-signs", "8867-4", 72, "/min"),
        _observation(p, "lab", "laboratory", "4548-4", 7.1, "%"),
        {
            "resourceType": "Communication",
            "id": f"{p}-msg",
            "identifier": ident,
            "status": "completed",
            "subject": {"reference": patient},
            "sender": {"reference": patient},
            "recipient": [{"reference": f"Practitioner/{PRACTITIONER}"}],
            "sent": "2024-01-01T00:00:00Z",
            "payload": [{"contentString": f"message of {p}"}],
        },
        {
            "resourceType": "Encounter",
            "id": f"{p}-enc",
            "identifier": ident,
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
            },
            "subject": {"reference": patient},
        },
        {
            "resourceType": "Provenance",
            "id": f"{p}-prov",
            "target": [{"reference": f"CarePlan/{p}-plan"}],
            "recorded": "2024-01-01T00:00:00Z",
            "agent": [{"who": {"reference": f"Practitioner/{PRACTITIONER}"}}],
            "activity": {"text": f"SECRET-{p.upper()} provenance"},
        },
    ]


def _observation(
    p: str, suffix: str, category: str, loinc: str, value: float, unit: str
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"{p}-{suffix}",
        "identifier": _identifier(p),
        "status": "final",
        "category": [{"coding": [{"system": CATEGORIES, "code": category}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{p}-patient"},
        "valueQuantity": {"value": value, "unit": unit},
    }


def shared() -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Practitioner",
            "id": PRACTITIONER,
            "name": [{"family": "Shared", "given": ["Dr"]}],
        },
        {"resourceType": "Organization", "id": ORGANIZATION, "name": "Shared clinic"},
        {
            "resourceType": "ActivityDefinition",
            "id": "shared-call",
            "url": "http://fhircare.test/ActivityDefinition/call",
            "status": "active",
            "kind": "Task",
            "title": "Follow-up call",
        },
        {
            "resourceType": "PlanDefinition",
            "id": PLAN_DEFINITION,
            "url": "http://fhircare.test/PlanDefinition/follow-up",
            "status": "active",
            "title": "Follow-up",
            "action": [
                {
                    "title": "Call",
                    "definitionCanonical": "http://fhircare.test/ActivityDefinition/call",
                }
            ],
        },
    ]


def transaction() -> dict[str, Any]:
    """Everything, as one transaction of PUTs."""
    resources = shared() + records("a") + records("b")
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
            for resource in resources
        ],
    }


def batch(*reads: str) -> dict[str, Any]:
    """A batch Bundle of GETs of ``reads`` (relative URLs)."""
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": url}} for url in reads],
    }
