"""Reading both sides of a sync and comparing them, for the sync tests."""

from __future__ import annotations

from typing import Any

import httpx

from fhircare.fhir import jsonio
from fhircare.interactions.request import Context
from fhircare.sync.identity import comparable, rewrite_references, targets
from fhircare.sync.state import SyncState

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


async def local_resources(context: Context, types: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Every live local resource of ``types`` by ``Type/id``."""
    found = {}
    for resource_type in types:
        async for page in context.store.iterate_current(resource_type):
            for version in page:
                assert version.body is not None
                found[f"{version.resource_type}/{version.id}"] = jsonio.loads(version.body)
    return found


async def remote_resources(
    http: httpx.AsyncClient, types: tuple[str, ...], tag: str | None = None
) -> dict[str, dict[str, Any]]:
    """Every live resource of ``types`` on a remote (with a ``_tag`` search when given)."""
    found = {}
    for resource_type in types:
        params = {"_count": "500"}
        if tag is not None:
            params["_tag"] = tag
        url: str | None = f"{resource_type}"
        first = True
        while url is not None:
            response = await http.get(url, params=params if first else None, headers=FHIR_JSON)
            first = False
            assert response.status_code == 200, response.text
            bundle = jsonio.loads(response.content)
            for entry in bundle.get("entry") or []:
                resource = entry["resource"]
                if resource["resourceType"] == resource_type:
                    found[f"{resource_type}/{resource['id']}"] = resource
            url = next((k["url"] for k in bundle.get("link", []) if k["relation"] == "next"), None)
    return found


async def differences(
    context: Context,
    remote_name: str,
    remote_base: str,
    local: dict[str, dict[str, Any]],
    remote: dict[str, dict[str, Any]],
) -> list[str]:
    """What keeps the two sides from holding the same resources, through the id map:
    a local resource the remote lacks (or holds differently), a remote one that maps to
    no local one (a duplicate or a resurrected delete)."""
    state = SyncState(context.store, remote_name)
    links = await state.links(local)
    local_of = {f"{k.split('/')[0]}/{v.remote_id}": k for k, v in links.items()}
    referred = {f"{t}/{i}" for r in remote.values() for t, i in targets(r, remote_base)}
    known = await state.local_ids(sorted(referred), reserve=False)
    referred_local = {key: f"{key.split('/')[0]}/{i}" for key, i in known.items()}
    problems = []
    for key, resource in local.items():
        link = links.get(key)
        remote_key = None if link is None else f"{key.split('/')[0]}/{link.remote_id}"
        if remote_key is None or remote_key not in remote:
            problems.append(f"{key} is missing on the remote")
            continue
        mapped = rewrite_references(
            remote[remote_key],
            remote_base,
            lambda t, i: local_of.get(f"{t}/{i}") or referred_local.get(f"{t}/{i}"),
        )
        if comparable(mapped) != comparable(resource):
            problems.append(
                f"{key} differs: local {comparable(resource)} remote {comparable(mapped)}"
            )
    for remote_key in remote:
        if remote_key not in local_of or local_of[remote_key] not in local:
            problems.append(f"remote {remote_key} has no local resource")
    return problems
