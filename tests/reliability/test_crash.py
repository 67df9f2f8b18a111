"""Crashes with real processes and SIGKILL: no acknowledged write is lost, no transaction
is left half-applied (``crash_workload.py`` has the writers and the checks).

1. ``fhircare serve`` (two workers) is killed, its whole process group at once, while
   writers run; a new server over the same store (MongoDB via FerretDB, then SQLite)
   settles the dead writers' journal entries at start-up (SQLite leaves none), then
   everything written so far is checked.
2. FerretDB is killed while the same writers run, and started again on its data folder and
   port; the server reconnects, the writers go on until its periodic recovery has finished
   or dropped what the failed requests left, then everything is checked.

Each test repeats this for several rounds over one store: 3 by default, 12 with
``FHIRCARE_TEST_LONG=1``. The random choices (how long the writers run before the kill,
what they write) come from ``FHIRCARE_CRASH_SEED`` when set, else from a seed named in
any failure.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient

from fhircare.processes import ServerProcess
from fhircare.storage.mongo.ferretdb import FerretDB, free_port
from tests.reliability.crash_workload import Workload

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("FHIRCARE_TEST_LONG") == "1"
ROUNDS = 12 if LONG else 3
# FHIRCARE_WRITE_INTENT_TIMEOUT_SECONDS: start-up waits this long for a killed writer's
# entries. Short, to keep the tests fast, but well above the slowest write here (under 2 s
# on a loaded machine); longer when FerretDB is killed, as a write in flight then stalls
# until it is back.
INTENT_TIMEOUT = {"server": 3.0, "ferretdb": 5.0}
RECOVERY_SECONDS = 1.0
WRITERS = {"singles": 4, "patients": 2, "tasks": 3}


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("FHIRCARE_CRASH_SEED") or random.SystemRandom().getrandbits(32))


def configure(monkeypatch: pytest.MonkeyPatch, intent_timeout: float) -> None:
    """A short intent timeout and frequent recovery, for the servers a test starts."""
    monkeypatch.setenv("FHIRCARE_WRITE_INTENT_TIMEOUT_SECONDS", str(intent_timeout))
    monkeypatch.setenv("FHIRCARE_RECOVERY_SECONDS", str(RECOVERY_SECONDS))


@pytest.fixture
def ferretdb(tmp_path: Path) -> Iterator[FerretDB]:
    """A FerretDB of this test's own, which it may kill."""
    server = FerretDB(ROOT / "var", tmp_path / "ferretdb", free_port()).start()
    try:
        yield server
    finally:
        server.stop()


def start_server(uri: str, database: str, log: Path) -> ServerProcess:
    return ServerProcess(uri, database, workers=2, log_path=log, cwd=ROOT).wait_ready()


def kill_group(server: ServerProcess) -> None:
    """SIGKILL to the server and its workers at once, as a machine crash would."""
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()


def client(server: ServerProcess) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=32)
    return httpx.AsyncClient(base_url=server.base_url, timeout=120, limits=limits)


async def journal_entries(uri: str, database: str) -> int:
    """Write intents left in the store (``writes.py``); none once recovery is done."""
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
    try:
        return await mongo[database]["journal"].count_documents({})
    finally:
        await mongo.close()


async def kill_moment(workload: Workload, rng: random.Random) -> None:
    """Wait for the round's first acknowledged write (a restarted server may be slow to
    answer at first), then a random 0.5 to 3 s more while the writers go on."""
    acknowledged = workload.acknowledged
    deadline = time.monotonic() + 60
    while workload.acknowledged == acknowledged:
        assert time.monotonic() < deadline, "no write acknowledged in 60 s"
        await asyncio.sleep(0.05)
    await asyncio.sleep(rng.uniform(0.5, 3.0))


def report(problems: list[str], seed: int, round: int, log: str) -> str:
    shown = "\n".join(problems[:40])
    return (
        f"seed {seed} (FHIRCARE_CRASH_SEED), round {round}: {len(problems)} problems\n"
        f"{shown}\n--- server log ---\n{log}"
    )


