"""What each row does, in the child process that runs it (``child.py``).

- ``load``: the data into a fresh local SQLite file through ``fhircare.loader.load``
  (transaction Bundles of PUTs), not a row of the table.
- ``hapi-create``: HAPI's own ingest, transaction Bundles of ``BUNDLE`` POSTs with
  ``urn:uuid`` references (https://hl7.org/fhir/R4/http.html#transaction), one at a time.
- ``hapi-read``: HAPI's own read, a ``[type]?_sort=_lastUpdated&_count=100`` search page
  after page (with ``_tag`` on a server holding other data).
- ``sync-push`` and ``sync-pull``: ``fhircare.sync.engine.run`` between a SQLite file and
  HAPI, with the remote's defaults but its types, its page size and, for the pull, the
  search mode (``pull_mode = "search"``): HAPI pages ``_history`` by ``_offset`` with at most
  50 entries a page, and at 100k resources one such page costs it a second or two, so a
  history walk there takes hours (HAPI's own read by history does too); its search pages
  come from a stored result list.

Each returns a JSON-able dict: ``count`` (resources moved), ``failed``, ``seconds`` (the
work alone: not the start of Python, the imports or the store's opening) and details.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx

from bench.sync import data
from fhircare.interactions.request import Context

BUNDLE = 100
"""Entries per HAPI transaction: ten whole patient groups."""
LOAD_BUNDLE = 1000
PAGE = 100
FHIR_JSON = "application/fhir+json"
TIMEOUT = httpx.Timeout(600.0, connect=10.0)

Result = dict[str, Any]


def say(message: str) -> None:
    print(f"sync bench: {message}", file=sys.stderr, flush=True)


def every(step: int, label: str) -> Callable[[int, int | None], None]:
    """A progress printer that speaks once per ``step`` resources."""
    last = [0]

    def report(done: int, total: int | None) -> None:
        if done - last[0] >= step or (total is not None and done == total and done != last[0]):
            last[0] = done
            say(f"{label}: {done:,}" + (f" of {total:,}" if total else ""))

    return report


async def load(spec: dict[str, Any]) -> Result:
    """The data into a fresh SQLite file, through the loader."""
    from fhircare.loader import load as load_files

    size, path, folder = int(spec["size"]), Path(spec["sqlite"]), Path(spec["bundles"])
    folder.mkdir(parents=True, exist_ok=True)
    resources = data.resources(size, int(spec["seed"]), str(spec["tag"]))
    for n, chunk in enumerate(data.chunks(resources, LOAD_BUNDLE)):
        (folder / f"bundle-{n:05d}.json").write_bytes(json.dumps(data.local_bundle(chunk)).encode())
    async with _local(path) as context:
        started = time.perf_counter()
        report = await load_files(context, [folder], lambda done, total: None)
        seconds = time.perf_counter() - started
    return {
        "count": report.counts["created"],
        "failed": report.counts["failed"] + report.counts["unreadable files"],
        "seconds": seconds,
        "errors": report.errors[:5],
    }


async def hapi_create(spec: dict[str, Any]) -> Result:
    """POST the data to HAPI as transactions of ``BUNDLE``; counts the 201 entries."""
    size, base_url = int(spec["size"]), str(spec["base_url"])
    resources = data.resources(size, int(spec["seed"]), str(spec["tag"]))
    created = failed = 0
    seconds = 0.0
    problems: list[str] = []
    progress = every(max(size // 10, BUNDLE), "HAPI create")
    headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, "Prefer": "return=minimal"}
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        for chunk in data.chunks(resources, BUNDLE):
            body = json.dumps(data.hapi_bundle(chunk)).encode()
            started = time.perf_counter()
            response = await http.post(base_url, content=body, headers=headers)
            answer = response.json()
            seconds += time.perf_counter() - started
            if response.status_code != 200:
                failed += len(chunk)
                problems.append(f"{response.status_code}: {response.text[:300]}")
                continue
            statuses = [str(e["response"]["status"]) for e in answer.get("entry") or []]
            ok = sum(s.startswith("201") for s in statuses)
            created += ok
            failed += len(chunk) - ok
            progress(created + failed, size)
    return {"count": created, "failed": failed, "seconds": seconds, "errors": problems[:5]}


async def hapi_read(spec: dict[str, Any]) -> Result:
    """Every page of each type's ``_lastUpdated``-sorted search; counts the resources."""
    base_url, tag = str(spec["base_url"]).rstrip("/"), spec.get("tag")
    count = pages = 0
    by_type: dict[str, int] = {}
    progress = every(max(int(spec["size"]) // 10, PAGE), "HAPI read")
    async with httpx.AsyncClient(timeout=TIMEOUT, headers={"Accept": FHIR_JSON}) as http:
        started = time.perf_counter()
        for kind in data.TYPES:
            url = f"{base_url}/{kind}"
            params: dict[str, str] | None = {"_count": str(PAGE), "_sort": "_lastUpdated"}
            if tag is not None:
                params = {**(params or {}), "_tag": f"{data.TAG_SYSTEM}|{tag}"}
            found = 0
            next_url: str | None = url
            while next_url:
                response = await http.get(next_url, params=params)
                response.raise_for_status()
                bundle = response.json()
                pages += 1
                found += sum(1 for e in bundle.get("entry") or [] if "resource" in e)
                links = {link["relation"]: link["url"] for link in bundle.get("link") or []}
                next_url, params = links.get("next"), None  # the link carries the query
                progress(count + found, None)
            by_type[kind] = found
            count += found
        seconds = time.perf_counter() - started
    return {"count": count, "failed": 0, "seconds": seconds, "pages": pages, "by_type": by_type}


async def sync(spec: dict[str, Any]) -> Result:
    """``engine.run`` in ``spec["direction"]`` between the SQLite file and the remote."""
    from fhircare.sync import engine
    from fhircare.sync.remotes import parse_remote

    direction = cast(engine.Direction, spec["direction"])
    fields: dict[str, Any] = {
        "base_url": spec["base_url"],
        "types": list(data.TYPES),
        "page_size": PAGE,
        "pull_mode": "search",
    }
    if spec.get("tag"):
        fields["types"] = [
            {"type": kind, "filter": f"_tag={data.TAG_SYSTEM}|{spec['tag']}"} for kind in data.TYPES
        ]
    remote = parse_remote(f"bench-{direction}", fields)
    step = max(int(spec["size"]) // 10, PAGE)
    printers: dict[str, Callable[[int, int | None], None]] = {}

    def progress(what: str, done: int, total: int | None) -> None:
        printers.setdefault(what, every(step, f"sync {what}"))(done, total)

    async with _local(Path(spec["sqlite"])) as context:
        started = time.perf_counter()
        report = await engine.run(context, remote, direction, progress=progress)
        seconds = time.perf_counter() - started
    count = report.pushed if direction == "push" else report.pulled
    return {
        "count": count,
        "failed": report.failed,
        "seconds": seconds,
        "report": {
            k: v for k, v in report.as_dict().items() if k not in ("errors", "id", "remote")
        },
        "errors": report.errors[:5],
    }


@asynccontextmanager
async def _local(path: Path) -> AsyncIterator[Context]:
    """A fhircare context over the SQLite file at ``path``, opened and closed."""
    from fhircare.app import context_for
    from fhircare.settings import Settings
    from fhircare.storage.sqlite.store import SqliteStore

    store = SqliteStore(path)
    await store.open()
    try:
        context = context_for(Settings(sqlite_path=path), store)
        await context.search_parameters.load()
        yield context
    finally:
        await store.close()


async def sync_push(spec: dict[str, Any]) -> Result:
    return await sync({**spec, "direction": "push"})


async def sync_pull(spec: dict[str, Any]) -> Result:
    return await sync({**spec, "direction": "pull"})


ROWS = {
    "load": load,
    "hapi-create": hapi_create,
    "hapi-read": hapi_read,
    "sync-push": sync_push,
    "sync-pull": sync_pull,
}
