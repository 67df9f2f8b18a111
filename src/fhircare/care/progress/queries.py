"""The store queries behind a plan's progress, each one indexed search
(https://hl7.org/fhir/R4/search.html) run as the search interaction runs it: parsed into
the SearchRequest IR, its references resolved, and answered by the store from its index.

- ``linked_tasks``: the Tasks naming a CarePlan in ``basedOn`` or ``focus`` (one query:
  the two reference parameters OR-ed).
- ``latest_observations``: a patient's latest two counted observations of one measure
  (``_sort=-date``, two results).
- ``active_goals``: a patient's active Goals.
"""

from __future__ import annotations

from typing import Any

from fhircare.care.progress.goals import COUNTED_OBSERVATIONS, measure_codes
from fhircare.fhir import errors, jsonio
from fhircare.interactions.request import Context
from fhircare.interactions.search_chains import resolve_clauses
from fhircare.search.indexer import Indexer
from fhircare.search.parse import parse
from fhircare.search.predicates import AnyOf, Predicate
from fhircare.search.request import SearchRequest
from fhircare.storage.protocol import SearchQuery, StoredVersion

Resource = dict[str, Any]


async def linked_tasks(context: Context, plan_id: str, base_url: str | None) -> list[Resource]:
    """The current Tasks whose ``basedOn`` or ``focus`` is ``CarePlan/plan_id``; more than
    ``Limits.max_included`` is 400 too-costly."""
    reference = f"CarePlan/{_escape(plan_id)}"
    based_on = await _predicates(context, "Task", [("based-on", reference)], base_url)
    focus = await _predicates(context, "Task", [("focus", reference)], base_url)
    limit = context.limits.max_included
    query = SearchQuery("Task", (AnyOf((*based_on, *focus)),), count=limit + 1)
    found = await context.store.search(query)
    if len(found) > limit:
        raise errors.invalid(
            f"CarePlan/{plan_id} has more than {limit} Tasks naming it", code="too-costly"
        )
    return _bodies(found)


async def latest_observations(
    context: Context, patient_id: str, target: Resource
) -> list[Resource]:
    """The patient's two latest final, amended or corrected Observations with a code of
    ``target.measure``, newest ``effective[x]`` first; none when it has no coded measure."""
    codes = measure_codes(target)
    if not codes:
        return []
    tokens = ",".join(
        _escape(code) if system is None else f"{_escape(system)}|{_escape(code)}"
        for system, code in codes
    )
    pairs = [
        ("subject", f"Patient/{_escape(patient_id)}"),
        ("code", tokens),
        ("status", ",".join(COUNTED_OBSERVATIONS)),
        ("_sort", "-date"),
    ]
    parsed = _parse(context, "Observation", pairs)
    predicates = await resolve_clauses(context, parsed, Indexer(context.registry, None))
    query = SearchQuery("Observation", predicates, count=2, sort=parsed.sort)
    return _bodies(await context.store.search(query))


async def active_goals(context: Context, patient_id: str) -> list[StoredVersion]:
    """The patient's Goals whose ``lifecycleStatus`` is active (at most
    ``Limits.max_included`` of them)."""
    pairs = [("patient", f"Patient/{_escape(patient_id)}"), ("lifecycle-status", "active")]
    predicates = await _predicates(context, "Goal", pairs, None)
    query = SearchQuery("Goal", predicates, count=context.limits.max_included)
    return await context.store.search(query)


async def _predicates(
    context: Context, resource_type: str, pairs: list[tuple[str, str]], base_url: str | None
) -> tuple[Predicate, ...]:
    parsed = _parse(context, resource_type, pairs)
    return await resolve_clauses(context, parsed, Indexer(context.registry, base_url))


def _parse(context: Context, resource_type: str, pairs: list[tuple[str, str]]) -> SearchRequest:
    return parse(resource_type, pairs, context.registry.lookup, context.search_limits, True)


def _escape(text: str) -> str:
    """A search value's special characters escaped (https://hl7.org/fhir/R4/search.html#escaping)."""
    for special in ("\\", ",", "$", "|"):
        text = text.replace(special, f"\\{special}")
    return text


def _bodies(found: list[StoredVersion]) -> list[Resource]:
    return [jsonio.loads(v.body) for v in found if v.body is not None]
