"""Starting ``fhircare serve`` as its own process, as a user would, for black-box tests."""

from __future__ import annotations

from pathlib import Path

from fhircare.processes import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def live_server(store: str, database: str, *args: str, workers: int = 1) -> ServerProcess:
    """A started server in the project folder (where ``examples/`` is), over ``store`` (a
    MongoDB URI or a SQLite file)."""
    return ServerProcess(store, database, *args, workers=workers, cwd=ROOT).wait_ready()
