"""Settings come from FHIRCARE_* variables (and MONGODB_URI / PORT), with no side effects."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhircare.settings import DEV_STORE_PORT, Settings


def test_defaults_use_the_sqlite_store(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MONGODB_URI", "FHIRCARE_MONGODB_URI", "PORT", "FHIRCARE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FHIRCARE_SQLITE_PATH", raising=False)
    monkeypatch.setenv("FHIRCARE_VAR_DIR", "data")
    settings = Settings()
    assert settings.uses_sqlite and settings.port == 8080 and settings.base_path == "/fhir"
    assert settings.effective_sqlite_path() == Path("data") / "fhircare.sqlite3"
    assert settings.effective_mongodb_uri() == f"mongodb://127.0.0.1:{DEV_STORE_PORT}/"
    monkeypatch.setenv("FHIRCARE_SQLITE_PATH", "elsewhere.db")
    assert Settings().effective_sqlite_path() == Path("elsewhere.db")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017/")
    monkeypatch.setenv("PORT", "9090")
    monkeypatch.setenv("FHIRCARE_MAX_BODY_BYTES", "1024")
    settings = Settings()
    assert not settings.uses_sqlite
    assert settings.effective_mongodb_uri() == "mongodb://db.example:27017/"
    assert settings.port == 9090 and settings.max_body_bytes == 1024
    monkeypatch.setenv("FHIRCARE_PORT", "7070")
    assert Settings().port == 7070


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"FHIRCARE_{name.upper()}" in readme, name


def test_conditional_delete_is_single_or_multiple(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    assert Settings().conditional_delete == "single"
    monkeypatch.setenv("FHIRCARE_CONDITIONAL_DELETE", "multiple")
    assert Settings().conditional_delete == "multiple"
    monkeypatch.setenv("FHIRCARE_CONDITIONAL_DELETE", "all")
    with pytest.raises(ValidationError):
        Settings()
