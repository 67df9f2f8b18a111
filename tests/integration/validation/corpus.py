"""The cases both validators judge: the examples that claim a fhircare profile, as they are
and mutated once for each kind of check a profile makes.

Every profiled example (``examples/``: CarePlans, Goals, Tasks, CareTeams, Communications)
is a ``valid`` case, and each mutation of its type is applied to each of them, labelled with
the kind of check it exercises and the verdict the profile calls for:

- ``cardinality``: a required element missing, a slice or element present too often;
- ``type``: a reference to a type the profile's ``targetProfile`` does not allow;
- ``pattern``: a value unlike the element's ``fixed[x]``/``pattern[x]``;
- ``required-binding`` and ``extensible-binding``: a code outside the bound value set;
- ``slicing``: a closed slicing given an unmatched item, a required slice left out, and an
  open slicing given more items (valid);
- ``extension``: a defined extension with a value of the wrong type, or the right one;
- ``invariant``: a profile's FHIRPath constraint false, or true in an unusual way.

Each mutation changes one thing, so a case breaks at most the one rule it is named after
(the base R4 rules stay met). Case ids are ``<example id>:<mutation>``.

A reference of the wrong type names one of ``REFERENCE_TARGETS``, resources a validator
that resolves references can be given: HAPI checks a reference's target type only against
a target it holds (``tests/peers/hapi/``), while fhircare reads the type from the reference.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
PROFILES = ROOT / "profiles"

KINDS = (
    "valid",
    "cardinality",
    "type",
    "pattern",
    "required-binding",
    "extensible-binding",
    "slicing",
    "extension",
    "invariant",
)
VALID, INVALID = "valid", "invalid"
DEFINITION_TYPES = ("StructureDefinition", "ValueSet", "CodeSystem")

CARE_PLAN_CATEGORY = "http://fhircare.dev/fhir/CodeSystem/care-plan-category"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
COMMUNICATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/communication-category"
PERTAINS_TO_GOAL = "http://hl7.org/fhir/StructureDefinition/resource-pertainsToGoal"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
SNOMED = "http://snomed.info/sct"

Resource = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One resource to validate against ``profile``, and the verdict it should get."""

    id: str
    kind: str
    expected: str
    profile: str
    resource: Resource
    change: str


@dataclass(frozen=True)
class Mutation:
    """One change to a resource of one type: ``apply`` edits a copy in place."""

    name: str
    kind: str
    expected: str
    change: str
    apply: Callable[[Resource], None]


def profiled_examples() -> list[Resource]:
    """Every example resource that claims a profile in ``meta.profile``, in file order."""
    found = []
    for path in sorted(EXAMPLES.glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]:
            resource = entry["resource"]
            if resource.get("meta", {}).get("profile"):
                found.append(resource)
    return found


