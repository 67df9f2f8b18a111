"""Remotes: the external FHIR servers fhircare syncs with, from a TOML file or a command line.

A file names any number of remotes::

    [remotes.hapi]
    base_url = "http://127.0.0.1:8090/fhir"
    direction = "both"                # pull, push or both
    conflicts = "remote-wins"         # remote-wins, local-wins or manual
    types = ["CarePlan", "Goal", { type = "Task", filter = "patient=Patient/7" }]

    [remotes.hapi.auth]
    kind = "bearer"                   # none, basic, bearer or smart-backend
    token_env = "HAPI_TOKEN"          # secrets come from the environment or the file

A type's ``filter`` is one search of that type (a category, a patient compartment: what
the remote's search understands); pulls apply it, pushes send only what matches it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CARE_TYPES = (
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Organization",
    "RelatedPerson",
    "CareTeam",
    "Condition",
    "Goal",
    "CarePlan",
    "Task",
    "Communication",
    "ServiceRequest",
)
"""What a remote syncs when it names no types: the care plans, goals, tasks, conditions and
communications, and the people and teams they refer to."""


class RemoteConfigError(Exception):
    """A remote's configuration is missing or wrong; the message names the field."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Auth(Frozen):
    """How to authenticate to the remote. A secret is given directly or, better, as the
    name of an environment variable (``*_env``)."""

    kind: Literal["none", "basic", "bearer", "smart-backend"] = "none"
    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    token: str | None = None
    token_env: str | None = None
    client_id: str | None = None
    """SMART backend services: the registered client id (``iss`` and ``sub`` of the JWT)."""
    private_key_path: Path | None = None
    """SMART backend services: the PEM private key the client assertion is signed with."""
    key_id: str | None = None
    algorithm: Literal["RS384", "ES384"] = "RS384"
    token_url: str | None = None
    """SMART backend services: the token endpoint; default from the remote's
    ``.well-known/smart-configuration``."""
    scope: str = "system/*.read system/*.write"

    def secret(self, name: Literal["password", "token"]) -> str | None:
        direct = getattr(self, name)
        variable = getattr(self, f"{name}_env")
        if direct is not None:
            return str(direct)
        return None if variable is None else os.environ.get(variable)


class TypeSpec(Frozen):
    """One resource type to sync, with an optional search that narrows it."""

    type: str
    filter: str | None = None


class Remote(Frozen):
    """One remote FHIR server and how to sync with it."""

    name: str
    base_url: str
    auth: Auth = Auth()
    types: tuple[TypeSpec, ...] = tuple(TypeSpec(type=t) for t in CARE_TYPES)
    direction: Literal["pull", "push", "both"] = "both"
    conflicts: Literal["remote-wins", "local-wins", "manual"] = "remote-wins"
    client_ids: Literal["auto", "yes", "no"] = "auto"
    """Whether to create resources on the remote with our ids (PUT): ``auto`` asks its
    CapabilityStatement (``updateCreate``); ``no`` always POSTs with ``If-None-Exist``."""
    pull_mode: Literal["auto", "history", "search"] = "auto"
    """``auto``: ``_history?_since=`` where the remote offers type history (it carries
    deletes), else a ``_lastUpdated``-sorted search."""
    page_size: Annotated[int, Field(ge=1, le=1000)] = 100
    concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    timeout: Annotated[float, Field(gt=0)] = 30.0
    retries: Annotated[int, Field(ge=0, le=20)] = 6
    backoff: Annotated[float, Field(ge=0)] = 0.5
    """The first retry waits up to this many seconds, each further one up to twice as long."""
    max_backoff: Annotated[float, Field(ge=0)] = 30.0
    overlap_seconds: Annotated[float, Field(ge=0)] = 5.0
    """A pull asks for changes since this long before the newest it saw, so a remote write
    whose timestamp lands just before that one (a slow transaction) is not missed; what
    it sees again is recognised by id and version."""

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("types", mode="before")
    @classmethod
    def _type_names(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple({"type": v} if isinstance(v, str) else v for v in value)
        return value

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: tuple[TypeSpec, ...]) -> tuple[TypeSpec, ...]:
        from fhircare.fhir.models import RESOURCE_TYPES

        unknown = [spec.type for spec in value if spec.type not in RESOURCE_TYPES]
        if unknown:
            raise ValueError(f"not a resource type this server serves: {', '.join(unknown)}")
        if not value:
            raise ValueError("names no resource type")
        return value

    @property
    def pulls(self) -> bool:
        return self.direction in ("pull", "both")

    @property
    def pushes(self) -> bool:
        return self.direction in ("push", "both")

    @property
    def type_names(self) -> tuple[str, ...]:
        return tuple(spec.type for spec in self.types)

    def spec(self, resource_type: str) -> TypeSpec | None:
        return next((s for s in self.types if s.type == resource_type), None)


def _describe(error: ValidationError, where: str) -> str:
    problems = [f"{where}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
    return "; ".join(problems)


def parse_remote(name: str, fields: dict[str, Any]) -> Remote:
    """One remote from its table (or the command line's options)."""
    try:
        return Remote(name=name, **fields)
    except ValidationError as error:
        raise RemoteConfigError(_describe(error, f"remotes.{name}")) from None
    except TypeError as error:
        raise RemoteConfigError(f"remotes.{name}: {error}") from None


def load_remotes(path: Path) -> dict[str, Remote]:
    """Every remote the file names; an absent file names none."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise RemoteConfigError(f"{path.name}: {error}") from None
    tables = data.get("remotes", {})
    if not isinstance(tables, dict):
        raise RemoteConfigError(f"{path.name}: 'remotes' must be a table of remotes")
    return {name: parse_remote(name, dict(fields)) for name, fields in tables.items()}


def find_remote(path: Path, name: str) -> Remote:
    remotes = load_remotes(path)
    if name not in remotes:
        known = ", ".join(sorted(remotes)) or "none"
        raise RemoteConfigError(f"no remote '{name}' in {path.name} (configured: {known})")
    return remotes[name]
