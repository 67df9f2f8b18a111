"""``profiled``: fhircare in process, on every store, holding fhircare's profiles."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fhircare.storage.protocol import ResourceStore
from tests.integration.validation.served import profiled_client


@pytest.fixture
async def profiled(store: ResourceStore) -> AsyncIterator[httpx.AsyncClient]:
    async with profiled_client(store) as client:
        yield client
