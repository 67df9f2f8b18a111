"""The BSON shape of current and history documents.

The resource JSON is kept as a string: BSON would lose decimal text, and FerretDB has no
Decimal128, no nested arrays and no ``$``-keys, all of which FHIR JSON may hold.
"""

from __future__ import annotations

from typing import Any

from fhircare.storage.protocol import StoredVersion, Write


def resource_key(resource_type: str, id: str) -> str:
    return f"{resource_type}/{id}"


def history_key(resource_type: str, id: str, version: int) -> str:
    return f"{resource_type}/{id}/{version}"


def history_document(write: Write, seq: int) -> dict[str, Any]:
    """The intent of a write; its unique ``_id`` reserves the version number."""
    return {
        "_id": history_key(write.resource_type, write.id, write.version),
        "type": write.resource_type,
        "rid": write.id,
        "version": write.version,
        "seq": seq,
        "lastUpdated": write.last_updated,
        "method": write.method,
        "json": None if write.body is None else write.body.decode("utf-8"),
        "applied": False,
    }


def current_fields(history: dict[str, Any]) -> dict[str, Any]:
    """The fields of the current document that a history document sets."""
    return {
        "type": history["type"],
        "rid": history["rid"],
        "version": history["version"],
        "seq": history["seq"],
        "lastUpdated": history["lastUpdated"],
        "method": history["method"],
        "json": history["json"],
        "deleted": history["json"] is None,
    }


def to_stored(document: dict[str, Any]) -> StoredVersion:
    body = document["json"]
    return StoredVersion(
        resource_type=document["type"],
        id=document["rid"],
        version=document["version"],
        last_updated=document["lastUpdated"],
        method=document["method"],
        body=None if body is None else body.encode("utf-8"),
        seq=document["seq"],
    )
