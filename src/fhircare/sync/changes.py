"""The versions a remote reports, read from its history or search Bundles.

https://hl7.org/fhir/R4/http.html#history: an entry holds a version (``resource``) or, for a
delete, ``request.method`` DELETE and no resource; the id is in ``request.url``
(``Type/id``, HAPI adds ``/_history/n``) or ``fullUrl``, the version in ``response.etag``
or ``meta.versionId``, the time in ``response.lastModified`` or ``meta.lastUpdated``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhircare.fhir.ids import parse_instant

_URL = re.compile(
    r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/(?P<version>[^/?]+))?/?$"
)
_ETAG = re.compile(r'^(?:W/)?"?(?P<version>[^"]+)"?$')


class MalformedEntry(Exception):
    """An entry that names no resource type and id; the message says which field."""


@dataclass(frozen=True)
class RemoteChange:
    """One version on the remote: ``resource`` is None for a delete."""

    resource_type: str
    id: str
    version: str | None
    last_updated: datetime | None
    resource: dict[str, Any] | None

    @property
    def deleted(self) -> bool:
        return self.resource is None

    @property
    def key(self) -> str:
        return f"{self.resource_type}/{self.id}"


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value, "lastUpdated")
    except Exception:
        return None


def change_of(entry: dict[str, Any], index: int) -> RemoteChange | None:
    """The change an entry reports; None for an entry of another kind (an
    OperationOutcome with ``search.mode`` outcome, an ``_include``)."""
    if (entry.get("search") or {}).get("mode") in ("include", "outcome"):
        return None
    request = entry.get("request") or {}
    response = entry.get("response") or {}
    resource = entry.get("resource")
    if resource is not None and not isinstance(resource, dict):
        raise MalformedEntry(f"entry[{index}].resource is not an object")
    if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
        return None
    deleted = str(request.get("method", "")).upper() == "DELETE" or resource is None
    url_match = None
    for candidate in (request.get("url"), entry.get("fullUrl")):
        if isinstance(candidate, str):
            url_match = _URL.search(candidate.split("?")[0])
            if url_match is not None:
                break
    if not deleted:
        assert resource is not None
        resource_type, id = resource.get("resourceType"), resource.get("id")
        meta = resource.get("meta") or {}
        version = meta.get("versionId")
        updated = _instant(meta.get("lastUpdated"))
    else:
        if url_match is None:
            raise MalformedEntry(f"entry[{index}] is a delete without request.url or fullUrl")
        resource_type, id, version, updated = url_match["type"], url_match["id"], None, None
    if not isinstance(resource_type, str) or not isinstance(id, str):
        raise MalformedEntry(f"entry[{index}].resource has no resourceType and id")
    if version is None and url_match is not None and url_match["id"] == id:
        version = url_match["version"]
    etag = _ETAG.match(str(response.get("etag", "")))
    if version is None and etag is not None:
        version = etag["version"]
    if updated is None:
        updated = _instant(response.get("lastModified"))
    return RemoteChange(
        resource_type, id, None if version is None else str(version), updated, resource
    )


def changes_of(bundle: dict[str, Any]) -> list[RemoteChange]:
    found = []
    for index, entry in enumerate(bundle.get("entry") or []):
        if not isinstance(entry, dict):
            raise MalformedEntry(f"entry[{index}] is not an object")
        change = change_of(entry, index)
        if change is not None:
            found.append(change)
    return found
