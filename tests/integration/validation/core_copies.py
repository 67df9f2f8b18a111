"""Copies of the core R4 definitions fhircare's profiles name, to store beside them.

fhircare-task slices ``Task.extension`` for ``resource-pertainsToGoal`` and
fhircare-communication binds ``category`` to ``communication-category``; both are core R4
definitions (https://hl7.org/fhir/R4/extension-resource-pertainstogoal.html,
https://hl7.org/fhir/R4/valueset-communication-category.html), reduced here to what a
validator reads. Stored, they let the extension and extensible-binding checks run.
"""

from __future__ import annotations

from typing import Any

from tests.integration.validation.corpus import COMMUNICATION_CATEGORY, PERTAINS_TO_GOAL

PERTAINS_TO_GOAL_DEFINITION: dict[str, Any] = {
    "resourceType": "StructureDefinition",
    "id": "resource-pertainsToGoal",
    "url": PERTAINS_TO_GOAL,
    "version": "4.0.1",
    "name": "pertainsToGoal",
    "status": "draft",
    "fhirVersion": "4.0.1",
    "kind": "complex-type",
    "abstract": False,
    "context": [{"type": "element", "expression": "Resource"}],
    "type": "Extension",
    "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
    "derivation": "constraint",
    "differential": {
        "element": [
            {"id": "Extension", "path": "Extension", "min": 0, "max": "*"},
            {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
            {"id": "Extension.url", "path": "Extension.url", "fixedUri": PERTAINS_TO_GOAL},
            {
                "id": "Extension.value[x]",
                "path": "Extension.value[x]",
                "min": 1,
                "type": [
                    {
                        "code": "Reference",
                        "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Goal"],
                    }
                ],
            },
        ]
    },
}

COMMUNICATION_CATEGORY_SYSTEM: dict[str, Any] = {
    "resourceType": "CodeSystem",
    "id": "communication-category",
    "url": COMMUNICATION_CATEGORY,
    "version": "4.0.1",
    "name": "CommunicationCategory",
    "status": "draft",
    "content": "complete",
    "concept": [{"code": c} for c in ("alert", "notification", "reminder", "instruction")],
}

COMMUNICATION_CATEGORY_VALUE_SET: dict[str, Any] = {
    "resourceType": "ValueSet",
    "id": "communication-category",
    "url": "http://hl7.org/fhir/ValueSet/communication-category",
    "version": "4.0.1",
    "name": "CommunicationCategory",
    "status": "draft",
    "compose": {"include": [{"system": COMMUNICATION_CATEGORY}]},
}

CORE_COPIES = (
    PERTAINS_TO_GOAL_DEFINITION,
    COMMUNICATION_CATEGORY_SYSTEM,
    COMMUNICATION_CATEGORY_VALUE_SET,
)
