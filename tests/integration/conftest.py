"""Fixtures shared by the HTTP tests: the in-process client with the examples loaded, and the
live peers of ``tests/peers/fixtures.py`` (HAPI and a second fhircare, one each per session)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from fhircare.interactions.request import Context
from fhircare.loader import load
from fhircare.storage.protocol import ResourceStore
from tests.peers.fixtures import fhircare_peer, hapi_peer  # noqa: F401  (fixtures)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
async def loaded(
    client: httpx.AsyncClient, store: ResourceStore
) -> AsyncIterator[httpx.AsyncClient]:
    """``client`` over a store holding every example resource."""
    report = await load(Context(store), [EXAMPLES])
    assert report.errors == []
    yield client
