"""Start and stop what the benchmark measures: a throwaway FerretDB and a fhircare server.

Both run as child processes; their files live in one run folder under ``var/bench/`` that is
removed when the run succeeds and kept (with the logs) when it does not.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fhircare.processes import ServerProcess
from fhircare.storage.mongo.ferretdb import FERRETDB_VERSION, FerretDB, free_port

VAR_DIR = Path("var")


def redact(uri: str) -> str:
    """``uri`` with any password replaced by ``***``."""
    return re.sub(r"(//[^:/@]+:)[^@/]*@", r"\1***@", uri)


@contextmanager
def mongo_store(run_dir: Path) -> Iterator[tuple[str, str]]:
    """Yield (uri, description): ``MONGODB_URI`` if set, else a FerretDB of our own."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri, f"MONGODB_URI {redact(uri)}"
        return
    ferret = FerretDB(var_dir=VAR_DIR, data_dir=run_dir / "ferretdb", port=free_port())
    print(f"bench: starting FerretDB {FERRETDB_VERSION} on port {ferret.port}", file=sys.stderr)
    ferret.start()
    try:
        yield ferret.uri, f"FerretDB {FERRETDB_VERSION} (SQLite backend) at {ferret.uri}, throwaway"
    finally:
        ferret.stop()


class FhircareServer(ServerProcess):
    """The measured server, with its log kept in the run folder."""

    def __init__(self, uri: str, database: str, workers: int, log_path: Path) -> None:
        super().__init__(uri, database, workers=workers, log_path=log_path)

    def start(self, timeout: float = 60.0) -> FhircareServer:
        self.wait_ready(timeout)
        return self

    def peak_memory_kib(self) -> tuple[int | None, int]:
        """(sum of VmHWM in KiB, number of processes) over the server and its descendants.

        With one worker that is the single uvicorn process; with more, the supervisor and
        each worker, so the sum is an upper bound of the peak they had together.
        """
        pids = [self.process.pid, *descendants(self.process.pid)]
        peaks = [kib for kib in (vm_hwm_kib(pid) for pid in pids) if kib is not None]
        return (sum(peaks) if peaks else None), len(peaks)


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size of ``pid`` from /proc, or None where there is no /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(match.group(1)) if match else None


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, by parent links read from /proc/*/stat."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found
