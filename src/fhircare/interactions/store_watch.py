"""Keeping something built from stored resources up to date across processes.

The search registry (``search_parameters.py``) and the profiles (``profiles.py``) are built
from resources in the store (SearchParameters; StructureDefinitions, ValueSets and
CodeSystems). ``StoreWatch`` rebuilds one of them:

- at start-up (``refresh(force=True)``);
- right after this process writes one of the watched types (``written``), so the writer's
  next request already uses it;
- when another process changed one (``ResourceStore.change_token`` of each watched type,
  renewed after every version of one), checked at most once per ``refresh_seconds`` by
  the requests that call ``refresh``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from fhircare.storage.protocol import ResourceStore


class StoreWatch:
    """Calls ``rebuild`` when the stored resources of ``types`` changed."""

    def __init__(
        self,
        store: ResourceStore,
        types: Sequence[str],
        rebuild: Callable[[], Awaitable[None]],
        refresh_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.types = tuple(types)
        self._rebuild = rebuild
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._checked: float | None = None
        self._fingerprint: tuple[str, ...] | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, force: bool = False) -> None:
        """Rebuild if the watched resources changed; the check runs at most once per
        ``refresh_seconds`` unless ``force``."""
        now = self._clock()
        due = self._checked is None or now - self._checked >= self._refresh_seconds
        if not force and (not due or self._lock.locked()):
            return  # a check is running or was done recently
        async with self._lock:
            self._checked = self._clock()
            fingerprint = tuple([await self._store.change_token(t) for t in self.types])
            if force or fingerprint != self._fingerprint:
                await self._rebuild()
                self._fingerprint = fingerprint

    async def written(self, resource_type: str | None) -> None:
        """After this process wrote a ``resource_type``: rebuild if it is watched."""
        if resource_type in self.types:
            await self.refresh(force=True)
