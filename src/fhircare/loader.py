"""Loading Bundle files into the store through the same interactions a client uses.

Entries with ``request.method`` PUT load idempotently: an unchanged resource makes no new
version. Transaction bundles are applied entry by entry until transaction processing
exists (see the bundles work); each entry's error names the file, entry and resource.
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
    document = jsonio.loads(path.read_bytes())
    if not isinstance(document, dict):
        raise errors.invalid(f"{path.name}: not a FHIR resource")
    if document.get("resourceType") != "Bundle":
        return [{"resource": document, "request": {"method": "POST"}}]
    entries = document.get("entry") or []
    return [e for e in entries if isinstance(e, dict)]


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
    """Load every entry of every bundle file; ``progress(done, total)`` after each."""
    work = [
        (path, index, entry)
        for path in bundle_files(paths)
        for index, entry in enumerate(entries_of(path))
    ]
    report = LoadReport()
    for done, (path, index, entry) in enumerate(work, start=1):
        resource = entry.get("resource") or {}
        name = f"{resource.get('resourceType')}/{resource.get('id', '(new)')}"
        try:
            report.counts[await load_entry(context, entry)] += 1
        except errors.FhirError as exc:
            report.counts["failed"] += 1
            report.errors.append(f"{path.name} entry[{index}] {name}: {exc}")
        if progress is not None:
            progress(done, len(work))
    return report
