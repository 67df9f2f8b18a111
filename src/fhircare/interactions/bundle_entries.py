"""Reading the Bundle of ``POST [base]`` into checked entries.

https://hl7.org/fhir/R4/http.html#transaction and https://hl7.org/fhir/R4/bundle.html.
Only the shape a batch or transaction needs is checked here (400 naming the element, as
``Bundle.entry[2].request.url``); each entry's resource is validated later by the
interaction it goes to, like the body of a single request.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from fhircare.fhir import errors, jsonio
from fhircare.interactions.request import Limits

BUNDLE_TYPES = ("batch", "transaction")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
PROCESSING_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
"""http.html#trules: deletes, then creates, then updates and patches, then reads."""

HEADERS = {
    "ifNoneExist": "if-none-exist",
    "ifMatch": "if-match",
    "ifNoneMatch": "if-none-match",
    "ifModifiedSince": "if-modified-since",
}
"""``Bundle.entry.request`` elements and the HTTP headers they stand for."""


@dataclass(frozen=True)
class BundleEntry:
    """One entry: its position, its request (the url split into path segments and query)
    and its resource; ``body`` is what the request would carry over HTTP."""

    index: int
    method: str
    url: str
    segments: tuple[str, ...]
    query: tuple[tuple[str, str], ...]
    full_url: str | None = None
    resource: dict[str, Any] | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def writes(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")

    @property
    def target(self) -> tuple[str, str] | None:
        """``(type, id)`` when the url names one resource (``Type/id``)."""
        if len(self.segments) == 2 and not self.segments[1].startswith(("_", "$")):
            return self.segments[0], self.segments[1]
        return None


@dataclass(frozen=True)
class ParsedBundle:
    type: str
    entries: list[BundleEntry]


def parse_bundle(body: bytes, base_url: str, limits: Limits) -> ParsedBundle:
    """The batch or transaction in ``body``: 400 for anything else or a malformed entry,
    413 for more than ``limits.max_bundle_entries`` entries."""
    document = jsonio.loads(body) if body.strip() else None
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        found = document.get("resourceType") if isinstance(document, dict) else None
        raise errors.invalid(
            f"POST [base] takes a Bundle of type batch or transaction, not {found or 'this'}",
            "resourceType",
        )
    bundle_type = document.get("type")
    if bundle_type not in BUNDLE_TYPES:
        raise errors.invalid(
            f"Bundle.type '{str(bundle_type)[:40]}' cannot be processed: POST [base] takes "
            "a batch or a transaction",
            "Bundle.type",
        )
    raw = document.get("entry", [])
    if not isinstance(raw, list):
        raise errors.invalid("Bundle.entry must be an array", "Bundle.entry")
    if len(raw) > limits.max_bundle_entries:
        raise errors.too_large(
            f"The Bundle has {len(raw)} entries; the limit is {limits.max_bundle_entries}"
        )
    entries = [_entry(index, item, base_url) for index, item in enumerate(raw)]
    for entry in entries:
        if entry.resource is not None and jsonio.deeper_than(entry.resource, limits.max_json_depth):
            raise errors.invalid(
                f"{entry.where}.resource nests deeper than {limits.max_json_depth} levels",
                f"{entry.where}.resource",
                code="too-costly",
            )
    return ParsedBundle(bundle_type, entries)


def in_processing_order(entries: list[BundleEntry]) -> list[BundleEntry]:
    return sorted(entries, key=lambda e: (PROCESSING_ORDER[e.method], e.index))


def _entry(index: int, item: Any, base_url: str) -> BundleEntry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(item, dict):
        raise errors.invalid(f"{where} must be an object", where)
    request = item.get("request")
    if not isinstance(request, dict):
        raise errors.invalid(f"{where}.request is required", f"{where}.request", code="required")
    method = request.get("method")
    if method not in METHODS:
        raise errors.invalid(
            f"{where}.request.method must be one of {', '.join(METHODS)}, not '{str(method)[:20]}'",
            f"{where}.request.method",
        )
    url = request.get("url")
    if not isinstance(url, str) or not url.strip():
        raise errors.invalid(
            f"{where}.request.url is required", f"{where}.request.url", code="required"
        )
    path, query = _split_url(url.strip(), base_url, where)
    headers = {}
    for element, header in HEADERS.items():
        value = request.get(element)
        if value is None:
            continue
        if not isinstance(value, str):
            raise errors.invalid(
                f"{where}.request.{element} must be a string", f"{where}.request.{element}"
            )
        headers[header] = value
    full_url = item.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        raise errors.invalid(f"{where}.fullUrl must be a string", f"{where}.fullUrl")
    resource = item.get("resource")
    if resource is not None and not (
        isinstance(resource, dict) and isinstance(resource.get("resourceType"), str)
    ):
        raise errors.invalid(
            f"{where}.resource must be a resource (an object with a resourceType)",
            f"{where}.resource",
        )
    return BundleEntry(
        index,
        method,
        path + (f"?{query}" if query else ""),
        tuple(unquote(s) for s in path.split("/") if s),
        tuple(parse_qsl(query, keep_blank_values=True)),
        full_url or None,
        resource,
        _body(method, resource, where),
        headers,
    )


def _split_url(url: str, base_url: str, where: str) -> tuple[str, str]:
    """The url relative to the base, split at ``?``: an absolute url must be this base's."""
    if base_url and (url == base_url or url.startswith((base_url + "/", base_url + "?"))):
        url = url[len(base_url) :]
    elif "://" in url.split("?", 1)[0]:
        raise errors.invalid(
            f"{where}.request.url '{url[:100]}' is not on this server; use a url relative "
            "to the base, as Patient/123",
            f"{where}.request.url",
        )
    path, _, query = url.lstrip("/").partition("?")
    return path, query


def _body(method: str, resource: dict[str, Any] | None, where: str) -> bytes:
    """What the entry would send as an HTTP body: the resource for POST and PUT, the JSON
    Patch inside a Binary for PATCH (http.html#transaction), nothing otherwise."""
    if method in ("POST", "PUT"):
        if resource is None:
            raise errors.invalid(
                f"{where}.resource is required for {method}", f"{where}.resource", code="required"
            )
        return jsonio.dumps(resource)
    if method != "PATCH":
        return b""
    if resource is None or resource.get("resourceType") != "Binary":
        raise errors.invalid(
            f"{where}.resource of a PATCH must be a Binary holding a JSON Patch "
            "(contentType application/json-patch+json)",
            f"{where}.resource",
        )
    content_type = str(resource.get("contentType", "application/json-patch+json"))
    if content_type.split(";")[0].strip() != "application/json-patch+json":
        raise errors.invalid(
            f"{where}.resource.contentType '{content_type[:60]}': only JSON Patch "
            "(application/json-patch+json) is supported",
            f"{where}.resource.contentType",
        )
    try:
        return base64.b64decode(str(resource.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise errors.invalid(
            f"{where}.resource.data is not base64", f"{where}.resource.data"
        ) from None
