"""``$sync`` and ``$sync-status``: the sync adapter as FHIR operations
(https://hl7.org/fhir/R4/operations.html), defined in ``profiles/OperationDefinition-*.json``.

``POST [base]/$sync`` runs one sync with a remote of the remotes file
(``FHIRCARE_SYNC_REMOTES``) and answers its report as a ``Parameters`` resource: in
``remote`` (string, required), ``direction`` (code: pull, push or both; default the
remote's own) and ``dryRun`` (boolean). A remote that is down still answers 200, with
status ``failed`` and the error: the run happened and left its report. An unknown remote is
404, a bad parameter 400, a remote another worker is syncing 409 (``LeaseHeld``), and a
remotes file or remote configuration that cannot be used 503 naming the field.

``GET|POST [base]/$sync-status`` (in ``remote``, optional; ``count``, optional, default
20) answers the latest run reports (a ``run`` parameter each, newest first), each
configured remote (``remote``) and the number of open conflicts (``openConflicts``).

Parameters come from the query and, on a POST, from a ``Parameters`` body too, checked
by ``interactions/operation_inputs.py`` as the care operations' are; an unknown one is 400,
as an operation that changes data should not guess. Nothing here knows HTTP:
``rest/dispatch.py`` routes to these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

from fhircare.fhir import errors, jsonio
from fhircare.fhir.errors import Category, FhirError, Issue
from fhircare.interactions.operation_inputs import Given, Input, parse_inputs
from fhircare.interactions.request import Context, FhirRequest, FhirResponse
from fhircare.sync import engine
from fhircare.sync.remotes import Remote, RemoteConfigError, load_remotes
from fhircare.sync.state import CURSORS, LeaseHeld, SyncState, reports

SYNC = "sync"
SYNC_STATUS = "sync-status"
SYNC_URL = "urn:fhircare:OperationDefinition:sync"
SYNC_STATUS_URL = "urn:fhircare:OperationDefinition:sync-status"
"""The canonical URLs of the two OperationDefinitions in ``profiles/``."""

Direction = Literal["pull", "push", "both"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)
COUNTS = ("pulled", "pushed", "deleted", "skipped", "conflicted", "failed", "retries")
"""A report's counts, each an integer parameter of the same name."""
DEFAULT_RUNS = 20
MAX_RUNS = 200

SYNC_INPUTS = {
    i.name: i
    for i in (
        Input("remote", "string", "The name of a remote in the remotes file", min=1),
        Input("direction", "code", "pull, push or both (default: the remote's own)"),
        Input("dryRun", "boolean", "Only say what would happen"),
    )
}
STATUS_INPUTS = {
    i.name: i
    for i in (
        Input("remote", "string", "Only this remote's runs and conflicts"),
        Input("count", "integer", f"How many runs, 1 to {MAX_RUNS} (default {DEFAULT_RUNS})"),
    )
}
"""Each operation's inputs, checked by ``interactions/operation_inputs.py``."""


@dataclass(frozen=True)
class SyncParams:
    remote: str
    direction: Direction | None = None
    dry_run: bool = False


async def sync(context: Context, request: FhirRequest) -> FhirResponse:
    """``POST [base]/$sync``: one run, answered with its report."""
    params = sync_params(context, request)
    remote = configured(context.sync_remotes, params.remote)
    try:
        report = await engine.run(context, remote, params.direction, dry_run=params.dry_run)
    except LeaseHeld as held:
        raise errors.conflict(str(held)) from None
    except RemoteConfigError as error:
        raise misconfigured(str(error)) from None
    body = {"resourceType": "Parameters", "parameter": report_parameters(report.as_dict())}
    return FhirResponse(200, jsonio.dumps(body))


async def sync_status(context: Context, request: FhirRequest) -> FhirResponse:
    """``GET|POST [base]/$sync-status``: the latest reports and the open conflicts."""
    given = parse_inputs(context, request, tuple(STATUS_INPUTS.values()), "$sync-status")
    name = given.value("remote")
    count = _count(given.one("count"))
    remotes = _remotes(context.sync_remotes)
    runs = await reports(context.store, name, count)
    if name is not None and name not in remotes and not runs:
        raise errors.not_found(_unknown(name, remotes, context.sync_remotes))
    names = [name] if name is not None else sorted(remotes)
    statuses = [await remote_status(context, n, remotes.get(n)) for n in names]
    parameters: list[dict[str, Any]] = [
        {"name": "run", "part": report_parameters(run)} for run in runs
    ]
    parameters += [{"name": "remote", "part": s.parameters()} for s in statuses]
    parameters.append({"name": "openConflicts", "valueInteger": sum(s.conflicts for s in statuses)})
    return FhirResponse(200, jsonio.dumps({"resourceType": "Parameters", "parameter": parameters}))


