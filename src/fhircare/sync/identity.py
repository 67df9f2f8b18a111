"""Who a resource is on each side: origin marks, references between id spaces, sameness.

- A pulled resource carries a tag naming the remote (``REMOTE_TAG``) and, in
  ``meta.source``, the remote version it came from (https://hl7.org/fhir/R4/resource.html#Meta).
- A pushed resource carries a tag naming the local resource (``LOCAL_TAG``, code
  ``instance/Type/id``): a conditional create (``If-None-Exist: _tag=…``) on a remote that
  assigns its own ids finds it again after a lost response, and a pull recognises it.
- Two versions are *the same* when they differ only in ``id``, the server's ``meta`` and
  these marks: that is how a page pulled twice, or a push whose answer was lost, is told
  from a real change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from fhircare.fhir.models import RESOURCE_TYPES

REMOTE_TAG = "urn:fhircare:sync:remote"
LOCAL_TAG = "urn:fhircare:sync:local"
SYNC_TAGS = (REMOTE_TAG, LOCAL_TAG)
_SERVER_META = ("versionId", "lastUpdated", "source")

_RELATIVE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(/_history/[^/]+)?$")


def split_reference(reference: str, base_url: str | None) -> tuple[str, str] | None:
    """``(Type, id)`` of a literal reference to a resource on the server at ``base_url``
    (relative, or absolute under that base); None for anything else (``#contained``,
    ``urn:uuid:``, conditional, another server)."""
    if base_url and reference.startswith(base_url + "/"):
        reference = reference[len(base_url) + 1 :]
    match = _RELATIVE.match(reference)
    if match is None or match["type"] not in RESOURCE_TYPES:
        return None
    return match["type"], match["id"]


def references(value: Any) -> Iterator[str]:
    """Every ``reference`` string under ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def targets(resource: dict[str, Any], base_url: str | None) -> set[tuple[str, str]]:
    """The resources ``resource`` refers to on the server at ``base_url``."""
    found = set()
    for reference in references(resource):
        target = split_reference(reference, base_url)
        if target is not None:
            found.add(target)
    return found


def rewrite_references(
    value: Any, base_url: str | None, new_reference: Callable[[str, str], str | None]
) -> Any:
    """``value`` with each reference to a resource at ``base_url`` replaced by
    ``new_reference(Type, id)`` (kept when that returns None)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                target = split_reference(item, base_url)
                replaced = None if target is None else new_reference(*target)
                out[key] = item if replaced is None else replaced
            else:
                out[key] = rewrite_references(item, base_url, new_reference)
        return out
    if isinstance(value, list):
        return [rewrite_references(item, base_url, new_reference) for item in value]
    return value


def comparable(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without ``id``, the server's ``meta`` and the sync marks."""
    meta = dict(resource.get("meta") or {})
    for key in _SERVER_META:
        meta.pop(key, None)
    tags = [t for t in meta.get("tag", []) if t.get("system") not in SYNC_TAGS]
    if tags:
        meta["tag"] = tags
    else:
        meta.pop("tag", None)
    out = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    if meta:
        out["meta"] = meta
    return out


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return comparable(a) == comparable(b)


def marked(resource: dict[str, Any], system: str, code: str, source: str | None) -> dict[str, Any]:
    """``resource`` with one sync tag of ``system`` (replacing any other sync mark) and,
    when given, ``meta.source``."""
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in _SERVER_META}
    tags = [t for t in meta.get("tag", []) if t.get("system") not in SYNC_TAGS]
    meta["tag"] = [*tags, {"system": system, "code": code}]
    if source is not None:
        meta["source"] = source
    out = {k: v for k, v in resource.items() if k != "meta"}
    out["meta"] = meta
    return out


def tag_code(resource: dict[str, Any], system: str) -> str | None:
    for tag in (resource.get("meta") or {}).get("tag", []):
        if tag.get("system") == system and isinstance(tag.get("code"), str):
            return str(tag["code"])
    return None


def local_mark(instance: str, resource_type: str, id: str) -> str:
    return f"{instance}/{resource_type}/{id}"


def own_id(resource: dict[str, Any], instance: str) -> str | None:
    """The local id of a resource this instance pushed (its ``LOCAL_TAG``), else None."""
    code = tag_code(resource, LOCAL_TAG)
    prefix = f"{instance}/{resource.get('resourceType')}/"
    if code is None or not code.startswith(prefix):
        return None
    return code[len(prefix) :]


def version_number(version: str | None) -> int | None:
    return int(version) if version is not None and version.isdigit() else None


def newer(version: str | None, than: str | None) -> bool:
    """Whether remote version ``version`` comes after ``than`` (unknown counts as newer
    unless both are the same text)."""
    if than is None:
        return True
    a, b = version_number(version), version_number(than)
    if a is not None and b is not None:
        return a > b
    return version != than
