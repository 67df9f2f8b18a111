"""What ``$apply`` reads besides the PlanDefinition: the resources its inputs name, the
ActivityDefinitions its actions name, the patient's care team and conditions.

- An input naming a resource that does not exist, is deleted or has the wrong type is 400
  naming the input: the operation's own target (the PlanDefinition) exists, the request is
  what is wrong.
- An ActivityDefinition is found by its canonical URL (``ActivityDefinition?url=``, with
  ``version`` when the canonical ends in ``|version``), as
  https://hl7.org/fhir/R4/references.html#canonical resolves them. Retired ones are passed
  over; of several others, the active one with the latest ``date`` wins (a canonical
  without a version means the current one). None is 422 naming the action.
- A participant of an ActivityDefinition is one of the patient's active CareTeams' members
  whose role shares a coding (system and code) with the participant's role, or, for a
  role given as text only, has the same text (ignoring case). Exactly one such member must
  be found (two different members: nobody is chosen, rather than the wrong one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhircare.fhir import errors, jsonio
from fhircare.interactions.operation_inputs import Given
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.search import search

PARTICIPANT_TYPES = {
    "practitioner": ("Practitioner", "PractitionerRole"),
    "related-person": ("RelatedPerson",),
    "device": ("Device",),
}
"""``ActivityDefinition.participant.type`` and the member types that can fill it (``patient``
is the plan's subject)."""


@dataclass(frozen=True)
class Member:
    """A care-team member and the roles it holds there."""

    reference: str
    roles: tuple[dict[str, Any], ...]


async def named_resource(
    context: Context, given: Given, name: str, types: Sequence[str]
) -> dict[str, Any]:
    """The live resource an input (``Type/id``) names; 400 when it is not one of
    ``types`` or not there."""
    resource_type, _, id = str(given.value).partition("/")
    if resource_type not in types:
        raise errors.invalid(
            f"{name} must be a {' or '.join(types)}, not {resource_type}", given.where
        )
    stored = await context.store.read(resource_type, id)
    if stored is None or stored.body is None:
        state = "was deleted" if stored is not None else "is not known"
        raise errors.invalid(f"{name} {given.value} {state}", given.where, code="not-found")
    resource: dict[str, Any] = jsonio.loads(stored.body)
    return resource


async def found(
    context: Context, resource_type: str, query: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The resources a search matches (up to ``Limits.max_count``), through the search
    interaction."""
    pairs = (*query, ("_count", str(context.limits.max_count)))
    response = await search(context, FhirRequest("GET", resource_type, query=pairs))
    bundle = jsonio.loads(response.body or b"{}")
    return [
        e["resource"]
        for e in bundle.get("entry") or ()
        if e.get("search", {}).get("mode") == "match" and "resource" in e
    ]


async def activity_definition(context: Context, canonical: str, where: str) -> dict[str, Any]:
    """The ActivityDefinition ``canonical`` (``url`` or ``url|version``) names."""
    url, _, version = canonical.partition("|")
    query = [("url", escape(url))] + ([("version", escape(version))] if version else [])
    candidates = [
        d for d in await found(context, "ActivityDefinition", query) if d.get("status") != "retired"
    ]
    if not candidates:
        raise errors.processing(
            f"{where}: no ActivityDefinition has the canonical URL '{canonical[:200]}' "
            "(fhircare applies ActivityDefinitions, not other definitions)",
            where,
            code="not-found",
        )
    return max(candidates, key=lambda d: (d.get("status") == "active", str(d.get("date", ""))))


async def care_team(context: Context, patient: str) -> tuple[Member, ...]:
    """The members of the patient's active care teams, each once, in the teams' order."""
    teams = await found(context, "CareTeam", [("patient", patient), ("status", "active")])
    members: dict[str, list[dict[str, Any]]] = {}
    for team in teams:
        for participant in team.get("participant") or ():
            reference = (participant.get("member") or {}).get("reference")
            if isinstance(reference, str):
                members.setdefault(reference, []).extend(participant.get("role") or ())
    return tuple(Member(reference, tuple(roles)) for reference, roles in members.items())


def member_for(team: Sequence[Member], participant: dict[str, Any]) -> str | None:
    """The one member of ``team`` that can be an ActivityDefinition's non-patient
    ``participant``, or None."""
    types = PARTICIPANT_TYPES.get(participant.get("type", ""), ())
    role = participant.get("role")
    if not isinstance(role, dict):
        return None
    matching = {
        m.reference
        for m in team
        if m.reference.partition("/")[0] in types and any(_same_role(role, r) for r in m.roles)
    }
    return matching.pop() if len(matching) == 1 else None


def _same_role(wanted: dict[str, Any], held: dict[str, Any]) -> bool:
    codings = {
        (c.get("system"), c.get("code")) for c in wanted.get("coding") or () if c.get("code")
    }
    if codings:
        return any((c.get("system"), c.get("code")) in codings for c in held.get("coding") or ())
    text = str(wanted.get("text") or "").strip().casefold()
    return bool(text) and str(held.get("text") or "").strip().casefold() == text


async def conditions_of(
    context: Context, patient: str, concepts: Sequence[dict[str, Any]]
) -> list[str]:
    """The patient's Conditions coded with any coding of ``concepts`` (``Type/id``)."""
    codes = [
        f"{escape(c['system'])}|{escape(c['code'])}" if c.get("system") else escape(c["code"])
        for concept in concepts
        for c in concept.get("coding") or ()
        if c.get("code")
    ]
    if not codes:
        return []
    conditions = await found(
        context, "Condition", [("patient", patient), ("code", ",".join(codes))]
    )
    return [f"Condition/{c['id']}" for c in conditions]


def escape(value: Any) -> str:
    """A search value with the characters search gives a meaning escaped
    (https://hl7.org/fhir/R4/search.html#escaping)."""
    text = str(value)
    for special in ("\\", ",", "|", "$"):
        text = text.replace(special, "\\" + special)
    return text
