"""Concurrent FHIR writers that record what the server acknowledged, and the checks that a
crash lost none of it and left no transaction half-applied.

Every request a writer sends is recorded with its answer: a status, or ``None`` when the
connection broke (the server or its store was killed), in which case the write may or may
not have landed. Writers:

- ``single``: creates a Task (``POST``), updates it with ``If-Match`` a few times (each
  body carrying its ``step``, so version ``n`` must hold step ``n - 1``), sometimes deletes
  it, then starts a new one; it leaves a resource alone after an answer it cannot trust;
- ``patient_tx``: a transaction of a Patient and five Observations referring to it by
  ``urn:uuid:``, all six tagged with one identifier;
- ``task_tx``: reads three of the shared Tasks and sends a transaction of three
  ``If-Match`` updates adding one to each Task's counter, each tagged with one identifier.

``verify`` then checks, for every request sent: a 2xx write is readable (read and vread)
with its content; a transaction is all or nothing (found through its identifier), and
nothing of one refused with a 4xx; the shared Tasks' version is one more than the
transactions that landed on them, with counter ``n - 1`` at version ``n``; every history
is complete (versions 1 to the current one); and the system history, newest first in write
sequence, lists each resource's versions in decreasing order with non-increasing
``lastUpdated``.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

FHIR_JSON = {"Content-Type": "application/fhir+json"}
SINGLE = "urn:fhircare:crash:single"
PATIENT_TX = "urn:fhircare:crash:patient-tx"
TASK_TX = "urn:fhircare:crash:task-tx"
SHARED_TASKS = tuple(f"crash-shared-{n}" for n in range(8))
OBSERVATIONS = 5
PAGE = 1000
GAP: dict[str, Any] = {"resourceType": "(a version missing from history)"}


def etag_version(etag: str) -> int:
    """``W/"3"`` → 3."""
    return int(etag.removeprefix("W/").strip('"'))


def location_key(location: str) -> tuple[str, int]:
    """``…/Patient/abc/_history/1`` → ``("Patient/abc", 1)``."""
    parts = location.rstrip("/").split("/")
    return f"{parts[-4]}/{parts[-3]}", int(parts[-1])


def task(id: str | None, description: str, system: str, tag: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "description": description,
        "identifier": [{"system": system, "value": tag}],
    }
    return body if id is None else {**body, "id": id}


@dataclass
class Single:
    """One resource of a ``single`` writer: what it sent and what was acknowledged."""

    tag: str
    rid: str | None = None
    acked: dict[int, int | None] = field(default_factory=dict)  # version → step (None: deleted)
    untrusted: bool = False  # the last answer was not a clear success or refusal


@dataclass
class PatientTx:
    tag: str
    status: int | None = None
    locations: list[str] = field(default_factory=list)


@dataclass
class TaskTx:
    tag: str
    targets: dict[str, int]  # Task id → the version this transaction would make
    status: int | None = None


@dataclass
class Workload:
    """The writers of one test and everything they sent, over any number of rounds."""

    rng: random.Random
    ok_statuses: frozenset[int]  # any other answer is a failure (None: a broken connection)
    singles: list[Single] = field(default_factory=list)
    patient_txs: list[PatientTx] = field(default_factory=list)
    task_txs: list[TaskTx] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    acknowledged: int = 0
    statuses: Counter[int | None] = field(default_factory=Counter)  # None: no answer
    broken: Counter[str] = field(default_factory=Counter)  # why there was no answer
    slowest: float = 0.0  # seconds, of the requests answered below 500
    _verified: tuple[int, int, int] = (0, 0, 0)  # how many of each were verified in full

    def _answer(self, what: str, response: httpx.Response | None) -> int | None:
        self.statuses[None if response is None else response.status_code] += 1
        if response is None:
            return None
        if response.status_code not in self.ok_statuses:
            self.unexpected.append(f"{what}: {response.status_code} {response.text[:300]}")
        if 200 <= response.status_code < 300:
            self.acknowledged += 1
        return response.status_code

    async def create_shared_tasks(self, http: httpx.AsyncClient) -> None:
        for id in SHARED_TASKS:
            body = task(id, "counter 0", TASK_TX, "initial")
            response = await http.put(f"/Task/{id}", json=body, headers=FHIR_JSON)
            assert response.status_code == 201, response.text

    async def run(
        self, http: httpx.AsyncClient, stop: asyncio.Event, singles: int, patients: int, tasks: int
    ) -> None:
        """The writers, until ``stop`` is set and their requests in flight are answered."""
        Writer = Callable[[httpx.AsyncClient, asyncio.Event, random.Random], Awaitable[None]]
        kinds: list[tuple[Writer, int]] = [
            (self._single, singles),
            (self._patient_tx, patients),
            (self._task_tx, tasks),
        ]
        writers = [writer for writer, count in kinds for _ in range(count)]
        seeds = [self.rng.getrandbits(32) for _ in writers]
        await asyncio.gather(
            *(w(http, stop, random.Random(s)) for w, s in zip(writers, seeds, strict=True))
        )

    async def _send(self, request: Awaitable[httpx.Response]) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await request
        except httpx.TransportError as error:
            self.broken[type(error).__name__] += 1
            return None
        if response.status_code < 500:
            self.slowest = max(self.slowest, time.monotonic() - started)
        return response

    async def _single(
        self, http: httpx.AsyncClient, stop: asyncio.Event, rng: random.Random
    ) -> None:
        while not stop.is_set():
            one = Single(uuid.uuid4().hex)
            self.singles.append(one)
            response = await self._send(
                http.post("/Task", json=task(None, "step 0", SINGLE, one.tag), headers=FHIR_JSON)
            )
            if self._answer(f"create {one.tag}", response) != 201:
                one.untrusted = True
                continue
            assert response is not None
            one.rid, version = location_key(response.headers["location"])
            one.rid = one.rid.split("/")[1]
            one.acked[version] = 0
            for step in range(1, rng.randint(1, 8) + 1):
                if stop.is_set():
                    break
                body = task(one.rid, f"step {step}", SINGLE, one.tag)
                headers = {**FHIR_JSON, "If-Match": f'W/"{version}"'}
                response = await self._send(
                    http.put(f"/Task/{one.rid}", json=body, headers=headers)
                )
                status = self._answer(f"update Task/{one.rid} step {step}", response)
                if status == 412:
                    self.unexpected.append(f"Task/{one.rid}: lost its own v{version}")
                if status != 200:
                    one.untrusted = True
                    break
                assert response is not None
                version = etag_version(response.headers["etag"])
                one.acked[version] = step
            else:
                if rng.random() < 0.3 and not stop.is_set():
                    headers = {"If-Match": f'W/"{version}"'}
                    response = await self._send(http.delete(f"/Task/{one.rid}", headers=headers))
                    if self._answer(f"delete Task/{one.rid}", response) == 200:
                        assert response is not None
                        one.acked[etag_version(response.headers["etag"])] = None
                    else:
                        one.untrusted = True

    async def _patient_tx(
        self, http: httpx.AsyncClient, stop: asyncio.Event, rng: random.Random
    ) -> None:
        while not stop.is_set():
            one = PatientTx(uuid.uuid4().hex)
            self.patient_txs.append(one)
            patient_url = f"urn:uuid:{uuid.uuid4()}"
            identifier = [{"system": PATIENT_TX, "value": one.tag}]
            entries: list[dict[str, Any]] = [
                {
                    "fullUrl": patient_url,
                    "resource": {"resourceType": "Patient", "identifier": identifier},
                    "request": {"method": "POST", "url": "Patient"},
                }
            ]
            for n in range(OBSERVATIONS):
                observation = {
                    "resourceType": "Observation",
                    "identifier": identifier,
                    "status": "final",
                    "code": {"text": "crash test"},
                    "subject": {"reference": patient_url},
                    "valueInteger": n,
                }
                entries.append(
                    {
                        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                        "resource": observation,
                        "request": {"method": "POST", "url": "Observation"},
                    }
                )
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            response = await self._send(http.post("", json=bundle, headers=FHIR_JSON))
            one.status = self._answer(f"patient transaction {one.tag}", response)
            if response is not None and one.status == 200:
                one.locations = [e["response"]["location"] for e in response.json()["entry"]]

    async def _task_tx(
        self, http: httpx.AsyncClient, stop: asyncio.Event, rng: random.Random
    ) -> None:
        while not stop.is_set():
            ids = rng.sample(SHARED_TASKS, 3)
            reads = await asyncio.gather(*(self._send(http.get(f"/Task/{id}")) for id in ids))
            if any(r is None or r.status_code != 200 for r in reads):
                for r in reads:
                    self._answer("read of a shared Task", r)
                continue
            one = TaskTx(uuid.uuid4().hex, {})
            entries = []
            for id, read in zip(ids, reads, strict=True):
                assert read is not None
                version = int(read.json()["meta"]["versionId"])
                if read.json()["description"] != f"counter {version - 1}":
                    self.unexpected.append(f"Task/{id} read as {read.text[:300]}")
                one.targets[id] = version + 1
                entries.append(
                    {
                        "resource": task(id, f"counter {version}", TASK_TX, one.tag),
                        "request": {
                            "method": "PUT",
                            "url": f"Task/{id}",
                            "ifMatch": f'W/"{version}"',
                        },
                    }
                )
            self.task_txs.append(one)
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            response = await self._send(http.post("", json=bundle, headers=FHIR_JSON))
            one.status = self._answer(f"task transaction {one.tag}", response)
            if response is not None and one.status == 200:
                for id, entry in zip(ids, response.json()["entry"], strict=True):
                    made = etag_version(entry["response"]["etag"])
                    if made != one.targets[id]:
                        self.unexpected.append(f"{one.tag} made Task/{id} v{made}")

    def summary(self) -> str:
        answers = ", ".join(
            f"{s or 'no answer'}: {n}" for s, n in sorted(self.statuses.items(), key=str)
        )
        return (
            f"{len(self.singles)} single-write resources, {len(self.patient_txs)} patient and "
            f"{len(self.task_txs)} task transactions sent; answers: {answers}; "
            f"no answer because of {dict(self.broken)}; slowest answer {self.slowest:.2f} s"
        )

    # --- the checks ---------------------------------------------------------------------

    async def verify(self, http: httpx.AsyncClient) -> list[str]:
        """Every broken invariant, described (empty when all hold). Everything written so
        far is checked against the system history; each write acknowledged since the last
        ``verify`` is also read back (read and vread, in batches, a sample of them also as
        plain GETs), and the shared Tasks through their instance history."""
        view = View(http, random.Random(self.rng.getrandbits(32)))
        await view.load()
        fresh = self._verified
        self._verified = (len(self.singles), len(self.patient_txs), len(self.task_txs))
        for n, single in enumerate(self.singles):
            self._check_single(view, single, n >= fresh[0])
        for n, patient_tx in enumerate(self.patient_txs):
            self._check_patient_tx(view, patient_tx, n >= fresh[1])
        self._check_task_txs(view)
        await view.read_back()
        return self.unexpected + view.problems

    def _check_single(self, view: View, one: Single, fresh: bool) -> None:
        problems = view.problems
        found = view.landed.get((SINGLE, one.tag), [])
        if len(found) > 1:
            problems.append(f"single {one.tag}: {len(found)} resources for one create")
        key = f"Task/{one.rid}" if one.rid else (found[0] if found else None)
        if key is None:
            return
        if found != [key]:
            problems.append(f"single {one.tag}: created {key} but found {found}")
        versions = view.versions.get(key, [])
        last_acked = max(one.acked, default=0)
        if not last_acked <= len(versions) <= last_acked + one.untrusted:
            problems.append(
                f"single {key}: {len(versions)} versions, acknowledged up to "
                f"{last_acked}, one more may have landed: {one.untrusted}"
            )
        for n, resource in enumerate(versions, 1):
            if resource is GAP:
                continue  # reported by ``View.load``
            if resource is None:
                if n != len(versions):
                    problems.append(f"single {key}: deletion at v{n} is not the last version")
            elif resource["description"] != f"step {n - 1}":
                problems.append(f"single {key} v{n}: {resource['description']}")
        for version, step in one.acked.items():
            kept = versions[version - 1] if version <= len(versions) else GAP
            if kept is not GAP and (kept is None) != (step is None):
                problems.append(f"single {key}: acknowledged v{version} (step {step}) not kept")
        if fresh:
            view.expect(key, one.acked)

    def _check_patient_tx(self, view: View, one: PatientTx, fresh: bool) -> None:
        problems = view.problems
        keys = view.landed.get((PATIENT_TX, one.tag), [])
        patients = [k for k in keys if k.startswith("Patient/")]
        observations = [view.versions[k][-1] or {} for k in keys if k.startswith("Observation/")]
        counts = (len(patients), len(observations))
        if counts not in ((0, 0), (1, OBSERVATIONS)):
            problems.append(f"patient transaction {one.tag} half-applied: {counts}")
            return
        if one.status is not None and 400 <= one.status < 500 and keys:
            problems.append(f"patient transaction {one.tag} answered {one.status} but landed")
        if one.status == 200 and not keys:
            problems.append(f"acknowledged patient transaction {one.tag} lost")
        if not keys:
            return
        values = sorted(o.get("valueInteger", -1) for o in observations)
        if values != list(range(OBSERVATIONS)):
            problems.append(f"patient transaction {one.tag}: observation values {values}")
        for o in observations:
            if o.get("subject") != {"reference": patients[0]}:
                problems.append(f"{one.tag}: Observation/{o.get('id')} -> {o.get('subject')}")
        for key in keys:
            if len(view.versions[key]) != 1:
                problems.append(f"patient transaction {one.tag}: {key} has several versions")
        if one.status == 200:
            acked = {location_key(loc) for loc in one.locations}
            if acked != {(key, 1) for key in keys}:
                problems.append(
                    f"patient transaction {one.tag}: acknowledged {acked}, found {keys}"
                )
            elif fresh:
                for key in keys:
                    view.expect(key, [1])

    def _check_task_txs(self, view: View) -> None:
        """The shared Tasks: counter n - 1 at version n; each transaction on all three
        Tasks it names, at the versions it expected, or on none."""
        problems = view.problems
        landed: dict[str, dict[str, int]] = defaultdict(dict)  # tag → Task id → version
        gaps: set[tuple[str, int]] = set()  # (Task id, version) missing from history
        for id in SHARED_TASKS:
            versions = view.versions.get(f"Task/{id}", [])
            for n, resource in enumerate(versions, 1):
                if resource is GAP:
                    gaps.add((id, n))  # reported by ``View.load``
                    continue
                if resource is None or resource["description"] != f"counter {n - 1}":
                    problems.append(f"Task/{id} v{n}: {resource and resource['description']}")
                    continue
                tag = resource["identifier"][0]["value"]
                if id in landed[tag]:
                    problems.append(f"Task/{id}: transaction {tag} landed twice")
                landed[tag][id] = n
            view.expect(f"Task/{id}", [], history=True)
        sent = {one.tag: one for one in self.task_txs}
        for tag, where in landed.items():
            if tag != "initial" and tag not in sent:
                problems.append(f"Task versions of a transaction never sent: {tag} {where}")
        for one in self.task_txs:
            where = landed.get(one.tag, {})
            unknown = {id: n for id, n in one.targets.items() if (id, n) in gaps}
            if unknown and {**where, **unknown} == one.targets:
                continue  # it may have landed whole; its versions missing from history are reported
            if where and where != one.targets:
                problems.append(
                    f"task transaction {one.tag} half-applied: {where} of {one.targets}"
                )
            if one.status == 200 and where != one.targets:
                problems.append(f"acknowledged task transaction {one.tag} lost: {where}")
            if one.status is not None and 400 <= one.status < 500 and where:
                problems.append(f"task transaction {one.tag} answered {one.status} but landed")


class View:
    """What the server shows: every version of every resource (the system history), which
    resources carry each identifier, and reads of single resources."""

    SAMPLE = 10  # resources per ``read_back`` also read with plain GETs
    BATCH = 500  # GET entries per batch Bundle

    def __init__(self, http: httpx.AsyncClient, rng: random.Random) -> None:
        self.http = http
        self.rng = rng
        self.problems: list[str] = []
        self.versions: dict[str, list[dict[str, Any] | None]] = {}  # key → v1 … vn (None: deleted)
        self.landed: dict[tuple[str, str], list[str]] = defaultdict(list)  # identifier → keys
        self._expected: dict[str, tuple[set[int], bool]] = {}  # key → (versions to vread, history)

    async def every(self, url: str) -> list[dict[str, Any]]:
        """All entries of a searchset or history, through its next links."""
        entries: list[dict[str, Any]] = []
        page = (await self.http.get(url, params={"_count": PAGE})).json()
        while True:
            entries += page.get("entry", [])
            following = [link["url"] for link in page.get("link", []) if link["relation"] == "next"]
            if not following:
                return entries
            page = (await self.http.get(following[0])).json()

    async def load(self) -> None:
        """The system history, newest first in write sequence: each resource's versions
        must decrease, none missing down to 1, and their ``lastUpdated`` never increase.
        Then the searches of each type must list exactly the resources not deleted."""
        listed: dict[str, list[tuple[int, datetime, dict[str, Any] | None]]] = defaultdict(list)
        for entry in await self.every("/_history"):
            key = "/".join(entry["fullUrl"].split("/")[-2:])
            response = entry["response"]
            at = datetime.fromisoformat(response["lastModified"].replace("Z", "+00:00"))
            listed[key].append((etag_version(response["etag"]), at, entry.get("resource")))
        for key, newest_first in listed.items():
            numbers = [v for v, _, _ in newest_first]
            if numbers != sorted(set(numbers), reverse=True):
                self.problems.append(f"system history lists {key} as versions {numbers}")
            missing = sorted(set(range(1, numbers[0] + 1)) - set(numbers))
            if missing:
                self.problems.append(
                    f"{key}: versions {missing} missing from history (which has {len(numbers)} "
                    f"versions up to v{max(numbers)})"
                )
            times = [t for _, t, _ in newest_first]
            if times != sorted(times, reverse=True):
                self.problems.append(f"system history: {key} lastUpdated out of order: {times}")
            by_version = {v: r for v, _, r in newest_first}
            self.versions[key] = [by_version.get(n, GAP) for n in range(1, max(numbers) + 1)]
            kept = [r for r in self.versions[key] if r is not None and r is not GAP]
            for identifier in (kept[0] if kept else {}).get("identifier", []):
                self.landed[(identifier["system"], identifier["value"])].append(key)
        for resource_type in ("Patient", "Observation", "Task"):
            entries = await self.every(f"/{resource_type}")
            found = {f"{resource_type}/{e['resource']['id']}" for e in entries}
            live = {
                key
                for key, versions in self.versions.items()
                if key.startswith(f"{resource_type}/") and versions[-1] is not None
            }
            if found != live:
                self.problems.append(
                    f"{resource_type} search lists {sorted(found - live)} not in history "
                    f"and misses {sorted(live - found)}"
                )

    def expect(self, key: str, acked: Iterable[int], history: bool = False) -> None:
        """``read_back`` reads ``key`` and vreads its ``acked`` versions (and lists its
        instance history if ``history``): each must be as the system history shows it."""
        self._expected[key] = (set(acked), history)

    def _answer(self, key: str, version: int | None) -> tuple[int, dict[str, Any] | None] | None:
        """The status and resource that a read (or vread of ``version``) of ``key`` owes
        (None: unknown, the version is missing from history)."""
        versions = self.versions.get(key, [])
        n = len(versions) if version is None else version
        if not 1 <= n <= len(versions):
            return 404, None
        resource = versions[n - 1]
        if resource is GAP:
            return None
        return (410, None) if resource is None else (200, resource)

    def _compare(self, url: str, status: int, resource: dict[str, Any] | None) -> None:
        key, _, version = url.partition("/_history/")
        owed = self._answer(key, int(version) if version else None)
        if owed is None:
            return  # reported by ``load``
        if owed[0] == 410 and status in (404, 410):
            return  # a deleted version: gone either way
        if (status, resource if status == 200 else None) != owed:
            self.problems.append(f"GET {url}: {status} {str(resource)[:200]}, owed {owed}")

    async def read_back(self) -> None:
        urls = [
            url
            for key, (acked, _) in self._expected.items()
            for url in (key, *(f"{key}/_history/{v}" for v in sorted(acked)))
        ]
        for start in range(0, len(urls), self.BATCH):
            chunk = urls[start : start + self.BATCH]
            entries = [{"request": {"method": "GET", "url": url}} for url in chunk]
            bundle = {"resourceType": "Bundle", "type": "batch", "entry": entries}
            answer = await self.http.post("", json=bundle, headers=FHIR_JSON)
            if answer.status_code != 200:
                self.problems.append(f"batch of reads: {answer.status_code} {answer.text[:300]}")
                continue
            for url, entry in zip(chunk, answer.json()["entry"], strict=True):
                status = int(entry["response"]["status"].split()[0])
                self._compare(url, status, entry.get("resource"))
        keys = list(self._expected)
        sample = self.rng.sample(keys, min(self.SAMPLE, len(keys)))
        for key in sample:
            for url in (key, *(f"{key}/_history/{v}" for v in self._expected[key][0])):
                answer = await self.http.get(f"/{url}")
                self._compare(url, answer.status_code, answer.json())
        for key in {k for k, (_, history) in self._expected.items() if history} | set(sample):
            instance = [e.get("resource") for e in await self.every(f"/{key}/_history")]
            versions = self.versions.get(key, [])
            if GAP not in versions and instance[::-1] != versions:
                self.problems.append(f"{key}: instance history differs from the system's")
