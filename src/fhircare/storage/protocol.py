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

from fhircare.search.request import SortKey
from fhircare.search.sort_values import SortValue, sort_values

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence

    from fhircare.search.predicates import Predicate


class WriteTooLarge(Exception):
    """A version whose stored form (the resource and its index entries) is larger than
    the store takes in one document; nothing of the write was kept."""


def resource_key(resource_type: str, id: str) -> str:
    """``Type/id``: how every store names a resource, and what positions are ordered by."""
    return f"{resource_type}/{id}"


WATCHED_TYPES = frozenset({"SearchParameter"})
"""The resource types whose ``change_token`` every store keeps."""


class VersionConflict(Exception):
    """The resource changed since the writer read it; ``index`` is the position of the
    conflicting write in a ``commit_all``."""

    def __init__(self, current_version: int, index: int = 0) -> None:
        super().__init__(f"current version is {current_version}")
        self.current_version = current_version
        self.index = index


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
    sort_values: dict[str, dict[str, Any]] | None = field(default=None, compare=False)
    """``search.sort_values.sort_values(index)``, computed from ``index`` when not given."""

    def __post_init__(self) -> None:
        if self.sort_values is None:
            object.__setattr__(self, "sort_values", sort_values(self.index))

    @property
    def deleted(self) -> bool:
        return self.body is None

    def landed(self, seq: int) -> StoredVersion:
        """This write as the version it commits, with write sequence number ``seq``."""
        return StoredVersion(
            self.resource_type,
            self.id,
            self.version,
            self.last_updated,
            self.method,
            self.body,
            seq,
        )


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

    def reindexed(self, index: tuple[dict[str, Any], ...]) -> Write:
        """This version as a write with other index entries (what ``replace_index`` sets)."""
        return Write(
            self.resource_type,
            self.id,
            self.version,
            self.last_updated,
            self.method,
            self.body,
            index,
        )


@dataclass(frozen=True)
class StateRecord:
    """One record of a store's small key-value state (the sync adapter's cursors, id map,
    conflicts, run reports and leases): a JSON object and its revision, 1 when created and
    one more on every write, for compare-and-set."""

    space: str
    key: str
    value: dict[str, Any]
    rev: int


ANY_REV = -1
"""``state_put(..., expect=ANY_REV)`` writes whatever the record's revision."""


@dataclass(frozen=True)
class HistoryQuery:
    """Which versions to list, newest first; ``before_seq`` is the keyset paging cursor."""

    resource_type: str | None = None
    id: str | None = None
    since: datetime | None = None
    before_seq: int | None = None
    count: int = 20


@dataclass(frozen=True)
class Position:
    """Where a resource stands in a sorted search: one value per sort key (None when it
    has none) and its key ``Type/id``, the final tiebreaker."""

    values: tuple[SortValue, ...]
    key: str


@dataclass(frozen=True)
class SearchQuery:
    """Current, not deleted resources of ``resource_type`` (any type if None) matching every
    predicate, ordered by ``sort`` (see ``search.sort_values``) then by key (``Type/id``),
    from just after ``after``.

    ``as_of`` makes paging exact while others write: a store's write sequence number
    (``SearchPage.as_of`` of the first page). A resource then stands where its version
    current at ``as_of`` stood, so its position stays put for the whole walk: every
    resource that matches throughout is listed once, none twice; one created after
    ``as_of`` is not listed. Without it, a resource stands where its current version does.
    """

    resource_type: str | None
    predicates: tuple[Predicate, ...] = ()
    count: int = 20
    after: Position | None = None
    sort: tuple[SortKey, ...] = ()
    as_of: int | None = None


@dataclass(frozen=True)
class SearchPage:
    """A page of ``search_page``: the versions, each one's position, and the watermark to
    pass as ``SearchQuery.as_of`` for the following pages."""

    versions: list[StoredVersion]
    positions: list[Position]
    as_of: int


