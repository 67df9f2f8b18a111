"""The BSON shape of current, history and journal documents.

The resource JSON is kept as a string: BSON would lose decimal text, and FerretDB has no
Decimal128, no nested arrays and no ``$``-keys, all of which FHIR JSON may hold.
"""

from __future__ import annotations

from typing import Any

from fhircare.storage.protocol import StoredVersion, Write, resource_key

Document = dict[str, Any]
"""A BSON document as pymongo reads and writes it."""


def version_key(resource_type: str, id: str, version: int) -> str:
    return f"{resource_key(resource_type, id)}/{version}"


def version_document(write: Write, seq: int) -> dict[str, Any]:
    """One version, as the journal and the history keep it; ``_id`` is ``Type/id/version``."""
    return {
        "_id": version_key(write.resource_type, write.id, write.version),
        "type": write.resource_type,
        "rid": write.id,
        "version": write.version,
        "seq": seq,
        "lastUpdated": write.last_updated,
        "method": write.method,
        "json": None if write.body is None else write.body.decode("utf-8"),
        "idx": list(write.index),
        "sk": write.sort_values or {},
    }


def entry_version(entry: dict[str, Any]) -> dict[str, Any]:
    """The version a journal entry reserves, without what only the journal keeps (when it
    was reserved, the transaction it belongs to)."""
    return {k: v for k, v in entry.items() if k not in ("reservedAt", "tx")}


def history_document(version: dict[str, Any]) -> dict[str, Any]:
    """History keeps the version without its index entries (only current ones are searched)
    but with its sort values ``sk``: exact paging places a resource changed during a walk
    where its earlier version stood (``SearchQuery.as_of``)."""
    return {k: v for k, v in version.items() if k != "idx"}


def current_fields(version: dict[str, Any]) -> dict[str, Any]:
    """The fields of the current document that a version sets."""
    fields = {k: v for k, v in version.items() if k != "_id"}
    fields["deleted"] = version["json"] is None
    return fields


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
