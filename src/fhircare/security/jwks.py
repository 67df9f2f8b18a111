"""The authorization server's public keys: a JSON Web Key Set (RFC 7517 §5) from a file or URL.

Keys are cached by ``kid`` so a verification costs no I/O. A token whose ``kid`` the cache does
not know makes the set refetch (the issuer rotated its keys), but at most once per
``refresh_seconds``: a caller sending made-up ``kid`` values cannot turn every request into a
fetch. Only public signature keys are kept: symmetric (``oct``) keys and keys marked for
encryption are dropped, so no shared secret can ever verify a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWKError

log = logging.getLogger(__name__)

KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
"""The JWK ``kty`` each algorithm family verifies with (RFC 7518 §3.1)."""
CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
"""The curve each ECDSA algorithm is defined on (RFC 7518 §3.4)."""
MAX_JWKS_BYTES = 1024 * 1024


class KeySetUnavailable(Exception):
    """The key set could not be loaded, and no keys from an earlier load are at hand."""


@dataclass
class _Key:
    """One JWK of the set, with its verification key made once per algorithm."""

    data: dict[str, Any]
    prepared: dict[str, PyJWK] = field(default_factory=dict)

    @property
    def kid(self) -> str | None:
        kid = self.data.get("kid")
        return kid if isinstance(kid, str) else None

    def fits(self, alg: str) -> bool:
        """Whether this key may verify ``alg``: its type and curve, and its own ``alg`` if it
        names one (RFC 7517 §4.4)."""
        if self.data.get("kty") != KEY_TYPES.get(alg[:2]):
            return False
        if alg in CURVES and self.data.get("crv") != CURVES[alg]:
            return False
        own = self.data.get("alg")
        return own is None or own == alg

    def for_algorithm(self, alg: str) -> PyJWK | None:
        if alg not in self.prepared:
            if not self.fits(alg):
                return None
            try:
                self.prepared[alg] = PyJWK(self.data, algorithm=alg)
            except (PyJWKError, ValueError, TypeError):
                return None
        return self.prepared[alg]


def parse_jwks(document: object) -> list[_Key]:
    """The public signature keys of a JWKS document; anything else in it is skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JSON Web Key Set: no 'keys' list")
    keys = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC"):
            continue
        if entry.get("use", "sig") != "sig" or "d" in entry:
            continue  # an encryption key, or a private key published by mistake
        keys.append(_Key(dict(entry)))
    return keys


class KeySet:
    """The cached keys of one JWKS source: a ``http(s)://`` URL or a file path."""

    def __init__(
        self,
        source: str,
        *,
        refresh_seconds: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.refresh_seconds = refresh_seconds
        self.fetches = 0
        """How many times the source was read (a number to check, in tests and metrics)."""
        self._transport = transport
        self._timeout = timeout
        self._clock = clock
        self._keys: list[_Key] = []
        self._by_kid: dict[str, _Key] = {}
        self._fetched_at: float | None = None
        self._loaded = False
        self._lock = asyncio.Lock()

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("https://", "http://"))

    async def load(self) -> None:
        """Read the source now (at startup, say); raises ``KeySetUnavailable`` if it fails."""
        async with self._lock:
            await self._fetch()
        if not self._loaded:
            raise KeySetUnavailable(f"the JWKS at {self.source} could not be loaded")

    async def key_for(self, kid: str | None, alg: str) -> PyJWK | None:
        """The key to verify a token signed with ``alg`` under ``kid``, or ``None``.

        Without a ``kid`` the key is the one key of the set that fits ``alg``; with several
        candidates none is guessed. A miss refetches the set if the last fetch is older than
        ``refresh_seconds``.
        """
        if not self._loaded:
            await self._refresh_if_due()
            if not self._loaded:
                raise KeySetUnavailable(f"the JWKS at {self.source} could not be loaded")
        found = self._find(kid, alg)
        if found is None and await self._refresh_if_due():
            found = self._find(kid, alg)
        return found

    def _find(self, kid: str | None, alg: str) -> PyJWK | None:
        if kid is not None:
            key = self._by_kid.get(kid)
            return key.for_algorithm(alg) if key is not None else None
        candidates = [key for key in self._keys if key.fits(alg)]
        return candidates[0].for_algorithm(alg) if len(candidates) == 1 else None

    async def _refresh_if_due(self) -> bool:
        """Refetch unless a fetch happened within ``refresh_seconds`` (also by a concurrent
        caller, which this one then waits for); whether the keys may have changed."""
        before = self._fetched_at
        async with self._lock:
            if self._fetched_at != before:
                return True  # another caller refetched while this one waited
            if before is not None and self._clock() - before < self.refresh_seconds:
                return False
            await self._fetch()
            return True

    async def _fetch(self) -> None:
        self._fetched_at = self._clock()
        self.fetches += 1
        try:
            keys = parse_jwks(await self._read())
        except (OSError, ValueError, httpx.HTTPError) as error:
            # Keep the keys of the last good load: a hiccup of the issuer must not lock
            # everyone out.
            log.warning("JWKS %s not loaded: %s", self.source, error)
            return
        self._keys = keys
        self._by_kid = {key.kid: key for key in keys if key.kid is not None}
        self._loaded = True

    async def _read(self) -> object:
        if not self.is_url:
            text = await asyncio.to_thread(Path(self.source).read_bytes)
            return json.loads(text)
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
            response = await client.get(self.source, headers={"Accept": "application/json"})
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError("JWKS larger than 1 MiB")
            return response.json()