def definitions() -> list[Resource]:
    """fhircare's StructureDefinitions and the ValueSets and CodeSystems they bind to."""
    found = []
    for path in sorted(PROFILES.glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        if resource["resourceType"] in DEFINITION_TYPES:
            found.append(resource)
    return found


def cases() -> list[Case]:
    """Every example as it is, then every mutation of its type applied to it."""
    out = []
    for example in profiled_examples():
        profile = example["meta"]["profile"][0]
        out.append(Case(f"{example['id']}:as-is", VALID, VALID, profile, example, "the example"))
        for mutation in MUTATIONS[example["resourceType"]]:
            changed = copy.deepcopy(example)
            mutation.apply(changed)
            out.append(
                Case(
                    f"{example['id']}:{mutation.name}",
                    mutation.kind,
                    mutation.expected,
                    profile,
                    changed,
                    mutation.change,
                )
            )
    return out


# --- edits ---------------------------------------------------------------------------


def _drop(*path: str) -> Callable[[Resource], None]:
    def apply(resource: Resource) -> None:
        holder = resource
        for name in path[:-1]:
            holder = holder[name][0] if isinstance(holder[name], list) else holder[name]
        del holder[path[-1]]

    return apply


def _set(name: str, value: Any) -> Callable[[Resource], None]:
    def apply(resource: Resource) -> None:
        resource[name] = copy.deepcopy(value)

    return apply


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _care_plan_category(code: str) -> Callable[[Resource], None]:
    """The plan's fhircare category (the careCoordination slice) coded ``code``."""

    def apply(plan: Resource) -> None:
        for category in plan["category"]:
            for coding in category.get("coding", []):
                if coding.get("system") == CARE_PLAN_CATEGORY:
                    coding["code"] = code
                    coding.pop("display", None)

    return apply


def _without_care_plan_category(plan: Resource) -> None:
    plan["category"] = [
        c
        for c in plan["category"]
        if all(coding.get("system") != CARE_PLAN_CATEGORY for coding in c.get("coding", []))
    ]


def _second_care_plan_category(plan: Resource) -> None:
    plan["category"].append(_concept(CARE_PLAN_CATEGORY, "episodic"))


def _another_category(plan: Resource) -> None:
    plan["category"].append(_concept(SNOMED, "736353004"))  # Inpatient care plan


def _bare_activity(plan: Resource) -> None:
    plan["activity"].append({"outcomeCodeableConcept": [{"text": "Feels more confident"}]})


def _achievement(*codings: dict[str, str]) -> Callable[[Resource], None]:
    def apply(goal: Resource) -> None:
        goal["achievementStatus"] = {"coding": [dict(c) for c in codings]}

    return apply


def _target_quantity_system(system: str | None) -> Callable[[Resource], None]:
    def apply(goal: Resource) -> None:
        quantity = goal["target"][0]["detailQuantity"]
        if system is None:
            del quantity["system"]
            del quantity["code"]
        else:
            quantity["system"] = system

    return apply


def _target_absent(goal: Resource) -> None:
    """A target that says only why its details are absent: no due date, measure or detail."""
    goal["target"] = [{"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}]


def _task_status(status: str, owner: bool) -> Callable[[Resource], None]:
    def apply(task: Resource) -> None:
        task["status"] = status
        task.pop("statusReason", None)
        task.pop("executionPeriod", None)
        if not owner:
            task.pop("owner", None)

    return apply


def _pertains_to_goal(value: dict[str, Any]) -> Callable[[Resource], None]:
    def apply(task: Resource) -> None:
        task["extension"] = [{"url": PERTAINS_TO_GOAL, **value}]

    return apply


def _member_dropped(team: Resource) -> None:
    del team["participant"][1]["member"]


def _opening_message(message: Resource) -> None:
    """The message neither replies, is about something nor answers a request."""
    for name in ("inResponseTo", "about", "basedOn"):
        message.pop(name, None)


def _only_based_on(message: Resource) -> None:
    _opening_message(message)
    message["basedOn"] = [{"reference": "CommunicationRequest/commreq-copd-rehab-reminder"}]


REFERENCE_TARGETS: tuple[Resource, ...] = (
    {"resourceType": "Group", "id": "validation-group", "type": "person", "actual": True},
    {"resourceType": "Organization", "id": "validation-organization", "name": "Riverside"},
    {"resourceType": "Patient", "id": "validation-patient", "gender": "female"},
)
"""The resources the wrong-type references name, one per type."""
GROUP = {"reference": "Group/validation-group"}

MUTATIONS: dict[str, tuple[Mutation, ...]] = {
    "CarePlan": (
        Mutation("no-care-team", "cardinality", INVALID, "careTeam removed", _drop("careTeam")),
        Mutation(
            "two-care-teams",
            "cardinality",
            VALID,
            "a second careTeam",
            lambda p: p["careTeam"].append({"reference": "CareTeam/careteam-copd"}),
        ),
        Mutation(
            "second-fhircare-category",
            "cardinality",
            INVALID,
            "a second category from care-plan-category (slice max 1)",
            _second_care_plan_category,
        ),
        Mutation("group-subject", "type", INVALID, "subject is a Group", _set("subject", GROUP)),
        Mutation(
            "unknown-category-code",
            "required-binding",
            INVALID,
            "the fhircare category coded 'chronic', not in care-plan-category",
            _care_plan_category("chronic"),
        ),
        Mutation(
            "other-fhircare-category",
            "required-binding",
            VALID,
            "the fhircare category coded 'episodic'",
            _care_plan_category("episodic"),
        ),
        Mutation(
            "no-fhircare-category",
            "slicing",
            INVALID,
            "the careCoordination category removed (required slice missing)",
            _without_care_plan_category,
        ),
        Mutation(
            "another-category",
            "slicing",
            VALID,
            "one more SNOMED CT category (the slicing is open)",
            _another_category,
        ),
        Mutation(
            "bare-activity",
            "invariant",
            INVALID,
            "an activity with neither reference nor detail (fhircare-cpl-1)",
            _bare_activity,
        ),
    ),
    "Goal": (
        Mutation("no-target", "cardinality", INVALID, "target removed", _drop("target")),
        Mutation(
            "two-achievement-codings",
            "cardinality",
            INVALID,
            "two goal-achievement codings (slice max 1)",
            _achievement(
                {"system": GOAL_ACHIEVEMENT, "code": "improving"},
                {"system": GOAL_ACHIEVEMENT, "code": "in-progress"},
            ),
        ),
        Mutation(
            "organization-subject",
            "type",
            INVALID,
            "subject is an Organization",
            _set("subject", {"reference": "Organization/validation-organization"}),
        ),
        Mutation(
            "non-ucum-quantity",
            "pattern",
            INVALID,
            "the target quantity's system is not UCUM",
            _target_quantity_system("http://fhircare.dev/fhir/CodeSystem/units"),
        ),
        Mutation(
            "unit-text-only",
            "pattern",
            INVALID,
            "the target quantity has a unit but no system nor code",
            _target_quantity_system(None),
        ),
        Mutation(
            "snomed-achievement",
            "slicing",
            INVALID,
            "achievementStatus coded in SNOMED CT (the closed slicing admits none)",
            _achievement({"system": SNOMED, "code": "385633008"}),  # Improving
        ),
        Mutation(
            "achievement-text-only",
            "slicing",
            VALID,
            "achievementStatus as text alone (no coding to slice)",
            _set("achievementStatus", {"text": "Getting there"}),
        ),
        Mutation(
            "target-without-due-or-measure",
            "invariant",
            INVALID,
            "a target with no due date and no measure (fhircare-gol-1)",
            _target_absent,
        ),
        Mutation(
            "target-without-due",
            "invariant",
            VALID,
            "a target with a measure but no due date",
            _drop("target", "dueDate"),
        ),
    ),
    "Task": (
        Mutation("no-focus", "cardinality", INVALID, "focus removed", _drop("focus")),
        Mutation("no-for", "cardinality", INVALID, "for removed", _drop("for")),
        Mutation("group-for", "type", INVALID, "for is a Group", _set("for", GROUP)),
        Mutation(
            "unknown-priority",
            "required-binding",
            INVALID,
            "priority 'whenever', not in request-priority",
            _set("priority", "whenever"),
        ),
        Mutation(
            "pertains-to-goal",
            "extension",
            VALID,
            "resource-pertainsToGoal naming a Goal",
            _pertains_to_goal({"valueReference": {"reference": "Goal/goal-copd-6mwt"}}),
        ),
        Mutation(
            "pertains-to-goal-string",
            "extension",
            INVALID,
            "resource-pertainsToGoal with a valueString",
            _pertains_to_goal({"valueString": "Walk further"}),
        ),
        Mutation(
            "pertains-to-goal-patient",
            "extension",
            INVALID,
            "resource-pertainsToGoal naming a Patient, not a Goal",
            _pertains_to_goal({"valueReference": {"reference": "Patient/validation-patient"}}),
        ),
        Mutation(
            "accepted-without-owner",
            "invariant",
            INVALID,
            "status accepted and no owner (fhircare-tsk-1)",
            _task_status("accepted", owner=False),
        ),
        Mutation(
            "requested-without-owner",
            "invariant",
            VALID,
            "status requested and no owner",
            _task_status("requested", owner=False),
        ),
    ),
    "CareTeam": (
        Mutation("no-subject", "cardinality", INVALID, "subject removed", _drop("subject")),
        Mutation(
            "no-participant", "cardinality", INVALID, "participant removed", _drop("participant")
        ),
        Mutation(
            "participant-without-member",
            "cardinality",
            INVALID,
            "a participant without member",
            _member_dropped,
        ),
        Mutation("group-subject", "type", INVALID, "subject is a Group", _set("subject", GROUP)),
    ),
    "Communication": (
        Mutation("no-subject", "cardinality", INVALID, "subject removed", _drop("subject")),
        Mutation("no-recipient", "cardinality", INVALID, "recipient removed", _drop("recipient")),
        Mutation("group-subject", "type", INVALID, "subject is a Group", _set("subject", GROUP)),
        Mutation(
            "unknown-priority",
            "required-binding",
            INVALID,
            "priority 'whenever', not in request-priority",
            _set("priority", "whenever"),
        ),
        Mutation(
            "category-from-another-system",
            "extensible-binding",
            VALID,
            "category coded in SNOMED CT, a system outside communication-category",
            _set("category", [_concept(SNOMED, "185087000")]),  # Notifications
        ),
        Mutation(
            "category-text-only",
            "extensible-binding",
            VALID,
            "category as text alone",
            _set("category", [{"text": "Home visit arrangements"}]),
        ),
        Mutation(
            "unknown-category-code",
            "extensible-binding",
            INVALID,
            "category coded 'gossip' in communication-category, which has no such code",
            _set("category", [_concept(COMMUNICATION_CATEGORY, "gossip")]),
        ),
        Mutation(
            "opens-nothing",
            "invariant",
            INVALID,
            "no inResponseTo, about nor basedOn (fhircare-com-1)",
            _opening_message,
        ),
        Mutation(
            "answers-a-request",
            "invariant",
            VALID,
            "basedOn a CommunicationRequest only",
            _only_based_on,
        ),
    ),
}
