"""The SQLite bench's raw side does the store's own work: what it writes, the store reads
and finds, and a replay of recorded statements runs them as the store did."""

from __future__ import annotations

from pathlib import Path

from bench.sqlite import raw as raw_ops
from bench.sqlite.recorded import recorder

from fhircare.search.predicates import Cond, Entry
from fhircare.storage.protocol import SearchQuery
from fhircare.storage.sqlite.store import SqliteStore


async def test_raw_writes_are_what_the_store_reads_and_finds(tmp_path: Path) -> None:
    path = tmp_path / "bench.sqlite3"
    store = SqliteStore(path)
    await store.open()
    raw = raw_ops.RawSqlite(path, 2)
    try:
        create = raw_ops.create_operation(raw, "run")
        assert await create(0) is None and await create(1) is None
        created = await store.read("Observation", "run-c1")
        assert created is not None and created.version == 1
        update = raw_ops.update_operation(raw, ["Observation/run-c1"])
        assert await update(0) is None
        updated = await store.read("Observation", "run-c1")
        assert updated is not None and updated.version == 2 and updated.seq > created.seq
        loinc = Entry("code", (Cond("s", "eq", "http://loinc.org"), Cond("c", "eq", "4548-4")))
        found = await store.search(SearchQuery("Observation", (loinc,), 10))
        assert [v.id for v in found] == ["run-c0", "run-c1"]
        history = raw_ops.history_operation(raw, ["Observation/run-c1", "Observation/none"])
        assert (
            await history(0) is None
            and await history(1) == "no history for ('Observation', 'none')"
        )
        transact = raw_ops.transaction_operation(raw, 3, "run")
        assert await transact(0) is None
        assert await store.count_current("Observation") == 4
        conditional = raw_ops.conditional_create_operation(raw, "run")
        assert await conditional(0) is None
        assert await conditional(0) is not None  # the identifier matches now
    finally:
        raw.close()
        await store.close()


async def test_recorded_statements_replay(tmp_path: Path) -> None:
    path = tmp_path / "bench.sqlite3"
    raw = raw_ops.RawSqlite(path, 1)
    try:
        async with recorder(path) as record:
            await raw_ops.create_operation(raw, "run")(0)
            statements = await record.statements("/Observation?code=http://loinc.org|4548-4")
        assert any("entries e" in s for s in statements)
        assert all(s.lstrip().upper().startswith("SELECT") for s in statements)
        assert await raw_ops.replay_operation(raw, [statements])(0) is None
    finally:
        raw.close()


async def test_timed_asks_each_url_and_reports_its_total(tmp_path: Path) -> None:
    from bench.sqlite.timed import timed

    path = tmp_path / "bench.sqlite3"
    raw = raw_ops.RawSqlite(path, 1)
    try:
        async with recorder(path):  # creates the tables
            pass
        await raw_ops.create_operation(raw, "run")(0)
        await raw_ops.create_operation(raw, "run")(1)
    finally:
        raw.close()
    found = await timed(path, ["/Observation?code=4548-4", "/Patient"], 2)
    assert [(url, total) for url, _, total in found] == [
        ("/Observation?code=4548-4", 2),
        ("/Patient", 0),
    ]
    assert all(median > 0 for _, median, _ in found)
