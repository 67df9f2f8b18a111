"""Where a request's time goes: named phases measured inside the server.

``rest/`` opens a collection per request (``collecting``) when the Server-Timing header is
on; the core wraps its phases in ``measure("validate")`` and knows nothing of HTTP. Without
an open collection ``measure`` costs one context variable lookup. A phase that runs several
times in one request (each entry of a transaction) adds up.
https://www.w3.org/TR/server-timing/
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import perf_counter

__all__ = ["collecting", "measure"]

_TIMINGS: ContextVar[dict[str, float] | None] = ContextVar("fhircare_timings", default=None)


@contextmanager
def collecting() -> Iterator[dict[str, float]]:
    """Collect the phases measured inside the block: name -> seconds, in first-seen order."""
    timings: dict[str, float] = {}
    token = _TIMINGS.set(timings)
    try:
        yield timings
    finally:
        _TIMINGS.reset(token)


@contextmanager
def measure(name: str) -> Iterator[None]:
    """Add the block's duration to phase ``name`` of the open collection, if there is one."""
    timings = _TIMINGS.get()
    if timings is None:
        yield
        return
    start = perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + perf_counter() - start
