"""Bundles assembled around stored resource bytes, which are spliced in, never re-parsed.

https://hl7.org/fhir/R4/bundle.html
"""

from __future__ import annotations

from typing import Any

from fhircare.fhir import jsonio
from fhircare.fhir.ids import format_instant, new_id, now


def entry(fields: dict[str, Any], resource: bytes | None = None) -> bytes:
    """One ``Bundle.entry``: ``fields`` (fullUrl, request, response, search) plus resource."""
    rendered = jsonio.dumps(fields)
    if resource is None:
        return rendered
    separator = b"," if len(rendered) > 2 else b""
    return b'{"resource":' + resource + separator + rendered[1:]


def ignored_parameters_entry(what: str, names: tuple[str, ...]) -> bytes:
    """The ``search.mode = outcome`` entry that names parameters ignored as unknown, as in
    "Unknown search parameters were ignored: foo" (``what`` = "search")."""
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "warning",
                "code": "not-supported",
                "diagnostics": f"Unknown {what} parameters were ignored: {', '.join(names)}",
            }
        ],
    }
    return entry({"search": {"mode": "outcome"}}, jsonio.dumps(outcome))


def bundle(
    bundle_type: str,
    entries: list[bytes],
    links: list[tuple[str, str]],
    total: int | None = None,
) -> bytes:
    """A Bundle of ``bundle_type`` with the rendered ``entries`` and ``(relation, url)`` links."""
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": format_instant(now())},
        "type": bundle_type,
    }
    if total is not None:
        head["total"] = total
    head["link"] = [{"relation": relation, "url": url} for relation, url in links]
    rendered = jsonio.dumps(head)
    return rendered[:-1] + b',"entry":[' + b",".join(entries) + b"]}"
