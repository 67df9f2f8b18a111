"""``StagedStore``: a transaction's writes kept aside until one ``commit_all``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhircare.fhir.errors import Category, FhirError
from fhircare.interactions.transaction_staging import StagedStore
from fhircare.storage.memory import MemoryStore
from fhircare.storage.protocol import VersionConflict, Write

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def write(id: str, version: int, body: bytes | None = b"{}") -> Write:
    return Write("Task", id, version, T0, "PUT", body)


async def test_writes_are_staged_seen_by_reads_and_not_stored() -> None:
    store = MemoryStore()
    await store.commit(write("a", 1))
    staged = StagedStore(store)
    staged.entry = 4
    stored = await staged.commit(write("a", 2, b'{"v":2}'))
    assert stored.version == 2 and stored.seq == 0
    assert await staged.read("Task", "a") == stored
    assert await staged.vread("Task", "a", 2) == stored
    assert (await staged.vread("Task", "a", 1)) == await store.vread("Task", "a", 1)
    assert (await store.read("Task", "a")).version == 1  # type: ignore[union-attr]
    assert staged.writes == [write("a", 2, b'{"v":2}')] and staged.writers == [4]


async def test_a_stale_version_conflicts_at_commit_and_a_second_write_is_400() -> None:
    store = MemoryStore()
    await store.commit(write("a", 1))
    stale = StagedStore(store)
    await stale.commit(write("a", 1))  # recorded: the version is checked by commit_all
    with pytest.raises(VersionConflict):
        await store.commit_all(stale.writes)
    staged = StagedStore(store)
    staged.entry = 0
    await staged.commit(write("a", 2))
    staged.entry = 1
    with pytest.raises(FhirError) as raised:
        await staged.commit(write("a", 3))
    assert raised.value.category is Category.INVALID
    assert "Bundle.entry[0]" in str(raised.value)
    assert len(staged.writes) == 1


async def test_claims_are_reentrant_and_kept_until_release_all() -> None:
    store = MemoryStore()
    staged = StagedStore(store)
    token = await staged.claim("Patient?identifier=x")
    assert token is not None
    assert await staged.claim("Patient?identifier=x") == token  # the transaction holds it
    await staged.release("Patient?identifier=x", token)
    assert await store.claim("Patient?identifier=x") is None  # still held
    await staged.release_all()
    assert await store.claim("Patient?identifier=x") is not None
    assert await StagedStore(store).claim("Patient?identifier=x") is None
