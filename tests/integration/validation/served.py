"""fhircare in process, with fhircare's profiles in its store, for the HTTP tests here.

The profiles are loaded as ``fhircare serve`` loads them (``fhircare.loader.load`` of
``profiles/``) before the app starts, so its lifespan builds the profile set from them.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from fhircare.interactions.request import Context
from fhircare.loader import load
from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore
from tests.integration.validation.corpus import PROFILES

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}

IssueFacts = tuple[str, str, str]
"""An issue as the tests compare it: (severity, code, its one expression or '')."""


@asynccontextmanager
async def profiled_client(
    store: ResourceStore, settings: Settings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app over ``store`` holding ``profiles/``."""
    from fhircare.app import create_app

    report = await load(Context(store), [PROFILES])
    assert report.errors == []
    app = create_app(settings or Settings(max_body_bytes=256 * 1024), store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/fhir") as http:
            yield http


def issues_of(outcome: dict[str, Any]) -> list[IssueFacts]:
    """Each issue of an OperationOutcome as (severity, code, expression)."""
    assert outcome["resourceType"] == "OperationOutcome", outcome
    found = []
    for issue in outcome["issue"]:
        expression = issue.get("expression") or [""]
        assert len(expression) == 1, issue
        found.append((issue["severity"], issue["code"], expression[0]))
    return found


def unclaimed(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``resource`` that claims no profile (``meta.profile`` removed)."""
    changed = copy.deepcopy(resource)
    meta = changed.get("meta", {})
    meta.pop("profile", None)
    if not meta:
        changed.pop("meta", None)
    return changed


async def count(client: httpx.AsyncClient, resource_type: str) -> int:
    """How many ``resource_type`` resources the server holds now."""
    response = await client.get(f"/{resource_type}", params={"_summary": "count"})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


EMBEDDED_STORES = pytest.mark.parametrize("store", ["memory", "sqlite"], indirect=True)
"""For the tests run once per check: on the memory and SQLite stores only. A MongoDB store
takes about a second to set up per test, and the same paths run on it in the tests that
are not repeated per check."""
