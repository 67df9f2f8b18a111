"""AuditEvents of refused requests and of writes, under ``FHIRCARE_AUTH=smart``.

One AuditEvent per HTTP request (https://hl7.org/fhir/R4/auditevent.html), stored like any
resource so that it can be read and searched (``AuditEvent?patient=``, ``?outcome=``,
``?agent=``): who (the token's ``fhirUser``, else its subject, and its client id), what (the
interaction as a http://hl7.org/fhir/restful-interaction code, the resources written, the
launch patient), when, from where, and the outcome (``0`` success, ``4`` refused, with the
reason). The record is written with the server's own full access; a failure to record is
logged and does not change the answer the client gets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fhircare.fhir import jsonio
from fhircare.fhir.ids import format_instant, now
from fhircare.interactions.access import FULL, PATIENT, Access
from fhircare.interactions.create import create
from fhircare.interactions.request import Context, FhirRequest

log = logging.getLogger(__name__)

AUDIT_EVENT = "AuditEvent"
EVENT_TYPE = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "RESTful Operation",
}
INTERACTIONS = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPES = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLES = "http://terminology.hl7.org/CodeSystem/object-role"
SUCCESS = "0"
REFUSED = "4"
_BUNDLES = ("transaction", "batch")
_ACTIONS = {"POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D", "GET": "R", "HEAD": "R"}


@dataclass(frozen=True)
class Audited:
    """What happened: the request, its interaction code and outcome, what it wrote."""

    method: str
    path: str
    kind: str
    outcome: str
    description: str = ""
    written: Sequence[str] = ()
    """``Type/id/_history/version`` of each resource version the request wrote."""
    address: str | None = None


def audit_event(access: Access, what: Audited) -> dict[str, Any]:
    """The AuditEvent of one request."""
    claims = access.claims
    who: dict[str, Any] = {}
    if claims is not None and claims.fhir_user:
        who = {"reference": claims.fhir_user}
    elif claims is not None and claims.subject:
        who = {"identifier": {"value": claims.subject}}
    else:
        who = {"display": "anonymous"}
    agent: dict[str, Any] = {"who": who, "requestor": True}
    if claims is not None and claims.client_id:
        agent["altId"] = claims.client_id
    if what.address:
        agent["network"] = {"address": what.address, "type": "2"}
    operation = what.kind.startswith("$")
    entities = [
        {"what": {"reference": written}, "role": _role("4", "Domain Resource")}
        for written in what.written
    ]
    if access.patient:
        entities.append(
            {
                "what": {"reference": f"{PATIENT}/{access.patient}"},
                "type": {"system": ENTITY_TYPES, "code": "1", "display": "Person"},
                "role": _role("1", "Patient"),
            }
        )
    event: dict[str, Any] = {
        "resourceType": AUDIT_EVENT,
        "type": EVENT_TYPE,
        "action": "E" if operation or what.kind in _BUNDLES else _ACTIONS.get(what.method, "E"),
        "recorded": format_instant(now()),
        "outcome": what.outcome,
        "agent": [agent],
        "source": {"observer": {"display": "fhircare"}},
        "entity": [
            {"what": {"display": f"{what.method} {what.path}"[:500]}, "role": _role("3", "Report")},
            *entities,
        ],
    }
    if what.kind:
        code = "operation" if operation else what.kind.split("-conditional")[0]
        event["subtype"] = [{"system": INTERACTIONS, "code": code}]
    if what.description:
        event["outcomeDesc"] = what.description[:1000]
    return event


async def record(context: Context, access: Access, what: Audited, base_url: str = "") -> None:
    """Store the AuditEvent of one request, with the server's full access."""
    full = replace(context, access=FULL)
    body = jsonio.dumps(audit_event(access, what))
    request = FhirRequest("POST", AUDIT_EVENT, body=body, base_url=base_url)
    try:
        await create(full, request)
    except Exception:  # the client's answer stands; a lost record is logged
        log.exception("could not record the AuditEvent of %s %s", what.method, what.path)


@dataclass(frozen=True)
class Answer:
    """What a successful answer to a write says for its audit record."""

    kind: str
    """The interaction; for ``POST [base]``, ``transaction`` or ``batch`` as answered."""
    written: tuple[str, ...]
    """``Type/id/_history/version`` of each version written."""
    refused: tuple[str, ...]
    """``entry[i] 403`` for each batch entry refused for want of scope (401/403)."""


def read_answer(kind: str, headers: Mapping[str, str], body: bytes | None) -> Answer:
    """The versions an answer names: its ``Location`` (a create, update or patch) or, for a
    Bundle answer (a batch, a transaction, an operation that wrote several), each entry's
    ``response.location``; the body is read once, and only when it is a Bundle."""
    location = headers.get("Location") or headers.get("location")
    if location:
        return Answer(kind, (_relative(location),), ())
    if not body or b'"Bundle"' not in body[:200]:
        return Answer(kind, (), ())
    bundle = jsonio.loads(body)
    if not kind:
        kind = "batch" if bundle.get("type") == "batch-response" else "transaction"
    written: list[str] = []
    refused: list[str] = []
    for index, entry in enumerate(bundle.get("entry") or []):
        response = (entry or {}).get("response") or {}
        if isinstance(response.get("location"), str):
            written.append(_relative(response["location"]))
        status = str(response.get("status", ""))[:3]
        if kind == "batch" and status in ("401", "403"):
            refused.append(f"entry[{index}] {status}")
    return Answer(kind, tuple(written), tuple(refused))


def _relative(location: str) -> str:
    """``Type/id/_history/v`` out of an absolute or relative location."""
    parts = location.split("?", 1)[0].rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        return "/".join(parts[-4:])
    return "/".join(parts[-2:])


def _role(code: str, display: str) -> dict[str, Any]:
    return {"system": OBJECT_ROLES, "code": code, "display": display}
