"""Authentication to a remote FHIR server: one ``httpx.Auth`` for each ``Auth.kind``.

``smart-backend`` is SMART Backend Services
(https://hl7.org/fhir/smart-app-launch/backend-services.html): the client signs a short-lived
JWT with its private key, trades it at the token endpoint for an access token
(client-credentials grant, RFC 7523 client assertion), and sends that token as a bearer
token until shortly before it expires or the server answers 401.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path
from typing import Any, Literal

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fhircare.sync.remotes import Remote, RemoteConfigError
from fhircare.sync.retry import RETRYABLE_STATUSES, RemoteRejected, Transient, diagnostics

ASSERTION_LIFETIME = 240
"""Seconds a client assertion is valid: the spec allows at most five minutes; a minute less
keeps it acceptable to a token server whose clock runs behind ours."""
TOKEN_MARGIN = 30.0
"""An access token is renewed this many seconds before its ``expires_in`` runs out."""
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class BearerAuth(httpx.Auth):
    """A fixed bearer token (RFC 6750)."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class SmartBackendAuth(httpx.Auth):
    """SMART Backend Services: a cached access token, fetched with a signed client assertion
    through a small client of its own (same transport), renewed once on a 401."""

    def __init__(
        self,
        remote: Remote,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        auth, where = remote.auth, f"remotes.{remote.name}.auth"
        if not auth.client_id:
            raise RemoteConfigError(f"{where}.client_id is required for kind 'smart-backend'")
        if not auth.key_id:
            raise RemoteConfigError(f"{where}.key_id is required for kind 'smart-backend'")
        if auth.private_key_path is None:
            raise RemoteConfigError(
                f"{where}.private_key_path is required for kind 'smart-backend'"
            )
        self._remote = remote
        self._client_id = auth.client_id
        self._key_id = auth.key_id
        self._algorithm = auth.algorithm
        self._key = _load_key(auth.private_key_path, auth.algorithm, f"{where}.private_key_path")
        self._scope = auth.scope
        self._token_url = auth.token_url
        self._clock = clock
        self._http = httpx.AsyncClient(
            transport=transport, timeout=remote.timeout, follow_redirects=False
        )
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires = 0.0

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = await self.token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("SMART backend services authentication needs an async client")

    async def token(self, stale: str | None = None) -> str:
        """The current access token; a new one when it expired or is ``stale`` (refused)."""
        async with self._lock:
            if self._token is not None and self._token != stale and self._clock() < self._expires:
                return self._token
            self._token = None
            url = self._token_url or await self._discover()
            now = self._clock()
            data = await self._call("POST", url, data=self._form(url))
            token, expires_in = data.get("access_token"), data.get("expires_in", 300)
            if not isinstance(token, str) or not token:
                raise Transient(f"token endpoint {url} answered without an access_token")
            if not isinstance(expires_in, int | float):
                expires_in = 300
            self._token, self._expires = token, now + float(expires_in) - TOKEN_MARGIN
            return token

    async def aclose(self) -> None:
        await self._http.aclose()

    def _form(self, token_url: str) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": secrets.token_urlsafe(24),
        }
        headers = {"kid": self._key_id, "typ": "JWT"}
        assertion = jwt.encode(claims, self._key, algorithm=self._algorithm, headers=headers)
        return {
            "grant_type": "client_credentials",
            "scope": self._scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }

    async def _discover(self) -> str:
        """The token endpoint from ``{base}/.well-known/smart-configuration``, kept for
        the client's life (https://hl7.org/fhir/smart-app-launch/conformance.html)."""
        url = f"{self._remote.base_url}/.well-known/smart-configuration"
        try:
            config = await self._call("GET", url)
        except RemoteRejected as error:
            raise RemoteConfigError(
                f"remotes.{self._remote.name}.auth.token_url is not set and {error}"
            ) from None
        endpoint = config.get("token_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise RemoteConfigError(
                f"remotes.{self._remote.name}.auth.token_url is not set and {url} "
                "names no token_endpoint"
            )
        self._token_url = endpoint
        return endpoint

    async def _call(self, method: str, url: str, data: dict[str, str] | None = None) -> dict:
        """One exchange with the authorization server; a transient failure is retried by
        the caller's loop, a refusal is final."""
        headers = {"Accept": "application/json"}
        response = await self._http.request(method, url, data=data, headers=headers)
        body = _json_object(response.content)
        if response.status_code in RETRYABLE_STATUSES:
            raise Transient(
                f"{response.status_code} from {url}", response.headers.get("Retry-After")
            )
        if response.status_code != 200:
            said = diagnostics(body, response.text)
            raise RemoteRejected(method, url, response.status_code, body, said)
        if body is None:
            raise Transient(f"{url} answered 200 with no JSON object")
        return body


def auth_for(
    remote: Remote, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.Auth | None:
    """The ``httpx.Auth`` for ``remote.auth``; a missing field is a ``RemoteConfigError``."""
    auth, where = remote.auth, f"remotes.{remote.name}.auth"
    if auth.kind == "none":
        return None
    if auth.kind == "basic":
        if not auth.username:
            raise RemoteConfigError(f"{where}.username is required for kind 'basic'")
        return httpx.BasicAuth(auth.username, _secret(remote, "password"))
    if auth.kind == "bearer":
        return BearerAuth(_secret(remote, "token"))
    return SmartBackendAuth(remote, transport=transport)


def _secret(remote: Remote, name: Literal["password", "token"]) -> str:
    value = remote.auth.secret(name)
    if value:
        return value
    where = f"remotes.{remote.name}.auth"
    variable = getattr(remote.auth, f"{name}_env")
    if variable:
        raise RemoteConfigError(f"{where}.{name}_env names ${variable}, which is not set")
    raise RemoteConfigError(
        f"{where}.{name} (or {name}_env) is required for kind '{remote.auth.kind}'"
    )


def _load_key(path: Path, algorithm: str, where: str) -> Any:
    try:
        key = serialization.load_pem_private_key(path.expanduser().read_bytes(), password=None)
    except OSError as error:
        raise RemoteConfigError(f"{where}: cannot read {path}: {error.strerror}") from None
    except (ValueError, TypeError) as error:
        raise RemoteConfigError(
            f"{where}: {path} is no unencrypted PEM private key ({error})"
        ) from None
    if algorithm == "RS384" and not isinstance(key, rsa.RSAPrivateKey):
        raise RemoteConfigError(f"{where}: RS384 needs an RSA key")
    if algorithm == "ES384" and not (
        isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1)
    ):
        raise RemoteConfigError(f"{where}: ES384 needs an EC key on curve P-384")
    return key


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content) if content.strip() else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
