"""A HAPI FHIR JPA server 8.8.0 (R4, embedded H2) on loopback: the sync tests' live peer and
the server the benchmarks measure fhircare beside.

The server is the small Spring Boot app in ``tests/peers/hapi/``; ``build`` packages it with
Maven into ``var/hapi/hapi-server.jar`` (once, and again only when its sources change), and
``HapiServer`` runs that jar with its H2 files and its log in a data folder::

    .venv/bin/python -m tests.peers.hapi_server build
    .venv/bin/python -m tests.peers.hapi_server run --port 8090   # Ctrl-C stops it

The first build downloads HAPI and Spring Boot from Maven Central (a few minutes); start-up
takes one to two minutes on two CPUs, most of it HAPI's Spring context and, on a new folder,
its schema. The pytest fixture is ``hapi_peer`` in ``tests/peers/fixtures.py``.

What this peer does, as observed on a live start (the sync engine relies on it; the storage
settings are in ``JpaServerConfig.java``):

- Searches are not cached: a search or ``_history`` right after a write sees it (HAPI's
  default reuses an identical search's results for 60 s; turned off here).
- ``_history`` at type and system level (``[type]/_history``, ``_history``) takes ``_since``
  (inclusive: a version whose ``lastUpdated`` equals it is returned), newest first, with
  ``total`` and ``next`` links by ``_offset``. Every entry has an absolute ``fullUrl``
  (``{base}/Patient/{id}``, no version) and ``request.url`` *with* the version
  (``Patient/{id}/_history/{n}``). A deletion is its own version::

      {"fullUrl": "{base}/Patient/{id}",
       "request": {"method": "DELETE", "url": "Patient/{id}/_history/2"},
       "response": {"status": "200 OK", "etag": 'W/"2"'}}

  with no ``resource`` and no ``response.lastModified``. Version 1 is always
  ``"method": "POST"``, ``"status": "201 Created"``, even when created by PUT; later versions
  are ``PUT``/``"200 OK"``, also a PUT that recreates a deleted resource (it answers 201).
- DELETE answers 200 with an OperationOutcome and no ETag; deleting again answers 200 and
  makes no version; a read of a deleted resource answers 410. A PUT whose content equals the
  current version makes no new version (200, same ETag).
- ``/fhir/metadata``: no resource declares ``updateCreate`` (absent, though update-as-create
  works); ``conditionalCreate`` true; ``conditionalDelete`` "multiple" (yet more than one
  match is refused); every type lists ``history-type`` and ``history-instance``; the system
  lists ``transaction`` and ``history-system`` (batch works but is not listed).
- Client-assigned ids (PUT to a new id): alphanumeric ones and UUIDs are accepted (201);
  purely numeric ones are refused with 400 (HAPI-0960). Server-assigned ids are numeric.
- ``_tag=system|code`` works in searches and in ``If-None-Exist`` on POST (and in a
  transaction entry's ``ifNoneExist``): 201, then 200 with the existing resource; 412 when it
  matches two.
- Tags are carried forward: an update keeps the previous version's ``meta.tag`` (a body with
  tag B over a version with tag A stores both), so a tag cannot be removed by PUT.
- ``If-Match`` on PUT (``W/"1"``, ``"1"`` or ``1``) that is stale answers **409** (HAPI-0989,
  "not the current version"), not 412. On a resource that does not exist it is ignored and
  the PUT creates (201).
- A transaction whose PUT entries carry ``request.ifMatch`` works: current ones update
  (entry ``response.etag`` is bare, ``"3"``), a stale one fails the whole transaction with
  409; on a missing resource the entry creates.
- Referential integrity on write (HAPI's default, kept): a reference to a resource that does
  not exist is refused with 400 (HAPI-1094) on POST, PUT and in a transaction; deleting a
  resource that is still referenced answers 409.
- ``POST [base]/[type]/$validate?profile=[url]`` validates the body against the
  StructureDefinitions (differential-only ones too: HAPI generates the snapshot), ValueSets
  and CodeSystems PUT to it, and answers 200 with an OperationOutcome whether or not it
  found errors; writes are never validated. A reference's target type is checked against
  ``targetProfile`` only when the target is on this server (``JpaServerConfig.java`` turns
  that check on; HAPI's default ignores references): ``Group/x`` that is not there passes.
  A code not in a required R4 enumeration (``Task.priority``) fails parsing (HAPI-0450, an
  error issue). Codes of code systems it does not hold (LOINC, SNOMED CT, an example's
  own) are warnings, as is missing narrative (dom-6).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

HAPI_VERSION = "8.8.0"
PROJECT_DIR = Path(__file__).resolve().parent / "hapi"
JAR_NAME = "hapi-server.jar"
HOST = "127.0.0.1"


def sources_digest() -> str:
    """SHA-256 over the Maven project's files, so a changed source means a new jar."""
    digest = hashlib.sha256()
    files = [PROJECT_DIR / "pom.xml", *sorted((PROJECT_DIR / "src").rglob("*"))]
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(PROJECT_DIR).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build(var_dir: Path) -> Path:
    """The server jar under ``var_dir/hapi/``, built with Maven first if missing or stale."""
    hapi_dir = var_dir.resolve() / "hapi"
    jar = hapi_dir / JAR_NAME
    stamp = hapi_dir / f"{JAR_NAME}.sha256"
    digest = sources_digest()
    if jar.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("building the HAPI server needs Maven (mvn) and a JDK 17 on PATH")
    build_dir = hapi_dir / "build"
    command = [
        mvn,
        "-B",
        "-ntp",
        "-Dstyle.color=never",
        "-f",
        str(PROJECT_DIR / "pom.xml"),
        f"-DbuildDirectory={build_dir}",
        "package",
    ]
    print(f"hapi: building HAPI FHIR {HAPI_VERSION} into {jar}", file=sys.stderr, flush=True)
    started = time.monotonic()
    # Maven's own progress goes to our stderr, keeping stdout for what callers print.
    result = subprocess.run(command, stdout=sys.stderr, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"Maven failed ({result.returncode}): {' '.join(command)}")
    os.replace(build_dir / JAR_NAME, jar)
    stamp.write_text(digest + "\n")
    print(f"hapi: built in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    return jar


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """Whether something already accepts connections on ``HOST:port``."""
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


class HapiServer:
    """The HAPI server as a child process on ``127.0.0.1:port``, its log in ``data_dir``.

    ``data_dir`` holds the H2 database, so a server started again on the same folder finds
    its resources; a new folder is an empty server.
    """

    def __init__(
        self,
        var_dir: Path,
        data_dir: Path,
        port: int,
        *,
        heap: str = "2g",
        java: str = "java",
    ) -> None:
        self.var_dir = var_dir
        self.data_dir = data_dir.resolve()
        self.port = port
        self.heap = heap
        self.java = java
        self.base_url = f"http://{HOST}:{port}/fhir"
        self.log_path = self.data_dir / "hapi.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 240.0) -> HapiServer:
        """Build if needed, launch, and block until ``GET /fhir/metadata`` answers 200."""
        jar = build(self.var_dir)
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} on {HOST} is already in use")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        command = [
            self.java,
            f"-Xmx{self.heap}",
            "-jar",
            str(jar),
            f"--server.address={HOST}",
            f"--server.port={self.port}",
            f"--hapi.data-dir={self.data_dir}",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        # The first CapabilityStatement takes seconds to build: wait for it rather than retry.
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    self.stop()
                    raise RuntimeError(
                        f"HAPI exited at start ({code}); {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    if client.get(f"{self.base_url}/metadata").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"HAPI did not answer in {timeout:.0f}s; {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Spring closes H2 cleanly), then SIGKILL after ``timeout`` seconds."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def wait(self) -> int:
        """Block until the server exits; its exit code."""
        assert self.process is not None
        return self.process.wait()

    def memory_kib(self) -> tuple[int | None, int | None]:
        """(resident, peak resident) set size of the JVM in KiB, from /proc where there is one."""
        if self.process is None:
            return None, None
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None, None
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

        def kib(name: str) -> int | None:
            value = fields.get(name, "").split()
            return int(value[0]) if value else None

        return kib("VmRSS"), kib("VmHWM")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> HapiServer:
        if self.process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.peers.hapi_server",
        description=f"Build or run a HAPI FHIR JPA server {HAPI_VERSION} (R4, H2) on loopback.",
    )
    parser.add_argument("--var-dir", type=Path, default=Path("var"), help="default: var")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build var/hapi/hapi-server.jar if missing or stale")
    run = commands.add_parser("run", help="build, start and keep in the foreground until Ctrl-C")
    run.add_argument("--port", type=int, default=8090, help="default: 8090")
    run.add_argument("--data-dir", type=Path, help="H2 files and log; default: VAR_DIR/hapi/data")
    run.add_argument("--heap", default="2g", help="JVM -Xmx; default: 2g")
    args = parser.parse_args(argv)

    if args.command == "build":
        print(build(args.var_dir))
        return 0
    data_dir = args.data_dir or args.var_dir / "hapi" / "data"
    server = HapiServer(args.var_dir, data_dir, args.port, heap=args.heap)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        started = time.monotonic()
        server.start()
        print(
            f"HAPI FHIR {HAPI_VERSION} at {server.base_url} (up in "
            f"{time.monotonic() - started:.0f}s; log {server.log_path}); Ctrl-C stops it",
            flush=True,
        )
        code = server.wait()
        print(f"HAPI exited ({code}); {server.log_path}:\n{server.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
