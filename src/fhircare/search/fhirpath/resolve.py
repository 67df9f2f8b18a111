"""``resolve()`` for fhirpathpy, which has none: it fetches nothing.

For a Reference it yields a stand-in resource ``{"resourceType": T, "id": id}`` whose type
``T`` is read from the reference string (``Patient/1``, an absolute
``http://x/fhir/Patient/1``, ``.../_history/2``), from ``#id`` (the contained resource of
that id), or from ``Reference.type`` when the string says nothing. So
``subject.where(resolve() is Patient)`` keeps exactly the references to a Patient, and a
reference whose type cannot be told (``urn:uuid:``, a logical reference without ``type``)
is left out of such a filter.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Mapping
from typing import Any

from fhirpathpy.engine.nodes import ResourceNode

# The resource being evaluated, so resolve() can find a contained resource for ``#id``.
CURRENT_RESOURCE: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "fhircare_fhirpath_resource", default=None
)

_REFERENCE = re.compile(
    r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)
_TYPE_URL = re.compile(r"^(?:http://hl7\.org/fhir/StructureDefinition/)?(?P<type>[A-Z][A-Za-z]+)$")


def reference_target(
    reference: Any, container: Mapping[str, Any] | None = None
) -> tuple[str, str | None] | None:
    """``(type, id)`` that a Reference (or a reference string) points at, when it says;
    ``container`` is the resource holding it (for ``#id``, its contained resources)."""
    text: Any = reference
    declared: Any = None
    if isinstance(reference, Mapping):
        text = reference.get("reference")
        declared = reference.get("type")
    if isinstance(text, str):
        if text.startswith("#"):
            target: Any = None
            if container is None:
                pass
            elif text == "#":
                target = container
            else:
                for contained in container.get("contained") or ():
                    if isinstance(contained, Mapping) and contained.get("id") == text[1:]:
                        target = contained
                        break
            if isinstance(target, Mapping) and isinstance(target.get("resourceType"), str):
                return target["resourceType"], target.get("id")
        else:
            match = _REFERENCE.search(text)
            if match:
                return match["type"], match["id"]
    if isinstance(declared, str):
        match = _TYPE_URL.match(declared)
        if match:
            return match["type"], None
    return None


def _resolve(inputs: list[Any]) -> list[ResourceNode]:
    out = []
    container = CURRENT_RESOURCE.get()
    for item in inputs:
        target = reference_target(item, container)
        if target is not None:
            stand_in = {"resourceType": target[0]}
            if target[1] is not None:
                stand_in["id"] = target[1]
            out.append(ResourceNode.create_node(stand_in))
    return out


OPTIONS: dict[str, Any] = {
    "returnRawData": True,
    "userInvocationTable": {"resolve": {"fn": _resolve, "arity": {0: []}}},
}
