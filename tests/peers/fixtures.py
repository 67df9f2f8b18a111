"""Live FHIR peers on loopback for the sync tests: HAPI FHIR JPA 8.8.0 and a second fhircare.

Each peer is a real server in its own process, started once per test session and shared by
every test that asks for it: nothing wipes it between tests, so a test makes its own data
recognisable (a fresh id, identifier or ``meta.tag``) and never assumes an empty server.
What HAPI does on the wire (history entries of deletes, ``If-Match``, ``_tag``, referential
integrity) is recorded in ``tests/peers/hapi_server.py``.

A conftest makes them available by importing them::

    from tests.peers.fixtures import fhircare_peer, hapi_peer
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fhircare.processes import ServerProcess
from tests.peers.hapi_server import HapiServer, free_port

ROOT = Path(__file__).resolve().parents[2]

HAPI_START_TIMEOUT = 300.0
"""Seconds: HAPI's Spring context and a new schema take one to two minutes on two CPUs."""


@dataclass(frozen=True)
class Peer:
    """A started FHIR server: ``base_url`` is ``http://127.0.0.1:PORT/fhir``."""

    name: str
    base_url: str


@pytest.fixture(scope="session")
def hapi_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    """HAPI FHIR JPA 8.8.0 on a free loopback port with a fresh H2 folder, shared by the whole
    session; stopped at its end.

    The jar is built once into ``var/hapi/`` (Maven and a JDK 17; rebuilt only when
    ``tests/peers/hapi/`` changes). Its log is ``hapi.log`` in the session's temporary folder.
    """
    server = HapiServer(ROOT / "var", tmp_path_factory.mktemp("hapi-peer"), free_port())
    server.start(timeout=HAPI_START_TIMEOUT)
    try:
        yield Peer("hapi", server.base_url)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fhircare_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    """A second fhircare (``fhircare serve``, one worker) on a free loopback port over a SQLite
    file of its own, shared by the whole session; stopped at its end.

    Started as ``tests/integration/live_server.py`` starts its servers, with a log kept beside
    the database so a failed start shows why.
    """
    folder = tmp_path_factory.mktemp("fhircare-peer")
    server = ServerProcess(
        str(folder / "fhircare.sqlite3"), "peer", log_path=folder / "fhircare.log", cwd=ROOT
    )
    try:
        server.wait_ready()
        yield Peer("fhircare", server.base_url)
    finally:
        server.stop()
