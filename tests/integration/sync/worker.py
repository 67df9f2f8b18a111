"""A sync run in a process of its own, so a test can SIGKILL it half-way::

    python -m tests.integration.sync.worker SQLITE_FILE REMOTE_JSON FAULT_RATE SEED

It prints one line per progress step (``progress push 10``) and, at the end, the report
as JSON on a line of its own starting with ``report ``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from fhircare.app import context_for
from fhircare.settings import Settings
from fhircare.storage.sqlite.store import SqliteStore
from fhircare.sync import engine
from fhircare.sync.remotes import parse_remote
from tests.integration.sync.faults import FlakyTransport

LEASE_SECONDS = 3.0


async def main(path: Path, fields: dict[str, object], rate: float, seed: int) -> None:
    store = SqliteStore(path)
    await store.open()
    try:
        context = context_for(Settings(sqlite_path=path), store)
        await context.search_parameters.load()
        remote = parse_remote(str(fields.pop("name")), dict(fields))

        def progress(what: str, done: int, total: int | None) -> None:
            print(f"progress {what} {done}", flush=True)

        report = await engine.run(
            context,
            remote,
            progress=progress,
            transport=FlakyTransport(rate, seed),
            lease_seconds=LEASE_SECONDS,
        )
        print("report " + json.dumps(report.as_dict()), flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(
        main(Path(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
    )
