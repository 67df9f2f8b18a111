"""``Server-Timing`` on writes: where the server spent a request's time.

https://www.w3.org/TR/server-timing/. Each phase the core measured (``fhir/timing.py``:
``parse``, ``validate``, ``index``, ``store``) becomes a metric with its duration in
milliseconds, and ``total`` is the whole request inside the app, so that a client can tell
the server's share of the latency it sees. On with ``FHIRCARE_SERVER_TIMING=true``; reads
carry no header.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhircare.fhir import timing

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def header_value(phases: Mapping[str, float], total: float) -> str:
    """``parse;dur=0.081, validate;dur=0.412, total;dur=2.310`` from durations in seconds."""
    metrics = [*phases.items(), ("total", total)]
    return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in metrics)


class ServerTimingMiddleware:
    """Pure ASGI: collects the phases of a write and adds the header when it starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        with timing.collecting() as phases:

            async def send_with_timing(message: Message) -> None:
                if message["type"] == "http.response.start":
                    value = header_value(phases, perf_counter() - start)
                    headers = [*message.get("headers", []), (b"server-timing", value.encode())]
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_timing)
