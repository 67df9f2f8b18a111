"""Fetching the current version of a resource with the spec's 404 and 410."""

from __future__ import annotations

from fhircare.fhir import errors
from fhircare.interactions.request import Context
from fhircare.interactions.response import version_headers
from fhircare.storage.protocol import StoredVersion


def gone(message: str, deletion: StoredVersion) -> errors.FhirError:
    """410 Gone carrying the deletion's ETag and Last-Modified, as HAPI sends them."""
    error = errors.gone(message)
    error.headers.update(version_headers(deletion))
    return error


async def live_version(context: Context, resource_type: str, id: str) -> StoredVersion:
    """The current, not deleted version; 404 if it never existed, 410 if deleted."""
    stored = await context.store.read(resource_type, id)
    if stored is None:
        raise errors.not_found(f"{resource_type}/{id} is not known")
    if stored.deleted:
        raise gone(f"{resource_type}/{id} was deleted (version {stored.version})", stored)
    return stored
