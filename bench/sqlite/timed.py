"""``python -m bench.sqlite.timed FILE URL…``: requests timed in-process on a SQLite file.

For a store a run left behind (a bench file at a million resources takes a quarter of an
hour to grow): each URL is asked ``--calls`` times through the app in this process, with
no HTTP, and the median after the first call is printed with the Bundle's total.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

from fhircare.app import create_app
from fhircare.settings import Settings
from fhircare.storage.sqlite.store import SqliteStore


async def timed(path: Path, urls: list[str], calls: int) -> list[tuple[str, float, int | None]]:
    """(url, median milliseconds of the calls after the first, the Bundle's total)."""
    store = SqliteStore(path)
    app = create_app(Settings(), store)
    found = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench/fhir", timeout=600
        ) as http:
            for url in urls:
                times, total = [], None
                for call in range(calls + 1):
                    started = time.perf_counter()
                    answer = await http.get(url)
                    if call:
                        times.append((time.perf_counter() - started) * 1000)
                    answer.raise_for_status()
                    total = answer.json().get("total")
                found.append((url, statistics.median(times), total))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlite.timed", description=__doc__)
    parser.add_argument("file", type=Path, help="the SQLite file")
    parser.add_argument("urls", nargs="+", help="paths under the FHIR base, as /Task?owner=…")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per URL")
    args = parser.parse_args(argv)
    for url, median, total in asyncio.run(timed(args.file, args.urls, args.calls)):
        print(f"{median:9.1f} ms  total={total}  {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
