"""Child processes started by the CLI, the tests and the benchmark, and how they stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fhircare.storage.mongo.ferretdb import free_port, stop_process


class ServerProcess:
    """``fhircare serve`` on a free loopback port, over ``store``: a MongoDB URI (with
    ``database``) or the path of a SQLite file."""

    def __init__(
        self,
        store: str,
        database: str,
        *args: str,
        workers: int = 1,
        log_path: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/fhir"
        self.log_path = log_path
        own = ("MONGODB_URI", "FHIRCARE_MONGODB_URI", "FHIRCARE_SQLITE_PATH", "PORT")
        env = {k: v for k, v in os.environ.items() if k not in own}
        if store.startswith(("mongodb://", "mongodb+srv://")):
            env["MONGODB_URI"] = store
        else:
            env["FHIRCARE_SQLITE_PATH"] = store
        env.update(
            FHIRCARE_DATABASE=database,
            FHIRCARE_HOST="127.0.0.1",
            FHIRCARE_PORT=str(self.port),
            FHIRCARE_BASE_PATH="/fhir",
            FHIRCARE_WORKERS=str(workers),
            FHIRCARE_LOG_LEVEL="warning",
        )
        output = subprocess.DEVNULL
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            output = log_path.open("ab")  # type: ignore[assignment]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fhircare.cli", "serve", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120.0) -> ServerProcess:
        """Block until ``GET /fhir/metadata`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fhircare serve exited at start:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/metadata", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"fhircare serve did not answer in {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        stop_process(self.process, group=True)

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None:
            return "(no log kept)"
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
