"""The router of the transactions the care operations write: creates only.

``$apply`` and ``$extract`` with ``persist=true`` write what they made as one transaction
(``interactions/transaction.py``), so validation, versioning, indexing and the write rules
apply as to any other write and either every resource lands or none does
(https://hl7.org/fhir/R4/http.html#transaction). Their entries are only ``POST [type]``, so
the router they need knows creates alone (the HTTP router lives in ``rest/``, which care
does not import).
"""

from __future__ import annotations

from dataclasses import dataclass

from fhircare.fhir import errors
from fhircare.interactions.bundle_requests import Interaction
from fhircare.interactions.create import create


@dataclass(frozen=True)
class CreateRoute:
    """``POST [type]`` as ``bundle_requests.Routed`` describes a route."""

    resource_type: str
    interaction: Interaction = create
    id: str | None = None
    version: str | None = None
    body: str | None = "resource"
    shapes_resource: bool = False


def creates_only(method: str, segments: list[str]) -> CreateRoute:
    """Route ``POST [type]``; anything else is not what a care operation writes."""
    if method != "POST" or len(segments) != 1:
        raise errors.processing(f"A care operation's transaction only creates, not {method}")
    return CreateRoute(segments[0])
