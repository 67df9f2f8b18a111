"""The care-coordination data the sync bench moves: ``resources(size, seed, tag)``.

Resources come in groups of ten, one per patient: the Patient, then two Conditions, two
Goals, a CarePlan, three Tasks and a Communication, each referring only to resources earlier
in its own group (``subject``, ``addresses``, ``goal``, ``focus``, ``basedOn``, ``about``).
So any prefix of the stream is closed under references, and a transaction of whole groups
refers only to its own entries. The same ``(size, seed, tag)`` always gives the same
resources; each group has its own random stream, so a group is made without the ones before
it and the stream is read one group at a time. Pure: no I/O, no clock.

Two ways to send them: ``local_bundle`` (PUTs with our ids, for fhircare's loader) and
``hapi_bundle`` (POSTs with ``urn:uuid`` full URLs, as a client creates on a server that
assigns its own ids, https://hl7.org/fhir/R4/bundle.html#references).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from fhircare.sync.identity import rewrite_references

Resource = dict[str, Any]

GROUP = (
    "Patient",
    "Condition",
    "Condition",
    "Goal",
    "Goal",
    "CarePlan",
    "Task",
    "Task",
    "Task",
    "Communication",
)
"""One patient's resources, in the order they are made; each refers only to earlier ones."""
TYPES = tuple(dict.fromkeys(GROUP))
"""The types the bench syncs, referenced types first."""
TAG_SYSTEM = "urn:fhircare:bench-sync"

FAMILIES = [
    "Smith", "Garcia", "Okafor", "Kowalski", "Haddad", "Novak", "Tanaka", "Ivanova",
    "Schmidt", "Rossi", "Dubois", "Larsen", "Nguyen", "Rivera", "Campbell", "Mitchell",
]  # fmt: skip
GIVEN = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kemi",
    "Liam", "Maya", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara",
]  # fmt: skip
SNOMED = "http://snomed.info/sct"
CONDITIONS = [
    ("44054006", "Diabetes mellitus type 2"),
    ("38341003", "Hypertensive disorder"),
    ("42343007", "Congestive heart failure"),
    ("13645005", "Chronic obstructive lung disease"),
    ("709044004", "Chronic kidney disease"),
    ("35489007", "Depressive disorder"),
]
GOALS = ["HbA1c below 7%", "Walk 30 minutes a day", "Lose 5 kg", "Blood pressure < 140/90"]
TASKS = [
    "Call patient about medication adherence",
    "Schedule follow-up visit",
    "Review latest lab results",
    "Arrange home nursing visit",
]
MESSAGES = [
    "Reminder: your follow-up visit is next week.",
    "Lab results reviewed, no change to the plan.",
    "Please bring your glucose diary to the visit.",
]
START = date(2026, 1, 1)


def local_id(group: int, position: int) -> str:
    return f"bs{group:06d}-{position}"


def _ref(group: int, position: int) -> dict[str, str]:
    return {"reference": f"{GROUP[position]}/{local_id(group, position)}"}


def _day(rng: random.Random) -> str:
    return (START + timedelta(days=rng.randrange(365))).isoformat()


def _patient(group: int, rng: random.Random) -> Resource:
    birth = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 75))
    return {
        "identifier": [{"system": f"{TAG_SYSTEM}/mrn", "value": f"MRN{group:07d}"}],
        "active": True,
        "name": [{"family": rng.choice(FAMILIES), "given": [rng.choice(GIVEN)]}],
        "gender": rng.choice(["female", "male"]),
        "birthDate": birth.isoformat(),
        "telecom": [{"system": "phone", "value": f"+1-555-{rng.randrange(10000):04d}"}],
        "address": [{"city": "Springfield", "postalCode": f"{rng.randrange(100000):05d}"}],
    }


def _condition(group: int, rng: random.Random) -> Resource:
    code, display = rng.choice(CONDITIONS)
    clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    return {
        "clinicalStatus": {"coding": [{"system": clinical, "code": "active"}]},
        "category": [{"text": "problem-list-item"}],
        "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
        "subject": _ref(group, 0),
        "onsetDateTime": _day(rng),
    }


