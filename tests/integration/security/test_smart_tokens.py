"""Token edge cases under ``FHIRCARE_AUTH=smart``: each bad token is 401 with a Bearer
challenge and an OperationOutcome; discovery needs no token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fhircare.storage.memory import MemoryStore
from fhircare.token_cli import load_or_create_key, public_jwk
from tests.integration.security.conftest import AUDIENCE, ISSUER, Keys, smart_app

SCOPE = "patient/*.rs"
PATIENT = "a-patient"


@pytest.fixture
async def client(keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    async for http in smart_app(MemoryStore(), keys):
        yield http


def _claims(**more: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "someone",
        "scope": SCOPE,
        "patient": PATIENT,
        "iat": now,
        "exp": now + 300,
        **more,
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _kid(keys: Keys) -> str:
    return str(public_jwk(load_or_create_key(keys.folder, "RS256"), "RS256")["kid"])


def _signed(keys: Keys, claims: dict[str, Any]) -> str:
    key = load_or_create_key(keys.folder, "RS256")
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": _kid(keys)})


async def _refused(client: httpx.AsyncClient, token: str | None, reason: str) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    answer = await client.get("Patient/a-patient", headers=headers)
    assert answer.status_code == 401, answer.text
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert reason in outcome["issue"][0]["diagnostics"], outcome
    if token is not None:
        assert 'error="invalid_token"' in challenge


async def test_a_good_token_reads(client: httpx.AsyncClient, keys: Keys) -> None:
    answer = await client.get(
        "Patient/nobody", headers={"Authorization": f"Bearer {_signed(keys, _claims())}"}
    )
    assert answer.status_code == 404  # let in: the patient does not exist


async def test_an_es256_token_reads(client: httpx.AsyncClient, keys: Keys) -> None:
    token = keys.token("system/*.rs", alg="ES256")
    answer = await client.get("Patient", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text


async def test_no_token(client: httpx.AsyncClient) -> None:
    await _refused(client, None, "needs a SMART bearer token")
    answer = await client.get("Patient")
    assert answer.headers["www-authenticate"] == 'Bearer realm="fhircare"'


async def test_not_a_bearer_token(client: httpx.AsyncClient) -> None:
    answer = await client.get("Patient", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert answer.status_code == 401


async def test_garbage(client: httpx.AsyncClient) -> None:
    await _refused(client, "not-a-jwt", "malformed")


async def test_expired(client: httpx.AsyncClient, keys: Keys) -> None:
    past = time.time() - 3600
    await _refused(client, keys.token(SCOPE, PATIENT, now=past), "expired")


async def test_not_yet_valid(client: httpx.AsyncClient, keys: Keys) -> None:
    token = _signed(keys, _claims(nbf=int(time.time()) + 3600))
    await _refused(client, token, "not yet valid")


async def test_clock_skew_within_leeway_is_accepted(client: httpx.AsyncClient, keys: Keys) -> None:
    token = _signed(keys, _claims(exp=int(time.time()) - 20))
    answer = await client.get("Patient/x", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404


async def test_wrong_audience(client: httpx.AsyncClient, keys: Keys) -> None:
    token = keys.token(SCOPE, PATIENT, audience="https://elsewhere.test/fhir")
    await _refused(client, token, "wrong audience")


async def test_wrong_issuer(client: httpx.AsyncClient, keys: Keys) -> None:
    token = keys.token(SCOPE, PATIENT, issuer="https://impostor.test")
    await _refused(client, token, "wrong issuer")


async def test_bad_signature(client: httpx.AsyncClient, keys: Keys) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), other, algorithm="RS256", headers={"kid": _kid(keys)})
    await _refused(client, token, "bad signature")


async def test_alg_none(client: httpx.AsyncClient, keys: Keys) -> None:
    token = _unsigned({"alg": "none", "typ": "JWT", "kid": _kid(keys)}, _claims()) + "."
    await _refused(client, token, "unsupported algorithm")


async def test_hmac_with_the_public_key(client: httpx.AsyncClient, keys: Keys) -> None:
    public = load_or_create_key(keys.folder, "RS256").public_key()
    secret = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": _kid(keys)}, _claims())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    await _refused(client, f"{signing_input}.{_b64(signature)}", "unsupported algorithm")


async def test_patient_scopes_without_patient_claim(client: httpx.AsyncClient, keys: Keys) -> None:
    await _refused(client, keys.token("patient/*.rs"), "no 'patient' launch context")


async def test_tampered_claims(client: httpx.AsyncClient, keys: Keys) -> None:
    header, _, signature = keys.token(SCOPE, PATIENT).split(".")
    forged = _b64(json.dumps(_claims(scope="system/*.cruds")).encode())
    await _refused(client, f"{header}.{forged}.{signature}", "bad signature")


async def test_missing_scope_is_403_naming_it(client: httpx.AsyncClient, keys: Keys) -> None:
    token = keys.token("patient/Observation.rs", PATIENT)
    answer = await client.get("CarePlan", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    assert "patient/CarePlan.s" in answer.json()["issue"][0]["diagnostics"]
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]


async def test_discovery_needs_no_token(client: httpx.AsyncClient) -> None:
    metadata = (await client.get("metadata")).json()
    security = metadata["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris == {
        "authorize": "https://issuer.test/authorize",
        "token": "https://issuer.test/token",
    }
    smart = await client.get(".well-known/smart-configuration")
    assert smart.status_code == 200
    document = smart.json()
    assert document["issuer"] == ISSUER
    assert document["authorization_endpoint"] == "https://issuer.test/authorize"
    assert document["token_endpoint"] == "https://issuer.test/token"
    assert "permission-v2" in document["capabilities"]
    assert (await client.get("openapi.json")).status_code == 200


async def test_unreachable_key_set_is_503(keys: Keys) -> None:
    async for http in smart_app(MemoryStore(), keys, jwks="http://127.0.0.1:9/jwks.json"):
        answer = await http.get(
            "Patient", headers={"Authorization": f"Bearer {keys.token('system/*.rs')}"}
        )
        assert answer.status_code == 503
        assert answer.json()["resourceType"] == "OperationOutcome"


async def test_none_mode_has_no_smart_configuration(client: httpx.AsyncClient) -> None:
    from fhircare.app import create_app
    from fhircare.settings import Settings

    app = create_app(Settings(), MemoryStore())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=AUDIENCE) as http:
            assert (await http.get(".well-known/smart-configuration")).status_code == 404
            assert "security" not in (await http.get("metadata")).json()["rest"][0]
            assert (await http.get("Patient")).status_code == 200
