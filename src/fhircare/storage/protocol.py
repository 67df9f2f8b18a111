"""The storage boundary: every store keeps versions, history and a write sequence.

Semantics the contract suite (``tests/contract``) checks on every implementation:

- ``commit`` is a compare-and-set: it succeeds only when the resource's current version is
  ``write.version - 1`` (0 = the resource has never existed) and raises
  ``VersionConflict`` otherwise, so two concurrent writers never overwrite each other.
- Every committed write gets a write sequence number greater than every earlier one
  (https://hl7.org/fhir/R4/http.html#history orders by it).
- History is immutable: a committed version is never changed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fhircare.search.predicates import Predicate


class VersionConflict(Exception):
    """The resource changed since the writer read it."""

    def __init__(self, current_version: int) -> None:
        super().__init__(f"current version is {current_version}")
        self.current_version = current_version


@dataclass(frozen=True)
class Write:
    """A new version to commit; ``body`` is the full resource JSON, None for a delete."""

    resource_type: str
    id: str
    version: int
    last_updated: datetime
    method: str
    body: bytes | None
    index: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    @property
    def deleted(self) -> bool:
        return self.body is None


@dataclass(frozen=True)
class StoredVersion:
    """One committed version of a resource."""

    resource_type: str
    id: str
    version: int
    last_updated: datetime
    method: str
    body: bytes | None
    seq: int

    @property
    def deleted(self) -> bool:
        return self.body is None


@dataclass(frozen=True)
class HistoryQuery:
    """Which versions to list, newest first; ``before_seq`` is the keyset paging cursor."""

    resource_type: str | None = None
    id: str | None = None
    since: datetime | None = None
    before_seq: int | None = None
    count: int = 20


@dataclass(frozen=True)
class SearchQuery:
    """Current, not deleted resources of ``resource_type`` (any type if None) matching every
    predicate, in key order (``Type/id``), from just after ``after_key``."""

    resource_type: str | None
    predicates: tuple[Predicate, ...] = ()
    count: int = 20
    after_key: str | None = None


class ResourceStore(Protocol):
    """A FHIR resource store. https://hl7.org/fhir/R4/http.html"""

    async def open(self) -> None:
        """Create indexes and finish interrupted writes; idempotent."""

    async def close(self) -> None: ...

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        """The current version, a tombstone included; None if it never existed."""

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        """One committed version, or None."""

    async def commit(self, write: Write) -> StoredVersion:
        """Compare-and-set the current version; raise ``VersionConflict`` on a lost race."""

    async def history(self, query: HistoryQuery) -> list[StoredVersion]:
        """Committed versions matching ``query``, newest (highest sequence) first."""

    async def count_history(self, query: HistoryQuery) -> int:
        """How many versions ``history`` would list without paging."""

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        """One page of the current resources that match, in key order."""

    async def count(self, query: SearchQuery) -> int:
        """How many current resources match, ignoring paging."""
