"""Bearer token verification: algorithms allowed before keys are chosen, claims checked with
leeway, keys cached by kid and refetched on rotation at most once per interval."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from fhircare.security.jwks import KeySet, KeySetUnavailable
from fhircare.security.tokens import (
    TokenConfigError,
    TokenRejected,
    TokenSettings,
    TokenVerifier,
)

ISSUER = "https://auth.test"
AUDIENCE = "https://fhir.test/fhir"
JWKS_URL = "https://auth.test/.well-known/jwks.json"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private: Any, kid: str | None) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
    jwk: dict[str, Any] = algorithm.to_jwk(private.public_key(), as_dict=True)
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def jwks_file(tmp_path: Path, *keys: tuple[Any, str | None]) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(key, kid) for key, kid in keys]}))
    return path


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        "scope": "patient/*.rs openid fhirUser",
        "patient": "p1",
        "fhirUser": "Practitioner/pr1",
        "client_id": "app",
    }
    payload.update(overrides)
    return {name: value for name, value in payload.items() if value is not None}


def sign(key: Any, alg: str, kid: str | None = "k1", **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


def verifier(source: Path | str, **options: Any) -> TokenVerifier:
    settings = TokenSettings(jwks=str(source), issuer=ISSUER, audience=AUDIENCE)
    return TokenVerifier(settings, settings.key_set(**options))


async def rejected(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        await verifier.verify(token)
    return caught.value.reason


@pytest.mark.parametrize(("key", "alg"), [(RSA_KEY, "RS256"), (EC_KEY, "ES256")])
async def test_a_valid_token_verifies_with_its_claims(tmp_path: Path, key: Any, alg: str) -> None:
    check = verifier(jwks_file(tmp_path, (key, "k1")))
    verified = await check.verify(sign(key, alg))
    assert verified.subject == "user-1"
    assert verified.scopes == ("patient/*.rs", "openid", "fhirUser")
    assert verified.patient == "p1"
    assert verified.fhir_user == "Practitioner/pr1"
    assert verified.client_id == "app"
    assert verified.raw["iss"] == ISSUER


async def test_rs384_verifies_with_an_rsa_key_that_names_no_algorithm(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    assert (await check.verify(sign(RSA_KEY, "RS384"))).subject == "user-1"


async def test_audience_may_be_a_list(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (EC_KEY, "k1")))
    token = sign(EC_KEY, "ES256", aud=["https://other.test", AUDIENCE])
    assert (await check.verify(token)).subject == "user-1"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        # times as offsets from the test's own run (a suite may run long after collection)
        ({"exp": -120}, "expired"),
        ({"nbf": 600}, "not yet valid"),
        ({"iat": 600}, "not yet valid"),
        ({"aud": "https://elsewhere.test/fhir"}, "wrong audience"),
        ({"aud": ["https://a.test", "https://b.test"]}, "wrong audience"),
        ({"iss": "https://evil.test"}, "wrong issuer"),
        ({"exp": None}, "missing exp"),
        ({"iss": None}, "wrong issuer"),
        ({"aud": None}, "wrong audience"),
        ({"scope": 7}, "malformed"),
        ({"patient": {"id": "p1"}}, "malformed"),
    ],
)
async def test_claims_that_do_not_fit_are_refused(
    tmp_path: Path, overrides: dict[str, Any], reason: str
) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    now = int(time.time())
    dated = {
        name: now + value if name in ("exp", "nbf", "iat") and isinstance(value, int) else value
        for name, value in overrides.items()
    }
    assert await rejected(check, sign(RSA_KEY, "RS256", **dated)) == reason


async def test_leeway_accepts_a_token_just_expired_or_just_valid(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    now = int(time.time())
    await check.verify(sign(RSA_KEY, "RS256", exp=now - 30))
    await check.verify(sign(RSA_KEY, "RS256", nbf=now + 30))


async def test_a_signature_by_another_key_with_the_same_kid_is_refused(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    assert await rejected(check, sign(OTHER_RSA_KEY, "RS256")) == "bad signature"


async def test_a_tampered_payload_is_refused(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (EC_KEY, "k1")))
    header, _, signature = sign(EC_KEY, "ES256").split(".")
    forged = jwt.utils.base64url_encode(json.dumps(claims(sub="admin")).encode()).decode()
    assert await rejected(check, f"{header}.{forged}.{signature}") == "bad signature"


async def test_alg_none_is_refused(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    token = jwt.encode(claims(), "", algorithm="none", headers={"kid": "k1"})
    assert await rejected(check, token) == "unsupported algorithm"
    assert check.keyset.fetches == 0  # refused before any key was looked at


async def test_hs256_with_the_public_key_as_secret_is_refused(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT refuses to sign with a PEM as HMAC secret, so the token is made by hand.
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT","kid":"k1"}')
    body = jwt.utils.base64url_encode(json.dumps(claims()).encode())
    mac = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256)
    signature = jwt.utils.base64url_encode(mac.sign(header + b"." + body, pem))
    token = b".".join([header, body, signature]).decode()
    assert await rejected(check, token) == "unsupported algorithm"


async def test_an_algorithm_the_key_does_not_fit_is_refused(tmp_path: Path) -> None:
    settings = TokenSettings(jwks="unused", issuer=ISSUER, audience=AUDIENCE)
    check = TokenVerifier(settings, KeySet(str(jwks_file(tmp_path, (EC_KEY, "k1")))))
    # An RSA signature under the EC key's kid: no key of the set verifies RS256 for it.
    assert await rejected(check, sign(RSA_KEY, "RS256")) == "unknown key"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "x" * 20000 + ".a.b"])
async def test_garbage_is_malformed(tmp_path: Path, token: str) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    assert await rejected(check, token) == "malformed"


async def test_a_token_without_kid_uses_the_single_key_of_the_set(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (EC_KEY, None)))
    assert (await check.verify(sign(EC_KEY, "ES256", kid=None))).patient == "p1"


async def test_a_token_without_kid_picks_the_one_key_that_fits_its_algorithm(
    tmp_path: Path,
) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "r"), (EC_KEY, "e")))
    assert (await check.verify(sign(EC_KEY, "ES256", kid=None))).subject == "user-1"


async def test_a_token_without_kid_is_refused_when_several_keys_fit(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "a"), (OTHER_RSA_KEY, "b")))
    assert await rejected(check, sign(RSA_KEY, "RS256", kid=None)) == "unknown key"


async def test_scopes_from_scp_as_a_list(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    token = sign(RSA_KEY, "RS256", scope=None, scp=["user/Patient.rs", "openid"])
    assert (await check.verify(token)).scopes == ("user/Patient.rs", "openid")


async def test_no_scope_claim_is_no_scopes(tmp_path: Path) -> None:
    check = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    assert (await check.verify(sign(RSA_KEY, "RS256", scope=None))).scopes == ()


class JwksServer:
    """A JWKS endpoint whose keys the test rotates, counting the fetches."""

    def __init__(self, *keys: tuple[Any, str]) -> None:
        self.keys = list(keys)
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        assert str(request.url) == JWKS_URL
        return httpx.Response(200, json={"keys": [public_jwk(k, kid) for k, kid in self.keys]})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_keys_from_a_url_are_fetched_once_and_cached() -> None:
    server = JwksServer((RSA_KEY, "k1"))
    check = verifier(JWKS_URL, transport=httpx.MockTransport(server))
    for _ in range(5):
        await check.verify(sign(RSA_KEY, "RS256"))
    assert server.requests == 1


async def test_an_unknown_kid_refetches_once_then_works_and_refetches_are_rate_limited() -> None:
    server = JwksServer((RSA_KEY, "k1"))
    clock = Clock()
    check = verifier(JWKS_URL, transport=httpx.MockTransport(server), clock=clock)
    await check.verify(sign(RSA_KEY, "RS256", kid="k1"))
    assert server.requests == 1

    clock.now += 61  # the issuer rotates its key a while later
    server.keys = [(EC_KEY, "k2")]
    assert (await check.verify(sign(EC_KEY, "ES256", kid="k2"))).subject == "user-1"
    assert server.requests == 2

    clock.now += 5  # made-up kids within the refresh interval: no fetch
    for kid in ("k3", "k4", "k5"):
        assert await rejected(check, sign(EC_KEY, "ES256", kid=kid)) == "unknown key"
    assert server.requests == 2

    clock.now += 60  # after the interval one fetch again, no more
    assert await rejected(check, sign(EC_KEY, "ES256", kid="k6")) == "unknown key"
    assert await rejected(check, sign(EC_KEY, "ES256", kid="k7")) == "unknown key"
    assert server.requests == 3


async def test_a_failed_refresh_keeps_the_keys_already_loaded() -> None:
    server = JwksServer((RSA_KEY, "k1"))
    clock = Clock()
    down = False

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503) if down else server(request)

    check = verifier(JWKS_URL, transport=httpx.MockTransport(handle), clock=clock)
    await check.verify(sign(RSA_KEY, "RS256"))
    down, clock.now = True, clock.now + 120
    assert await rejected(check, sign(RSA_KEY, "RS256", kid="k9")) == "unknown key"
    assert (await check.verify(sign(RSA_KEY, "RS256"))).subject == "user-1"


async def test_an_unreachable_key_set_is_a_server_fault_not_a_token_fault(tmp_path: Path) -> None:
    check = verifier(tmp_path / "missing.json")
    with pytest.raises(KeySetUnavailable):
        await check.verify(sign(RSA_KEY, "RS256"))
    with pytest.raises(KeySetUnavailable):
        await check.keyset.load()


async def test_symmetric_and_encryption_keys_of_a_set_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    secret = {"kty": "oct", "kid": "k1", "k": "c2VjcmV0"}
    encryption = public_jwk(RSA_KEY, "k1") | {"use": "enc"}
    path.write_text(json.dumps({"keys": [secret, encryption]}))
    check = verifier(path)
    assert await rejected(check, sign(RSA_KEY, "RS256")) == "unknown key"


@pytest.mark.parametrize("algorithms", [("HS256",), ("none",), ("RS256", "HS512"), ()])
def test_settings_refuse_unsafe_algorithms(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(TokenConfigError, match="algorithms"):
        TokenSettings(jwks="jwks.json", issuer=ISSUER, audience=AUDIENCE, algorithms=algorithms)


def test_settings_require_issuer_and_audience() -> None:
    with pytest.raises(TokenConfigError, match="issuer"):
        TokenSettings(jwks="jwks.json", issuer="", audience=AUDIENCE)
    with pytest.raises(TokenConfigError, match="audience"):
        TokenSettings(jwks="jwks.json", issuer=ISSUER, audience="")


async def test_a_token_verified_once_is_not_verified_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checker = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    token = sign(RSA_KEY, "RS256")
    first = await checker.verify(token)
    lookups = 0
    original = checker.keyset.key_for

    async def counted(kid: str | None, alg: str) -> Any:
        nonlocal lookups
        lookups += 1
        return await original(kid, alg)

    monkeypatch.setattr(checker.keyset, "key_for", counted)
    assert await checker.verify(token) is first
    assert lookups == 0
    other = sign(RSA_KEY, "RS256", sub="user-2")
    assert (await checker.verify(other)).subject == "user-2"
    assert lookups == 1


async def test_a_remembered_token_still_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checker = verifier(jwks_file(tmp_path, (RSA_KEY, "k1")))
    token = sign(RSA_KEY, "RS256")
    await checker.verify(token)
    later = time.time() + 300 + 61  # past exp and the 60 s of leeway
    monkeypatch.setattr(time, "time", lambda: later)
    assert await rejected(checker, token) == "expired"


async def test_the_remembered_tokens_are_bounded(tmp_path: Path) -> None:
    settings = TokenSettings(
        jwks=str(jwks_file(tmp_path, (RSA_KEY, "k1"))), issuer=ISSUER, audience=AUDIENCE
    )
    checker = TokenVerifier(settings, settings.key_set(), cache_size=2)
    tokens = [sign(RSA_KEY, "RS256", sub=f"user-{n}") for n in range(3)]
    for token in tokens:
        await checker.verify(token)
    assert list(checker._verified) == tokens[1:]
