"""The core R4 conformance resources every ProfileSet has beneath the server's own.

``data/core-r4.json`` is written by ``scripts/core_definitions.py`` from the official R4
definitions: every core extension definition (https://hl7.org/fhir/R4/extensibility-registry.html)
as its differential, the FHIR-defined CodeSystems held in full as their codes, and the
ValueSets that expand from those alone (no SNOMED CT, LOINC or filters). A profile may then
use ``resource-pertainsToGoal`` or bind to ``communication-category`` without the server
holding them. A resource the server stores with the same canonical url takes precedence.
Read once, on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import orjson

_DATA = "core-r4.json"
EXTENSION_BASE = "http://hl7.org/fhir/StructureDefinition/Extension"


def extension_definition(url: str, compact: Mapping[str, Any]) -> dict[str, Any]:
    """The StructureDefinition of a core extension from its packaged differential."""
    return {
        "resourceType": "StructureDefinition",
        "url": url,
        "name": url.rpartition("/")[2],
        "kind": "complex-type",
        "type": "Extension",
        "baseDefinition": EXTENSION_BASE,
        "derivation": "constraint",
        "differential": {"element": list(compact.get("elements", ()))},
    }


@dataclass(frozen=True, slots=True)
class CoreLayer:
    """Core definitions by canonical url: extension StructureDefinitions and ValueSets in
    their FHIR shape, CodeSystems as the set of their codes."""

    extensions: Mapping[str, Mapping[str, Any]]
    value_sets: Mapping[str, Mapping[str, Any]]
    code_systems: Mapping[str, frozenset[str]]


@cache
def core_layer() -> CoreLayer:
    raw = orjson.loads(
        resources.files("fhircare.validation.profiles.data").joinpath(_DATA).read_bytes()
    )
    return CoreLayer(
        extensions={
            url: extension_definition(url, compact)
            for url, compact in raw["StructureDefinition"].items()
        },
        value_sets={
            url: {"resourceType": "ValueSet", "url": url, **value_set}
            for url, value_set in raw["ValueSet"].items()
        },
        code_systems={url: frozenset(s["codes"]) for url, s in raw["CodeSystem"].items()},
    )


EMPTY = CoreLayer({}, {}, {})
"""No core layer: a ProfileSet of the given resources alone."""
