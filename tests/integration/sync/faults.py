"""A transport that makes a share of remote calls fail, in the ways networks fail: the
connection refused before the request left, a 503, and the answer lost after the remote
did the work (the case that makes a retried write dangerous)."""

from __future__ import annotations

import random

import httpx


class FlakyTransport(httpx.AsyncBaseTransport):
    """Fails ``rate`` of the calls, a third each way; ``failed`` counts them."""

    def __init__(self, rate: float, seed: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.rate = rate
        self.random = random.Random(seed)
        self.calls = 0
        self.failed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        roll = self.random.random()
        if roll < self.rate / 3:
            self.failed += 1
            raise httpx.ConnectError("injected: connection refused", request=request)
        if roll < 2 * self.rate / 3:
            self.failed += 1
            return httpx.Response(503, headers={"Retry-After": "0"}, request=request)
        response = await self.inner.handle_async_request(request)
        if roll < self.rate:
            self.failed += 1
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("injected: the answer was lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
