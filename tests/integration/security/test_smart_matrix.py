"""Scopes x interactions x two patients: every allowed call works, every other is refused,
and no answer to a patient-scoped token holds the other patient's data.

The cases are in ``matrix.py``; each profile runs them all, in order (reads, searches,
operations, then writes), against one app per store holding ``population``.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.security.conftest import Smart
from tests.integration.security.matrix import (
    CASES,
    DENIED,
    NARROWED,
    PROFILES,
    READERS,
    Case,
)
from tests.integration.security.population import SECRET

FULL_READERS = (*READERS, "user-rs", "system")
"""The profiles that read every type: Alice's data is in each of their 2xx answers."""


async def _run(smart: Smart, profile: str, case: Case) -> tuple[int, str]:
    scope, patient = PROFILES[profile]
    headers = {**smart.headers(scope, patient), **case.headers}
    body = None if case.body is None else json.dumps(case.body)
    if body is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/fhir+json"
    answer = await smart.client.request(case.method, case.path, content=body, headers=headers)
    return answer.status_code, answer.text


@pytest.mark.parametrize("profile", sorted(PROFILES))
async def test_matrix(smart: Smart, profile: str) -> None:
    failures = []
    leaks = []
    for case in CASES:
        expected = case.status.get(profile, DENIED)
        status, text = await _run(smart, profile, case)
        if status != expected:
            failures.append(f"{case.name}: {status} (expected {expected}) {text[:300]}")
            continue
        if profile in NARROWED:
            if SECRET in text:
                leaks.append(case.name)
            for unwanted in case.lacks:
                if unwanted in text:
                    leaks.append(f"{case.name}: '{unwanted}'")
        if 200 <= status < 300 and profile in FULL_READERS:
            missing = [wanted for wanted in case.has if wanted not in text]
            if missing:
                failures.append(f"{case.name}: lacks {missing}")
        if status == DENIED:
            outcome = json.loads(text)
            assert outcome["resourceType"] == "OperationOutcome"
            assert "scope" in outcome["issue"][0]["diagnostics"], case.name
    assert not leaks, f"{profile} leaked the other patient's data: {leaks}"
    assert not failures, "\n".join(failures)
    if profile in NARROWED:
        # nothing a patient-scoped token did changed the other patient's record
        plan = await smart.client.get("CarePlan/b-plan", headers=smart.admin)
        assert plan.status_code == 200 and SECRET in plan.text
        assert plan.json()["meta"]["versionId"] == "1"
