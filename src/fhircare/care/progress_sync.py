"""Keeping CarePlan activities and Goals up to date as linked resources change (not built
yet)."""

from __future__ import annotations

from fhircare.interactions.request import Context
from fhircare.storage.protocol import StoredVersion


async def follow(context: Context, version: StoredVersion) -> None:
    """Bring what ``version`` affects up to date."""
