"""One corpus case per kind of check, with the issues fhircare's profiles call for.

Each ``Check`` names a case of ``corpus.py`` (an example claiming a fhircare profile,
changed once) and the issues a profile check must report on it: severity, code and the
FHIRPath expression of the place. No issue means the case meets its profile. The same
table drives ``$validate`` (``test_validate_http.py``) and the writes
(``test_profile_writes_http.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from tests.integration.validation.corpus import Case, cases
from tests.integration.validation.served import IssueFacts

CARE_PLAN_PROFILE = "http://fhircare.dev/fhir/StructureDefinition/fhircare-careplan"
UNKNOWN_PROFILE = "http://example.org/fhir/StructureDefinition/nowhere"
NO_ISSUES: IssueFacts = ("information", "informational", "")
"""What ``$validate`` answers for a resource without issues."""


@cache
def _by_id() -> dict[str, Case]:
    return {case.id: case for case in cases()}


@dataclass(frozen=True)
class Check:
    kind: str
    case_id: str
    issues: tuple[IssueFacts, ...]

    @property
    def case(self) -> Case:
        return _by_id()[self.case_id]

    @property
    def refused(self) -> bool:
        """Whether a write of the case is refused: an issue is an error."""
        return any(severity == "error" for severity, _, _ in self.issues)

    @property
    def errors(self) -> list[IssueFacts]:
        return [issue for issue in self.issues if issue[0] == "error"]


CARE_PLAN = "careplan-diabetes-hf"
GOAL = "goal-diabetes-hf-hba1c"
TASK = "task-copd-home-safety-visit"
TEAM = "careteam-diabetes-hf"
MESSAGE = "comm-copd-home-visit-1"

CHECKS = (
    Check(
        "cardinality", f"{CARE_PLAN}:no-care-team", (("error", "required", "CarePlan.careTeam"),)
    ),
    Check(
        "cardinality",
        f"{TEAM}:participant-without-member",
        (("error", "required", "CareTeam.participant[1].member"),),
    ),
    Check(
        "cardinality",
        f"{GOAL}:two-achievement-codings",
        (("error", "structure", "Goal.achievementStatus.coding"),),
    ),
    Check("cardinality", f"{CARE_PLAN}:two-care-teams", ()),
    Check(
        "type", f"{CARE_PLAN}:group-subject", (("error", "value", "CarePlan.subject.reference"),)
    ),
    Check("type", f"{TASK}:group-for", (("error", "value", "Task.for.reference"),)),
    Check(
        "pattern",
        f"{GOAL}:non-ucum-quantity",
        (("error", "value", "Goal.target[0].detail.ofType(Quantity)"),),
    ),
    Check(
        "required-binding",
        f"{CARE_PLAN}:unknown-category-code",
        (("error", "code-invalid", "CarePlan.category[1]"),),
    ),
    Check("required-binding", f"{CARE_PLAN}:other-fhircare-category", ()),
    Check(
        "extensible-binding",
        f"{MESSAGE}:category-from-another-system",
        (("warning", "code-invalid", "Communication.category[0]"),),
    ),
    Check("extensible-binding", f"{MESSAGE}:category-text-only", ()),
    Check(
        "extensible-binding",
        f"{MESSAGE}:unknown-category-code",
        (("error", "code-invalid", "Communication.category[0]"),),
    ),
    Check(
        "slicing",
        f"{CARE_PLAN}:no-fhircare-category",
        (("error", "required", "CarePlan.category"),),
    ),
    Check(
        "slicing",
        f"{GOAL}:snomed-achievement",
        (("error", "structure", "Goal.achievementStatus.coding[0]"),),
    ),
    Check("slicing", f"{CARE_PLAN}:another-category", ()),
    Check(
        "extension",
        f"{TASK}:pertains-to-goal-string",
        (("error", "structure", "Task.extension[0].value.ofType(string)"),),
    ),
    Check(
        "extension",
        f"{TASK}:pertains-to-goal-patient",
        (("error", "value", "Task.extension[0].value.ofType(Reference).reference"),),
    ),
    Check("extension", f"{TASK}:pertains-to-goal", ()),
    Check(
        "invariant", f"{CARE_PLAN}:bare-activity", (("error", "invariant", "CarePlan.activity[6]"),)
    ),
    Check("invariant", f"{MESSAGE}:opens-nothing", (("error", "invariant", "Communication"),)),
    Check("invariant", f"{TASK}:requested-without-owner", ()),
)


def check_id(check: Check) -> str:
    return check.case_id


def valid_plan() -> dict[str, Any]:
    """A copy of a CarePlan case that meets fhircare-careplan and claims only it."""
    check = next(c for c in CHECKS if c.kind == "cardinality" and not c.refused)
    resource: dict[str, Any] = check.case.resource
    assert resource["resourceType"] == "CarePlan"
    return {**resource, "meta": {"profile": [CARE_PLAN_PROFILE]}}


DESCRIBED: dict[str, Any] = {
    "resourceType": "StructureDefinition",
    "id": "careplan-described",
    "url": "http://example.org/fhir/StructureDefinition/careplan-described",
    "name": "DescribedCarePlan",
    "status": "active",
    "kind": "resource",
    "abstract": False,
    "type": "CarePlan",
    "baseDefinition": "http://hl7.org/fhir/StructureDefinition/CarePlan",
    "derivation": "constraint",
    "differential": {
        "element": [
            {"id": "CarePlan.description", "path": "CarePlan.description", "min": 1},
            {"id": "CarePlan.note", "path": "CarePlan.note", "mustSupport": True},
            {"id": "CarePlan.goal", "path": "CarePlan.goal", "mustSupport": True},
        ]
    },
}
"""A profile to store at run time: a description, and two mustSupport elements."""
