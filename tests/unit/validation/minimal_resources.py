"""Minimal valid R4 instances of the care-coordination types, for any test that needs one.

Import as ``from tests.unit.validation.minimal_resources import MINIMAL, care_plan``; each
call to ``minimal()`` returns a fresh deep copy, safe to mutate.
"""

from __future__ import annotations

import copy
from typing import Any

PATIENT_REF = {"reference": "Patient/p1"}
PRACTITIONER_REF = {"reference": "Practitioner/pr1"}

MINIMAL: dict[str, dict[str, Any]] = {
    "Patient": {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
        "gender": "male",
        "birthDate": "1974-12-25",
    },
    "Practitioner": {
        "resourceType": "Practitioner",
        "name": [{"family": "Careful", "prefix": ["Dr"]}],
    },
    "PractitionerRole": {
        "resourceType": "PractitionerRole",
        "practitioner": PRACTITIONER_REF,
        "organization": {"reference": "Organization/o1"},
        "availableTime": [{"daysOfWeek": ["mon", "tue"], "availableStartTime": "09:00:00"}],
    },
    "Organization": {"resourceType": "Organization", "active": True, "name": "Good Health"},
    "RelatedPerson": {
        "resourceType": "RelatedPerson",
        "patient": PATIENT_REF,
        "relationship": [{"text": "wife"}],
    },
    "CareTeam": {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": PATIENT_REF,
        "participant": [{"member": PRACTITIONER_REF}],
    },
    "CarePlan": {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": PATIENT_REF,
    },
    "Goal": {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "description": {"text": "Walk 30 minutes a day"},
        "subject": PATIENT_REF,
    },
    "Task": {
        "resourceType": "Task",
        "status": "in-progress",
        "intent": "order",
        "for": PATIENT_REF,
        "owner": PRACTITIONER_REF,
        "executionPeriod": {"start": "2026-03-16T08:45:00Z"},
    },
    "Condition": {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"text": "Asthma"},
        "subject": PATIENT_REF,
    },
    "Communication": {
        "resourceType": "Communication",
        "status": "completed",
        "subject": PATIENT_REF,
        "payload": [{"contentString": "Your appointment is confirmed."}],
    },
    "CommunicationRequest": {
        "resourceType": "CommunicationRequest",
        "status": "active",
        "subject": PATIENT_REF,
    },
    "ServiceRequest": {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": PATIENT_REF,
        "code": {"text": "Physiotherapy"},
    },
    "Appointment": {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2024-03-01T09:00:00Z",
        "end": "2024-03-01T09:30:00Z",
        "participant": [{"actor": PATIENT_REF, "status": "accepted"}],
    },
    "Encounter": {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
        },
        "subject": PATIENT_REF,
    },
    "Observation": {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": PATIENT_REF,
        "valueQuantity": {"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org"},
    },
    "Questionnaire": {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [{"linkId": "1", "text": "How do you feel?", "type": "string"}],
    },
    "QuestionnaireResponse": {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "subject": PATIENT_REF,
        "item": [{"linkId": "1", "answer": [{"valueString": "Fine"}]}],
    },
    "PlanDefinition": {"resourceType": "PlanDefinition", "status": "draft"},
    "ActivityDefinition": {"resourceType": "ActivityDefinition", "status": "active"},
    "DocumentReference": {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": PATIENT_REF,
        "content": [{"attachment": {"contentType": "text/plain", "data": "aGVsbG8="}}],
    },
    "HealthcareService": {"resourceType": "HealthcareService", "name": "Home nursing"},
    "Location": {"resourceType": "Location", "status": "active", "name": "Ward 3"},
    "Provenance": {
        "resourceType": "Provenance",
        "target": [{"reference": "CarePlan/cp1/_history/2"}],
        "recorded": "2024-03-01T09:00:00+01:00",
        "agent": [{"who": PRACTITIONER_REF}],
    },
    "AuditEvent": {
        "resourceType": "AuditEvent",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "action": "R",
        "recorded": "2024-03-01T09:00:00Z",
        "agent": [{"who": PRACTITIONER_REF, "requestor": True}],
        "source": {"observer": {"display": "fhircare"}},
    },
    "Consent": {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"text": "Privacy consent"}],
        "patient": PATIENT_REF,
    },
}


def minimal(resource_type: str) -> dict[str, Any]:
    """A fresh copy of the minimal instance of ``resource_type``."""
    return copy.deepcopy(MINIMAL[resource_type])


def care_plan(activities: int = 7) -> dict[str, Any]:
    """A realistic CarePlan (about 5 KB of compact JSON with the default 7 activities)."""
    return {
        "resourceType": "CarePlan",
        "id": "cp1",
        "meta": {"versionId": "3", "lastUpdated": "2024-03-01T09:00:00Z"},
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Plan</div>',
        },
        "contained": [
            {
                "resourceType": "Goal",
                "id": "g1",
                **{k: v for k, v in MINIMAL["Goal"].items() if k != "resourceType"},
            },
        ],
        "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "734163000"}]}],
        "title": "Diabetes self-management plan",
        "subject": {"reference": "Patient/p1", "display": "Peter Chalmers"},
        "period": {"start": "2024-01-01", "end": "2024-12-31"},
        "author": PRACTITIONER_REF,
        "careTeam": [{"reference": "CareTeam/ct1"}],
        "addresses": [{"reference": "Condition/c1"}],
        "goal": [{"reference": "#g1"}],
        "activity": [
            {
                "outcomeCodeableConcept": [{"text": "On track"}],
                "progress": [{"time": "2024-02-01T10:00:00Z", "text": f"Progress note {i}"}],
                "detail": {
                    "kind": "ServiceRequest",
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "229065009"}]},
                    "status": "in-progress",
                    "doNotPerform": False,
                    "scheduledTiming": {
                        "repeat": {
                            "frequency": 1,
                            "period": 1,
                            "periodUnit": "d",
                            "dayOfWeek": ["mon"],
                        }
                    },
                    "location": {"reference": "Location/l1"},
                    "performer": [
                        PRACTITIONER_REF,
                        {"reference": "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"},
                    ],
                    "dailyAmount": {"value": 2, "unit": "sessions"},
                    "description": f"Activity {i}: exercise with the physiotherapist",
                },
            }
            for i in range(activities)
        ],
        "note": [{"text": "Reviewed with the patient.", "time": "2024-03-01T09:00:00Z"}],
    }