# -- the inputs ----------------------------------------------------------------------------


def sync_params(context: Context, request: FhirRequest) -> SyncParams:
    given = parse_inputs(context, request, tuple(SYNC_INPUTS.values()), "$sync")
    remote = given.one("remote")
    assert remote is not None  # required: parse_inputs saw to it
    direction = given.one("direction")
    if direction is not None and direction.value not in DIRECTIONS:
        raise errors.invalid(
            f"direction '{direction.value[:40]}' is not one of {', '.join(DIRECTIONS)}",
            direction.where,
        )
    return SyncParams(
        remote.value,
        cast(Direction, direction.value) if direction is not None else None,
        bool(given.value("dryRun", False)),
    )


def _count(given: Given | None) -> int:
    if given is None:
        return DEFAULT_RUNS
    if not 1 <= given.value <= MAX_RUNS:
        raise errors.invalid(
            f"count '{given.value}' is not a number from 1 to {MAX_RUNS}", given.where
        )
    return int(given.value)


# -- the remotes file ----------------------------------------------------------------------


def configured(path: Path | None, name: str) -> Remote:
    """The remote ``name`` of the remotes file: 404 when it names none such, 503 when the
    file cannot be read as remotes (the message names the field)."""
    remotes = _remotes(path)
    if name not in remotes:
        raise errors.not_found(_unknown(name, remotes, path))
    return remotes[name]


def _remotes(path: Path | None) -> dict[str, Remote]:
    if path is None:
        return {}
    try:
        return load_remotes(path)
    except RemoteConfigError as error:
        raise misconfigured(str(error)) from None


def _unknown(name: str, remotes: dict[str, Remote], path: Path | None) -> str:
    known = ", ".join(sorted(remotes)) or "none"
    where = path.name if path is not None else "the remotes file"
    return f"No remote '{name[:64]}' in {where} (configured: {known})"


def misconfigured(message: str) -> FhirError:
    """The server's own sync configuration is unusable: not the client's fault, and not
    fixed by asking again until someone fixes the file."""
    return FhirError(Category.TRANSIENT, [Issue("exception", f"Sync configuration: {message}")])


# -- the outputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteStatus:
    """One remote's state: its configuration (None for one the file no longer names),
    its cursors by name (``pull/<Type>``: ``since``; ``push``: ``seq``) and its open
    conflicts."""

    name: str
    remote: Remote | None
    cursors: dict[str, dict[str, Any]]
    conflicts: int

    def parameters(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = [{"name": "name", "valueString": self.name}]
        if self.remote is not None:
            parts.append({"name": "baseUrl", "valueUrl": self.remote.base_url})
            parts.append({"name": "direction", "valueCode": self.remote.direction})
        parts.append({"name": "openConflicts", "valueInteger": self.conflicts})
        return parts


async def remote_status(context: Context, name: str, remote: Remote | None) -> RemoteStatus:
    state = SyncState(context.store, name)
    records = await context.store.state_list(CURSORS, f"{name}/", count=1000)
    cursors = {record.key.removeprefix(f"{name}/"): record.value for record in records}
    return RemoteStatus(name, remote, cursors, len(await state.conflicts()))


def report_parameters(report: dict[str, Any]) -> list[dict[str, Any]]:
    """A run report (``RunReport.as_dict()``, or one read back from the store) as the
    parameters of ``$sync``'s answer, or the parts of a ``$sync-status`` run."""
    out: list[dict[str, Any]] = [
        {"name": "id", "valueString": str(report.get("id", ""))},
        {"name": "remote", "valueString": str(report.get("remote", ""))},
        {"name": "direction", "valueCode": str(report.get("direction", ""))},
        {"name": "dryRun", "valueBoolean": bool(report.get("dry_run"))},
        {"name": "status", "valueCode": str(report.get("status", ""))},
    ]
    for name in ("started", "finished"):
        if report.get(name):
            out.append({"name": name, "valueInstant": str(report[name])})
    out.append({"name": "seconds", "valueDecimal": float(report.get("seconds") or 0)})
    out += [{"name": name, "valueInteger": int(report.get(name) or 0)} for name in COUNTS]
    for error in report.get("errors") or ():
        parts = [
            {"name": key, f"value{'Code' if key == 'side' else 'String'}": str(error[key])}
            for key in ("resource", "side", "field", "diagnostics")
            if error.get(key)
        ]
        out.append({"name": "error", "part": parts})
    return out
