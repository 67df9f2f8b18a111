"""``fhircare token``: a local key pair made once, its JWKS, and a token the verifier accepts
with the settings the command prints."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fhircare.cli import app
from fhircare.security.tokens import TokenSettings, TokenVerifier

AUDIENCE = "https://fhir.test/r4"


@pytest.fixture(autouse=True)
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("FHIRCARE_PUBLIC_BASE_URL", "FHIRCARE_HOST", "FHIRCARE_PORT", "PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FHIRCARE_VAR_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def run(*args: str) -> tuple[str, dict[str, str]]:
    """The token printed, and the ``NAME=value`` settings of stderr."""
    result = CliRunner().invoke(app, ["token", *args])
    assert result.exit_code == 0, result.output
    printed = dict(
        line.split("=", 1) for line in result.stderr.splitlines() if line.startswith("FHIRCARE_")
    )
    assert "not an authorization server" in result.stderr
    return result.stdout.strip(), printed


async def verify(token: str, printed: dict[str, str]) -> dict[str, object]:
    settings = TokenSettings(
        jwks=printed["FHIRCARE_JWKS"],
        issuer=printed["FHIRCARE_TOKEN_ISSUER"],
        audience=printed["FHIRCARE_TOKEN_AUDIENCE"],
    )
    claims = await TokenVerifier(settings, settings.key_set()).verify(token)
    return {
        "scopes": claims.scopes,
        "patient": claims.patient,
        "fhir_user": claims.fhir_user,
        "client_id": claims.client_id,
        "subject": claims.subject,
    }


async def test_the_token_verifies_with_the_printed_settings(var_dir: Path) -> None:
    token, printed = run(
        "--scope", "patient/*.rs launch/patient", "--patient", "Patient/x",
        "--fhir-user", "Practitioner/y", "--client-id", "app",
    )  # fmt: skip
    assert "FHIRCARE_AUTH" not in printed  # no server mode checks tokens yet
    assert Path(printed["FHIRCARE_JWKS"]) == (var_dir / "dev-keys" / "jwks.json").resolve()
    assert printed["FHIRCARE_TOKEN_ISSUER"] == "fhircare-dev"
    assert printed["FHIRCARE_TOKEN_AUDIENCE"] == "http://127.0.0.1:8080/fhir"
    assert await verify(token, printed) == {
        "scopes": ("patient/*.rs", "launch/patient"),
        "patient": "x",
        "fhir_user": "Practitioner/y",
        "client_id": "app",
        "subject": "Practitioner/y",
    }


async def test_the_key_is_made_once_and_kept_private(var_dir: Path) -> None:
    first, printed = run("--scope", "user/*.rs")
    pem = var_dir / "dev-keys" / "es256-private.pem"
    before = pem.read_bytes()
    second, _ = run("--scope", "user/*.rs", "--patient", "x")
    assert pem.read_bytes() == before
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert len(json.loads(Path(printed["FHIRCARE_JWKS"]).read_text())["keys"]) == 1
    assert (await verify(first, printed))["patient"] is None
    assert (await verify(second, printed))["patient"] == "x"


async def test_an_rsa_key_joins_the_set_and_both_keep_verifying(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    es256, printed = run("--scope", "system/*.rs", "--key-dir", str(keys))
    rs256, _ = run("--scope", "system/*.rs", "--key-dir", str(keys), "--alg", "RS256")
    jwks = json.loads((keys / "jwks.json").read_text())
    assert sorted(key["alg"] for key in jwks["keys"]) == ["ES256", "RS256"]
    assert (await verify(es256, printed))["scopes"] == ("system/*.rs",)
    assert (await verify(rs256, printed))["subject"] == "dev"


async def test_issuer_audience_and_lifetime_as_given(tmp_path: Path) -> None:
    token, printed = run(
        "--scope", "patient/Observation.rs", "--issuer", "https://issuer.test",
        "--audience", AUDIENCE, "--expires-in", "60", "--key-dir", "k",
    )  # fmt: skip
    assert printed["FHIRCARE_TOKEN_ISSUER"] == "https://issuer.test"
    assert printed["FHIRCARE_TOKEN_AUDIENCE"] == AUDIENCE
    settings = TokenSettings(
        jwks=printed["FHIRCARE_JWKS"], issuer="https://issuer.test", audience=AUDIENCE
    )
    claims = await TokenVerifier(settings, settings.key_set()).verify(token)
    assert claims.raw["exp"] - claims.raw["iat"] == 60


async def test_the_audience_defaults_to_the_public_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FHIRCARE_PUBLIC_BASE_URL", "https://care.example.org/fhir/")
    token, printed = run("--scope", "patient/*.rs")
    assert printed["FHIRCARE_TOKEN_AUDIENCE"] == "https://care.example.org/fhir"
    assert (await verify(token, printed))["client_id"] == "dev"


def test_an_hmac_algorithm_is_refused() -> None:
    result = CliRunner().invoke(app, ["token", "--scope", "x", "--alg", "HS256"])
    assert result.exit_code == 2
    assert "ES256" in result.stderr
