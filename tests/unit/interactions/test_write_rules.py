"""Write rules (``interactions/write_rules.py``): checks see the previous live content and
refuse or amend a write on every path; followers run once per committed version, after
a transaction's whole commit, and their failures never fail the write."""

from __future__ import annotations

from typing import Any

import pytest

from fhircare.fhir import errors, jsonio
from fhircare.fhir.errors import FhirError
from fhircare.interactions.create import create
from fhircare.interactions.patch import patch
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.update import update
from fhircare.interactions.write_rules import WriteRules
from fhircare.rest.dispatch import _bundle
from fhircare.storage.memory import MemoryStore
from fhircare.storage.protocol import StoredVersion

JSON = {"content-type": "application/fhir+json"}


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str | None, str | None]] = []
        self.followed: list[tuple[str, str, int]] = []
        self.store_writes_seen: list[int] = []

    def check(self, resource: dict[str, Any], previous: dict[str, Any] | None) -> None:
        self.seen.append((resource.get("gender"), None if previous is None else previous["gender"]))
        if resource.get("gender") == "unknown":
            raise errors.processing("no unknown here", "Patient.gender")
        resource["active"] = True

    async def follow(self, context: Context, version: StoredVersion) -> None:
        self.followed.append((version.resource_type, version.id, version.version))
        if version.id == "boom":
            raise RuntimeError("a follower's bug")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def context(recorder: Recorder) -> Context:
    rules = WriteRules({"Patient": (recorder.check,)}, (recorder.follow,))
    return Context(MemoryStore(), rules=rules)


def put(id: str, gender: str) -> FhirRequest:
    body = {"resourceType": "Patient", "id": id, "gender": gender}
    return FhirRequest("PUT", "Patient", id, body=jsonio.dumps(body), headers=JSON)


async def test_a_check_sees_the_previous_content_and_may_amend(
    context: Context, recorder: Recorder
) -> None:
    await update(context, put("p1", "female"))
    await update(context, put("p1", "male"))
    assert recorder.seen == [("female", None), ("male", "female")]
    stored = await context.store.read("Patient", "p1")
    assert stored is not None and jsonio.loads(stored.body or b"")["active"] is True
    assert recorder.followed == [("Patient", "p1", 1), ("Patient", "p1", 2)]


async def test_a_refusing_check_stores_nothing_on_any_path(
    context: Context, recorder: Recorder
) -> None:
    await update(context, put("p1", "female"))
    with pytest.raises(FhirError) as refused:
        await update(context, put("p1", "unknown"))
    assert refused.value.issues[0].expression == ("Patient.gender",)
    body = jsonio.dumps({"resourceType": "Patient", "gender": "unknown"})
    with pytest.raises(FhirError):
        await create(context, FhirRequest("POST", "Patient", body=body, headers=JSON))
    operations = [{"op": "replace", "path": "/gender", "value": "unknown"}]
    patched = FhirRequest(
        "PATCH",
        "Patient",
        "p1",
        body=jsonio.dumps(operations),
        headers={"content-type": "application/json-patch+json"},
    )
    with pytest.raises(FhirError):
        await patch(context, patched)
    stored = await context.store.read("Patient", "p1")
    assert stored is not None and stored.version == 1
    assert recorder.followed == [("Patient", "p1", 1)]


def transaction(*entries: tuple[str, str]) -> FhirRequest:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "id": id, "gender": gender},
                "request": {"method": "PUT", "url": f"Patient/{id}"},
            }
            for id, gender in entries
        ],
    }
    return FhirRequest("POST", body=jsonio.dumps(bundle), headers=JSON)


async def test_a_transaction_is_followed_after_its_whole_commit(
    context: Context, recorder: Recorder
) -> None:
    followed_while_staged: list[int] = []
    original = recorder.follow

    async def follow(ctx: Context, version: StoredVersion) -> None:
        # by the time a follower runs, every write of the transaction is in the real store
        both = [await context.store.read("Patient", id) for id in ("a", "b")]
        followed_while_staged.append(sum(v is not None for v in both))
        await original(ctx, version)

    rules = WriteRules({"Patient": (recorder.check,)}, (follow,))
    ctx = Context(context.store, rules=rules)
    response = await _bundle(ctx, transaction(("a", "male"), ("b", "female")))
    assert response.status == 200
    assert sorted(recorder.followed) == [("Patient", "a", 1), ("Patient", "b", 1)]
    assert followed_while_staged == [2, 2]
    with pytest.raises(FhirError) as refused:
        await _bundle(ctx, transaction(("c", "male"), ("d", "unknown")))
    assert refused.value.issues[0].expression == ("Bundle.entry[1].resource.gender",)
    assert await context.store.read("Patient", "c") is None
    assert len(recorder.followed) == 2


async def test_a_failing_follower_does_not_fail_the_write(
    context: Context, recorder: Recorder
) -> None:
    response = await update(context, put("boom", "male"))
    assert response.status == 201
    assert recorder.followed == [("Patient", "boom", 1)]
