"""SearchParameter resources at run time: the registry the server searches and indexes with.

https://hl7.org/fhir/R4/searchparameter.html. The active registry is *derived*: the packaged
R4 parameters plus every stored SearchParameter whose status is ``active`` and whose
``base`` names a type this server serves (other bases are ignored). ``SearchParameters``
holds it and rebuilds it from the store:

- at start-up (``load``: the app lifespan, the CLI);
- right after this process writes a SearchParameter (``written``), so the writer's next
  request already indexes and searches with it;
- when another process changed them: ``refresh`` compares the store's change token for
  SearchParameter (``ResourceStore.change_token``, renewed after every version of one
  lands, even when writers commit out of sequence order) with the one it last built from.
  The check is one lookup by key; it runs at most once per ``refresh_seconds``
  (``FHIRCARE_SEARCH_PARAMETER_REFRESH_SECONDS``, default 2 s), so another process sees a
  change within that interval. The token is read *before* the parameters, so a write that
  lands in between makes the next check rebuild again: a change is never missed.

A SearchParameter is checked on write (``check``; 422 naming the element): a supported
``type``, a ``base`` this server serves, an ``expression`` that compiles and runs for each
base, and a ``code`` that is neither a built-in parameter of one of its bases nor another
active SearchParameter's. A retired (or draft, unknown) one is stored unchecked: it is not
searchable. One that states a packaged parameter exactly (``profiles/`` ships fhircare's
own that way) is stored and changes nothing. A stored one that no longer passes (written
by an older version) is skipped with a warning when the registry is built.

A new parameter indexes resources written after it became active; older ones get its
entries from ``$reindex`` (``interactions/reindex.py``). Retiring or deleting it removes it
from the registry (searching by it is then an unknown parameter); the entries it left in
the index are never read, and a reindex drops them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from fhircare.fhir import errors, jsonio
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.interactions.store_watch import StoreWatch
from fhircare.search.fhirpath import compile_expression
from fhircare.search.indexer import EXTRACTORS
from fhircare.search.registry import SearchParam, SearchParamRegistry, alternatives_for
from fhircare.storage.protocol import ResourceStore

log = logging.getLogger(__name__)

SEARCH_PARAMETER = "SearchParameter"
# Parameter types a SearchParameter resource may have here (one extractor each).
CUSTOM_TYPES = frozenset(EXTRACTORS)
_FACTS = ("url", "code", "type", "expression", "target", "comparator", "modifier")


class SearchParameters:
    """The current registry: packaged parameters plus the active stored SearchParameters."""

    def __init__(
        self,
        store: ResourceStore,
        base: SearchParamRegistry,
        refresh_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._base = base
        self._registry = base
        self._custom: dict[str, SearchParam] = {}  # by SearchParameter id
        self._watch = StoreWatch(store, (SEARCH_PARAMETER,), self._rebuild, refresh_seconds, clock)

    @property
    def registry(self) -> SearchParamRegistry:
        """The registry as last built (a new object after every change)."""
        return self._registry

    @property
    def custom(self) -> Mapping[str, SearchParam]:
        """The active stored SearchParameters in the registry, by resource id."""
        return dict(self._custom)

    async def load(self) -> SearchParamRegistry:
        """Build from the store now (start-up)."""
        return await self.refresh(force=True)

    async def refresh(self, force: bool = False) -> SearchParamRegistry:
        """Rebuild if the stored SearchParameters changed (``StoreWatch``)."""
        await self._watch.refresh(force)
        return self._registry

    async def written(self, resource_type: str | None) -> None:
        """After a write of ``resource_type`` by this process: rebuild if it was a
        SearchParameter."""
        await self._watch.written(resource_type)

    async def _rebuild(self) -> None:
        custom: dict[str, SearchParam] = {}
        async for batch in self._store.iterate_current(SEARCH_PARAMETER, 200):
            for stored in batch:
                if stored.body is None:
                    continue
                resource = jsonio.loads(stored.body)
                if resource.get("status") != "active" or self.is_packaged(resource):
                    continue
                try:
                    custom[stored.id] = self.param_of(resource, custom, stored.id)
                except errors.FhirError as error:
                    log.warning("SearchParameter/%s is not used: %s", stored.id, error)
        if custom == self._custom:
            return  # the same parameters: keep the registry (and what is cached by it)
        self._custom = custom
        self._registry = self._base.with_params(*custom.values()) if custom else self._base
        log.info("search parameters rebuilt: %d custom", len(custom))

    def check(self, resource: Mapping[str, Any], id: str) -> None:
        """422 unless ``resource`` (SearchParameter/``id``, about to be written) is usable
        or not active."""
        if resource.get("status") == "active" and not self.is_packaged(resource):
            self.param_of(resource, self._custom, id)

    def is_packaged(self, resource: Mapping[str, Any]) -> bool:
        """``resource`` states a packaged parameter as it is (as ``profiles/`` ships
        fhircare's own): searchable already, so nothing to add and nothing to refuse."""
        facts = tuple(resource.get(key) for key in ("url", "code", "type", "expression", "base"))
        return any(
            (p.url, p.code, p.type, p.expression, list(p.base)) == facts for p in self._base.params
        )

    def param_of(
        self, resource: Mapping[str, Any], others: Mapping[str, SearchParam], id: str
    ) -> SearchParam:
        """``resource`` as a registry parameter, its base narrowed to the served types;
        422 naming the element at fault. ``others`` are the custom parameters by id."""
        kind = resource.get("type")
        if kind not in CUSTOM_TYPES:
            raise errors.processing(
                f"SearchParameter type '{kind}' is not supported at run time "
                f"(supported: {', '.join(sorted(CUSTOM_TYPES))})",
                "SearchParameter.type",
            )
        bases = [b for b in resource.get("base") or () if b in RESOURCE_TYPES]
        if not bases:
            raise errors.processing(
                "SearchParameter.base names no resource type this server serves",
                "SearchParameter.base",
            )
        expression = resource.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise errors.processing(
                "An active SearchParameter needs an expression", "SearchParameter.expression"
            )
        for base in bases:
            _check_expression(expression, base)
        code, url = resource.get("code"), resource.get("url")
        for base in bases:
            if self._base.get(base, str(code)) is not None:
                raise errors.processing(
                    f"'{code}' is a built-in search parameter of {base}", "SearchParameter.code"
                )
        for other_id, other in others.items():
            if other_id == id:
                continue
            if other.url == url:
                raise errors.processing(
                    f"SearchParameter/{other_id} already has the url '{url}'", "SearchParameter.url"
                )
            if other.code == code and set(other.base) & set(bases):
                raise errors.processing(
                    f"SearchParameter/{other_id} already defines '{code}' on "
                    f"{', '.join(sorted(set(other.base) & set(bases)))}",
                    "SearchParameter.code",
                )
        if any(p.url == url for p in self._base.params):
            raise errors.processing(
                f"'{url}' is the url of a built-in search parameter", "SearchParameter.url"
            )
        facts = {key: resource[key] for key in _FACTS if resource.get(key) is not None}
        facts["base"] = bases
        return self._base.param_from_resource(facts)


def _check_expression(expression: str, base: str) -> None:
    """422 unless ``expression`` has an alternative rooted at ``base`` that compiles and
    evaluates (fhirpathpy finds an unknown function only when it runs)."""
    where = "SearchParameter.expression"
    alternatives = alternatives_for(expression, (base,))
    if not alternatives:
        raise errors.processing(
            f"The expression has no part that starts at {base} (as in '{base}.name')", where
        )
    try:
        evaluator = compile_expression(" | ".join(alternatives), base, fast=False)
        evaluator({"resourceType": base, "id": "check"})
    except Exception as error:
        raise errors.processing(
            f"The expression does not compile for {base}: {str(error)[:200]}", where
        ) from None
