"""fhircare's own search parameters, which the worklist and Communication threads search by:
packaged beside the official ones (``search/data/fhircare-search-parameters.json``), shipped
as SearchParameter resources in ``profiles/``, and the two agree."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from fhircare.fhir.errors import FhirError
from fhircare.interactions.request import Limits
from fhircare.interactions.resource_body import check_resource
from fhircare.interactions.search_parameters import SearchParameters
from fhircare.search.registry import FHIRCARE_PARAMETERS, default_registry
from fhircare.storage.memory import MemoryStore

PROFILES = Path(__file__).resolve().parents[3] / "profiles"
DATA = resources.files("fhircare.search.data")


def packaged() -> list[dict[str, Any]]:
    return list(json.loads(DATA.joinpath(FHIRCARE_PARAMETERS).read_text(encoding="utf-8")))


def shipped() -> dict[str, dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in PROFILES.glob("SearchParameter-*.json")]
    return {r["url"]: r for r in found}


def test_the_packaged_registry_has_them() -> None:
    registry = default_registry()
    thread = registry.get("Communication", "in-response-to")
    assert thread is not None
    assert (thread.type, thread.expression, thread.targets) == (
        "reference",
        "Communication.inResponseTo",
        ("Communication",),
    )
    for code in ("author", "contributor"):
        param = registry.get("CarePlan", code)
        assert param is not None and param.url == f"urn:fhircare:SearchParameter:CarePlan-{code}"
    reply = {"resourceType": "Communication", "inResponseTo": [{"reference": "Communication/a"}]}
    values = registry.evaluate("Communication", "in-response-to", reply)
    assert values == [{"reference": "Communication/a"}]


def test_they_stay_out_of_the_official_data() -> None:
    official = json.loads(DATA.joinpath("search-parameters.json").read_text(encoding="utf-8"))
    assert not [p["url"] for p in official if not p["url"].startswith("http://hl7.org/fhir/")]
    codes = {(base, p["code"]) for p in official for base in p["base"]}
    for mine in packaged():
        assert mine["url"].startswith("urn:fhircare:SearchParameter:")
        assert not {(base, mine["code"]) for base in mine["base"]} & codes


def test_profiles_ship_each_as_a_valid_resource_with_the_same_facts() -> None:
    resources_by_url = shipped()
    assert sorted(resources_by_url) == sorted(p["url"] for p in packaged())
    for facts in packaged():
        resource = resources_by_url[facts["url"]]
        for engine in ("fhirkit", "models"):
            check_resource(resource, "SearchParameter", Limits(validator=engine))
        assert resource["status"] == "active"
        assert {k: resource.get(k) for k in facts} == facts


def test_storing_a_shipped_one_is_accepted_and_adds_nothing() -> None:
    holder = SearchParameters(MemoryStore(), default_registry())
    for resource in shipped().values():
        assert holder.is_packaged(resource)
        holder.check(resource, resource["id"])
        changed = {**resource, "expression": "Communication.partOf"}
        assert not holder.is_packaged(changed)
        with pytest.raises(FhirError):
            holder.check(changed, resource["id"])