class ResourceStore(Protocol):
    """A FHIR resource store. https://hl7.org/fhir/R4/http.html"""

    async def open(self) -> None:
        """Create indexes and finish interrupted writes; idempotent."""

    async def close(self) -> None: ...

    async def recover(self) -> int:
        """Finish what writers that died left half-done (run periodically by the server);
        returns how many writes it finished or dropped."""

    async def read(self, resource_type: str, id: str) -> StoredVersion | None:
        """The current version, a tombstone included; None if it never existed."""

    async def vread(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        """One committed version, or None."""

    async def commit(self, write: Write) -> StoredVersion:
        """Compare-and-set the current version; raise ``VersionConflict`` on a lost race."""

    async def commit_all(self, writes: Sequence[Write]) -> list[StoredVersion]:
        """Commit every write or none (a transaction bundle). Each write is a
        compare-and-set as in ``commit``, on a different resource; when one conflicts,
        nothing is written and ``VersionConflict`` names its index. Once this returns,
        every write is durable; after a crash at any point, recovery (``open``) leaves
        either all of them or none."""

    async def change_token(self, resource_type: str) -> str:
        """A value that changes whenever a version of ``resource_type`` is committed, read
        with one lookup (``interactions/search_parameters.py`` watches SearchParameter this
        way); stores need only track the types in ``WATCHED_TYPES``."""

    async def claim(self, name: str) -> str | None:
        """Hold the lock ``name`` (a conditional operation's canonical query) and return
        its token, or None while another holder has it. A claim left by a crash is taken
        over once it is older than the store's intent timeout."""

    async def release(self, name: str, token: str) -> None:
        """Give the lock back; does nothing if ``token`` no longer holds it."""

    async def history(self, query: HistoryQuery) -> list[StoredVersion]:
        """Committed versions matching ``query``, newest (highest sequence) first."""

    async def count_history(self, query: HistoryQuery) -> int:
        """How many versions ``history`` would list without paging."""

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        """One page of the current resources that match, in ``query`` order."""

    async def search_page(self, query: SearchQuery) -> SearchPage:
        """As ``search``, with positions and a watermark for exact keyset paging."""

    async def count(self, query: SearchQuery) -> int:
        """How many current resources match, ignoring paging."""

    def joinable(self, predicate: Predicate) -> bool:
        """Whether this store runs a chain or ``_has`` hop around ``predicate`` itself, as a
        join (``search.predicates.Refers``, ``ReferredBy``); when False, the caller resolves
        the hop into reference values or ids first, with a fan-out limit."""

    # Reindexing (``interactions/reindex.py``): recomputing the index entries of current
    # resources after the search parameters changed.

    def iterate_current(
        self, resource_type: str | None, batch: int = 500
    ) -> AsyncIterator[list[StoredVersion]]:
        """Every current, not deleted resource (of ``resource_type``; all if None), in key
        order, ``batch`` at a time; what is written meanwhile may or may not be listed."""
        ...

    async def count_current(self, resource_type: str | None) -> int:
        """How many current, not deleted resources (of ``resource_type``) there are."""

    async def replace_index(
        self, version: StoredVersion, index: tuple[dict[str, Any], ...]
    ) -> bool:
        """Set the index entries (and what the store derives from them, as ``commit``
        does) of the current resource if it is still ``version`` (not deleted); False,
        changing nothing, if it moved on. Comparing the version is enough: a writer that
        moves the resource on computes the entries of its new version itself, with the
        registry it runs with, so a skipped resource is never left stale by a reindex.
        Changes nothing else: no version, history or sequence number."""

    # The write sequence in order, for the sync adapter's push cursor.

    async def changes(
        self, after_seq: int, resource_types: Sequence[str] | None = None, count: int = 500
    ) -> list[StoredVersion]:
        """Committed versions (deletes included) with a write sequence number greater than
        ``after_seq``, of ``resource_types`` (all if None), oldest (lowest ``seq``) first, at
        most ``count``. A version is listed only once every version with a lower sequence
        number is committed too, so a cursor that advances past what it saw skips nothing."""

    # Small state beside the resources (``StateRecord``), kept by every store.

    async def state_get(self, space: str, key: str) -> StateRecord | None:
        """The record, or None."""

    async def state_put(
        self, space: str, key: str, value: dict[str, Any], expect: int = ANY_REV
    ) -> StateRecord | None:
        """Write the record and return it with its new revision. With ``expect`` (0: the
        record must not exist yet) the write is a compare-and-set: None, changing nothing,
        when the record's revision is not ``expect``."""

    async def state_put_many(self, space: str, values: Mapping[str, dict[str, Any]]) -> None:
        """Write several records of one space at once, unconditionally (one transaction
        where the store has them)."""

    async def state_get_many(self, space: str, keys: Sequence[str]) -> dict[str, StateRecord]:
        """The records of ``keys`` that exist, by key."""

    async def state_delete(self, space: str, key: str) -> None:
        """Remove the record; nothing if it does not exist."""

    async def state_list(
        self, space: str, prefix: str = "", after: str = "", count: int = 100
    ) -> list[StateRecord]:
        """Records of ``space`` whose key starts with ``prefix`` and sorts after ``after``,
        in key order, at most ``count``."""
