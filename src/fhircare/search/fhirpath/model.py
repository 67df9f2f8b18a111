"""The R4 model fhirpathpy types with, and the rules every evaluator here shares with it.

Its own module so the walker, the evaluator and the composites agree on one ``kept``
and one ``is_a``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fhirpathpy.models import models

R4_MODEL: dict[str, Any] = models["r4"]
COMMON_ROOTS = ("Resource", "DomainResource")

Evaluator = Callable[[Mapping[str, Any]], list[Any]]


def kept(value: Any) -> bool:
    """fhirpathpy's own rule (an element holding only extensions is not a value), and None."""
    if value is None:
        return False
    return not (isinstance(value, dict) and list(value) == ["extension"])


def is_a(type_name: str | None, super_type: str) -> bool:
    """fhirpathpy's ``TypeInfo.is_type``: the type, its parents, its element types."""
    seen = set()
    while type_name and type_name not in seen:
        if type_name == super_type:
            return True
        seen.add(type_name)
        type_name = R4_MODEL["type2Parent"].get(type_name) or R4_MODEL["path2Type"].get(type_name)
    return False
