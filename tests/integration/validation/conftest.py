"""``profiled``: fhircare in process, on every store, holding fhircare's profiles and the
core definitions they name (``core_copies.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fhircare.storage.protocol import ResourceStore
from tests.integration.validation.core_copies import CORE_COPIES
from tests.integration.validation.served import profiled_client


@pytest.fixture
async def profiled(store: ResourceStore) -> AsyncIterator[httpx.AsyncClient]:
    async with profiled_client(store, definitions=CORE_COPIES) as client:
        yield client
