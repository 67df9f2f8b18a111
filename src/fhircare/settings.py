"""Settings from ``FHIRCARE_*`` environment variables; nothing happens at import."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_STORE_PORT = 27217


class Settings(BaseSettings):
    """Every knob of the server, the CLI and the dev store, documented in the README."""

    model_config = SettingsConfigDict(env_prefix="FHIRCARE_", extra="ignore")

    mongodb_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FHIRCARE_MONGODB_URI", "MONGODB_URI"),
        description="MongoDB to use; unset means the embedded SQLite store.",
    )
    sqlite_path: Path | None = Field(
        default=None,
        description="The SQLite database file of the embedded store (without MONGODB_URI); "
        "default fhircare.sqlite3 in the var folder.",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        description="SQLite's synchronous setting: NORMAL keeps every acknowledged write "
        "through a crash of any process; FULL also through power loss, an fsync per write.",
    )
    database: str = Field(default="fhircare", description="Database name.")
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(
        default=8080,
        validation_alias=AliasChoices("FHIRCARE_PORT", "PORT"),
        description="Port the HTTP server binds.",
    )
    base_path: str = Field(default="/fhir", description="Path of the FHIR base.")
    public_base_url: str | None = Field(
        default=None, description="Absolute FHIR base for links; default derives from the request."
    )
    var_dir: Path = Field(default=Path("var"), description="Generated data (dev store, bench).")
    dev_store_port: int = Field(default=DEV_STORE_PORT, description="Port of the dev FerretDB.")
    workers: int = Field(default=1, description="uvicorn worker processes.")
    max_body_bytes: int = Field(default=16 * 1024 * 1024, description="Largest request body.")
    max_bundle_bytes: int = Field(
        default=256 * 1024 * 1024,
        description="Largest body of POST [base] (a batch or transaction Bundle).",
    )
    max_bundle_entries: int = Field(
        default=100_000, description="Most entries a batch or transaction Bundle may have."
    )
    default_count: int = Field(default=20, description="Page size when _count is absent.")
    max_count: int = Field(default=1000, description="Largest _count honoured.")
    max_json_depth: int = Field(default=64, description="Deepest nesting of a resource's JSON.")
    log_level: str = Field(default="info", description="Log level.")
    conditional_delete: Literal["single", "multiple"] = Field(
        default="single",
        description="A conditional delete matching several resources: 'single' answers 412, "
        "'multiple' deletes them all, up to max_count.",
    )
    write_intent_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a write's journal entry belongs to its writer before others "
        "take the writer for dead and finish (or drop) it; start-up waits at most this long.",
    )
    recovery_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the server finishes writes a crashed process left behind.",
    )
    validator: Literal["fhirkit", "models"] = Field(
        default="fhirkit",
        description="Structural validation of writes: 'fhirkit' (fhirkit-rs, FHIR R4 in Rust) "
        "or 'models' (the fhir.resources R4B pydantic models); both with the same rule walk.",
    )
    server_timing: bool = Field(
        default=False,
        description="Add a Server-Timing header (parse, validate, index, total) to writes.",
    )
    search_parameter_refresh_seconds: float = Field(
        default=2.0,
        description="How often (at most) a process checks the store for SearchParameter "
        "changes made by other processes; its own changes apply at once.",
    )
    sync_remotes: Path = Field(
        default=Path("remotes.toml"),
        description="The TOML file naming sync remotes (``fhircare sync``, ``$sync``).",
    )
    profiles_dir: Path | None = Field(
        default=Path("profiles"),
        description="fhircare's conformance resources (OperationDefinitions, "
        "SearchParameters, StructureDefinitions), loaded into the store by ``fhircare serve`` "
        "so that they are served and used; unchanged ones make no new version.",
    )
    task_lifecycle: Literal["enforce", "off"] = Field(
        default="enforce",
        description="``enforce``: Task writes follow the R4 Task state machine "
        "(``care/tasks/lifecycle.py``); ``off``: any status change is accepted.",
    )
    care_progress_updates: bool = Field(
        default=True,
        description="Keep CarePlan activity statuses and Goal achievementStatus up to date when "
        "linked Tasks and Observations change (``care/progress/sync.py``).",
    )

    auth: Literal["none", "smart"] = Field(
        default="none",
        description="``none``: every request is allowed (development; logged at start). "
        "``smart``: every request under the FHIR base but ``metadata``, ``openapi.json`` and "
        "``.well-known/smart-configuration`` needs a SMART bearer token (JWT) whose scopes "
        "allow it.",
    )
    jwks: str | None = Field(
        default=None,
        description="The token issuer's JSON Web Key Set: an https URL or a file path "
        "(``smart`` mode).",
    )
    token_issuer: str | None = Field(
        default=None, description="The ``iss`` every token must carry (``smart`` mode)."
    )
    token_audience: str | None = Field(
        default=None,
        description="The ``aud`` every token must carry: this server's FHIR base URL "
        "(``smart`` mode; default the public base URL).",
    )
    token_algorithms: str = Field(
        default="RS256,ES256,RS384,ES384",
        description="Comma-separated JWS algorithms tokens may be signed with; public-key "
        "algorithms only (never ``none`` or an HMAC).",
    )
    token_leeway_seconds: int = Field(
        default=60, ge=0, description="Clock skew allowed on a token's ``exp`` and ``nbf``."
    )
    authorize_url: str | None = Field(
        default=None,
        description="The authorization server's authorize endpoint, published in "
        "``.well-known/smart-configuration`` and the CapabilityStatement.",
    )
    token_url: str | None = Field(
        default=None,
        description="The authorization server's token endpoint, published beside it.",
    )
    audit: bool = Field(
        default=True,
        description="In ``smart`` mode, record an AuditEvent for every refused request and "
        "every write.",
    )

    unknown_profile: Literal["warning", "error"] = Field(
        default="warning",
        description="A written resource claiming (``meta.profile``) a profile this server "
        "does not know: ``warning`` stores it unchecked, ``error`` refuses it (422).",
    )
    required_profiles: str = Field(
        default="",
        description="Profiles every resource of a type must meet, whatever it claims: "
        "comma-separated ``Type=canonical-url`` (e.g. ``CarePlan=http://fhircare.dev/fhir/"
        "StructureDefinition/fhircare-careplan``).",
    )

    def effective_mongodb_uri(self) -> str:
        """The configured MongoDB, or the FerretDB that ``fhircare db run`` starts."""
        return self.mongodb_uri or f"mongodb://127.0.0.1:{self.dev_store_port}/"

    def effective_token_audience(self) -> str:
        """The ``aud`` tokens must carry: the setting, else this server's FHIR base."""
        if self.token_audience:
            return self.token_audience
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://{self.host}:{self.port}{self.base_path}"

    def effective_sqlite_path(self) -> Path:
        return self.sqlite_path or self.var_dir / "fhircare.sqlite3"

    @property
    def uses_sqlite(self) -> bool:
        """The embedded SQLite store serves when no MongoDB is configured."""
        return not self.mongodb_uri
