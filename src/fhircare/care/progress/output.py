"""The ``Parameters`` resource ``$progress`` answers
(https://hl7.org/fhir/R4/parameters.html), as ``profiles/OperationDefinition-progress.json``
describes it:

- ``carePlan`` (Reference) and ``asOf`` (instant);
- ``activity``, one per activity: ``index`` (of ``CarePlan.activity``; absent for a Task
  that names the plan without being one of its activities), ``display``, ``status`` (a
  CarePlan activity status), ``source`` (``detail``: the activity's own status;
  ``reference``: mapped from the resource it names; ``linked``: a Task naming the plan),
  ``reference`` and ``resourceStatus`` (that resource and its own status), ``due``,
  ``overdue`` and ``issue`` (why a status is unknown);
- ``goal``, one per ``CarePlan.goal``: ``goal`` (Reference), ``lifecycleStatus``,
  ``achievementStatus`` (as recorded), ``assessment`` and ``target``, one per target:
  ``measure``, ``detail`` (the target's ``detail[x]`` as ``value[x]``), ``due``,
  ``observation``, ``effective`` and ``value`` (the latest), ``previousObservation`` and
  ``previousValue``, ``trend`` and ``assessment``; ``issue`` when the Goal cannot be read;
- ``totals``: ``activities``, ``activityStatus`` (``status``, ``count``; the statuses that
  occur), ``overdueActivities``, ``percentComplete`` (absent when no activity counts),
  ``goals``, ``goalAssessment`` (``assessment``, ``count``) and ``overdueGoals``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from fhircare.care.progress.goals import ASSESSMENTS, TargetProgress
from fhircare.care.progress.status import ACTIVITY_STATUSES, NOT_COUNTED
from fhircare.fhir.ids import format_instant

Resource = dict[str, Any]
Parameter = dict[str, Any]


@dataclass(frozen=True)
class ActivityProgress:
    index: int | None
    display: str | None
    status: str
    source: str
    reference: str | None = None
    resource_status: str | None = None
    due: str | None = None
    overdue: bool = False
    issue: str | None = None


@dataclass(frozen=True)
class GoalProgress:
    key: str | None
    display: str | None
    goal: Resource | None
    targets: list[TargetProgress] = field(default_factory=list)
    assessment: str = "not-applicable"
    issue: str | None = None


def parameters(
    plan: Resource,
    as_of: datetime,
    activities: list[ActivityProgress],
    goals: list[GoalProgress],
) -> Resource:
    """The whole answer."""
    reference = {"reference": f"CarePlan/{plan['id']}"}
    if isinstance(plan.get("title"), str):
        reference["display"] = plan["title"]
    found: list[Parameter] = [
        {"name": "carePlan", "valueReference": reference},
        {"name": "asOf", "valueInstant": format_instant(as_of)},
    ]
    found += [{"name": "activity", "part": _activity(a)} for a in activities]
    found += [{"name": "goal", "part": _goal(g)} for g in goals]
    found.append({"name": "totals", "part": _totals(activities, goals)})
    return {"resourceType": "Parameters", "parameter": found}


def _activity(row: ActivityProgress) -> list[Parameter]:
    parts = []
    if row.index is not None:
        parts.append(_part("index", "valueInteger", row.index))
    parts += [
        _part("display", "valueString", row.display),
        _part("status", "valueCode", row.status),
        _part("source", "valueCode", row.source),
        _part("reference", "valueReference", _reference(row.reference)),
        _part("resourceStatus", "valueCode", row.resource_status),
        _part("due", "valueDateTime", row.due),
        _part("overdue", "valueBoolean", row.overdue),
        _part("issue", "valueString", row.issue),
    ]
    return [p for p in parts if p]


def _goal(row: GoalProgress) -> list[Parameter]:
    goal = row.goal or {}
    reference = _reference(row.key) or {}
    if row.display:
        reference["display"] = row.display
    parts = [
        _part("goal", "valueReference", reference or None),
        _part("lifecycleStatus", "valueCode", goal.get("lifecycleStatus")),
        _part("achievementStatus", "valueCodeableConcept", goal.get("achievementStatus")),
        _part("assessment", "valueCode", row.assessment),
    ]
    parts += [{"name": "target", "part": _target(t)} for t in row.targets]
    parts.append(_part("issue", "valueString", row.issue))
    return [p for p in parts if p]


def _target(progress: TargetProgress) -> list[Parameter]:
    target, latest, previous = progress.target, progress.latest, progress.previous
    parts = [
        _part("measure", "valueCodeableConcept", target.get("measure")),
        _renamed("detail", target, "detail"),
        _part("due", "valueDate", progress.due),
    ]
    if latest is not None:
        parts += [
            _part("observation", "valueReference", _reference(f"Observation/{latest['id']}")),
            _renamed("effective", latest, "effective"),
            _renamed("value", latest, "value"),
        ]
    if previous is not None:
        parts += [
            _part(
                "previousObservation",
                "valueReference",
                _reference(f"Observation/{previous['id']}"),
            ),
            _renamed("previousValue", previous, "value"),
        ]
    parts += [
        _part("trend", "valueCode", progress.trend),
        _part("assessment", "valueCode", progress.assessment),
    ]
    return [p for p in parts if p]


def _totals(activities: list[ActivityProgress], goals: list[GoalProgress]) -> list[Parameter]:
    statuses = Counter(a.status for a in activities)
    assessments = Counter(g.assessment for g in goals)
    parts: list[Parameter] = [_part("activities", "valueInteger", len(activities))]
    parts += [
        {
            "name": "activityStatus",
            "part": [_part("status", "valueCode", s), _part("count", "valueInteger", statuses[s])],
        }
        for s in ACTIVITY_STATUSES
        if statuses[s]
    ]
    parts.append(
        _part("overdueActivities", "valueInteger", sum(1 for a in activities if a.overdue))
    )
    counted = sum(1 for a in activities if a.status not in NOT_COUNTED)
    if counted:
        percent = Decimal(100 * statuses["completed"]) / counted
        parts.append(_part("percentComplete", "valueDecimal", percent.quantize(Decimal("0.1"))))
    parts.append(_part("goals", "valueInteger", len(goals)))
    parts += [
        {
            "name": "goalAssessment",
            "part": [
                _part("assessment", "valueCode", a),
                _part("count", "valueInteger", assessments[a]),
            ],
        }
        for a in ASSESSMENTS
        if assessments[a]
    ]
    parts.append(_part("overdueGoals", "valueInteger", assessments["overdue"]))
    return parts


def _part(name: str, kind: str, value: Any) -> Parameter:
    """``{"name": name, kind: value}``, or nothing (``{}``) for no value."""
    return {} if value is None else {"name": name, kind: value}


def _renamed(name: str, resource: Resource, prefix: str) -> Parameter:
    """``resource``'s ``prefix[x]`` element as the ``value[x]`` of part ``name``."""
    for key, value in resource.items():
        if key.startswith(prefix) and key[len(prefix) : len(prefix) + 1].isupper():
            return {"name": name, f"value{key[len(prefix) :]}": value}
    return {}


def _reference(key: str | None) -> dict[str, Any] | None:
    return {"reference": key} if key else None
