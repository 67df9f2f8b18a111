"""Every care operation (``operation.py``), by name: what routes, the CapabilityStatement
and the OpenAPI document list."""

from __future__ import annotations

from fhircare.care.apply import operation as apply
from fhircare.care.extract import operation as extract
from fhircare.care.operation import CareOperation
from fhircare.care.progress import operation as progress
from fhircare.care.worklist import operation as worklist

CARE_OPERATIONS: tuple[CareOperation, ...] = (
    worklist.OPERATION,
    progress.OPERATION,
    apply.OPERATION,
    extract.OPERATION,
)

CARE_BY_NAME = {op.name: op for op in CARE_OPERATIONS}


def operations_of(resource_type: str) -> list[CareOperation]:
    """The care operations on ``resource_type``."""
    return [op for op in CARE_OPERATIONS if resource_type in op.types]


def type_operations() -> dict[str, tuple[dict[str, str], ...]]:
    """Each type's care operations as CapabilityStatement ``rest.resource.operation``s."""
    found: dict[str, list[dict[str, str]]] = {}
    for op in CARE_OPERATIONS:
        for resource_type in op.types:
            found.setdefault(resource_type, []).append(
                {"name": op.name, "definition": op.definition}
            )
    return {t: tuple(ops) for t, ops in found.items()}
