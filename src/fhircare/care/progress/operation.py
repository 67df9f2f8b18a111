"""``CarePlan/[id]/$progress``: where a care plan stands, as a ``Parameters`` resource.

``GET|POST [base]/CarePlan/[id]/$progress[?asOf=...]`` answers, for the plan
(https://hl7.org/fhir/R4/careplan.html):

- each activity (``CarePlan.activity[i]``): its status, from ``detail.status`` or mapped
  from the status of the resource ``activity.reference`` names (``progress/status.py``),
  its due moment and whether it is overdue. Tasks that name the plan in ``basedOn`` or
  ``focus`` are work for the plan too: one tied to none of its activities
  (``progress/links.py``) is listed as an activity of its own, without an index;
- each goal (``CarePlan.goal``): its targets with the patient's latest and previous
  observation of each measure, the trend between them, and an assessment: achieved,
  in-progress, not-achieving, overdue or not-applicable (``progress/goals.py``);
- totals: activities by status, overdue activities, the percent complete (completed
  activities of those not cancelled or entered in error), goals by assessment, overdue
  goals (``progress/output.py`` names every output parameter).

``asOf`` (a date, dateTime or instant; default now) is the moment due dates are judged
against, from its first instant; statuses and observations are always the current ones.
404 when the plan never existed, 410 when it is deleted, 400 for a bad ``asOf``.

What it costs: one read of the plan by key; then, concurrently, one read by key per
distinct resource its activities and goals name, and one indexed query for the Tasks
naming it; then, concurrently, one indexed query per distinct goal measure (two results
each). So a plan with activities referring to ``r`` resources and ``g`` goals measuring
``m`` distinct things costs ``1 + r + g`` reads and ``1 + m`` queries, whatever the size of
the patient's record: a single query for every measure at once would have to page through
each measure's whole history to find its latest value.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhircare.care.operation import CareOperation, fhircare_definition
from fhircare.care.progress.goals import (
    assess_goal,
    assess_target,
    measure_codes,
    targets_of,
)
from fhircare.care.progress.links import (
    CARE_PLAN,
    activities,
    key_of,
    keys_of,
    linked_activity,
    referenced_keys,
)
from fhircare.care.progress.output import ActivityProgress, GoalProgress, parameters
from fhircare.care.progress.queries import latest_observations, linked_tasks
from fhircare.care.progress.status import (
    ACTIVITY_STATUSES,
    DONE,
    activity_status,
    detail_due,
    passed,
    resource_due,
)
from fhircare.fhir import jsonio
from fhircare.fhir.ids import now
from fhircare.interactions.current import live_version
from fhircare.interactions.operation_inputs import Input
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.search.normalize import date_range
from fhircare.storage.protocol import StoredVersion

Resource = dict[str, Any]
MeasureKey = tuple[tuple[str | None, str], ...]


@dataclass(frozen=True)
class _Found:
    """What the plan names, read by key (None: never existed), and its linked Tasks."""

    versions: dict[str, StoredVersion | None]
    tasks: list[Resource]

    def live(self, key: str) -> Resource | None:
        version = self.versions.get(key)
        return jsonio.loads(version.body) if version and version.body is not None else None

    def problem(self, key: str) -> str | None:
        version = self.versions.get(key)
        if version is None:
            return f"{key} is not known"
        return f"{key} was deleted" if version.deleted else None


async def progress(context: Context, request: FhirRequest) -> FhirResponse:
    inputs = OPERATION.inputs_of(context, request)
    as_of_text = inputs.value("asOf")
    as_of = date_range(as_of_text)[0] if as_of_text else now()
    assert request.id is not None
    stored = await live_version(context, CARE_PLAN, request.id)
    assert stored.body is not None
    plan = jsonio.loads(stored.body)
    base = request.base_url or None
    goal_keys = [k for k in keys_of(plan.get("goal") or [], base) if k.startswith("Goal/")]
    found = await _read(context, request.id, [*referenced_keys(plan, base), *goal_keys])
    rows = _activities(plan, found, as_of, base) + _linked(plan, found, as_of, base)
    goals = await _goals(context, plan, found, as_of, base)
    body = parameters(plan, as_of, rows, goals)
    return FhirResponse(200, jsonio.dumps(body))


async def _read(context: Context, plan_id: str, keys: list[str]) -> _Found:
    """Every key, read at once, beside the query for the Tasks naming the plan."""
    unique = list(dict.fromkeys(keys))
    reads = asyncio.gather(*(context.store.read(*key.split("/", 1)) for key in unique))
    versions, tasks = await asyncio.gather(reads, linked_tasks(context, plan_id, None))
    return _Found(dict(zip(unique, versions, strict=True)), tasks)


def _activities(
    plan: Resource, found: _Found, as_of: datetime, base: str | None
) -> list[ActivityProgress]:
    rows = []
    for index, activity in enumerate(activities(plan)):
        detail = activity.get("detail")
        if isinstance(detail, dict):
            status = detail.get("status")
            status = status if status in ACTIVITY_STATUSES else "unknown"
            due = detail_due(detail)
            display = _concept_text(detail.get("code")) or _text(detail.get("description"))
            rows.append(
                ActivityProgress(
                    index, display, status, "detail", due=due, overdue=_late(status, due, as_of)
                )
            )
            continue
        reference = activity.get("reference")
        key = key_of(reference, base)
        display = _text(reference.get("display")) if isinstance(reference, dict) else None
        if key is None:
            issue = "the activity names no resource on this server"
            rows.append(ActivityProgress(index, display, "unknown", "reference", issue=issue))
            continue
        rows.append(_referenced(index, key, display, found, as_of))
    return rows


def _referenced(
    index: int, key: str, display: str | None, found: _Found, as_of: datetime
) -> ActivityProgress:
    resource = found.live(key)
    if resource is None:
        return ActivityProgress(
            index, display, "unknown", "reference", key, issue=found.problem(key)
        )
    return _of_resource(index, display, "reference", key, resource, as_of)


def _of_resource(
    index: int | None,
    display: str | None,
    source: str,
    key: str,
    resource: Resource,
    as_of: datetime,
) -> ActivityProgress:
    """An activity whose status is that of ``resource`` (at ``key``), mapped."""
    own = resource.get("status")
    status = activity_status(key.split("/", 1)[0], own)
    due = resource_due(resource)
    return ActivityProgress(
        index,
        display or _display_of(resource),
        status,
        source,
        key,
        own if isinstance(own, str) else None,
        due,
        _late(status, due, as_of),
    )


def _linked(
    plan: Resource, found: _Found, as_of: datetime, base: str | None
) -> list[ActivityProgress]:
    """The Tasks naming the plan that none of its activities stands for."""
    named = set(referenced_keys(plan, base))
    rows = []
    for task in found.tasks:
        key = f"Task/{task.get('id')}"
        if key in named or linked_activity(plan, task, base) is not None:
            continue
        rows.append(_of_resource(None, None, "linked", key, task, as_of))
    return rows


async def _goals(
    context: Context, plan: Resource, found: _Found, as_of: datetime, base: str | None
) -> list[GoalProgress]:
    """Each of the plan's goals with its targets assessed against the plan's patient's
    latest observations (one query per distinct measure, all at once)."""
    patient = key_of(plan.get("subject"), base)
    patient_id = patient.split("/", 1)[1] if patient and patient.startswith("Patient/") else None
    listed: list[tuple[str | None, Resource | None]] = []
    for reference in plan.get("goal") or ():
        key = key_of(reference, base)
        key = key if key is not None and key.startswith("Goal/") else None
        listed.append((key, found.live(key) if key else None))
    measures: dict[MeasureKey, Resource] = {}
    for _, goal in listed:
        for target in targets_of(goal or {}):
            codes = tuple(sorted(measure_codes(target), key=str))
            if codes and patient_id is not None:
                measures.setdefault(codes, target)
    observed = await asyncio.gather(
        *(latest_observations(context, patient_id or "", t) for t in measures.values())
    )
    by_measure = dict(zip(measures, observed, strict=True))
    rows = []
    for (key, goal), reference in zip(listed, plan.get("goal") or (), strict=True):
        if goal is None:
            problem = found.problem(key) if key else "not a reference to a Goal on this server"
            display = _text(reference.get("display")) if isinstance(reference, dict) else None
            rows.append(GoalProgress(key, display, None, [], "not-applicable", problem))
            continue
        targets = [
            assess_target(goal, t, _observations(by_measure, t), as_of) for t in targets_of(goal)
        ]
        rows.append(
            GoalProgress(key, _goal_display(goal), goal, targets, assess_goal(goal, targets))
        )
    return rows


def _observations(by_measure: dict[MeasureKey, list[Resource]], target: Resource) -> list[Resource]:
    return by_measure.get(tuple(sorted(measure_codes(target), key=str)), [])


def _late(status: str, due: str | None, as_of: datetime) -> bool:
    return status not in DONE and passed(due, as_of)


def _display_of(resource: Resource) -> str | None:
    """A line naming what a resource is about: its description, else its code."""
    for field in ("description", "code", "serviceType", "category"):
        value = resource.get(field)
        text = _text(value) or _concept_text(value)
        if text:
            return text
    return None


def _goal_display(goal: Resource) -> str | None:
    return _concept_text(goal.get("description"))


def _concept_text(value: Any) -> str | None:
    """A CodeableConcept's text, else its first coding's display or code (the first of a
    list of them)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dict):
        return None
    if _text(value.get("text")):
        return _text(value.get("text"))
    for coding in value.get("coding") or ():
        if isinstance(coding, dict):
            return _text(coding.get("display")) or _text(coding.get("code"))
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


OPERATION = CareOperation(
    name="progress",
    types=("CarePlan",),
    definition=fhircare_definition("progress"),
    summary="A care plan's progress: its activities, its goals against their targets",
    inputs=(
        Input(
            "asOf",
            "dateTime",
            "The moment due dates are judged against (a date means its first instant); default now",
        ),
    ),
    handler=progress,
    output="Parameters",
)
