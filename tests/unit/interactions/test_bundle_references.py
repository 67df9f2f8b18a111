"""Placeholder rewriting and conditional references of bundle entries (bundle_references)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhircare.fhir import jsonio
from fhircare.fhir.errors import Category, FhirError
from fhircare.interactions.bundle_references import (
    check_no_placeholders,
    is_placeholder,
    references,
    resolve_conditional_references,
    rewrite,
)
from fhircare.interactions.request import Context, FhirRequest
from fhircare.interactions.resource_body import new_version
from fhircare.storage.memory import MemoryStore
from fhircare.storage.protocol import SearchQuery, StoredVersion

PATIENT = "urn:uuid:9d3c6c1e-8f0a-4c57-9c43-3f1e2a7b5d10"
PLAN = "urn:oid:1.2.840.113619.6.1"
MAPPING = {PATIENT: "Patient/p1", PLAN: "CarePlan/c1"}


def task() -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "for": {"reference": PATIENT, "display": PATIENT + " (not a reference)"},
        "basedOn": [{"reference": PLAN}, {"reference": "CarePlan/kept"}],
        "instantiatesUri": PLAN,
        "input": [{"type": {"text": "n"}, "valueDecimal": jsonio.loads(b"7.00")}],
        "contained": [{"resourceType": "Patient", "link": [{"other": {"reference": PATIENT}}]}],
        "note": [{"text": f"see {PATIENT}"}],
    }


def test_rewrite_replaces_every_value_equal_to_a_full_url_and_nothing_else() -> None:
    original = task()
    kept = copy.deepcopy(original)
    rewritten = rewrite(original, MAPPING)
    assert rewritten["for"] == {
        "reference": "Patient/p1",
        "display": PATIENT + " (not a reference)",
    }
    assert rewritten["basedOn"] == [{"reference": "CarePlan/c1"}, {"reference": "CarePlan/kept"}]
    assert rewritten["instantiatesUri"] == "CarePlan/c1"  # a uri, not only references
    assert rewritten["contained"][0]["link"][0]["other"] == {"reference": "Patient/p1"}
    assert rewritten["note"] == [{"text": f"see {PATIENT}"}]  # only whole values
    assert jsonio.dumps(rewritten["input"]) == jsonio.dumps(kept["input"])  # 7.00 stays 7.00
    assert original == kept  # the input is not changed


def test_rewrite_without_mapping_returns_the_value_itself() -> None:
    value = task()
    assert rewrite(value, {}) is value


def test_placeholders_and_reference_paths() -> None:
    assert is_placeholder(PATIENT) and is_placeholder(PLAN)
    assert not is_placeholder("Patient/1") and not is_placeholder(None)
    assert list(references(task(), "Task")) == [
        ("Task.for.reference", PATIENT),
        ("Task.basedOn[0].reference", PLAN),
        ("Task.basedOn[1].reference", "CarePlan/kept"),
        ("Task.contained[0].link[0].other.reference", PATIENT),
    ]


def test_a_placeholder_left_over_is_400_naming_its_path() -> None:
    check_no_placeholders(rewrite(task(), MAPPING))
    with pytest.raises(FhirError) as raised:
        check_no_placeholders(rewrite(task(), {PATIENT: "Patient/p1"}))
    assert raised.value.category is Category.INVALID
    assert raised.value.issues[0].expression == ("Task.basedOn[0].reference",)


class CountingStore(MemoryStore):
    """Counts searches, to see that answers are cached."""

    def __init__(self) -> None:
        super().__init__()
        self.searches = 0

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        self.searches += 1
        return await super().search(query)


async def stored_patient(context: Context, id: str, mrn: str) -> None:
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": "http://example.org/mrn", "value": mrn}],
    }
    request = FhirRequest("PUT", "Patient", id)
    await context.store.commit(new_version(context, request, resource, id, 1, "PUT"))


def goal(subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "description": {"text": "Walk"},
        "subject": {"reference": subject},
        "addresses": [{"reference": "Foo?x=1"}],  # not a resource type: left alone
    }


async def test_conditional_references_resolve_to_their_only_match_once() -> None:
    store = CountingStore()
    context = Context(store)
    await stored_patient(context, "p1", "one")
    resolved: dict[str, str] = {}
    condition = "Patient?identifier=http://example.org/mrn|one"
    out = await resolve_conditional_references(context, goal(condition), "", resolved)
    assert out["subject"] == {"reference": "Patient/p1"}
    assert out["addresses"] == [{"reference": "Foo?x=1"}]
    assert resolved == {condition: "Patient/p1"}
    searches = store.searches
    again = await resolve_conditional_references(context, goal(condition), "", resolved)
    assert again["subject"] == {"reference": "Patient/p1"} and store.searches == searches


@pytest.mark.parametrize(
    ("condition", "category"),
    [
        ("Patient?identifier=http://example.org/mrn|nobody", Category.NOT_FOUND),
        ("Patient?identifier=http://example.org/mrn|twin", Category.PRECONDITION),
        ("Patient?no-such-parameter=1", Category.UNSUPPORTED),  # 400, as a strict search
    ],
)
async def test_conditional_references_matching_none_or_several_fail_at_their_path(
    condition: str, category: Category
) -> None:
    context = Context(MemoryStore())
    await stored_patient(context, "t1", "twin")
    await stored_patient(context, "t2", "twin")
    with pytest.raises(FhirError) as raised:
        await resolve_conditional_references(context, goal(condition), "")
    assert raised.value.category is category
    assert raised.value.issues[0].expression == ("Goal.subject.reference",)
