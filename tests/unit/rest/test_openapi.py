"""The OpenAPI document (``rest/openapi.py``): valid OpenAPI 3, exactly the interactions
the CapabilityStatement declares, and each of its operations served by ``dispatch.route``
(every other method on its paths is 405)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis.core.result import Ok

from fhircare.fhir.errors import Category, FhirError
from fhircare.interactions.capabilities import capability_statement
from fhircare.rest.dispatch import route
from fhircare.rest.openapi import openapi_document
from fhircare.search.registry import default_registry

BASE = "http://test/fhir"
METHODS = ("get", "post", "put", "patch", "delete")
SAMPLE = {"type": "Patient", "id": "pat-1", "vid": "2"}
# The function dispatch must pick for an operation, by its interaction and conditionality.
HANDLERS = {
    ("capabilities", False): "capabilities",
    ("read", False): "read",
    ("vread", False): "vread",
    ("update", False): "update",
    ("update", True): "conditional_update",
    ("patch", False): "patch",
    ("patch", True): "conditional_patch",
    ("delete", False): "delete",
    ("delete", True): "conditional_delete",
    ("history-instance", False): "history",
    ("history-type", False): "history",
    ("history-system", False): "history",
    ("create", True): "create",
    ("search-type", False): "search",
    ("search-system", False): "search",
    ("batch", False): "_bundle",
}
# For an operation: the function serving ``$name``, the last segment of its path.
OPERATIONS = {
    "reindex": "reindex",
    "everything": "everything",
    "sync": "sync",
    "sync-status": "sync_status",
    "validate": "validate",
}


@pytest.fixture(scope="module")
def statement() -> dict[str, Any]:
    return json.loads(json.dumps(capability_statement(BASE, default_registry())))


@pytest.fixture(scope="module")
def document(statement: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(openapi_document(statement)))


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def resolve(document: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in parameter:
        node: Any = document
        for part in parameter["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        parameter = node
    return parameter


def type_enum(document: dict[str, Any], operation: dict[str, Any]) -> list[str] | None:
    for parameter in operation.get("parameters", ()):
        parameter = resolve(document, parameter)
        if parameter["name"] == "type" and parameter["in"] == "path":
            return list(resolve(document, parameter["schema"])["enum"])
    return None


def test_the_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    validate(document)
    schema = schemathesis.openapi.from_dict(document)
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    loaded = [result.ok().label for result in results if isinstance(result, Ok)]
    assert sorted(loaded) == sorted(f"{m.upper()} {p}" for p, m, _ in operations(document))


def test_it_lists_exactly_the_interactions_of_the_statement(
    statement: dict[str, Any], document: dict[str, Any]
) -> None:
    rest = statement["rest"][0]
    declared = {i["code"] for r in rest["resource"] for i in r["interaction"]}
    declared |= {i["code"] for i in rest["interaction"]}
    listed = {code for _, _, op in operations(document) for code in op["x-fhir-interaction"]}
    assert listed - {"capabilities", "operation"} == declared
    for _, _, operation in operations(document):
        types = type_enum(document, operation)
        for code in operation["x-fhir-interaction"]:
            supporting = sorted(
                r["type"] for r in rest["resource"] if code in {i["code"] for i in r["interaction"]}
            )
            if types is not None and code != "operation":
                assert types == supporting, operation["operationId"]
    operations_named = {op["operationId"] for _, _, op in operations(document)}
    assert {"reindexSystem", "reindexType"} <= operations_named
    everything = {"everythingInstance", "everythingInstancePost", "everythingType"}
    assert everything <= operations_named
    instance = document["paths"]["/{type}/{id}/$everything"]["get"]
    assert type_enum(document, instance) == ["Patient"]
    assert document["servers"] == [{"url": BASE}]
    for _, _, operation in operations(document):
        for media in operation.get("requestBody", {}).get("content", {}):
            allowed = statement["format"] + statement["patchFormat"]
            assert media in [*allowed, "application/x-www-form-urlencoded"]


def test_it_follows_the_statement_when_that_changes(statement: dict[str, Any]) -> None:
    """Fewer interactions, types or conditional flags: fewer operations."""
    changed = copy.deepcopy(statement)
    rest = changed["rest"][0]
    rest["resource"] = [r for r in rest["resource"] if r["type"] in ("Patient", "Goal")]
    for resource in rest["resource"]:
        resource["conditionalDelete"] = "not-supported"
        resource["conditionalUpdate"] = False
        resource["operation"] = []
        if resource["type"] == "Goal":
            resource["interaction"] = [i for i in resource["interaction"] if i["code"] != "vread"]
    rest["interaction"] = [i for i in rest["interaction"] if i["code"] != "history-system"]
    rest["operation"] = []
    document = json.loads(json.dumps(openapi_document(changed)))
    validate(document)
    ids = {op["operationId"] for _, _, op in operations(document)}
    assert not ids & {"conditionalDelete", "conditionalUpdate", "historySystem"}
    assert not ids & {"reindexSystem", "reindexType", "everythingInstance", "everythingType"}
    vread = document["paths"]["/{type}/{id}/_history/{vid}"]["get"]
    assert type_enum(document, vread) == ["Patient"]
    read = document["paths"]["/{type}/{id}"]["get"]
    assert type_enum(document, read) == ["Goal", "Patient"]


def test_every_operation_is_served_and_every_other_method_is_405(
    document: dict[str, Any],
) -> None:
    for path, item in document["paths"].items():
        segments = [SAMPLE.get(s.strip("{}"), s) for s in path.split("/") if s]
        for method in METHODS:
            if method in item:
                operation = item[method]
                chosen = route(method.upper(), segments)
                codes = operation["x-fhir-interaction"]
                if codes[0] == "operation":
                    expected = OPERATIONS[path.rsplit("$", 1)[1]]
                else:
                    expected = HANDLERS[(codes[0], operation["x-fhir-conditional"])]
                assert chosen.interaction.__name__ == expected, (method, path)
                continue
            with pytest.raises(FhirError) as refused:
                route(method.upper(), segments)
            assert refused.value.category == Category.NOT_ALLOWED, (method, path)
            allowed = sorted(refused.value.headers["Allow"].split(", "))
            assert allowed == sorted(m.upper() for m in item), path


def test_errors_are_operation_outcomes(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schemas = {media["schema"]["$ref"] for media in response["content"].values()}
                assert schemas == {"#/components/schemas/OperationOutcome"}, (method, path)
        if path.startswith("/{type}"):
            assert "404" in operation["responses"], (method, path)
