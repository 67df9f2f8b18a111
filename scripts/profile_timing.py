"""Time one profile check by hand: a ~2 KB CarePlan against a 20-element profile.

Usage::

    python scripts/profile_timing.py [rounds]

Builds a ProfileSet (the profile, an extension definition, a ValueSet and its CodeSystem),
checks the CarePlan ``rounds`` times (default 20000) and prints the build time and the mean
time per check. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fhircare.validation.issues import IssueCollector  # noqa: E402
from fhircare.validation.profiles import ProfileSet, check_profile  # noqa: E402

BASE = "http://example.org/fhir"
CATEGORY_SYSTEM = f"{BASE}/CodeSystem/plan-category"

CODE_SYSTEM = {
    "resourceType": "CodeSystem",
    "url": CATEGORY_SYSTEM,
    "content": "complete",
    "concept": [{"code": c} for c in ("longitudinal", "transitional", "episodic")],
}
VALUE_SET = {
    "resourceType": "ValueSet",
    "url": f"{BASE}/ValueSet/plan-category",
    "compose": {"include": [{"system": CATEGORY_SYSTEM}]},
}
REVIEW = {
    "resourceType": "StructureDefinition",
    "url": f"{BASE}/StructureDefinition/review-date",
    "type": "Extension",
    "kind": "complex-type",
    "derivation": "constraint",
    "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
    "differential": {
        "element": [
            {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
            {
                "id": "Extension.url",
                "path": "Extension.url",
                "fixedUri": f"{BASE}/StructureDefinition/review-date",
            },
            {
                "id": "Extension.value[x]",
                "path": "Extension.value[x]",
                "min": 1,
                "type": [{"code": "date"}],
            },
        ]
    },
}


def _element(element_id: str, **facts: Any) -> dict[str, Any]:
    path = ".".join(step.partition(":")[0] for step in element_id.split("."))
    return {"id": element_id, "path": path, **facts}


PROFILE = {
    "resourceType": "StructureDefinition",
    "url": f"{BASE}/StructureDefinition/plan",
    "type": "CarePlan",
    "kind": "resource",
    "derivation": "constraint",
    "baseDefinition": "http://hl7.org/fhir/StructureDefinition/CarePlan",
    "differential": {
        "element": [
            _element(
                "CarePlan",
                constraint=[
                    {
                        "key": "plan-1",
                        "severity": "error",
                        "human": "a title",
                        "expression": "title.exists()",
                    }
                ],
            ),
            _element(
                "CarePlan.extension",
                slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
            ),
            _element(
                "CarePlan.extension:review",
                sliceName="review",
                max="1",
                type=[{"code": "Extension", "profile": [REVIEW["url"]]}],
            ),
            _element(
                "CarePlan.identifier",
                slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
                min=1,
            ),
            _element("CarePlan.identifier:local", sliceName="local", min=1, max="1"),
            _element("CarePlan.identifier:local.system", min=1, fixedUri=f"{BASE}/plans"),
            _element("CarePlan.identifier:local.value", min=1),
            _element("CarePlan.status", mustSupport=True),
            _element(
                "CarePlan.category",
                min=1,
                slicing={"discriminator": [{"type": "pattern", "path": "$this"}], "rules": "open"},
            ),
            _element(
                "CarePlan.category:kind",
                sliceName="kind",
                min=1,
                max="1",
                patternCodeableConcept={"coding": [{"system": CATEGORY_SYSTEM}]},
                binding={"strength": "required", "valueSet": VALUE_SET["url"]},
            ),
            _element("CarePlan.title", min=1),
            _element(
                "CarePlan.subject",
                type=[
                    {
                        "code": "Reference",
                        "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Patient"],
                    }
                ],
            ),
            _element("CarePlan.period", min=1),
            _element("CarePlan.period.start", min=1),
            _element("CarePlan.careTeam", min=1),
            _element(
                "CarePlan.activity",
                constraint=[
                    {
                        "key": "plan-2",
                        "severity": "error",
                        "human": "a reference or a detail",
                        "expression": "reference.exists() or detail.exists()",
                    }
                ],
            ),
            _element("CarePlan.activity.detail.status", mustSupport=True),
            _element("CarePlan.activity.detail.code", min=1),
            _element(
                "CarePlan.activity.detail.scheduled[x]",
                type=[{"code": "Timing"}, {"code": "Period"}],
            ),
            _element("CarePlan.note", max="3"),
        ]
    },
}


def care_plan() -> dict[str, Any]:
    activity = {
        "detail": {
            "kind": "ServiceRequest",
            "code": {
                "coding": [{"system": "http://snomed.info/sct", "code": "385763009"}],
                "text": "Hospice care",
            },
            "status": "in-progress",
            "scheduledPeriod": {"start": "2024-01-01", "end": "2024-06-30"},
            "description": "Weekly visit by the community nurse to review medication and symptoms",
        }
    }
    return {
        "resourceType": "CarePlan",
        "id": "plan-1",
        "meta": {"profile": [PROFILE["url"]]},
        "extension": [{"url": REVIEW["url"], "valueDate": "2024-03-01"}],
        "identifier": [
            {"system": f"{BASE}/plans", "value": "P-1"},
            {"system": "urn:other", "value": "X"},
        ],
        "status": "active",
        "intent": "plan",
        "category": [
            {"coding": [{"system": CATEGORY_SYSTEM, "code": "longitudinal"}]},
            {
                "coding": [{"system": "http://snomed.info/sct", "code": "734163000"}],
                "text": "Care plan",
            },
        ],
        "title": "Heart failure follow-up",
        "description": "Follow-up of a patient with chronic heart failure after discharge",
        "subject": {"reference": "Patient/p1", "display": "Jane Doe"},
        "period": {"start": "2024-01-01"},
        "created": "2024-01-01T09:00:00Z",
        "author": {"reference": "Practitioner/pr1"},
        "careTeam": [{"reference": "CareTeam/ct1"}],
        "addresses": [{"reference": "Condition/c1"}],
        "goal": [{"reference": "Goal/g1"}, {"reference": "Goal/g2"}],
        "activity": [activity, {"reference": {"reference": "ServiceRequest/sr1"}}, activity],
        "note": [{"text": "Patient prefers morning visits."}],
    }


def main(argv: list[str]) -> int:
    rounds = int(argv[1]) if len(argv) > 1 else 20000
    started = time.perf_counter()
    profiles = ProfileSet.build([CODE_SYSTEM, VALUE_SET, REVIEW, PROFILE])
    built = time.perf_counter() - started
    profile = profiles.profile(PROFILE["url"])
    assert profile is not None
    plan = care_plan()
    issues = IssueCollector()
    check_profile(plan, profile, profiles, issues)
    assert not issues.issues, issues.issues
    started = time.perf_counter()
    for _ in range(rounds):
        check_profile(plan, profile, profiles, IssueCollector())
    each = (time.perf_counter() - started) / rounds
    size = len(json.dumps(plan, separators=(",", ":")))
    elements = len(PROFILE["differential"]["element"])  # type: ignore[index]
    print(f"profile set built in {built * 1000:.1f} ms")
    print(
        f"CarePlan of {size} bytes, profile of {elements} elements: {each * 1e6:.0f} µs per check"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
