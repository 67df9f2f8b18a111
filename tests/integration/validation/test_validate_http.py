"""``$validate`` over HTTP against fhircare's profiles, one kind of check at a time.

https://hl7.org/fhir/R4/resource-operation-validate.html: ``POST [type]/$validate`` with the
resource or a ``Parameters`` body, ``profile`` and ``mode`` in the query or as parameters,
``GET|POST [type]/[id]/$validate``. The answer is 200 with an OperationOutcome whether or
not the resource is valid; 4xx only when validation cannot run. Nothing is ever stored.
Each kind of check (``checks.py``) is asked every way and must be reported with the same
severity, code and expression.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore
from tests.integration.validation.checks import (
    CARE_PLAN_PROFILE,
    CHECKS,
    DESCRIBED,
    NO_ISSUES,
    UNKNOWN_PROFILE,
    Check,
    check_id,
    valid_plan,
)
from tests.integration.validation.corpus import KINDS, REFERENCE_TARGETS
from tests.integration.validation.served import (
    EMBEDDED_STORES,
    FHIR_JSON,
    IssueFacts,
    count,
    issues_of,
    profiled_client,
    unclaimed,
)


def _parameters(resource: dict[str, Any], **values: str) -> dict[str, Any]:
    parameter: list[dict[str, Any]] = [{"name": "resource", "resource": resource}]
    if "mode" in values:
        parameter.append({"name": "mode", "valueCode": values["mode"]})
    if "profile" in values:
        parameter.append({"name": "profile", "valueUri": values["profile"]})
    return {"resourceType": "Parameters", "parameter": parameter}


async def _validate(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], **params: str
) -> list[IssueFacts]:
    response = await client.post(f"/{path}/$validate", json=body, params=params, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    return issues_of(response.json())


def _expected(check: Check) -> list[IssueFacts]:
    return list(check.issues) or [NO_ISSUES]


def test_the_table_has_every_kind_of_check() -> None:
    kinds = {check.kind for check in CHECKS}
    assert kinds == set(KINDS[1:])
    assert {c.kind for c in CHECKS if c.issues} == kinds
    assert {c.kind for c in CHECKS if c.refused} == kinds
    assert {c.kind for c in CHECKS if not c.issues} >= kinds - {"type", "pattern"}
    assert len({c.case_id for c in CHECKS}) == len(CHECKS)


@EMBEDDED_STORES
@pytest.mark.parametrize("check", CHECKS, ids=check_id)
async def test_type_level_validate_reports_each_check_every_way(
    profiled: httpx.AsyncClient, check: Check
) -> None:
    resource = check.case.resource
    resource_type = resource["resourceType"]
    profile = check.case.profile
    bare = unclaimed(resource)
    before = await count(profiled, resource_type)

    assert await _validate(profiled, resource_type, resource) == _expected(check)
    assert await _validate(profiled, resource_type, bare, profile=profile) == _expected(check)
    assert await _validate(profiled, resource_type, _parameters(resource)) == _expected(check)
    asked = _parameters(bare, profile=profile)
    assert await _validate(profiled, resource_type, asked) == _expected(check)
    assert await _validate(profiled, resource_type, bare) == [NO_ISSUES]

    assert await count(profiled, resource_type) == before


@EMBEDDED_STORES
@pytest.mark.parametrize("check", CHECKS, ids=check_id)
async def test_instance_validate_checks_the_stored_resource(
    profiled: httpx.AsyncClient, check: Check
) -> None:
    """The resource is stored without claiming the profile, then checked against it."""
    resource = unclaimed(check.case.resource)
    url = f"/{resource['resourceType']}/{resource['id']}"
    stored = await profiled.put(url, json=resource, headers=FHIR_JSON)
    assert stored.status_code == 201, stored.text

    asked = await profiled.get(f"{url}/$validate", params={"profile": check.case.profile})
    assert asked.status_code == 200
    assert issues_of(asked.json()) == _expected(check)
    plain = await profiled.get(f"{url}/$validate")
    assert issues_of(plain.json()) == [NO_ISSUES]
    posted = await _validate(profiled, url[1:], check.case.resource)  # mode update
    assert posted == _expected(check)

    history = await profiled.get(f"{url}/_history")
    assert history.json()["total"] == 1


async def test_mode_update_needs_the_id_of_the_url(profiled: httpx.AsyncClient) -> None:
    plan = valid_plan()
    without_id = {k: v for k, v in plan.items() if k != "id"}
    expected = [("error", "required", "CarePlan.id")]
    assert await _validate(profiled, "CarePlan", without_id, mode="update") == expected
    asked = _parameters(without_id, mode="update")
    assert await _validate(profiled, "CarePlan", asked) == expected
    assert await _validate(profiled, "CarePlan", without_id) == [NO_ISSUES]  # mode create

    assert await _validate(profiled, f"CarePlan/{plan['id']}", plan) == [NO_ISSUES]
    other = await _validate(profiled, "CarePlan/another-plan", plan)
    assert other == [("error", "invalid", "CarePlan.id")]
    assert await count(profiled, "CarePlan") == 0


async def test_mode_delete_needs_a_stored_resource(profiled: httpx.AsyncClient) -> None:
    missing = await profiled.post("/CarePlan/no-such-plan/$validate", params={"mode": "delete"})
    assert missing.status_code == 404
    assert issues_of(missing.json())[0][:2] == ("error", "not-found")

    plan = valid_plan()
    stored = await profiled.put(f"/CarePlan/{plan['id']}", json=plan, headers=FHIR_JSON)
    assert stored.status_code == 201, stored.text
    asked = _parameters(plan, mode="delete")
    found = await profiled.post(f"/CarePlan/{plan['id']}/$validate", json=asked, headers=FHIR_JSON)
    assert found.status_code == 200
    assert issues_of(found.json()) == [NO_ISSUES]
    assert (await profiled.get(f"/CarePlan/{plan['id']}")).status_code == 200

    at_type_level = await profiled.post("/CarePlan/$validate", params={"mode": "delete"})
    assert at_type_level.status_code == 400


async def test_a_resource_of_another_type_cannot_be_validated(profiled: httpx.AsyncClient) -> None:
    plan = valid_plan()
    for body in (plan, _parameters(plan)):
        response = await profiled.post("/Goal/$validate", json=body, headers=FHIR_JSON)
        assert response.status_code == 400
        assert issues_of(response.json()) == [("error", "invalid", "resource")]
    assert await count(profiled, "CarePlan") == await count(profiled, "Goal") == 0


async def test_must_support_is_not_enforced(profiled: httpx.AsyncClient) -> None:
    """A mustSupport element says a system must be able to handle it, not that it is
    present (https://hl7.org/fhir/R4/profiling.html#mustsupport)."""
    stored = await profiled.put(
        f"/StructureDefinition/{DESCRIBED['id']}", json=DESCRIBED, headers=FHIR_JSON
    )
    assert stored.status_code == 201, stored.text
    plan = valid_plan()
    plan["description"] = "Weekly walks"
    assert "note" not in plan and "goal" in plan
    issues = await _validate(profiled, "CarePlan", plan, profile=DESCRIBED["url"])
    assert issues == [("information", "informational", "CarePlan.note")]  # reported only
    written = await profiled.post("/CarePlan", json=plan, headers=FHIR_JSON)
    assert written.status_code == 201
    del plan["description"]
    issues = await _validate(profiled, "CarePlan", plan, profile=DESCRIBED["url"])
    assert issues == [
        ("error", "required", "CarePlan.description"),
        ("information", "informational", "CarePlan.note"),
    ]


async def test_an_unknown_profile_is_a_warning_or_an_error_as_the_settings_say(
    store: ResourceStore,
) -> None:
    plan = valid_plan()
    plan["meta"]["profile"].append(UNKNOWN_PROFILE)
    claimed = ("CarePlan.meta.profile",)
    async with profiled_client(store) as client:
        assert await _validate(client, "CarePlan", plan) == [("warning", "not-found", *claimed)]
        # a profile asked for is looked for, whatever the setting
        asked = await _validate(client, "CarePlan", unclaimed(plan), profile=UNKNOWN_PROFILE)
        assert asked == [("error", "not-found", "")]
    strict = Settings(unknown_profile="error")
    async with profiled_client(store, strict) as client:
        assert await _validate(client, "CarePlan", plan) == [("error", "not-found", *claimed)]
        assert await _validate(client, "CarePlan", valid_plan()) == [NO_ISSUES]


async def test_a_required_profile_is_checked_unclaimed(store: ResourceStore) -> None:
    plan = unclaimed(valid_plan())
    del plan["careTeam"]
    missing = [("error", "required", "CarePlan.careTeam")]
    async with profiled_client(store) as client:
        assert await _validate(client, "CarePlan", plan) == [NO_ISSUES]
    required = Settings(required_profiles=f"CarePlan={CARE_PLAN_PROFILE}")
    async with profiled_client(store, required) as client:
        assert await _validate(client, "CarePlan", plan) == missing
        assert await _validate(client, "Goal", _goal()) == [NO_ISSUES]


def _goal() -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "description": {"text": "Walk every day"},
        "subject": {"reference": f"Patient/{REFERENCE_TARGETS[2]['id']}"},
    }
