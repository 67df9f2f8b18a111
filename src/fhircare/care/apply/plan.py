"""The draft CarePlan a protocol makes for one patient, with its Goals and requests.

https://hl7.org/fhir/R4/plandefinition.html#12.23.4.3 (applying a PlanDefinition), with
the activities' requests referenced straight from ``CarePlan.activity.reference``
rather than through a RequestGroup. The plan is built once with local references
(``#goal-1``, ``#activity-2``, ``#`` for the CarePlan) and then either returned with its
parts ``contained`` (``contained``) or written as a transaction of new resources whose
references are ``urn:uuid:``s that the transaction turns into ids (``transaction``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhircare.care.apply.requests import CONTAINER, Setting, canonical_of, make_request
from fhircare.care.apply.timing import Window, add
from fhircare.fhir import errors
from fhircare.fhir.ids import format_instant

UNSUPPORTED_ACTION_ELEMENTS = {
    "action": "nested actions",
    "condition": "conditions (fhircare evaluates no expressions)",
    "dynamicValue": "dynamicValue expressions (fhircare evaluates no expressions)",
    "definitionUri": "a definitionUri (fhircare applies ActivityDefinitions by canonical URL)",
    "transform": "a transform",
}
"""Action elements that change whether or what is requested, which fhircare cannot honour:
a PlanDefinition using them is refused rather than applied as if they were not there."""


@dataclass(frozen=True)
class Draft:
    """The CarePlan (without ``contained``) and its parts, each with its local ``id``."""

    care_plan: dict[str, Any]
    parts: list[dict[str, Any]]


def check_plan_definition(plan: dict[str, Any]) -> None:
    """422 for a PlanDefinition fhircare cannot apply faithfully."""
    if plan.get("status") == "retired":
        raise errors.processing(f"PlanDefinition/{plan.get('id')} is retired", "status")
    if not plan.get("url"):
        raise errors.processing(
            f"PlanDefinition/{plan.get('id')} has no url for the CarePlan to instantiate", "url"
        )
    goal_ids = {g.get("id") for g in plan.get("goal") or () if g.get("id")}
    for index, action in enumerate(plan.get("action") or ()):
        where = f"PlanDefinition.action[{index}]"
        for element, what in UNSUPPORTED_ACTION_ELEMENTS.items():
            if action.get(element):
                raise errors.processing(
                    f"{where} has {what}, which $apply does not support", f"{where}.{element}"
                )
        for goal_id in action.get("goalId") or ():
            if goal_id not in goal_ids:
                raise errors.processing(
                    f"{where}: no goal has id '{str(goal_id)[:64]}'", f"{where}.goalId"
                )


def draft_plan(
    plan: dict[str, Any],
    definitions: Sequence[dict[str, Any] | None],
    windows: Sequence[Window],
    goal_conditions: Sequence[Sequence[str]],
    setting: Setting,
    contributor: str | None = None,
) -> Draft:
    """The plan: ``definitions[i]`` and ``windows[i]`` belong to ``plan.action[i]``,
    ``goal_conditions[j]`` are the patient's Conditions ``plan.goal[j]`` addresses."""
    goals = [
        _goal(goal, f"goal-{n}", conditions, setting)
        for n, (goal, conditions) in enumerate(
            zip(plan.get("goal") or (), goal_conditions, strict=True), start=1
        )
    ]
    local = {g.get("id"): f"#goal-{n}" for n, g in enumerate(plan.get("goal") or (), start=1)}
    requests: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    for n, (action, definition, window) in enumerate(
        zip(plan.get("action") or (), definitions, windows, strict=True), start=1
    ):
        goal_refs = [local[g] for g in action.get("goalId") or ()]
        if definition is None:
            activities.append({"detail": _detail(action, window, goal_refs, setting)})
            continue
        request = make_request(definition, action, window, goal_refs, setting)
        requests.append(_with_id(request, f"activity-{n}"))
        title = action.get("title") or definition.get("title")
        reference = {"reference": f"#activity-{n}"} | ({"display": title} if title else {})
        activities.append({"reference": reference})
    care_plan = _care_plan(plan, setting, contributor, goals)
    if goals:
        care_plan["goal"] = [{"reference": f"#{g['id']}"} for g in goals]
    if activities:
        care_plan["activity"] = activities
    return Draft(care_plan, goals + requests)


