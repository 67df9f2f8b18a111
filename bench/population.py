"""A deterministic care-management population for the search section of the bench.

``population(size, seed)`` returns ``size`` FHIR R4 resources (plain dicts with their
``id``): Practitioners, Patients with names, and Tasks, CarePlans, Observations and Goals
that reference them, with statuses, categories, owners, focus and dates spread over 2026.
The same ``(size, seed)`` always gives the same resources, so a run can be reproduced and
the queries can name real patients, practitioners and care plans (``Population.pick``).

A store is grown in layers: ``population(n, seed, layer=k)`` for ``k > 0`` is another
population of ``n`` with ids of its own (``bench-l<k>-pat-…``) and its own random stream,
so it can be loaded on top of the layers before it; ``Population.combined`` joins their ids
for the queries to pick from. References stay within a layer. Pure: no I/O, no clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

Resource = dict[str, Any]

FAMILIES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Okafor", "Kowalski", "Haddad",
    "Novak", "Tanaka", "Ivanova", "Schmidt", "Rossi", "Dubois", "Larsen",
]  # fmt: skip
GIVEN = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kemi",
    "Liam", "Maya", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor",
    "Wen", "Yara", "Zoe",
]  # fmt: skip

LOINC = "http://loinc.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CAREPLAN_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
# (code, display, category, unit, low, high)
OBSERVATION_CODES = [
    ("8867-4", "Heart rate", "vital-signs", "/min", 50, 110),
    ("8480-6", "Systolic blood pressure", "vital-signs", "mm[Hg]", 100, 170),
    ("29463-7", "Body weight", "vital-signs", "kg", 45, 130),
    ("8310-5", "Body temperature", "vital-signs", "Cel", 36, 39),
    ("9279-1", "Respiratory rate", "vital-signs", "/min", 10, 24),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "laboratory", "%", 4, 11),
    ("2339-0", "Glucose [Mass/volume] in Blood", "laboratory", "mg/dL", 60, 250),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "laboratory", "mg/dL", 120, 300),
]
TASK_STATUSES = ["requested", "accepted", "in-progress", "completed", "cancelled", "on-hold"]
TASK_WEIGHTS = [30, 10, 20, 30, 5, 5]
TASK_CODES = [
    ("fulfill", "Fulfill the focal request"),
    ("approve", "Activate/approve the focal resource"),
    ("change", "Change the focal resource"),
]
TASK_WORK = [
    "Call patient about medication adherence",
    "Schedule follow-up visit",
    "Review latest lab results",
    "Arrange home nursing visit",
    "Update care plan goals",
    "Confirm transport for appointment",
]
CAREPLAN_STATUSES = ["draft", "active", "on-hold", "completed", "revoked"]
CAREPLAN_WEIGHTS = [10, 60, 5, 20, 5]
GOAL_STATUSES = ["proposed", "planned", "accepted", "active", "completed", "cancelled"]
GOAL_WEIGHTS = [10, 10, 15, 45, 15, 5]
GOAL_TEXTS = ["HbA1c below 7%", "Walk 30 minutes a day", "Lose 5 kg", "Blood pressure < 140/90"]

YEAR_START = date(2026, 1, 1)
DAYS = 365

SHARES = {"Task": 0.35, "Observation": 0.40, "CarePlan": 0.10, "Goal": 0.15}
"""How the resources that are not Patients or Practitioners divide by type."""


@dataclass(frozen=True)
class Plan:
    """How many resources of each type a population of ``size`` holds."""

    practitioners: int
    patients: int
    careplans: int
    goals: int
    tasks: int
    observations: int

    @property
    def total(self) -> int:
        return (
            self.practitioners
            + self.patients
            + self.careplans
            + self.goals
            + self.tasks
            + self.observations
        )

    def counts(self) -> dict[str, int]:
        return {
            "Practitioner": self.practitioners,
            "Patient": self.patients,
            "CarePlan": self.careplans,
            "Goal": self.goals,
            "Task": self.tasks,
            "Observation": self.observations,
        }


def plan(size: int) -> Plan:
    """The split of ``size`` resources: 2% Patients (2,000 of 100k), one Practitioner per
    ten Patients (a care manager's caseload; at least 2), the rest by ``SHARES``; always
    exactly ``size`` in all."""
    if size < 20:
        raise ValueError("a search population needs at least 20 resources")
    practitioners = max(2, size // 500)
    patients = max(2, size // 50)
    rest = size - practitioners - patients
    careplans = max(1, round(rest * SHARES["CarePlan"]))
    goals = round(rest * SHARES["Goal"])
    tasks = round(rest * SHARES["Task"])
    observations = rest - careplans - goals - tasks
    return Plan(practitioners, patients, careplans, goals, tasks, observations)


@dataclass
class Population:
    """The resources in load order (referenced ones first) and the ids queries pick from."""

    resources: list[Resource]
    practitioners: list[str] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)
    careplans: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    observation_codes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for resource in self.resources:
            found[resource["resourceType"]] = found.get(resource["resourceType"], 0) + 1
        return found

    def combined(self, other: Population) -> Population:
        """Both populations' resources and ids (one store holding both layers)."""
        return Population(
            resources=self.resources + other.resources,
            practitioners=self.practitioners + other.practitioners,
            patients=self.patients + other.patients,
            careplans=self.careplans + other.careplans,
            families=sorted({*self.families, *other.families}),
            observation_codes=list(dict.fromkeys(self.observation_codes + other.observation_codes)),
        )

    def pick(self, kind: str, n: int, seed: int = 0) -> list[str]:
        """``n`` values of ``kind`` (an attribute: patients, families, …), cycling through a
        seeded shuffle so repetitions use different ones."""
        values = list(getattr(self, kind))
        random.Random(f"{seed}:{kind}").shuffle(values)
        return [values[i % len(values)] for i in range(n)]


def _day(rng: random.Random) -> date:
    return YEAR_START + timedelta(days=rng.randrange(DAYS))


def _instant(rng: random.Random, day: date) -> str:
    return f"{day.isoformat()}T{rng.randrange(7, 19):02d}:{rng.randrange(60):02d}:00Z"


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def population(size: int, seed: int = 2026, layer: int = 0) -> Population:
    """``size`` resources, the same for the same ``(size, seed, layer)``; layers other than
    0 have ids and random choices of their own (see the module docstring)."""
    if layer < 0:
        raise ValueError("a layer is 0 or more")
    counts = plan(size)
    rng = random.Random(seed if layer == 0 else f"{seed}:layer{layer}")
    out = Population(resources=[])
    width = len(str(size))
    tag = "" if layer == 0 else f"l{layer}-"

    def ident(prefix: str, n: int) -> str:
        return f"bench-{tag}{prefix}-{n:0{width}d}"

    for n in range(counts.practitioners):
        pid = ident("prac", n)
        out.practitioners.append(pid)
        out.resources.append(
            {
                "resourceType": "Practitioner",
                "id": pid,
                "active": True,
                "name": [{"family": rng.choice(FAMILIES), "given": [rng.choice(GIVEN)]}],
            }
        )
    families_used: set[str] = set()
    for n in range(counts.patients):
        pid = ident("pat", n)
        family = FAMILIES[n % len(FAMILIES)]
        families_used.add(family)
        out.patients.append(pid)
        birth = date(1935 + rng.randrange(70), 1 + rng.randrange(12), 1 + rng.randrange(28))
        out.resources.append(
            {
                "resourceType": "Patient",
                "id": pid,
                "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.1", "value": f"{n:09d}"}],
                "active": True,
                "name": [
                    {"use": "official", "family": family, "given": [rng.choice(GIVEN)]},
                ],
                "gender": rng.choice(["female", "male", "other", "unknown"]),
                "birthDate": birth.isoformat(),
                "generalPractitioner": [
                    {"reference": f"Practitioner/{rng.choice(out.practitioners)}"}
                ],
            }
        )
    out.families = sorted(families_used)
    careplan_patient: dict[str, str] = {}
    for n in range(counts.careplans):
        cid = ident("cp", n)
        patient = out.patients[n % len(out.patients)]
        careplan_patient[cid] = patient
        out.careplans.append(cid)
        start = _day(rng)
        out.resources.append(
            {
                "resourceType": "CarePlan",
                "id": cid,
                "status": rng.choices(CAREPLAN_STATUSES, CAREPLAN_WEIGHTS)[0],
                "intent": "plan",
                "category": [_coding(CAREPLAN_CATEGORY, "assess-plan", "Assessment and Plan")],
                "title": "Chronic care management",
                "subject": {"reference": f"Patient/{patient}"},
                "period": {
                    "start": start.isoformat(),
                    "end": (start + timedelta(days=90)).isoformat(),
                },
                "author": {"reference": f"Practitioner/{rng.choice(out.practitioners)}"},
            }
        )
    for n in range(counts.goals):
        patient = rng.choice(out.patients)
        out.resources.append(
            {
                "resourceType": "Goal",
                "id": ident("goal", n),
                "lifecycleStatus": rng.choices(GOAL_STATUSES, GOAL_WEIGHTS)[0],
                "description": {"text": rng.choice(GOAL_TEXTS)},
                "subject": {"reference": f"Patient/{patient}"},
                "startDate": _day(rng).isoformat(),
                "target": [{"dueDate": _day(rng).isoformat()}],
            }
        )
    for n in range(counts.tasks):
        careplan = rng.choice(out.careplans)
        patient = careplan_patient[careplan]
        code, display = rng.choice(TASK_CODES)
        authored = _day(rng)
        status = rng.choices(TASK_STATUSES, TASK_WEIGHTS)[0]
        # the R4 state machine fhircare enforces: a cancelled Task says why
        reason = {"statusReason": {"text": "No longer needed"}} if status == "cancelled" else {}
        out.resources.append(
            {
                "resourceType": "Task",
                "id": ident("task", n),
                "status": status,
                **reason,
                "intent": "order",
                "priority": rng.choice(["routine", "urgent", "asap"]),
                "code": _coding("http://hl7.org/fhir/CodeSystem/task-code", code, display),
                "description": rng.choice(TASK_WORK),
                "focus": {"reference": f"CarePlan/{careplan}"},
                "for": {"reference": f"Patient/{patient}"},
                "basedOn": [{"reference": f"CarePlan/{careplan}"}],
                "authoredOn": _instant(rng, authored),
                "owner": {"reference": f"Practitioner/{rng.choice(out.practitioners)}"},
                "executionPeriod": {"start": _instant(rng, authored + timedelta(days=3))},
            }
        )
    out.observation_codes = [c[0] for c in OBSERVATION_CODES]
    for n in range(counts.observations):
        code, display, category, unit, low, high = rng.choice(OBSERVATION_CODES)
        value = round(low + (high - low) * rng.random(), 1)
        out.resources.append(
            {
                "resourceType": "Observation",
                "id": ident("obs", n),
                "status": "final",
                "category": [
                    _coding(OBSERVATION_CATEGORY, category, category.replace("-", " ").title())
                ],
                "code": _coding(LOINC, code, display),
                "subject": {"reference": f"Patient/{rng.choice(out.patients)}"},
                "effectiveDateTime": _instant(rng, _day(rng)),
                "valueQuantity": {
                    "value": value,
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            }
        )
    return out


def batches(items: list[Resource], size: int) -> Iterator[list[Resource]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
