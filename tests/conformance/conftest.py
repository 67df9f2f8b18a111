"""The conformance cases also run on the prefilter oracle (``prefilter_oracle.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fhircare.storage.protocol import ResourceStore
from tests.conformance.prefilter_oracle import PrefilterCheckingStore
from tests.conftest import STORES, open_store


@pytest.fixture(params=[*STORES, "mongo-prefilters"])
async def store(request: pytest.FixtureRequest, database_name: str) -> AsyncIterator[ResourceStore]:
    if request.param == "mongo-prefilters":
        yield PrefilterCheckingStore()
        return
    async for one in open_store(request.param, request, database_name):
        yield one
