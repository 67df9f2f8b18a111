"""The servers ``--start`` names, each started for its turn and stopped after it, so one
server at a time has the machine: ``hapi`` (HAPI FHIR JPA 8.8.0 on H2, ``tests/peers/hapi``),
``sqlite`` (fhircare on its embedded SQLite store) and ``ferretdb`` (fhircare on the
MongoDB store over FerretDB v1.24.2, or over ``MONGODB_URI`` when set). Each gets a fresh
data folder under ``var/bench/``, so it starts empty."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.peers.hapi_server import HapiServer

from bench.servers import FhircareServer, mongo_store
from fhircare.storage.mongo.ferretdb import free_port

KINDS = ("hapi", "sqlite", "ferretdb")


Started = tuple[str, str, Callable[[], int | None]]
"""A started server's label, base URL, and a reading of its peak resident memory (KiB)."""


@contextmanager
def started(kind: str, var_dir: Path) -> Iterator[Started]:
    """A fresh server of ``kind``, stopped on exit."""
    run_dir = var_dir / "bench" / f"realistic-{kind}-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    if kind == "hapi":
        hapi = HapiServer(var_dir, run_dir / "hapi", free_port()).start()
        try:
            yield "HAPI (H2)", hapi.base_url, lambda: hapi.memory_kib()[1]
        finally:
            hapi.stop()
    elif kind == "sqlite":
        path = (run_dir / "fhircare.sqlite3").resolve()
        with _fhircare(str(path), run_dir) as (base_url, peak):
            yield "fhircare SQLite", base_url, peak
    elif kind == "ferretdb":
        with mongo_store(run_dir) as (uri, _), _fhircare(uri, run_dir) as (base_url, peak):
            yield "fhircare FerretDB", base_url, peak
    else:
        raise ValueError(f"unknown server {kind}; one of {', '.join(KINDS)}")


@contextmanager
def _fhircare(store: str, run_dir: Path) -> Iterator[tuple[str, Callable[[], int | None]]]:
    server = FhircareServer(store, "realistic", 1, run_dir / "server.log").start()
    try:
        yield server.base_url, lambda: server.peak_memory_kib()[0]
    finally:
        server.stop()
