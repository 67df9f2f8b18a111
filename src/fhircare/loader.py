"""Loading Bundle files into the store through the same interactions a client uses.

Entries with ``request.method`` PUT load idempotently: an unchanged resource makes no new
version. A transaction Bundle is posted to the base as a client would (``POST [base]``):
all of it loads or none, and its error names the file, entry and resource. Other bundles
(batch, collection …) and plain resources load entry by entry.
"""

from __future__ import annotations

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
    """What a load did: counts by outcome, and the errors it met."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def bundle_files(paths: Iterable[Path]) -> list[Path]:
    """The JSON files named, directories expanded in name order."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.json")) if path.is_dir() else [path]
    return files


def entries_of(path: Path) -> list[dict[str, Any]]:
    return _read(path)[1]


def _read(path: Path) -> tuple[bool, list[dict[str, Any]]]:
    """(whether the file is a transaction Bundle, its entries)."""
    document = jsonio.loads(path.read_bytes())
    if not isinstance(document, dict):
        raise errors.invalid(f"{path.name}: not a FHIR resource")
    if document.get("resourceType") != "Bundle":
        return False, [{"resource": document, "request": {"method": "POST"}}]
    entries = document.get("entry") or []
    return document.get("type") == "transaction", [e for e in entries if isinstance(e, dict)]


async def load_transaction(context: Context, path: Path, entries: int, report: LoadReport) -> None:
    """Post the transaction in ``path`` to the base; count each entry's outcome."""
    request = FhirRequest("POST", body=path.read_bytes(), headers=_OUTCOME)
    try:
        response = await route("POST", []).interaction(context, request)
    except errors.FhirError as exc:
        report.counts["failed"] += entries
        report.errors.append(f"{path.name}: {exc}")
        return
    assert response.body is not None
    for answer in jsonio.loads(response.body)["entry"]:
        report.counts[_outcome(answer["response"])] += 1


def _outcome(response: dict[str, Any]) -> str:
    if response["status"].startswith("201"):
        return "created"
    issues = (response.get("outcome") or {}).get("issue") or [{}]
    message = str(issues[0].get("diagnostics", ""))
    if message.startswith("Deleted"):
        return "deleted"
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
    context: Context, paths: Iterable[Path], progress: Callable[[int, int], None] | None = None
) -> LoadReport:
    """Load every entry of every bundle file; ``progress(done, total)`` after each entry
    (after each transaction, for all of its entries)."""
    files = [(path, *_read(path)) for path in bundle_files(paths)]
    total = sum(len(entries) for _, _, entries in files)
    report = LoadReport()
    done = 0
    for path, is_transaction, entries in files:
        if is_transaction:
            await load_transaction(context, path, len(entries), report)
            done += len(entries)
            if progress is not None:
                progress(done, total)
            continue
        for index, entry in enumerate(entries):
            resource = entry.get("resource") or {}
            name = f"{resource.get('resourceType')}/{resource.get('id', '(new)')}"
            try:
                report.counts[await load_entry(context, entry)] += 1
            except errors.FhirError as exc:
                report.counts["failed"] += 1
                report.errors.append(f"{path.name} entry[{index}] {name}: {exc}")
            done += 1
            if progress is not None:
                progress(done, total)
    return report
