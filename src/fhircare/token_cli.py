"""``fhircare token``: a signed SMART access token for development and tests.

A development tool, not an authorization server: it makes (once) a key pair in the key
folder, publishes its public half as ``jwks.json`` beside it, and signs whatever claims it is
asked for. ``security/tokens.TokenVerifier`` accepts those tokens, with the printed JWKS,
issuer and audience, as it would an authorization server's
(https://hl7.org/fhir/smart-app-launch/app-launch.html).

The token goes to stdout (``TOKEN=$(fhircare token ...)``); the settings that verify it, and
the warning, go to stderr.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import jwt
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from rich.console import Console

from fhircare.settings import Settings

DEFAULT_ISSUER = "fhircare-dev"
JWKS_FILE = "jwks.json"
Algorithm = Literal["ES256", "RS256"]
KEY_FILES: dict[Algorithm, str] = {"ES256": "es256-private.pem", "RS256": "rs256-private.pem"}
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

token_app = typer.Typer(
    help="Sign a SMART access token with a local development key (not an authorization server).",
)
err = Console(stderr=True)


def load_or_create_key(key_dir: Path, alg: Algorithm) -> PrivateKey:
    """The key pair of ``alg`` in ``key_dir``, made on first use (the private key file is
    readable by its owner only)."""
    path = key_dir / KEY_FILES[alg]
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"{path} holds no {alg} key")
        return key
    new: PrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if alg == "ES256"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    pem = new.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return new


def public_jwk(key: PrivateKey, alg: Algorithm) -> dict[str, Any]:
    """The public half of ``key`` as a JWK, its ``kid`` the RFC 7638 thumbprint."""
    if isinstance(key, rsa.RSAPrivateKey):
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": thumbprint(jwk), "alg": alg, "use": "sig"}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without whitespace."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def write_jwks(key_dir: Path) -> Path:
    """``jwks.json`` with the public key of every key pair in ``key_dir``."""
    keys = [
        public_jwk(load_or_create_key(key_dir, alg), alg)
        for alg in KEY_FILES
        if (key_dir / KEY_FILES[alg]).exists()
    ]
    path = key_dir / JWKS_FILE
    path.write_text(json.dumps({"keys": keys}, indent=2) + "\n")
    return path


def patient_id(reference: str) -> str:
    """SMART's ``patient`` claim is a bare id: ``Patient/x`` and ``x`` both give ``x``."""
    return reference.removeprefix("Patient/")


def sign_token(
    key: PrivateKey,
    alg: Algorithm,
    *,
    issuer: str,
    audience: str,
    scope: str,
    client_id: str,
    expires_in: int,
    patient: str | None = None,
    fhir_user: str | None = None,
    subject: str | None = None,
    now: float | None = None,
) -> str:
    """A JWT access token with the SMART claims asked for."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or fhir_user or client_id,
        "client_id": client_id,
        "scope": " ".join(scope.split()),
        "iat": issued,
        "exp": issued + expires_in,
        "jti": secrets.token_urlsafe(16),
    }
    if patient:
        claims["patient"] = patient_id(patient)
    if fhir_user:
        claims["fhirUser"] = fhir_user
    kid = public_jwk(key, alg)["kid"]
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


def default_audience(settings: Settings) -> str:
    """This server's FHIR base, which the tokens are for (``FHIRCARE_TOKEN_AUDIENCE``)."""
    return settings.effective_token_audience()


@token_app.callback(invoke_without_command=True)
def token(
    scope: Annotated[str, typer.Option(help='Space-separated SMART scopes, e.g. "patient/*.rs".')],
    patient: Annotated[
        str | None,
        typer.Option(help="The patient in context, Patient/<id> or <id> (claim 'patient')."),
    ] = None,
    fhir_user: Annotated[
        str | None,
        typer.Option("--fhir-user", help="The user's resource, e.g. Practitioner/<id>."),
    ] = None,
    client_id: Annotated[str, typer.Option("--client-id", help="The client's id.")] = "dev",
    subject: Annotated[
        str | None, typer.Option(help="The 'sub' claim (default: fhir user, else client id).")
    ] = None,
    expires_in: Annotated[
        int, typer.Option("--expires-in", min=1, help="Seconds the token is valid.")
    ] = 3600,
    issuer: Annotated[
        str | None, typer.Option(help=f"The 'iss' claim (default {DEFAULT_ISSUER}).")
    ] = None,
    audience: Annotated[
        str | None,
        typer.Option(help="The 'aud' claim (default: this server's FHIR base URL)."),
    ] = None,
    key_dir: Annotated[
        Path | None,
        typer.Option("--key-dir", help="Folder of the key pairs and jwks.json (var/dev-keys)."),
    ] = None,
    alg: Annotated[
        str, typer.Option(help="Signature algorithm of the key: ES256 or RS256.")
    ] = "ES256",
) -> None:
    """Print a signed SMART access token; a development tool, not an authorization server."""
    if alg not in KEY_FILES:
        err.print(f"[red]error[/red] --alg must be one of {', '.join(KEY_FILES)}")
        raise typer.Exit(2)
    algorithm: Algorithm = "ES256" if alg == "ES256" else "RS256"
    settings = Settings()
    folder = key_dir or settings.var_dir / "dev-keys"
    issuer = issuer or settings.token_issuer or DEFAULT_ISSUER
    audience = audience or default_audience(settings)
    key = load_or_create_key(folder, algorithm)
    jwks = write_jwks(folder)
    signed = sign_token(
        key,
        algorithm,
        issuer=issuer,
        audience=audience,
        scope=scope,
        client_id=client_id,
        expires_in=expires_in,
        patient=patient,
        fhir_user=fhir_user,
        subject=subject,
    )
    err.print(
        "[yellow]development token[/yellow]: signed with a local key; this is not an "
        "authorization server. It verifies with:",
        highlight=False,
    )
    for name, value in (
        ("FHIRCARE_JWKS", str(jwks.resolve())),
        ("FHIRCARE_TOKEN_ISSUER", issuer),
        ("FHIRCARE_TOKEN_AUDIENCE", audience),
    ):
        err.print(f"{name}={value}", highlight=False, markup=False, soft_wrap=True)
    print(signed)
