"""Loading Bundle files into the store through the same interactions a client uses.

Entries with ``request.method`` PUT load idempotently: an unchanged resource makes no new
version. A transaction or batch Bundle is posted to the base as a client would
(``POST [base]``), so ``ifNoneExist``, conditional references and ``urn:uuid`` links work
as they do over HTTP: a transaction loads whole or not at all and its error names the file,
entry and resource; in a batch each entry loads or fails alone, and each failure is
reported by file and entry. Other bundles (collection …) and plain resources load entry by
entry. A file that cannot be read or parsed is reported and the rest load.

Files are read one at a time, so a folder of thousands of patient bundles loads in the
memory of its largest file. With a ``LoadJournal`` a load is resumable: each file that was
loaded is recorded (by its content's digest), and a later load skips it.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhircare.fhir import errors, jsonio
from fhircare.interactions.create import create
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.update import update
from fhircare.rest.dispatch import route


@dataclass
class LoadReport:
    """What a load did: counts by outcome, the errors it met, the entries it went through
    and how long it took, and the files a journal said were loaded before."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    entries: int = 0
    seconds: float = 0.0
    skipped_files: int = 0

    @property
    def per_second(self) -> float:
        return self.entries / self.seconds if self.seconds > 0 else 0.0


class LoadJournal:
    """The files already loaded into one store: a text file of content digests, one per
    line, appended as each file finishes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done: set[str] = set()
        if path.exists():
            self._done = set(path.read_text(encoding="ascii").split())

    @staticmethod
    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def __contains__(self, digest: str) -> bool:
        return digest in self._done

    def record(self, digest: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="ascii") as journal:
            journal.write(digest + "\n")
        self._done.add(digest)


def bundle_files(paths: Iterable[Path]) -> list[Path]:
    """The JSON files named, directories expanded in name order."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.json")) if path.is_dir() else [path]
    return files


def entries_of(path: Path) -> list[dict[str, Any]]:
    return _parse(path.read_bytes(), path)[1]


POSTED_WHOLE = frozenset(("transaction", "batch"))


def _parse(data: bytes, path: Path) -> tuple[str | None, list[dict[str, Any]]]:
    """(the Bundle's type, None for a plain resource; its entries)."""
    document = jsonio.loads(data)
    if not isinstance(document, dict):
        raise errors.invalid(f"{path.name}: not a FHIR resource")
    if document.get("resourceType") != "Bundle":
        return None, [{"resource": document, "request": {"method": "POST"}}]
    entries = document.get("entry") or []
    kind = document.get("type")
    return (kind if isinstance(kind, str) else ""), [e for e in entries if isinstance(e, dict)]


async def load_bundle(
    context: Context, path: Path, data: bytes, entries: list[dict[str, Any]], report: LoadReport
) -> None:
    """Post the transaction or batch in ``path`` to the base; count each entry's outcome
    and report each failed one."""
    request = FhirRequest("POST", body=data, headers=_OUTCOME)
    try:
        response = await route("POST", []).interaction(context, request)
    except errors.FhirError as exc:
        report.counts["failed"] += len(entries)
        report.errors.append(f"{path.name}: {exc}")
        return
    assert response.body is not None
    answers = jsonio.loads(response.body)["entry"]
    for index, (entry, answer) in enumerate(zip(entries, answers, strict=False)):
        method = str((entry.get("request") or {}).get("method", "POST"))
        outcome = _outcome(method, answer["response"])
        report.counts[outcome] += 1
        if outcome == "failed":
            report.errors.append(
                f"{path.name} entry[{index}] {_named(entry)}: {_diagnostics(answer)}"
            )


def _named(entry: dict[str, Any]) -> str:
    resource = entry.get("resource") or {}
    return f"{resource.get('resourceType')}/{resource.get('id', '(new)')}"


def _diagnostics(answer: dict[str, Any]) -> str:
    response = answer.get("response") or {}
    issues = (response.get("outcome") or {}).get("issue") or [{}]
    where = ", ".join(issues[0].get("expression") or [])
    message = str(issues[0].get("diagnostics", ""))
    return f"{response.get('status')}: {message}" + (f" ({where})" if where else "")


def _outcome(method: str, response: dict[str, Any]) -> str:
    status = str(response["status"])
    if status.startswith("201"):
        return "created"
    if not status.startswith("2"):
        return "failed"
    issues = (response.get("outcome") or {}).get("issue") or [{}]
    message = str(issues[0].get("diagnostics", ""))
    if message.startswith("Deleted") or method == "DELETE":
        return "deleted"
    if method == "POST":
        return "unchanged"  # a conditional create that matched an existing resource
    return "unchanged" if "No change" in message else "updated"


async def load_entry(context: Context, entry: dict[str, Any]) -> str:
    """Apply one entry; returns 'created', 'updated' or 'unchanged'."""
    resource = entry.get("resource") or {}
    resource_type = str(resource.get("resourceType"))
    request = entry.get("request") or {}
    body = jsonio.dumps(resource)
    if request.get("method", "POST") == "PUT" or "id" in resource:
        id = str(resource.get("id") or str(request.get("url", "")).rsplit("/", 1)[-1])
        fhir_request = FhirRequest("PUT", resource_type, id, body=body, headers=_OUTCOME)
        response = await update(context, fhir_request)
        if response.status == 201:
            return "created"
        return "unchanged" if "No change" in _message(response.body) else "updated"
    await create(
        context, FhirRequest("POST", resource_type, body=body, headers={"prefer": "return=minimal"})
    )
    return "created"


_OUTCOME = {"prefer": "return=OperationOutcome"}


def _message(body: bytes | None) -> str:
    return "" if body is None else body.decode("utf-8", "replace")


async def load(
    context: Context,
    paths: Iterable[Path],
    progress: Callable[[int, int], None] | None = None,
    journal: LoadJournal | None = None,
) -> LoadReport:
    """Load every entry of every bundle file, one file at a time; ``progress(done, total)``
    counts files. With ``journal``, files loaded before are skipped and each file loaded
    now is recorded."""
    files = bundle_files(paths)
    report = LoadReport()
    started = time.monotonic()
    for done, path in enumerate(files, 1):
        await _load_file(context, path, report, journal)
        if progress is not None:
            progress(done, len(files))
    report.seconds = time.monotonic() - started
    return report


async def _load_file(
    context: Context, path: Path, report: LoadReport, journal: LoadJournal | None
) -> None:
    try:
        data = path.read_bytes()
        digest = LoadJournal.digest(data)
        if journal is not None and digest in journal:
            report.skipped_files += 1
            return
        kind, entries = _parse(data, path)
    except (OSError, errors.FhirError) as exc:
        report.counts["unreadable files"] += 1
        report.errors.append(f"{path.name}: {exc}")
        return
    report.entries += len(entries)
    if kind in POSTED_WHOLE:
        await load_bundle(context, path, data, entries, report)
    else:
        for index, entry in enumerate(entries):
            try:
                report.counts[await load_entry(context, entry)] += 1
            except errors.FhirError as exc:
                report.counts["failed"] += 1
                report.errors.append(f"{path.name} entry[{index}] {_named(entry)}: {exc}")
    if journal is not None:
        journal.record(digest)
