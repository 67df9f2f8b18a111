"""Errors are OperationOutcomes with the spec's statuses; media types are negotiated.

https://hl7.org/fhir/R4/http.html#mime-type and the status codes of http.html.
"""

from __future__ import annotations

import httpx
import pytest

FHIR_JSON = {"Content-Type": "application/fhir+json"}
PATIENT = {"resourceType": "Patient", "gender": "female"}


def assert_outcome(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"]
    if code is not None:
        assert body["issue"][0]["code"] == code
    return body


async def test_unparseable_json_is_400(client: httpx.AsyncClient) -> None:
    assert_outcome(
        await client.post("/Patient", content=b"{not json", headers=FHIR_JSON), 400, "structure"
    )
    assert_outcome(
        await client.post("/Patient", content=b"[1,2]", headers=FHIR_JSON), 400, "structure"
    )
    assert_outcome(await client.post("/Patient", content=b"", headers=FHIR_JSON), 400, "required")


async def test_structural_failures_are_400_with_expression(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json={**PATIENT, "foo": 1}, headers=FHIR_JSON)
    body = assert_outcome(response, 400)
    assert any("foo" in " ".join(i.get("expression", [])) for i in body["issue"])
    response = await client.post("/Patient", json={**PATIENT, "gender": "bogus"}, headers=FHIR_JSON)
    body = assert_outcome(response, 400, "code-invalid")
    assert body["issue"][0]["expression"] == ["Patient.gender"]
    care_plan = {
        "resourceType": "CarePlan",
        "status": "bogus",
        "intent": "plan",
        "subject": {"reference": "not a ref !!"},
    }
    body = assert_outcome(await client.post("/CarePlan", json=care_plan, headers=FHIR_JSON), 400)
    expressions = {e for i in body["issue"] for e in i.get("expression", [])}
    assert {"CarePlan.status", "CarePlan.subject.reference"} <= expressions


async def test_type_mismatch_unknown_type_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_outcome(
        await client.post("/Patient", json={"resourceType": "Practitioner"}, headers=FHIR_JSON), 400
    )
    assert_outcome(await client.get("/Bogus/1"), 404, "not-found")
    assert_outcome(await client.get("/nothing-here"), 404)
    response = await client.put("/Patient/_search", json=PATIENT, headers=FHIR_JSON)
    assert_outcome(response, 405)
    assert response.headers["allow"] == "POST"
    assert_outcome(await client.post("/Patient/1", json=PATIENT, headers=FHIR_JSON), 405)
    assert_outcome(await client.put("/metadata", json=PATIENT, headers=FHIR_JSON), 405)


async def test_xml_and_other_media(client: httpx.AsyncClient) -> None:
    assert_outcome(await client.get("/metadata", headers={"Accept": "application/fhir+xml"}), 406)
    assert_outcome(await client.get("/metadata", params={"_format": "xml"}), 406)
    xml = await client.post(
        "/Patient", content=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"}
    )
    assert_outcome(xml, 415)
    form = await client.post(
        "/Patient", content=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_outcome(form, 415)
    ok = await client.get("/metadata", headers={"Accept": "application/json"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/json")
    browser = await client.get(
        "/metadata", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )
    assert browser.status_code == 200
    assert (await client.get("/metadata", params={"_format": "json"})).status_code == 200
    plain_json = await client.post(
        "/Patient", json=PATIENT, headers={"Content-Type": "application/json"}
    )
    assert plain_json.status_code == 201


async def test_body_over_limit_is_413(client: httpx.AsyncClient) -> None:
    big = {**PATIENT, "name": [{"text": "x" * 70_000}]}
    assert_outcome(await client.post("/Patient", json=big, headers=FHIR_JSON), 413)


async def test_unexpected_error_is_500_with_only_a_request_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*args: object) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr("fhircare.interactions.read.live_version", boom)
    response = await client.get("/Patient/x")
    body = assert_outcome(response, 500, "exception")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"] in body["issue"][0]["diagnostics"]


async def test_deep_nesting_is_a_fast_400_not_a_500(client: httpx.AsyncClient) -> None:
    def nested_extensions(depth: int) -> bytes:
        inner = '{"url":"http://example.org/x","valueString":"v"}'
        for _ in range(depth):
            inner = '{"url":"http://example.org/x","extension":[' + inner + "]}"
        return ('{"resourceType":"Patient","extension":[' + inner + "]}").encode()

    assert (
        await client.post("/Patient", content=nested_extensions(5), headers=FHIR_JSON)
    ).status_code == 201
    for depth in (40, 900):
        response = await client.post(
            "/Patient", content=nested_extensions(depth), headers=FHIR_JSON
        )
        assert_outcome(response, 400)
    arrays = b'{"resourceType":"Patient","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_outcome(await client.post("/Patient", content=arrays, headers=FHIR_JSON), 413)
    settings_limit = b'{"resourceType":"Patient","x":' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    assert_outcome(await client.post("/Patient", content=settings_limit, headers=FHIR_JSON), 400)


async def test_the_base_itself_is_not_redirected(client: httpx.AsyncClient) -> None:
    """``POST [base]`` is where batches go: it must not bounce with a 307 to ``[base]/``."""
    response = await client.post("http://test/fhir", json={"resourceType": "Bundle"})
    assert_outcome(response, 400, "invalid")  # a Bundle without a type, answered in place
    assert_outcome(await client.get("http://test/"), 404, "not-found")
