"""The plain request and response objects that cross the boundary from ``rest/``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhircare.interactions.access import FULL, Access
from fhircare.interactions.profiles import Profiles
from fhircare.interactions.search_parameters import SearchParameters
from fhircare.interactions.write_rules import NO_RULES, WriteRules
from fhircare.search.limits import SearchLimits
from fhircare.search.registry import SearchParamRegistry, default_registry
from fhircare.storage.protocol import ResourceStore
from fhircare.validation.engines import DEFAULT_ENGINE


@dataclass(frozen=True)
class FhirRequest:
    """A FHIR HTTP request after URL routing; header names are lower case."""

    method: str
    resource_type: str | None = None
    id: str | None = None
    version: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = ""
    new_id: str | None = None
    """The id a create gives its resource when set (a transaction assigns ids up front so
    that its entries can refer to each other); otherwise a new UUID."""

    def param(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        values = [value for key, value in self.query if key == name]
        return values[-1] if values else None


@dataclass
class FhirResponse:
    """Status, headers and a JSON body (None for no body)."""

    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    """Explicit limits and policies from the settings."""

    default_count: int = 20
    max_count: int = 1000
    max_json_depth: int = 64
    max_chain_matches: int = 1000
    max_included: int = 1000
    max_bundle_entries: int = 1000
    conditional_delete: str = "single"
    """``single``: a conditional delete matching several resources is 412; ``multiple``:
    it deletes them all, up to ``max_count`` (https://hl7.org/fhir/R4/http.html#cdelete)."""
    validator: str = DEFAULT_ENGINE
    """The structural engine that validates writes (``fhircare.validation.engines``)."""


@dataclass(frozen=True)
class Context:
    """What every interaction needs: the store, the search parameters and the limits.

    ``search_parameters`` holds the registry, rebuilt when SearchParameter resources change
    (``search_parameters.py``); without one, a holder over ``store`` and the packaged
    registry is made. ``registry`` is the registry as it is now: read it per request."""

    store: ResourceStore
    limits: Limits = Limits()
    search_limits: SearchLimits = field(default_factory=SearchLimits)
    search_parameters: SearchParameters = field(default=None)  # type: ignore[assignment]
    sync_remotes: Path | None = None
    """The TOML file naming the sync adapter's remotes (``$sync``); None: no remotes."""
    rules: WriteRules = NO_RULES
    """The workflows' checks before and followers after every write (``write_rules.py``)."""
    type_operations: Mapping[str, tuple[dict[str, str], ...]] = field(default_factory=dict)
    """The operations beyond the interactions' own that the CapabilityStatement names per
    resource type (``name`` and ``definition``): the care operations, set by the app."""
    follow_writes: bool = True
    """False while a transaction stages its writes: it runs the followers after its commit."""
    profiles: Profiles = field(default=None)  # type: ignore[assignment]
    """The stored profiles and the write policy (``profiles.py``); without one, an empty set
    over ``store``."""
    access: Access = FULL
    """What this request's caller may do (``access.py``); ``FULL`` without authorization."""
    security: Mapping[str, Any] | None = None
    """``CapabilityStatement.rest.security`` when tokens are required (``FHIRCARE_AUTH``)."""
    narrowed: bool = False
    """True when ``store`` is the caller's narrowed view (``access_store.py``): counts that
    would include hidden resources (a history's ``total``) are left out."""

    def __post_init__(self) -> None:
        if self.search_parameters is None:
            holder = SearchParameters(self.store, default_registry())
            object.__setattr__(self, "search_parameters", holder)
        if self.profiles is None:
            object.__setattr__(self, "profiles", Profiles(self.store))

    @property
    def registry(self) -> SearchParamRegistry:
        return self.search_parameters.registry

    async def written(self, resource_type: str | None) -> None:
        """After this process wrote a ``resource_type``: what is built from such resources
        (the search registry, the profiles) is rebuilt at once."""
        await self.search_parameters.written(resource_type)
        await self.profiles.written(resource_type)

    async def refresh(self) -> SearchParamRegistry:
        """Pick up what other processes changed (at most every few seconds)."""
        await self.profiles.refresh()
        return await self.search_parameters.refresh()
