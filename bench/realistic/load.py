"""Load the Synthea bundles into a server over HTTP, one at a time, as an interoperability
tester would: ``POST [base]`` of each bundle file as it is (https://hl7.org/fhir/R4/http.html#transaction).

Hospitals and practitioners (batches of conditional creates) go first, since the patient
transactions refer to them by conditional references. A failed bundle is recorded with its
status and the first issue of its OperationOutcome, and the load goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.report import percentile
from bench.synthea import HOSPITAL, PATIENT, PRACTITIONER, BundleFile

FHIR_JSON = "application/fhir+json"
HEADERS = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, "Prefer": "return=minimal"}
"""``return=minimal``: the bench times the load, not the echo of thousands of resources."""


@dataclass(frozen=True)
class BundleLoad:
    """One bundle's POST: its size, the answer and how long it took."""

    name: str
    kind: str
    entries: int
    status: int | None
    """None when no response came (a timeout, a dropped connection)."""
    seconds: float
    failed_entries: int = 0
    """Entries of a batch answered with a non-2xx status (a batch itself answers 200)."""
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.failed_entries and self.problem is None


def first_diagnostics(outcome: Any) -> str:
    """The first issue of an OperationOutcome as one line: its diagnostics, else its
    details' text, else its code."""
    issues = outcome.get("issue") if isinstance(outcome, dict) else None
    if not issues:
        return "no OperationOutcome"
    issue = issues[0]
    text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
    return str(text or issue.get("code") or "an issue without text")[:300]


def check_response(status: int, body: Any) -> tuple[int, str | None]:
    """(failed entries, the problem) of a batch or transaction response."""
    if status != 200:
        return 0, f"{status}: {first_diagnostics(body)}"
    entries = body.get("entry") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return 0, "200 without a batch-response or transaction-response Bundle"
    failed = [
        e for e in entries if not str((e.get("response") or {}).get("status", "")).startswith("2")
    ]
    if not failed:
        return 0, None
    response = failed[0].get("response") or {}
    return len(failed), (
        f"{len(failed)} of {len(entries)} entries failed, the first "
        f"{response.get('status', '?')}: {first_diagnostics(response.get('outcome'))}"
    )


async def post_bundle(http: httpx.AsyncClient, bundle: BundleFile) -> BundleLoad:
    """POST one bundle file to the base itself (no trailing slash); the time covers sending
    it and reading the whole answer."""
    body = bundle.path.read_bytes()
    base = str(http.base_url).rstrip("/")
    start = time.perf_counter()
    try:
        response = await http.post(base, content=body, headers=HEADERS)
    except httpx.HTTPError as exc:
        seconds = time.perf_counter() - start
        return BundleLoad(
            bundle.path.name, bundle.kind, bundle.entries, None, seconds, 0, repr(exc)[:300]
        )
    seconds = time.perf_counter() - start
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    failed, problem = check_response(response.status_code, parsed)
    return BundleLoad(
        bundle.path.name,
        bundle.kind,
        bundle.entries,
        response.status_code,
        seconds,
        failed,
        problem,
    )


async def load_all(
    http: httpx.AsyncClient, bundles: Sequence[BundleFile], say: Callable[[str], None]
) -> list[BundleLoad]:
    """Every bundle in order, one line of progress each."""
    done: list[BundleLoad] = []
    for n, bundle in enumerate(bundles, 1):
        result = await post_bundle(http, bundle)
        done.append(result)
        rate = result.entries / result.seconds if result.seconds else 0.0
        outcome = "ok" if result.ok else f"FAILED {result.problem}"
        say(
            f"[{n}/{len(bundles)}] {bundle.path.name}: {bundle.entries:,} entries in "
            f"{result.seconds:.1f}s ({rate:,.0f}/s) {outcome}"
        )
    return done


@dataclass(frozen=True)
class LoadSummary:
    """A server's load in a few figures."""

    bundles: int
    bundles_ok: int
    entries: int
    entries_ok: int
    seconds: float
    hospital_seconds: float | None
    practitioner_seconds: float | None
    largest_entries: int
    largest_seconds: float | None
    largest_ok: bool
    patient_p50_seconds: float | None

    @property
    def entries_per_second(self) -> float | None:
        """Entries of the bundles that loaded, over the time of all of them."""
        return self.entries_ok / self.seconds if self.seconds else None


def summarize(loads: Sequence[BundleLoad]) -> LoadSummary:
    def seconds_of(kind: str) -> float | None:
        times = [load.seconds for load in loads if load.kind == kind]
        return sum(times) if times else None

    largest = max(loads, key=lambda load: load.entries, default=None)
    patients = [load.seconds for load in loads if load.kind == PATIENT]
    return LoadSummary(
        bundles=len(loads),
        bundles_ok=sum(load.ok for load in loads),
        entries=sum(load.entries for load in loads),
        entries_ok=sum(load.entries for load in loads if load.ok),
        seconds=sum(load.seconds for load in loads),
        hospital_seconds=seconds_of(HOSPITAL),
        practitioner_seconds=seconds_of(PRACTITIONER),
        largest_entries=largest.entries if largest else 0,
        largest_seconds=largest.seconds if largest else None,
        largest_ok=largest.ok if largest else False,
        patient_p50_seconds=percentile(patients, 50) if patients else None,
    )
