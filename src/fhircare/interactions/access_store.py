"""A caller's view of the store: every query and read narrowed to what its grant covers.

The interactions, the care operations and ``$everything`` read through ``context.store``;
a request under a narrowing grant (``access_narrowing.py``) gets an ``AccessStore`` there,
so every way a resource can leave the server passes through one gate:

- ``search``/``search_page``/``count`` (searches, chains and ``_has`` hops, ``_revinclude``,
  conditional matches, compartments) carry the grant's ``s`` predicate, so paging and
  ``total`` count only what the caller may see;
- ``read``/``vread`` (reads, ``_include``, the targets of updates, patches and deletes)
  answer None for a resource the ``r`` grant does not cover, so the caller gets the same 404
  as for a resource that does not exist; a deletion counts as the resource it deleted;
- ``history`` keeps only visible versions (a deletion when the version before it is);
- ``commit``/``commit_all`` refuse content the ``c``/``u`` grant does not cover (403), and
  a write that lost to a version hidden from the caller is a 404 (the id belongs to
  someone else's resource), never a conflict that would tell it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from fhircare.fhir import errors, jsonio
from fhircare.interactions.access import Access, forbidden
from fhircare.interactions.access_narrowing import Narrowing, Nothing
from fhircare.interactions.request import Context
from fhircare.storage.delegating import DelegatingStore
from fhircare.storage.protocol import (
    HistoryQuery,
    ResourceStore,
    SearchPage,
    SearchQuery,
    StoredVersion,
    VersionConflict,
    Write,
)

SEARCH = "s"
READ = "r"


class AccessStore(DelegatingStore):
    """``inner`` as ``narrowing`` lets its caller see it."""

    def __init__(self, inner: ResourceStore, narrowing: Narrowing) -> None:
        super().__init__(inner)
        self.narrowing = narrowing

    # --- queries -----------------------------------------------------------------------

    def _narrowed(self, query: SearchQuery) -> SearchQuery | None:
        if query.resource_type is None:
            found = self.narrowing.system_predicate(SEARCH)
        else:
            found = self.narrowing.predicate(query.resource_type, SEARCH)
        if isinstance(found, Nothing):
            return None
        if found is None:
            return query
        return replace(query, predicates=(*query.predicates, found))

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        narrowed = self._narrowed(query)
        return [] if narrowed is None else await self._store.search(narrowed)

    async def search_page(self, query: SearchQuery) -> SearchPage:
        narrowed = self._narrowed(query)
        if narrowed is None:
            return SearchPage([], [], query.as_of or 0)
        return await self._store.search_page(narrowed)

    async def count(self, query: SearchQuery) -> int:
        narrowed = self._narrowed(query)
        return 0 if narrowed is None else await self._store.count(narrowed)

    # --- reads -------------------------------------------------------------------------

    async def _visible(self, version: StoredVersion, letter: str = READ) -> bool:
        body = version.body
        if body is None:  # a deletion: visible when what it deleted was
            if version.version <= 1:
                return False
            before = await self._store.vread(version.resource_type, version.id, version.version - 1)
            if before is None or before.body is None:
                return False
            body = before.body
        return self.narrowing.sees(version.resource_type, jsonio.loads(body), letter)

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        found = await self._store.read(resource_type, id)
        return found if found is not None and await self._visible(found) else None

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        found = await self._store.vread(resource_type, id, version)
        return found if found is not None and await self._visible(found) else None

    async def history(self, query: HistoryQuery) -> list[StoredVersion]:
        """Visible versions, newest first, up to ``query.count``: the store's history is
        read on past the hidden ones."""
        letter = READ if query.id is not None else SEARCH
        kept: list[StoredVersion] = []
        cursor = query
        while len(kept) < query.count:
            batch = await self._store.history(cursor)
            for version in batch:
                if await self._visible(version, letter):
                    kept.append(version)
            if len(batch) < cursor.count or not batch:
                break
            cursor = replace(cursor, before_seq=batch[-1].seq)
        return kept[: query.count]

    # --- writes ------------------------------------------------------------------------

    def _check_content(self, write: Write) -> None:
        if write.body is None:
            return
        letter = "c" if write.method == "POST" else "u"
        resource = jsonio.loads(write.body)
        if not self.narrowing.may_write(write.resource_type, resource, letter):
            raise forbidden(
                f"{write.resource_type}/{write.id} is outside what this token's scopes may write: "
                + _outside(self.narrowing, write.resource_type)
            )

    async def _conflict(self, write: Write) -> errors.FhirError | None:
        """A 404 when the version the write lost to is hidden from the caller."""
        current = await self._store.read(write.resource_type, write.id)
        if current is not None and not await self._visible(current):
            return errors.not_found(f"{write.resource_type}/{write.id} is not known")
        return None

    async def commit(self, write: Write) -> StoredVersion:
        self._check_content(write)
        try:
            return await self._store.commit(write)
        except VersionConflict:
            hidden = await self._conflict(write)
            if hidden is not None:
                raise hidden from None
            raise

    async def commit_all(self, writes: Sequence[Write]) -> list[StoredVersion]:
        for write in writes:
            self._check_content(write)
        try:
            return await self._store.commit_all(writes)
        except VersionConflict as error:
            if 0 <= error.index < len(writes):
                hidden = await self._conflict(writes[error.index])
                if hidden is not None:
                    raise hidden from None
            raise


def _outside(narrowing: Narrowing, resource_type: str) -> str:
    patient = narrowing.access.patient
    if narrowing.in_compartment(resource_type):
        return f"it is not in the compartment of Patient/{patient} (the token's patient)"
    return "patient/ scopes write only resources of the patient's compartment"


def caller_context(context: Context, access: Access, base_url: str | None) -> Context:
    """``context`` as the caller of ``access`` sees it: the store narrowed to its grant,
    unless the grant reads and searches every type unnarrowed."""
    if access.sees_everything(context.registry.resource_types):
        return replace(context, access=access) if access is not context.access else context
    narrowing = Narrowing(access, context.registry, base_url)
    return replace(
        context, access=access, store=AccessStore(context.store, narrowing), narrowed=True
    )
