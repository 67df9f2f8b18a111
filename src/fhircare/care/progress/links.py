"""How a CarePlan's activities are tied to the resources that carry them out.

https://hl7.org/fhir/R4/careplan.html: an activity either names a request resource in
``activity.reference`` (a Task, ServiceRequest, Appointment...) or describes itself in
``activity.detail``, never both (invariant cpl-3). A Task is tied to an activity of a plan
in one of three ways, tried in this order:

1. ``activity.reference`` names the Task: the Task's own status is the activity's.
2. ``activity.outcomeReference`` of an activity with a ``detail`` names the Task: the Task
   carries out that activity, whose ``detail.status`` follows the Task's.
3. The Task names the plan (``Task.basedOn`` or ``Task.focus``) and its
   ``instantiatesCanonical`` is one of a detail's ``instantiatesCanonical`` (versions
   ignored): a Task made from the activity's definition carries it out, when the activity
   has no other Task in its ``outcomeReference`` yet (the first such activity, so two Tasks
   of one definition fill two activities of it in turn).

A Task that names the plan and is tied to none of its activities is work for the plan all
the same; ``$progress`` lists it as an activity of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fhircare.fhir.errors import FhirError
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.search.normalize import reference_key, split_canonical

CARE_PLAN = "CarePlan"
TASK = "Task"


def key_of(reference: Any, base_url: str | None = None) -> str | None:
    """``Type/id`` of a Reference to a resource on this server, else None (contained,
    another server's, a logical reference, one to a type fhircare does not keep, or
    none)."""
    text = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(text, str):
        return None
    try:
        key, resource_type = reference_key(text, base_url)
    except FhirError:
        return None
    if resource_type not in RESOURCE_TYPES or key.count("/") != 1:
        return None
    return key


def keys_of(references: Any, base_url: str | None = None) -> Iterator[str]:
    """The local keys of a list of References (or of one)."""
    items = references if isinstance(references, list) else [references]
    for item in items:
        key = key_of(item, base_url)
        if key is not None:
            yield key


def plans_of_task(task: dict[str, Any], base_url: str | None = None) -> list[str]:
    """The ids of the CarePlans a Task names in ``basedOn`` or ``focus``, once each."""
    named = [*keys_of(task.get("basedOn") or []), *keys_of(task.get("focus") or [])]
    ids = [key.split("/", 1)[1] for key in named if key.startswith(f"{CARE_PLAN}/")]
    return list(dict.fromkeys(ids))


def activities(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = plan.get("activity")
    return [a if isinstance(a, dict) else {} for a in found] if isinstance(found, list) else []


def linked_activity(
    plan: dict[str, Any], task: dict[str, Any], base_url: str | None = None
) -> tuple[int, bool] | None:
    """The index of the activity with a ``detail`` that ``task`` carries out (rules 2 and
    3 above), and whether the tie is by its definition alone (rule 3), not yet recorded in
    ``outcomeReference``; None when the Task carries out no detailed activity of the plan."""
    task_key = f"{TASK}/{task.get('id')}"
    listed = activities(plan)
    for index, activity in enumerate(listed):
        if _detailed(activity) and task_key in keys_of(activity.get("outcomeReference") or []):
            return index, False
    if plan.get("id") not in plans_of_task(task, base_url):
        return None
    made_from = set(_urls(task.get("instantiatesCanonical")))
    if not made_from:
        return None
    for index, activity in enumerate(listed):
        if not _detailed(activity) or made_from.isdisjoint(
            _urls(activity["detail"].get("instantiatesCanonical"))
        ):
            continue
        outcomes = keys_of(activity.get("outcomeReference") or [])
        if not any(key.startswith(f"{TASK}/") for key in outcomes):
            return index, True
    return None


def referenced_keys(plan: dict[str, Any], base_url: str | None = None) -> list[str]:
    """The keys ``activity.reference`` names, in activity order."""
    return [
        key
        for activity in activities(plan)
        if (key := key_of(activity.get("reference"), base_url)) is not None
    ]


def _detailed(activity: dict[str, Any]) -> bool:
    return isinstance(activity.get("detail"), dict)


def _urls(canonicals: Any) -> Iterable[str]:
    """The URLs of a canonical (``Task.instantiatesCanonical``, 0..1) or of a list of them
    (``detail.instantiatesCanonical``), versions dropped."""
    listed = [canonicals] if isinstance(canonicals, str) else canonicals
    if not isinstance(listed, list):
        return ()
    return (split_canonical(c)[0] for c in listed if isinstance(c, str))
