"""What the Synthea bundles hold: the resources a server should end up with, and the facts
about each patient that the queries are built from.

Pure functions over parsed bundles, so they are tested on hand-made ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Bundle = dict[str, Any]

SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"
"""The identifier system Synthea gives every Patient (its own uuid as the value)."""
LOINC = "http://loinc.org"
COUNTED = (
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "CarePlan",
    "Practitioner",
    "Organization",
)
"""The types whose counts the checks compare."""


def expected_counts(bundles: Iterable[Bundle], types: Iterable[str] = COUNTED) -> dict[str, int]:
    """How many resources of each type an empty server holds once every bundle is loaded:
    a conditional create (``ifNoneExist``) counts once however often it is sent, and so does
    a conditional or plain update of the same URL; every other POST counts each time."""
    wanted = set(types)
    plain: Counter[str] = Counter()
    once: set[tuple[str, str]] = set()
    for bundle in bundles:
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") or {}
            kind = resource.get("resourceType")
            if kind not in wanted:
                continue
            request = entry.get("request") or {}
            method = request.get("method", "POST")
            if method == "POST" and not request.get("ifNoneExist"):
                plain[kind] += 1
            elif method == "POST":
                once.add((kind, request["ifNoneExist"]))
            elif method == "PUT":
                once.add((kind, request.get("url", "")))
    counts = {kind: plain[kind] for kind in types}
    for kind, _ in once:
        counts[kind] += 1
    return counts


@dataclass(frozen=True)
class PatientFacts:
    """One Synthea patient as the queries see it, read from its transaction bundle."""

    synthea_id: str
    family: str
    birthdate: str
    entries: int
    observation_codes: dict[str, int] = field(default_factory=dict)
    """LOINC code -> number of the patient's Observations with it."""
    quantity_values: dict[str, list[float]] = field(default_factory=dict)
    """LOINC code -> the ``valueQuantity.value`` of those Observations."""
    encounter_years: list[int] = field(default_factory=list)


def _loinc(codeable: dict[str, Any] | None) -> str | None:
    for coding in (codeable or {}).get("coding") or []:
        if coding.get("system") == LOINC and coding.get("code"):
            return str(coding["code"])
    return None


def _synthea_id(patient: dict[str, Any]) -> str | None:
    for identifier in patient.get("identifier") or []:
        if identifier.get("system") == SYNTHEA_SYSTEM and identifier.get("value"):
            return str(identifier["value"])
    return None


def patient_facts(bundle: Bundle) -> PatientFacts | None:
    """The facts of the bundle's Patient, or None when it holds no Patient with a Synthea
    identifier (a hospital or practitioner bundle)."""
    entries = bundle.get("entry") or []
    resources = [entry.get("resource") or {} for entry in entries]
    patients = [r for r in resources if r.get("resourceType") == "Patient" and _synthea_id(r)]
    if not patients:
        return None
    patient = patients[0]
    names = patient.get("name") or [{}]
    official = next((n for n in names if n.get("use") == "official"), names[0])
    codes: Counter[str] = Counter()
    values: dict[str, list[float]] = {}
    years: list[int] = []
    for resource in resources:
        kind = resource.get("resourceType")
        if kind == "Observation":
            code = _loinc(resource.get("code"))
            if code is None:
                continue
            codes[code] += 1
            value = (resource.get("valueQuantity") or {}).get("value")
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.setdefault(code, []).append(float(value))
        elif kind == "Encounter":
            start = (resource.get("period") or {}).get("start", "")
            if len(start) >= 4 and start[:4].isdigit():
                years.append(int(start[:4]))
    return PatientFacts(
        synthea_id=_synthea_id(patient) or "",
        family=str(official.get("family", "")),
        birthdate=str(patient.get("birthDate", "")),
        entries=len(entries),
        observation_codes=dict(codes),
        quantity_values=values,
        encounter_years=sorted(years),
    )