def _care_plan(
    plan: dict[str, Any], setting: Setting, contributor: str | None, goals: list[dict[str, Any]]
) -> dict[str, Any]:
    care_plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "instantiatesCanonical": [canonical_of(plan)],
        "status": "draft",
        "intent": "plan",
    }
    _copy(care_plan, "title", plan.get("title") or plan.get("name"))
    _copy(care_plan, "description", plan.get("description"))
    care_plan["subject"] = {"reference": setting.subject}
    if setting.encounter:
        care_plan["encounter"] = {"reference": setting.encounter}
    now = format_instant(setting.now)
    care_plan["period"] = {"start": now}
    care_plan["created"] = now
    if setting.requester:
        care_plan["author"] = {"reference": setting.requester}
    if contributor:
        care_plan["contributor"] = [{"reference": contributor}]
    addressed = {a["reference"]: None for g in goals for a in g.get("addresses", ())}
    if addressed:
        care_plan["addresses"] = [{"reference": r} for r in addressed]
    return care_plan


def _goal(
    goal: dict[str, Any], id: str, conditions: Sequence[str], setting: Setting
) -> dict[str, Any]:
    """``PlanDefinition.goal`` as a proposed Goal of the patient; a target's ``due``
    (a Duration) becomes a ``dueDate`` counted from today."""
    made: dict[str, Any] = {"resourceType": "Goal", "id": id, "lifecycleStatus": "proposed"}
    _copy(made, "category", [goal["category"]] if goal.get("category") else None)
    _copy(made, "priority", goal.get("priority"))
    _copy(made, "description", goal.get("description"))
    made["subject"] = {"reference": setting.subject}
    if goal.get("start"):
        made["startCodeableConcept"] = goal["start"]
    else:
        made["startDate"] = setting.now.date().isoformat()
    targets = []
    for index, target in enumerate(goal.get("target") or ()):
        made_target = {k: v for k, v in target.items() if k != "due"}
        if "due" in target:
            where = f"PlanDefinition.goal.target[{index}].due"
            made_target["dueDate"] = add(setting.now, target["due"], where).date().isoformat()
        if made_target:
            targets.append(made_target)
    _copy(made, "target", targets or None)
    _copy(made, "addresses", [{"reference": c} for c in conditions] or None)
    return made


def _detail(
    action: dict[str, Any], window: Window, goals: list[str], setting: Setting
) -> dict[str, Any]:
    """An action without a definition as a simple activity of the CarePlan itself."""
    detail: dict[str, Any] = {}
    codes = action.get("code") or ()
    _copy(detail, "code", codes[0] if codes else None)
    _copy(detail, "goal", [{"reference": g} for g in goals] or None)
    detail["status"] = "not-started"
    if window.timing is not None:
        detail["scheduledTiming"] = window.timing
    else:
        _copy(detail, "scheduledPeriod", window.period(setting.now) or None)
    _copy(detail, "description", action.get("description") or action.get("title"))
    return detail


def contained(draft: Draft) -> dict[str, Any]:
    """The CarePlan with its Goals and requests contained (what R4 ``$apply`` returns)."""
    plan = dict(draft.care_plan)
    kind = plan.pop("resourceType")
    return (
        {"resourceType": kind, "contained": draft.parts, **plan} if draft.parts else draft.care_plan
    )


def transaction(draft: Draft) -> dict[str, Any]:
    """A transaction Bundle creating the CarePlan (first) and each of its parts."""
    names = {CONTAINER: f"urn:uuid:{uuid.uuid4()}"}
    names.update({f"#{part['id']}": f"urn:uuid:{uuid.uuid4()}" for part in draft.parts})
    entries = [_entry(names[CONTAINER], draft.care_plan, names)]
    for part in draft.parts:
        resource = {k: v for k, v in part.items() if k != "id"}
        entries.append(_entry(names[f"#{part['id']}"], resource, names))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _entry(full_url: str, resource: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": _renamed(resource, names),
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every local reference replaced by its ``urn:uuid:``."""
    if isinstance(value, dict):
        renamed = {k: _renamed(v, names) for k, v in value.items()}
        reference = value.get("reference")
        if isinstance(reference, str) and reference in names:
            renamed["reference"] = names[reference]
        return renamed
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return value


def _with_id(resource: dict[str, Any], id: str) -> dict[str, Any]:
    rest = {k: v for k, v in resource.items() if k != "resourceType"}
    return {"resourceType": resource["resourceType"], "id": id, **rest}


def _copy(target: dict[str, Any], name: str, value: Any) -> None:
    if value is not None and value != "":
        target[name] = value
