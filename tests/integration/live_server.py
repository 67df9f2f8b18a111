"""Starting ``fhircare serve`` as its own process, as a user would, for black-box tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fhircare.storage.mongo.ferretdb import free_port

ROOT = Path(__file__).resolve().parents[2]


class LiveServer:
    """A uvicorn server process on a free loopback port, over the given MongoDB."""

    def __init__(self, mongo_uri: str, database: str, *args: str, workers: int = 1) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/fhir"
        env = {
            **os.environ,
            "MONGODB_URI": mongo_uri,
            "FHIRCARE_DATABASE": database,
            "FHIRCARE_PORT": str(self.port),
            "FHIRCARE_WORKERS": str(workers),
            "FHIRCARE_LOG_LEVEL": "warning",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fhircare.cli", "serve", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> LiveServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"fhircare serve exited early:\n{output[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/metadata", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("fhircare serve did not answer /metadata in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
