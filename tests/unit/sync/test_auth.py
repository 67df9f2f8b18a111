"""Authentication to a remote: basic, bearer, and SMART Backend Services
(https://hl7.org/fhir/smart-app-launch/backend-services.html): discovery, the signed client
assertion, the token cache and the one renewal after a 401."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fhircare.sync.client import RemoteClient, RemoteRejected
from fhircare.sync.remotes import Remote, RemoteConfigError

BASE = "http://remote.test/fhir"
TOKEN_URL = "http://auth.test/oauth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def no_sleep(seconds: float) -> None:
    return None


def remote(auth: dict[str, Any], **fields: Any) -> Remote:
    return Remote(name="hapi", base_url=BASE, auth=auth, **fields)


async def authorization_sent(auth: dict[str, Any]) -> str:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"resourceType": "Patient"})

    async with RemoteClient(remote(auth), transport=httpx.MockTransport(handle)) as client:
        await client.request("GET", "Patient/1")
    return seen[0].headers.get("Authorization", "")


async def test_basic_sends_the_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HAPI_PASSWORD", "s3cret:x")
    sent = await authorization_sent(
        {"kind": "basic", "username": "sync", "password_env": "HAPI_PASSWORD"}
    )
    assert sent == "Basic " + base64.b64encode(b"sync:s3cret:x").decode()


async def test_bearer_sends_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAPI_TOKEN", "abc.def")
    assert await authorization_sent({"kind": "bearer", "token_env": "HAPI_TOKEN"}) == (
        "Bearer abc.def"
    )
    assert await authorization_sent({"kind": "bearer", "token": "t"}) == "Bearer t"


async def test_none_sends_no_authorization() -> None:
    assert await authorization_sent({"kind": "none"}) == ""


def write_key(tmp_path: Path, algorithm: str = "RS384") -> tuple[Path, Any]:
    key: Any
    if algorithm == "RS384":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / f"{algorithm}.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path, key.public_key()


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ({"kind": "basic", "password": "p"}, "remotes.hapi.auth.username"),
        ({"kind": "basic", "username": "u"}, "remotes.hapi.auth.password"),
        ({"kind": "bearer"}, "remotes.hapi.auth.token"),
        ({"kind": "bearer", "token_env": "FHIRCARE_UNSET_VARIABLE"}, "$FHIRCARE_UNSET_VARIABLE"),
        ({"kind": "smart-backend", "key_id": "k", "private_key_path": "k.pem"}, ".client_id"),
        ({"kind": "smart-backend", "client_id": "c", "private_key_path": "k.pem"}, ".key_id"),
        ({"kind": "smart-backend", "client_id": "c", "key_id": "k"}, ".private_key_path"),
        (
            {"kind": "smart-backend", "client_id": "c", "key_id": "k", "private_key_path": "/no"},
            "cannot read /no",
        ),
    ],
)
def test_a_missing_field_is_a_config_error_naming_it(
    auth: dict[str, Any], field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FHIRCARE_UNSET_VARIABLE", raising=False)
    with pytest.raises(RemoteConfigError, match=field.replace("$", r"\$")):
        RemoteClient(remote(auth))


def test_a_key_of_the_wrong_kind_is_a_config_error(tmp_path: Path) -> None:
    path, _ = write_key(tmp_path, "ES384")
    auth = {"kind": "smart-backend", "client_id": "c", "key_id": "k", "private_key_path": path}
    with pytest.raises(RemoteConfigError, match="RS384 needs an RSA key"):
        RemoteClient(remote(auth))


class SmartServer:
    """A FHIR server with a SMART authorization server: verifies each client assertion as
    the spec asks, issues numbered tokens and accepts only the ones it has not revoked."""

    def __init__(self, public_key: Any, algorithm: str, expires_in: int = 3600) -> None:
        self.public_key = public_key
        self.algorithm = algorithm
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.discoveries = 0
        self.fhir_calls: list[str] = []
        self.token_failures: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == f"{BASE}/.well-known/smart-configuration":
            self.discoveries += 1
            return httpx.Response(200, json={"token_endpoint": TOKEN_URL})
        if url == TOKEN_URL:
            return self.token(request)
        sent = request.headers.get("Authorization", "")
        self.fhir_calls.append(sent)
        token = sent.removeprefix("Bearer ")
        if token not in self.issued or token in self.revoked:
            return httpx.Response(401)
        return httpx.Response(200, json={"resourceType": "Patient", "id": "1"})

    def token(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        if self.token_failures:
            return self.token_failures.pop(0)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert form["grant_type"] == "client_credentials"
        assert form["scope"] == "system/CarePlan.rs"
        assert form["client_assertion_type"] == ASSERTION_TYPE
        assertion = form["client_assertion"]
        header = jwt.get_unverified_header(assertion)
        assert header["alg"] == self.algorithm
        assert header["kid"] == "key-1"
        assert header["typ"] == "JWT"
        claims = jwt.decode(
            assertion,
            self.public_key,
            algorithms=[self.algorithm],
            audience=TOKEN_URL,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]},
        )
        assert claims["iss"] == claims["sub"] == "fhircare-sync"
        assert claims["exp"] <= time.time() + 300
        assert len(claims["jti"]) >= 16
        token = f"token-{len(self.issued) + 1}"
        self.issued.append(token)
        body = {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in}
        return httpx.Response(200, json=body)


def smart(path: Path, algorithm: str = "RS384", **auth: Any) -> Remote:
    fields = {
        "kind": "smart-backend",
        "client_id": "fhircare-sync",
        "key_id": "key-1",
        "private_key_path": path,
        "algorithm": algorithm,
        "scope": "system/CarePlan.rs",
        **auth,
    }
    return remote(fields, retries=2)


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
async def test_smart_discovers_the_token_endpoint_and_caches_the_token(
    tmp_path: Path, algorithm: str
) -> None:
    path, public = write_key(tmp_path, algorithm)
    server = SmartServer(public, algorithm)
    transport = httpx.MockTransport(server)
    async with RemoteClient(smart(path, algorithm), transport=transport, sleep=no_sleep) as client:
        for _ in range(3):
            assert (await client.request("GET", "Patient/1")).status == 200
    assert server.discoveries == 1
    assert server.issued == ["token-1"]
    assert server.fhir_calls == ["Bearer token-1"] * 3


async def test_smart_with_a_token_url_skips_discovery(tmp_path: Path) -> None:
    path, public = write_key(tmp_path)
    server = SmartServer(public, "RS384")
    transport = httpx.MockTransport(server)
    async with RemoteClient(smart(path, token_url=TOKEN_URL), transport=transport) as client:
        await client.request("GET", "Patient/1")
    assert server.discoveries == 0
    assert server.issued == ["token-1"]


async def test_smart_renews_the_token_once_after_a_401_and_replays(tmp_path: Path) -> None:
    path, public = write_key(tmp_path)
    server = SmartServer(public, "RS384")
    async with RemoteClient(smart(path), transport=httpx.MockTransport(server)) as client:
        await client.request("GET", "Patient/1")
        server.revoked.add("token-1")
        response = await client.request("GET", "Patient/1")
        await client.request("GET", "Patient/1")
    assert response.status == 200
    assert server.issued == ["token-1", "token-2"]
    assert server.fhir_calls == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
        "Bearer token-2",
    ]


async def test_smart_gives_up_after_one_renewal(tmp_path: Path) -> None:
    path, public = write_key(tmp_path)
    server = SmartServer(public, "RS384")
    server.revoked = {"token-1", "token-2", "token-3"}
    async with RemoteClient(smart(path), transport=httpx.MockTransport(server)) as client:
        with pytest.raises(RemoteRejected) as raised:
            await client.request("GET", "Patient/1")
    assert raised.value.status == 401
    assert server.issued == ["token-1", "token-2"]
    assert len(server.fhir_calls) == 2


async def test_smart_renews_a_token_about_to_expire(tmp_path: Path) -> None:
    path, public = write_key(tmp_path)
    server = SmartServer(public, "RS384", expires_in=20)  # within the 30 s margin
    async with RemoteClient(smart(path), transport=httpx.MockTransport(server)) as client:
        await client.request("GET", "Patient/1")
        await client.request("GET", "Patient/1")
    assert server.issued == ["token-1", "token-2"]
    assert server.fhir_calls == ["Bearer token-1", "Bearer token-2"]


async def test_smart_token_endpoint_unavailable_is_retried(tmp_path: Path) -> None:
    path, public = write_key(tmp_path)
    server = SmartServer(public, "RS384")
    server.token_failures = [httpx.Response(503, headers={"Retry-After": "2"})]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    transport = httpx.MockTransport(server)
    async with RemoteClient(smart(path), transport=transport, sleep=sleep) as client:
        assert (await client.request("GET", "Patient/1")).status == 200
    assert waits == [2.0]
    assert client.stats.retries == 1
    assert server.issued == ["token-1"]


async def test_smart_token_refused_is_rejected_naming_the_token_endpoint(tmp_path: Path) -> None:
    path, public = write_key(tmp_path)
    server = SmartServer(public, "RS384")
    refusal = {"error": "invalid_client", "error_description": "unknown kid"}
    server.token_failures = [httpx.Response(400, json=refusal)]
    async with RemoteClient(smart(path), transport=httpx.MockTransport(server)) as client:
        with pytest.raises(RemoteRejected) as raised:
            await client.request("GET", "Patient/1")
    assert raised.value.status == 400
    assert raised.value.diagnostics == "invalid_client: unknown kid"
    assert f"POST {TOKEN_URL}" in str(raised.value)
    assert server.fhir_calls == []


async def test_smart_without_discovery_or_token_url_is_a_config_error(tmp_path: Path) -> None:
    path, _ = write_key(tmp_path)

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    async with RemoteClient(smart(path), transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(RemoteConfigError, match=r"remotes\.hapi\.auth\.token_url"):
            await client.request("GET", "Patient/1")
