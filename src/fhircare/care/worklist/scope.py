"""Whose worklist: the references that stand for the practitioner, role or care team.

- ``Practitioner/p``: ``people`` are the practitioner and every PractitionerRole whose
  ``practitioner`` is them (active or not: work a former role still owns is theirs to hand
  over); ``teams`` are the CareTeams listing one of those as a ``participant.member``.
- ``PractitionerRole/r``: ``people`` is the role; ``teams`` the CareTeams listing it.
- ``CareTeam/c``: ``teams`` is the team itself; no ``people``.

A care team whose status is ``inactive`` or ``entered-in-error`` hands out no work and is
left out; one in any other status (or none) counts. Participants' ``period`` is not read.
``people`` request referrals and are asked to send messages (R4 allows no CareTeam as a
CommunicationRequest ``sender``); ``people`` and ``teams`` together own tasks, receive
messages and author or contribute to plans.

Costs: one query for the roles (a Practitioner only) and one for the care teams (not for
a CareTeam), both on indexed reference parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhircare.care.worklist.queries import Ask, Reader

CARE_TEAM = "CareTeam"
PRACTITIONER = "Practitioner"
PRACTITIONER_ROLE = "PractitionerRole"
RETIRED_TEAM = "inactive,entered-in-error"


@dataclass(frozen=True)
class Scope:
    """The references of the worklist's subject: ``people`` (the practitioner and their
    roles) and ``teams`` (their care teams), each ``Type/id``."""

    people: tuple[str, ...]
    teams: tuple[str, ...]

    @property
    def owners(self) -> tuple[str, ...]:
        """Who may own a task, receive a message or author a plan."""
        return self.people + self.teams


async def scope_of(reader: Reader, resource_type: str, id: str) -> Scope:
    """The scope of ``resource_type/id`` (which exists: the caller read it)."""
    subject = f"{resource_type}/{id}"
    if resource_type == CARE_TEAM:
        return Scope((), (subject,))
    people: tuple[str, ...] = (subject,)
    if resource_type == PRACTITIONER:
        found = await reader.ask([Ask(PRACTITIONER_ROLE, (("practitioner", subject),))])
        people += tuple(r.key for r in found[PRACTITIONER_ROLE])
    teams = await reader.ask(
        [Ask(CARE_TEAM, (("participant", ",".join(people)), ("status:not", RETIRED_TEAM)))]
    )
    return Scope(people, tuple(r.key for r in teams[CARE_TEAM]))
