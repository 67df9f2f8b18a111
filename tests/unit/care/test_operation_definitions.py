"""Each care operation is declared once (``care/registry.py``) and described by an
OperationDefinition in ``profiles/``: the two agree on the code, the types and levels, and
every input's name, type and cardinality, and the definition is valid R4."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhircare.care.operation import CareOperation
from fhircare.care.registry import CARE_OPERATIONS
from fhircare.interactions.request import Limits
from fhircare.interactions.resource_body import check_resource

PROFILES = Path(__file__).resolve().parents[3] / "profiles"


def definitions() -> dict[str, dict[str, Any]]:
    found = {}
    for path in PROFILES.glob("OperationDefinition-*.json"):
        resource = json.loads(path.read_text())
        found[resource["url"]] = resource
    return found


@pytest.mark.parametrize("op", CARE_OPERATIONS, ids=lambda op: op.name)
def test_the_definition_matches_the_declaration(op: CareOperation) -> None:
    definition = definitions().get(op.definition)
    assert definition is not None, f"no OperationDefinition in profiles/ has url {op.definition}"
    for engine in ("fhirkit", "models"):
        check_resource(definition, "OperationDefinition", Limits(validator=engine))
    assert definition["code"] == op.name
    assert sorted(definition["resource"]) == sorted(op.types)
    assert (definition["system"], definition["type"], definition["instance"]) == (
        False,
        op.type_level,
        op.instance,
    )
    assert definition["affectsState"] is op.affects_state
    inputs = [
        (p["name"], p.get("type"), p["min"], p["max"])
        for p in definition["parameter"]
        if p["use"] == "in"
    ]
    assert inputs == [(i.name, i.type, i.min, i.max) for i in op.inputs]
    assert all(p.get("documentation") for p in definition["parameter"])
    assert any(p["use"] == "out" for p in definition["parameter"])


def test_every_operation_definition_has_a_unique_id_and_url() -> None:
    resources = [json.loads(p.read_text()) for p in PROFILES.glob("OperationDefinition-*.json")]
    assert len({r["id"] for r in resources}) == len(resources)
    assert len({r["url"] for r in resources}) == len(resources)
