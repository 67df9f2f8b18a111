"""Run one operation N times from C asyncio workers and time every call.

The workers pull indexes from a shared counter, so exactly N calls are made whatever C is.
An operation returns ``None`` on success or a short description of what went wrong; an
exception counts as an error too, so one bad response never stops a row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Operation = Callable[[int], Awaitable[str | None]]


@dataclass
class Outcome:
    """Latencies (seconds) of the successful calls, the error count and the wall time."""

    requests: int
    concurrency: int
    wall_seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None


async def run_concurrent(requests: int, concurrency: int, operation: Operation) -> Outcome:
    """Call ``operation(i)`` for i in 0..requests-1 with ``concurrency`` calls in flight."""
    if requests < 1 or concurrency < 1:
        raise ValueError("requests and concurrency must be at least 1")
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors, first_error
        while next_index < requests:
            index = next_index
            next_index += 1
            start = time.perf_counter()
            try:
                problem = await operation(index)
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - start
            if problem is None:
                latencies.append(elapsed)
            else:
                errors += 1
                first_error = first_error or problem

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, requests))))
    wall = time.perf_counter() - start
    return Outcome(requests, concurrency, wall, latencies, errors, first_error)
