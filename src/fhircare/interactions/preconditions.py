"""Conditional headers. https://hl7.org/fhir/R4/http.html#concurrency and #cread"""

from __future__ import annotations

from fhircare.fhir import errors
from fhircare.fhir.ids import parse_etag, parse_http_date
from fhircare.interactions.request import FhirRequest
from fhircare.storage.protocol import StoredVersion


def if_match(request: FhirRequest) -> int | None:
    """The version an ``If-Match`` header demands, or None without one."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    version = parse_etag(header)
    if version is None:
        raise errors.invalid(f"If-Match '{header[:40]}' is not a version ETag like W/\"3\"")
    return version


def check_if_match(request: FhirRequest, current: StoredVersion | None) -> None:
    """412 when ``If-Match`` names another version than the current one."""
    wanted = if_match(request)
    if wanted is None:
        return
    have = 0 if current is None else current.version
    if wanted != have:
        raise errors.precondition(
            f'If-Match W/"{wanted}" does not match the current version W/"{have}"'
        )


def not_modified(request: FhirRequest, current: StoredVersion) -> bool:
    """True when ``If-None-Match`` or ``If-Modified-Since`` says the client's copy is current."""
    none_match = request.headers.get("if-none-match")
    if none_match is not None:
        tags = {parse_etag(tag) for tag in none_match.split(",")}
        return current.version in tags or none_match.strip() == "*"
    modified_since = request.headers.get("if-modified-since")
    if modified_since is not None:
        since = parse_http_date(modified_since)
        return since is not None and current.last_updated.replace(microsecond=0) <= since
    return False