async def test_server_sigkill_loses_no_acknowledged_write(
    ferretdb: FerretDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    configure(monkeypatch, INTENT_TIMEOUT["server"])
    uri = os.environ.get("MONGODB_URI") or ferretdb.uri
    database = f"crash_{uuid.uuid4().hex[:8]}"

    async def settled() -> None:
        # start-up settled the killed writers' entries before answering
        assert await journal_entries(uri, database) == 0

    await server_sigkill_rounds(uri, database, tmp_path / "server.log", seed, settled)


async def test_server_sigkill_on_sqlite_loses_no_acknowledged_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """The same on the SQLite store, both workers writing to one file: a write is
    acknowledged only after its transaction is in the WAL, which SIGKILL cannot undo."""
    configure(monkeypatch, INTENT_TIMEOUT["server"])
    path = tmp_path / "crash.sqlite3"

    async def settled() -> None:
        assert path.exists()

    await server_sigkill_rounds(str(path), "unused", tmp_path / "server.log", seed, settled)


async def server_sigkill_rounds(
    store: str, database: str, log: Path, seed: int, settled: Callable[[], Awaitable[None]]
) -> None:
    """``ROUNDS`` times: writers run, the server's process group is killed, a new server
    starts over the same ``store`` (``settled`` checks the store then) and every
    acknowledged write is verified."""
    rng = random.Random(seed)
    workload = Workload(rng, frozenset({200, 201, 409, 412}))
    server = start_server(store, database, log)
    try:
        async with client(server) as http:
            await workload.create_shared_tasks(http)
        for round in range(1, ROUNDS + 1):
            async with client(server) as http:
                stop = asyncio.Event()
                writers = asyncio.create_task(workload.run(http, stop, **WRITERS))
                await kill_moment(workload, rng)
                stop.set()
                kill_group(server)
                await asyncio.wait_for(writers, 120)
            server = start_server(store, database, log)
            await settled()
            async with client(server) as http:
                problems = await workload.verify(http)
            print(f"round {round}: {workload.summary()}")
            assert not problems, report(problems, seed, round, server.log_tail())
    finally:
        server.stop()


async def test_ferretdb_sigkill_loses_no_acknowledged_write(
    ferretdb: FerretDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    if os.environ.get("MONGODB_URI"):
        pytest.skip("kills the test's own FerretDB, and MONGODB_URI names another store")
    configure(monkeypatch, INTENT_TIMEOUT["ferretdb"])
    database = f"crash_{uuid.uuid4().hex[:8]}"
    log = tmp_path / "server.log"
    rng = random.Random(seed)
    # while FerretDB is down, requests fail with 500 (outcome unknown to the client)
    workload = Workload(rng, frozenset({200, 201, 409, 412, 500}))
    server = start_server(ferretdb.uri, database, log)
    try:
        async with client(server) as http:
            await workload.create_shared_tasks(http)
            for round in range(1, ROUNDS + 1):
                stop = asyncio.Event()
                writers = asyncio.create_task(workload.run(http, stop, **WRITERS))
                await kill_moment(workload, rng)
                ferretdb.kill()
                await asyncio.sleep(rng.uniform(0.0, 1.0))
                ferretdb.start()
                # writing on while recovery finishes what the failed requests left
                await asyncio.sleep(INTENT_TIMEOUT["ferretdb"] + RECOVERY_SECONDS)
                stop.set()
                await asyncio.wait_for(writers, 120)
                deadline = time.monotonic() + 60
                while await journal_entries(ferretdb.uri, database):
                    assert time.monotonic() < deadline, "recovery left journal entries"
                    await asyncio.sleep(0.5)
                problems = await workload.verify(http)
                print(f"round {round}: {workload.summary()}")
                assert not problems, report(problems, seed, round, server.log_tail())
    finally:
        server.stop()