def _goal(group: int, position: int, rng: random.Random) -> Resource:
    return {
        "lifecycleStatus": rng.choice(["proposed", "accepted", "active", "completed"]),
        "description": {"text": rng.choice(GOALS)},
        "subject": _ref(group, 0),
        "startDate": _day(rng),
        "addresses": [_ref(group, position - 2)],
    }


def _careplan(group: int, rng: random.Random) -> Resource:
    start = START + timedelta(days=rng.randrange(365))
    return {
        "status": rng.choice(["draft", "active", "active", "completed"]),
        "intent": "plan",
        "title": "Chronic care management",
        "subject": _ref(group, 0),
        "period": {"start": start.isoformat(), "end": (start + timedelta(days=180)).isoformat()},
        "addresses": [_ref(group, 1), _ref(group, 2)],
        "goal": [_ref(group, 3), _ref(group, 4)],
    }


def _task(group: int, rng: random.Random) -> Resource:
    """A Task the R4 state machine accepts as it is (fhircare's write rules would otherwise
    fill in its period): owned once accepted (by the patient: self-care work), started
    once in progress, ended once completed."""
    status = rng.choice(["requested", "in-progress", "completed", "on-hold"])
    authored = _day(rng)
    task: Resource = {
        "status": status,
        "intent": "order",
        "priority": rng.choice(["routine", "urgent"]),
        "description": rng.choice(TASKS),
        "for": _ref(group, 0),
        "focus": _ref(group, 5),
        "basedOn": [_ref(group, 5)],
        "authoredOn": authored,
    }
    if status != "requested":
        task["owner"] = _ref(group, 0)
        task["executionPeriod"] = {"start": authored}
    if status == "completed":
        task["executionPeriod"]["end"] = authored
    return task


def _communication(group: int, rng: random.Random) -> Resource:
    return {
        "status": "completed",
        "subject": _ref(group, 0),
        "basedOn": [_ref(group, 5)],
        "about": [_ref(group, 6)],
        "sent": _day(rng),
        "payload": [{"contentString": rng.choice(MESSAGES)}],
    }


def group_resources(group: int, seed: int, tag: str, count: int = len(GROUP)) -> list[Resource]:
    """The first ``count`` resources of patient group ``group``."""
    rng = random.Random(seed * 1_000_003 + group)
    out = []
    for position in range(count):
        kind = GROUP[position]
        if kind == "Patient":
            body = _patient(group, rng)
        elif kind == "Condition":
            body = _condition(group, rng)
        elif kind == "Goal":
            body = _goal(group, position, rng)
        elif kind == "CarePlan":
            body = _careplan(group, rng)
        elif kind == "Task":
            body = _task(group, rng)
        else:
            body = _communication(group, rng)
        meta = {"tag": [{"system": TAG_SYSTEM, "code": tag}]}
        out.append({"resourceType": kind, "id": local_id(group, position), "meta": meta, **body})
    return out


def resources(size: int, seed: int, tag: str) -> Iterator[Resource]:
    """``size`` resources, a group of ten at a time (the last one cut short)."""
    for group in range(-(-size // len(GROUP))):
        yield from group_resources(group, seed, tag, min(len(GROUP), size - group * len(GROUP)))


def counts(size: int) -> dict[str, int]:
    """How many of each type ``resources(size, …)`` makes, without making them."""
    found: Counter[str] = Counter()
    for n in range(size):
        found[GROUP[n % len(GROUP)]] += 1
    return {kind: found[kind] for kind in TYPES}


def chunks(items: Iterable[Resource], size: int) -> Iterator[list[Resource]]:
    chunk: list[Resource] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def local_bundle(chunk: list[Resource]) -> Resource:
    """A transaction of PUTs with our ids (the loader's idempotent form)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in chunk
        ],
    }


def placeholder(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{TAG_SYSTEM}/{key}')}"


def hapi_bundle(chunk: list[Resource]) -> Resource:
    """A transaction of POSTs without ids, references turned into the ``urn:uuid`` full URLs
    of their targets' entries; the chunk must hold whole groups (or a stream's prefix)."""
    entries = []
    for resource in chunk:
        body = rewrite_references(resource, None, lambda kind, id: placeholder(f"{kind}/{id}"))
        body.pop("id")
        key = f"{resource['resourceType']}/{resource['id']}"
        request = {"method": "POST", "url": resource["resourceType"]}
        entries.append({"fullUrl": placeholder(key), "resource": body, "request": request})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
