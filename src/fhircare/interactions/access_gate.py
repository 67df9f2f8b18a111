"""The gate of each interaction: the scope letters it needs, checked before it runs.

``ACTIONS_OF`` (``security/scopes_actions.py``) says which letters of ``cruds`` an
interaction or operation needs; ``check`` asks the request's ``Access`` for them on the
interaction's resource type (403 naming the missing scope). Queries without a type
(``GET [base]?``, ``[base]/_history``) pass when some type is granted ``s``; the caller's
store view (``access_store.py``) then returns only the types and resources it may see.
Batch and transaction Bundles have no letters of their own: each entry is routed, and
gated, as the interaction it is.
"""

from __future__ import annotations

from fhircare.interactions.access import Access, forbidden
from fhircare.interactions.request import FhirRequest
from fhircare.security.scopes import ACTIONS_OF, SYSTEM_WIDE_OPERATIONS


def interaction_kind(kind: str, request: FhirRequest, conditional_delete: str) -> str:
    """The restful-interaction code of this request to ``kind``'s route (a create with
    ``If-None-Exist`` is a conditional create; a conditional delete is single or multiple)."""
    if kind == "create" and "if-none-exist" in request.headers:
        return "create-conditional"
    if kind == "delete-conditional":
        return f"delete-conditional-{conditional_delete}"
    return kind


def check(access: Access, kind: str, request: FhirRequest, resource_types: frozenset[str]) -> None:
    """403 unless ``access`` allows ``kind`` (a restful-interaction code or ``$operation``)."""
    if access.unrestricted:
        return
    if kind in SYSTEM_WIDE_OPERATIONS:
        access.require_system(kind)
        return
    letters = ACTIONS_OF.get(kind)
    if letters is None:
        raise forbidden(f"'{kind}' is not open to SMART tokens")
    if not letters:
        return
    if request.resource_type is None:
        if not any(access.allows(t, letter) for t in resource_types for letter in letters):
            access.require("*", letters)
        return
    access.require(request.resource_type, letters)
