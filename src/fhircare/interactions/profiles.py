"""Profiles at run time: the StructureDefinitions, ValueSets and CodeSystems in the store,
and what they require of the resources written.

https://hl7.org/fhir/R4/profiling.html. ``Profiles`` holds the ``ProfileSet``
(``validation/profiles``) built from every stored StructureDefinition, ValueSet and
CodeSystem that is not ``retired`` (``fhircare serve`` loads ``profiles/`` into the store),
over the core R4 extension definitions, ValueSets and CodeSystems fhircare holds itself (a
stored one with the same canonical url takes precedence), rebuilt when they change in any
process (``StoreWatch``). It checks:

- **a write** (``check_write``): against each profile the resource claims in
  ``meta.profile`` that is known here, and against the profile the settings require for
  its type (``FHIRCARE_REQUIRED_PROFILES``); a claimed profile that is not known is an
  error or nothing, as ``FHIRCARE_UNKNOWN_PROFILE`` says. Violations are 422 with one issue
  per problem, each with its ``expression``; warnings and information do not refuse.
- **``$validate``** (``issues``): the same checks, or those of the profile asked for, as
  a list of issues of every severity.
- **a conformance resource** about to be stored (``check_conformance``): a
  StructureDefinition, ValueSet or CodeSystem that the set cannot be built with is 422
  naming the element, so a broken profile never stops every write of its type.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fhircare.fhir import errors, jsonio
from fhircare.fhir.errors import Issue
from fhircare.interactions.store_watch import StoreWatch
from fhircare.storage.protocol import ResourceStore
from fhircare.validation.issues import IssueCollector
from fhircare.validation.profiles import ProfileError, ProfileSet, check_profile

log = logging.getLogger(__name__)

CONFORMANCE_TYPES = ("StructureDefinition", "ValueSet", "CodeSystem")
REFUSING = frozenset({"error", "fatal"})


class Profiles:
    """The current profile set and the write policy of the settings."""

    def __init__(
        self,
        store: ResourceStore,
        refresh_seconds: float = 2.0,
        unknown_profile: str = "warning",
        required: Mapping[str, str] | None = None,
    ) -> None:
        self._store = store
        self._resources: dict[str, Mapping[str, Any]] = {}  # by Type/id
        self.profiles = ProfileSet.build(())
        self.unknown_profile = unknown_profile
        self.required = dict(required or {})
        self._watch = StoreWatch(store, CONFORMANCE_TYPES, self._rebuild, refresh_seconds)

    async def load(self) -> None:
        await self._watch.refresh(force=True)

    async def refresh(self) -> None:
        await self._watch.refresh()

    async def written(self, resource_type: str | None) -> None:
        await self._watch.written(resource_type)

    async def _rebuild(self) -> None:
        found: dict[str, Mapping[str, Any]] = {}
        for resource_type in CONFORMANCE_TYPES:
            async for batch in self._store.iterate_current(resource_type, 200):
                for stored in batch:
                    if stored.body is None:
                        continue
                    resource = jsonio.loads(stored.body)
                    if resource.get("status") != "retired":
                        found[f"{resource_type}/{stored.id}"] = resource
        if found == self._resources:
            return
        try:
            self.profiles = ProfileSet.build(found.values())
        except ProfileError as error:  # stored before this check existed, or by another version
            log.warning("profiles not rebuilt: %s", error)
            return
        self._resources = found
        log.info("profiles rebuilt: %d profiles", len(self.profiles.urls()))

    # --- checks ------------------------------------------------------------------------

    def issues(
        self,
        resource: Mapping[str, Any],
        asked: Sequence[str] = (),
        must_support: bool = False,
    ) -> list[Issue]:
        """Every problem ``resource`` has against the profiles ``asked`` for (default: the
        ones it claims and the one required of its type); with ``must_support``, absent
        mustSupport elements too, as information."""
        collected = IssueCollector()
        urls = list(asked) if asked else self._profiles_of(resource)
        for url in urls:
            profile = self.profiles.profile(url)
            if profile is None:
                severity = "error" if asked or self.unknown_profile == "error" else "warning"
                where = "" if asked else f"{resource.get('resourceType')}.meta.profile"
                message = f"The profile {url} is not known to this server, so not checked"
                collected.add("not-found", message, where, severity, key=url)
                continue
            check_profile(
                resource, profile, self.profiles, collected, report_must_support=must_support
            )
        return collected.issues

    def check_write(self, resource: Mapping[str, Any]) -> None:
        """422 unless ``resource`` meets the profiles it claims and its type requires."""
        if not self.required and not resource.get("meta", {}).get("profile"):
            return
        problems = [issue for issue in self.issues(resource) if issue.severity in REFUSING]
        if problems:
            raise errors.FhirError(errors.Category.PROCESSING, problems)

    def check_conformance(self, resource: Mapping[str, Any], key: str) -> None:
        """422 unless the set still builds with ``resource`` as ``key`` (``Type/id``)."""
        if resource.get("status") == "retired":
            return
        candidates = {**self._resources, key: resource}
        try:
            ProfileSet.build(candidates.values())
        except ProfileError as error:
            raise errors.processing(str(error), str(resource.get("resourceType"))) from None

    def _profiles_of(self, resource: Mapping[str, Any]) -> list[str]:
        claimed = resource.get("meta", {}).get("profile") or []
        urls = [url for url in claimed if isinstance(url, str)]
        required = self.required.get(str(resource.get("resourceType")))
        if required and required not in urls:
            urls.append(required)
        return urls


def required_profiles(setting: str) -> dict[str, str]:
    """``CarePlan=url,Task=url`` as a mapping; ``ValueError`` naming a bad item."""
    found: dict[str, str] = {}
    for item in (item for item in setting.split(",") if item.strip()):
        resource_type, sep, url = item.partition("=")
        if not sep or not resource_type.strip() or not url.strip():
            raise ValueError(f"FHIRCARE_REQUIRED_PROFILES: '{item}' is not Type=url")
        found[resource_type.strip()] = url.strip()
    return found
