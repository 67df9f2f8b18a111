"""A store that keeps a transaction's writes instead of committing them.

The entries of a transaction run through the ordinary interactions with a ``Context``
whose store is a ``StagedStore``: reads see the staged versions first, then the real store;
``commit`` records the write (its version is checked by the real store's ``commit_all``);
everything else goes to the real store. The transaction then commits the recorded
writes at once with ``commit_all``. Claims (the locks of conditional interactions) are
kept until ``release_all``, after that commit, so no rival acts on a condition before the
transaction's result is visible; a claim this transaction already holds is granted again.
"""

from __future__ import annotations

from collections.abc import Sequence

from fhircare.fhir import errors
from fhircare.storage.delegating import DelegatingStore
from fhircare.storage.protocol import ResourceStore, StoredVersion, Write


class StagedStore(DelegatingStore):
    """A ``ResourceStore`` over ``store`` that records writes; ``entry`` is the bundle
    entry being staged, remembered for each write in ``writers``. What it does not change
    goes to ``store`` (``DelegatingStore``); the state records are not part of a
    transaction: they go to the store at once."""

    def __init__(self, store: ResourceStore) -> None:
        super().__init__(store)
        self._staged: dict[tuple[str, str], StoredVersion] = {}
        self._writer: dict[tuple[str, str], int] = {}
        self._claims: dict[str, str] = {}
        self.writes: list[Write] = []
        self.writers: list[int] = []
        self.entry = -1

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        staged = self._staged.get((resource_type, id))
        return staged if staged is not None else await self._store.read(resource_type, id)

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        staged = self._staged.get((resource_type, id))
        if staged is not None and staged.version == version:
            return staged
        return await self._store.vread(resource_type, id, version)

    async def commit(self, write: Write) -> StoredVersion:
        """Record ``write``; 400 if another entry wrote it. Its version is checked when the
        transaction commits (``commit_all``), so a rival's write in between makes the whole
        transaction start again rather than this entry alone."""
        key = (write.resource_type, write.id)
        if key in self._staged:
            raise errors.invalid(
                f"{write.resource_type}/{write.id} is also changed by "
                f"Bundle.entry[{self._writer[key]}]; a transaction changes a resource once"
            )
        stored = write.landed(0)
        self._staged[key] = stored
        self._writer[key] = self.entry
        self.writes.append(write)
        self.writers.append(self.entry)
        return stored

    async def commit_all(self, writes: Sequence[Write]) -> list[StoredVersion]:
        return [await self.commit(write) for write in writes]

    async def claim(self, name: str) -> str | None:
        if name not in self._claims:
            token = await self._store.claim(name)
            if token is None:
                return None
            self._claims[name] = token
        return self._claims[name]

    async def release(self, name: str, token: str) -> None:
        return None  # kept until release_all, after the commit

    async def release_all(self) -> None:
        """Give back every claim taken through this store."""
        claims, self._claims = self._claims, {}
        for name, token in claims.items():
            await self._store.release(name, token)
