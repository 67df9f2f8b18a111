"""Keeping CarePlan activities and Goals up to date as the resources behind them change.

A write follower (``interactions/write_rules.py``), installed by ``care/rules.py`` while
the setting ``care_progress_updates`` is on (the default). It runs after every committed
version and acts on two kinds:

**A Task.** An activity that names the Task in ``activity.reference`` needs nothing: R4
gives such an activity no status of its own (invariant cpl-3, reference or detail), and
``$progress`` reads the Task's. An activity with a ``detail`` that the Task carries out
(``progress/links.py``: the activity's ``outcomeReference`` names the Task, or the Task
names the plan in ``basedOn``/``focus`` and was made from the detail's
``instantiatesCanonical``) gets the Task's status, mapped to a CarePlan activity status
(``progress/status.py``), in ``detail.status``; a Task tied by its definition alone is
recorded in the activity's ``outcomeReference``, so the tie holds from then on. The plans
are those the Task names in ``basedOn`` or ``focus``, read by key.

**An Observation** of a patient (created, updated, corrected or entered in error). Each of
the patient's active Goals with a target whose ``measure`` shares a code with it gets the
``achievementStatus`` its targets' latest two observations give it (``progress/goals.py``:
achieved, improving, worsening, no-change or in-progress). The status is computed from the
store, not from the version that arrived, so observations arriving out of order, or all at
once in a transaction, end the same way.

Each write goes through the update interaction with ``If-Match`` on the version read, so
validation, versioning, indexing and the other rules apply and nobody's edit is
overwritten. A lost race (412, 409) is tried again on the new version, up to ``ATTEMPTS``
times, then given up with a log line; any other refusal is logged. A resource is written
only when what is computed differs from what it holds, and this follower ignores the
CarePlans and Goals it writes itself, so a write never leads to another without end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fhircare.care.progress.goals import (
    achievement,
    achievement_concept,
    measure_codes,
    recorded_achievement,
    targets_of,
)
from fhircare.care.progress.links import CARE_PLAN, key_of, linked_activity, plans_of_task
from fhircare.care.progress.queries import active_goals, latest_observations
from fhircare.care.progress.status import activity_status
from fhircare.fhir import jsonio
from fhircare.fhir.errors import Category, FhirError
from fhircare.fhir.ids import etag
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.update import update
from fhircare.storage.protocol import StoredVersion

log = logging.getLogger(__name__)

ATTEMPTS = 3
LOST_RACE = (Category.PRECONDITION, Category.CONFLICT)
Resource = dict[str, Any]
Change = Callable[[Resource], Awaitable[bool]]
"""Brings a resource up to date in place; False when it already was."""


async def follow(context: Context, version: StoredVersion) -> None:
    """Bring what ``version`` affects up to date."""
    if version.body is None:
        return
    if version.resource_type == "Task":
        await _follow_task(context, jsonio.loads(version.body))
    elif version.resource_type == "Observation":
        await _follow_observation(context, jsonio.loads(version.body))


async def _follow_task(context: Context, task: Resource) -> None:
    async def change(plan: Resource) -> bool:
        return _apply_task(plan, task)

    for plan_id in plans_of_task(task):
        await _keep_current(context, CARE_PLAN, plan_id, change)


def _apply_task(plan: Resource, task: Resource) -> bool:
    """Set the status of the activity ``task`` carries out; False when already set."""
    linked = linked_activity(plan, task)
    if linked is None:
        return False
    index, by_definition = linked
    activity = plan["activity"][index]
    status = activity_status("Task", task.get("status"))
    changed = False
    if activity["detail"].get("status") != status:
        activity["detail"]["status"] = status
        changed = True
    if by_definition:
        outcomes = activity.setdefault("outcomeReference", [])
        outcomes.append({"reference": f"Task/{task['id']}"})
        changed = True
    return changed


async def _follow_observation(context: Context, observation: Resource) -> None:
    patient = key_of(observation.get("subject"))
    if patient is None or not patient.startswith("Patient/"):
        return
    patient_id = patient.split("/", 1)[1]
    codes = set(measure_codes({"measure": observation.get("code") or {}}))
    if not codes:
        return
    for stored in await active_goals(context, patient_id):
        if stored.body is None:
            continue
        goal = jsonio.loads(stored.body)
        if any(_measures(target, codes) for target in targets_of(goal)):
            await _keep_current(
                context, "Goal", stored.id, _goal_change(context, patient_id), first=stored
            )


def _measures(target: Resource, codes: set[tuple[str | None, str]]) -> bool:
    """Whether the target's measure shares a code with an observation's ``codes`` (a
    measure coding without a system matches the code alone)."""
    for system, code in measure_codes(target):
        if (system, code) in codes or (system is None and any(c == code for _, c in codes)):
            return True
    return False


def _goal_change(context: Context, patient_id: str) -> Change:
    async def change(goal: Resource) -> bool:
        targets = targets_of(goal)
        observed = await asyncio.gather(
            *(latest_observations(context, patient_id, t) for t in targets)
        )
        code = achievement(goal, list(zip(targets, observed, strict=True)))
        if code is None or code == recorded_achievement(goal):
            return False
        goal["achievementStatus"] = achievement_concept(code)
        return True

    return change


async def _keep_current(
    context: Context,
    resource_type: str,
    id: str,
    change: Change,
    first: StoredVersion | None = None,
) -> None:
    """Read the resource, ``change`` it, and write it back if it changed, with
    ``If-Match`` on the version read; again on a lost race, up to ``ATTEMPTS`` times."""
    stored = first
    for _ in range(ATTEMPTS):
        if stored is None:
            stored = await context.store.read(resource_type, id)
        if stored is None or stored.body is None:
            return
        resource = jsonio.loads(stored.body)
        if not await change(resource):
            return
        request = FhirRequest(
            "PUT",
            resource_type,
            id,
            headers={"if-match": etag(stored.version)},
            body=jsonio.dumps(resource),
        )
        try:
            await update(context, request)
            return
        except FhirError as error:
            if error.category not in LOST_RACE:
                log.warning("could not bring %s/%s up to date: %s", resource_type, id, error)
                return
        stored = None
    log.warning(
        "gave up bringing %s/%s up to date: it changed under %d attempts",
        resource_type,
        id,
        ATTEMPTS,
    )
