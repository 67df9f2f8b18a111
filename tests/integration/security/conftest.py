"""An app in ``FHIRCARE_AUTH=smart`` mode on each store, holding ``population``, and tokens
signed by a key of the test's own JWKS."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhircare.settings import Settings
from fhircare.storage.protocol import ResourceStore
from fhircare.token_cli import load_or_create_key, sign_token, write_jwks
from tests.conftest import STORES, open_store
from tests.integration.security.population import transaction

ISSUER = "https://issuer.test"
AUDIENCE = "http://test/fhir"
SYSTEM = "system/*.cruds"


@dataclass(frozen=True)
class Keys:
    folder: Path
    jwks: Path

    def token(
        self,
        scope: str,
        patient: str | None = None,
        *,
        alg: str = "RS256",
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        expires_in: int = 300,
        now: float | None = None,
        fhir_user: str | None = None,
    ) -> str:
        key = load_or_create_key(self.folder, alg)  # type: ignore[arg-type]
        return sign_token(
            key,
            alg,  # type: ignore[arg-type]
            issuer=issuer,
            audience=audience,
            scope=scope,
            client_id="test-app",
            expires_in=expires_in,
            patient=patient,
            fhir_user=fhir_user,
            now=time.time() if now is None else now,
        )


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    folder = tmp_path_factory.mktemp("smart-keys")
    load_or_create_key(folder, "RS256")
    load_or_create_key(folder, "ES256")
    yield Keys(folder, write_jwks(folder))


def smart_settings(keys: Keys, **more: Any) -> Settings:
    values: dict[str, Any] = {
        "auth": "smart",
        "jwks": str(keys.jwks),
        "token_issuer": ISSUER,
        "token_audience": AUDIENCE,
        "authorize_url": "https://issuer.test/authorize",
        "token_url": "https://issuer.test/token",
        "max_count": 50,
    }
    return Settings(**{**values, **more})


@dataclass
class Smart:
    """The client of a smart-mode app, and tokens for it."""

    client: httpx.AsyncClient
    keys: Keys

    def headers(self, scope: str, patient: str | None = None, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.token(scope, patient, **claims)}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.headers(SYSTEM)


async def smart_app(
    store: ResourceStore, keys: Keys, **more: Any
) -> AsyncIterator[httpx.AsyncClient]:
    from fhircare.app import create_app

    app = create_app(smart_settings(keys, **more), store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=AUDIENCE) as http:
            yield http


@pytest.fixture(params=STORES)
async def smart_store(
    request: pytest.FixtureRequest, database_name: str
) -> AsyncIterator[ResourceStore]:
    async for one in open_store(request.param, request, database_name):
        yield one


@pytest.fixture
async def smart(smart_store: ResourceStore, keys: Keys) -> AsyncIterator[Smart]:
    """A smart-mode app on each store with both patients' records loaded."""
    async for client in smart_app(smart_store, keys):
        found = Smart(client, keys)
        loaded = await client.post("", json=transaction(), headers=found.admin)
        assert loaded.status_code == 200, loaded.text
        yield found
