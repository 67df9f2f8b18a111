"""The response Bundle of a batch or transaction, and errors placed at their entry.

https://hl7.org/fhir/R4/bundle.html#BundleEntryResponse: each entry of a
``batch-response``/``transaction-response`` answers the entry at the same position with
``response.status`` ("201 Created"), ``location`` (``Type/id/_history/n``), ``etag``,
``lastModified`` and an ``outcome``; ``resource`` is there when the interaction returned one
(``Prefer: return=`` applies to every entry as to a single request).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fhircare.fhir import bundles, jsonio, outcomes
from fhircare.fhir.errors import STATUS, FhirError, Issue
from fhircare.fhir.ids import format_instant, new_id, now, parse_etag, parse_http_date
from fhircare.interactions.bundle_entries import BundleEntry
from fhircare.interactions.request import FhirResponse


def error_response(error: FhirError) -> FhirResponse:
    """A failed entry of a batch: the status and OperationOutcome HTTP would give."""
    return FhirResponse(
        STATUS[error.category], jsonio.dumps(outcomes.outcome(error.issues)), dict(error.headers)
    )


def in_entry(error: FhirError, entry: BundleEntry) -> FhirError:
    """``error`` as the failure of a whole transaction: each issue names the entry, its
    expressions moved under it (``Task.status`` → ``Bundle.entry[3].resource.status``)."""
    label = f"{entry.where} ({entry.method} {entry.url[:100]})"
    issues = [
        Issue(
            issue.code,
            f"{label}: {issue.diagnostics}",
            issue.severity,
            tuple(_expression(entry, e) for e in issue.expression) or (entry.where,),
        )
        for issue in error.issues
    ]
    return FhirError(error.category, issues, dict(error.headers))


def _expression(entry: BundleEntry, expression: str) -> str:
    """An interaction's expression placed in the Bundle: under the entry's resource for
    POST and PUT, at ``request.url`` for a condition, read or delete, else at the entry."""
    if expression.startswith("Bundle."):
        return expression
    if entry.method in ("POST", "PUT") and entry.resource is not None and expression != "url":
        resource_type = entry.resource["resourceType"]
        if expression == resource_type or expression.startswith(f"{resource_type}."):
            return f"{entry.where}.resource{expression[len(resource_type) :]}"
        return f"{entry.where}.resource.{expression}"
    if expression == "url" or entry.method in ("GET", "HEAD", "DELETE"):
        return f"{entry.where}.request.url"
    return entry.where


def response_bundle(bundle_type: str, responses: list[FhirResponse], base_url: str) -> bytes:
    """The ``batch-response``/``transaction-response`` with one entry per response."""
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": format_instant(now())},
        "type": bundle_type,
    }
    if not responses:
        return jsonio.dumps(head)  # no empty array: JSON FHIR has none
    entries = [_entry(response, base_url) for response in responses]
    return jsonio.dumps(head)[:-1] + b',"entry":[' + b",".join(entries) + b"]}"


def _entry(response: FhirResponse, base_url: str) -> bytes:
    body = jsonio.loads(response.body) if response.body else None
    outcome = None
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        outcome, body = body, None
    fields: dict[str, Any] = {}
    answer: dict[str, Any] = {"status": _status(response.status)}
    headers = {k.lower(): v for k, v in response.headers.items()}
    if "location" in headers:
        location = headers["location"].removeprefix(f"{base_url}/")
        answer["location"] = location
        fields["fullUrl"] = f"{base_url}/{location.split('/_history/')[0]}"
    elif isinstance(body, dict) and body.get("resourceType") != "Bundle" and "id" in body:
        fields["fullUrl"] = f"{base_url}/{body['resourceType']}/{body['id']}"
    if "etag" in headers:
        answer["etag"] = headers["etag"]
    modified = _last_modified(headers, body)
    if modified is not None:
        answer["lastModified"] = modified
    if outcome is not None:
        answer["outcome"] = outcome
    fields["response"] = answer
    return bundles.entry(fields, response.body if body is not None else None)


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _last_modified(headers: dict[str, str], body: Any) -> str | None:
    """The instant of the version the entry answers with: the resource's own
    ``meta.lastUpdated`` (milliseconds) when it is that version, else ``Last-Modified``."""
    meta = body.get("meta") if isinstance(body, dict) else None
    etag = parse_etag(headers.get("etag", ""))
    if isinstance(meta, dict) and "lastUpdated" in meta and str(etag) == meta.get("versionId"):
        return str(meta["lastUpdated"])
    header = headers.get("last-modified")
    moment = parse_http_date(header) if header else None
    return format_instant(moment) if moment else None
