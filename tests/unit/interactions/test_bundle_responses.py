"""Errors placed at their bundle entry, and the entries of a response Bundle."""

from __future__ import annotations

from fhircare.fhir import errors, jsonio
from fhircare.interactions.bundle_entries import BundleEntry
from fhircare.interactions.bundle_responses import error_response, in_entry, response_bundle
from fhircare.interactions.request import FhirResponse

TASK = {"resourceType": "Task", "status": "requested", "intent": "order"}


def at(method: str, url: str, resource: dict | None = None) -> BundleEntry:
    return BundleEntry(3, method, url, tuple(url.split("?")[0].split("/")), (), None, resource)


def expressions(error: errors.FhirError) -> list[tuple[str, ...]]:
    return [issue.expression for issue in error.issues]


def test_expressions_move_under_the_entry() -> None:
    error = errors.invalid("bad", "Task.status", "id", "url")
    placed = in_entry(error, at("POST", "Task", TASK))
    assert expressions(placed) == [
        (
            "Bundle.entry[3].resource.status",
            "Bundle.entry[3].resource.id",
            "Bundle.entry[3].request.url",
        )
    ]
    assert placed.category is error.category
    assert placed.issues[0].diagnostics == "Bundle.entry[3] (POST Task): bad"
    assert expressions(in_entry(errors.invalid("x", "_sort"), at("GET", "Task?_sort=x"))) == [
        ("Bundle.entry[3].request.url",)
    ]
    patch = at("PATCH", "Task/1", {"resourceType": "Binary"})
    assert expressions(in_entry(errors.invalid("x", "Task.status"), patch)) == [
        ("Bundle.entry[3]",)
    ]
    assert expressions(in_entry(errors.not_found("gone"), at("GET", "Task/1"))) == [
        ("Bundle.entry[3]",)
    ]


def test_response_entries() -> None:
    created = FhirResponse(
        201,
        b'{"resourceType":"Task","id":"t1","meta":{"versionId":"1",'
        b'"lastUpdated":"2026-11-01T10:00:00.123Z"}}',
        {
            "ETag": 'W/"1"',
            "Last-Modified": "Sun, 01 Nov 2026 10:00:00 GMT",
            "Location": "http://x/fhir/Task/t1/_history/1",
        },
    )
    deleted = FhirResponse(200, b'{"resourceType":"OperationOutcome","issue":[]}', {})
    failed = error_response(errors.precondition("stale"))
    body = jsonio.loads(
        response_bundle("batch-response", [created, deleted, failed], "http://x/fhir")
    )
    assert body["type"] == "batch-response"
    first, second, third = body["entry"]
    assert first["fullUrl"] == "http://x/fhir/Task/t1"
    assert first["resource"]["id"] == "t1"
    assert first["response"] == {
        "status": "201 Created",
        "location": "Task/t1/_history/1",
        "etag": 'W/"1"',
        "lastModified": "2026-11-01T10:00:00.123Z",
    }
    assert second == {
        "response": {
            "status": "200 OK",
            "outcome": {"resourceType": "OperationOutcome", "issue": []},
        }
    }
    assert third["response"]["status"] == "412 Precondition Failed"
    assert third["response"]["outcome"]["issue"][0]["diagnostics"] == "stale"
    assert "entry" not in jsonio.loads(response_bundle("batch-response", [], "http://x/fhir"))
