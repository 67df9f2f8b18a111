"""``fhircare sync``: the sync adapter from the command line, once or as a worker.

``pull``, ``push`` and ``run`` sync with a remote of the remotes file (``--remote``, the
file is ``FHIRCARE_SYNC_REMOTES``) or one given by its base URL (``--remote-url``), show a
progress bar per run and end with the report; ``run --every 5m`` repeats until SIGINT or
SIGTERM. ``status`` shows the remotes, their cursors and the latest runs; ``conflicts``
lists what the ``manual`` policy kept and resolves it. Each works on the configured store,
also while ``fhircare serve`` runs on it. The runs themselves are ``sync_runner.py``'s.

Exit status: 0 when the run completed, 1 when it had errors or failed, 2 for a
configuration error (the message names the field), 3 when another worker holds the
remote's lease.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fhircare.settings import Settings
from fhircare.sync.remotes import Remote, RemoteConfigError, load_remotes, parse_remote
from fhircare.sync_runner import (
    EXIT_CONFIG,
    EXIT_ERRORS,
    EXIT_OK,
    Direction,
    err,
    print_report,
    refused,
    run_once,
    run_worker,
)

sync_app = typer.Typer(
    help="Sync with other FHIR servers: pull, push, run (once or as a worker), status, "
    "conflicts. Remotes are named in FHIRCARE_SYNC_REMOTES (default remotes.toml).",
    no_args_is_help=True,
)

RemoteName = Annotated[
    str | None,
    typer.Option("--remote", help="A remote named in the remotes file (FHIRCARE_SYNC_REMOTES)."),
]
RemoteUrl = Annotated[
    str | None,
    typer.Option(
        "--remote-url",
        help="A remote by its FHIR base URL, not from the file (named --remote NAME, "
        "else after the URL; with a --remote of the file, a new base URL for it).",
    ),
]
Types = Annotated[
    list[str] | None,
    typer.Option(
        "--type",
        help="Sync only this resource type (repeatable); 'Task?patient=Patient/7' adds a "
        "search that narrows it.",
    ),
]
Conflicts = Annotated[
    Literal["remote-wins", "local-wins", "manual"] | None,
    typer.Option("--conflicts", help="A resource changed on both sides: who wins, or keep it."),
]
ClientIds = Annotated[
    Literal["auto", "yes", "no"] | None,
    typer.Option(
        "--client-ids",
        help="Create on the remote with our ids (PUT): yes, no (POST), or auto (ask it).",
    ),
]
PageSize = Annotated[
    int | None, typer.Option("--page-size", help="Resources per page asked of the remote.")
]
BearerTokenEnv = Annotated[
    str | None,
    typer.Option("--bearer-token-env", help="Authenticate with the bearer token in this variable."),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Say what would happen (the counts); write no resource on either side."
    ),
]


@sync_app.command()
def pull(
    remote: RemoteName = None,
    remote_url: RemoteUrl = None,
    types: Types = None,
    conflicts: Conflicts = None,
    client_ids: ClientIds = None,
    page_size: PageSize = None,
    bearer_token_env: BearerTokenEnv = None,
    dry_run: DryRun = False,
) -> None:
    """Pull the remote's changes since the last run into the local store."""
    overrides = _overrides(types, conflicts, client_ids, page_size, bearer_token_env)
    _sync_command("pull", remote, remote_url, overrides, dry_run)


@sync_app.command()
def push(
    remote: RemoteName = None,
    remote_url: RemoteUrl = None,
    types: Types = None,
    conflicts: Conflicts = None,
    client_ids: ClientIds = None,
    page_size: PageSize = None,
    bearer_token_env: BearerTokenEnv = None,
    dry_run: DryRun = False,
) -> None:
    """Push the local changes since the last run to the remote."""
    overrides = _overrides(types, conflicts, client_ids, page_size, bearer_token_env)
    _sync_command("push", remote, remote_url, overrides, dry_run)


@sync_app.command()
def run(
    remote: RemoteName = None,
    remote_url: RemoteUrl = None,
    types: Types = None,
    conflicts: Conflicts = None,
    client_ids: ClientIds = None,
    page_size: PageSize = None,
    bearer_token_env: BearerTokenEnv = None,
    dry_run: DryRun = False,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            help="Worker mode: run again this long after each run ends (60, 60s, 5m, 1h) "
            "until SIGINT or SIGTERM; a failed run is reported and the next one retries.",
        ),
    ] = None,
) -> None:
    """Pull, then push, as the remote's direction says."""
    seconds = None if every is None else parse_every(every)
    overrides = _overrides(types, conflicts, client_ids, page_size, bearer_token_env)
    _sync_command(None, remote, remote_url, overrides, dry_run, seconds)


@sync_app.command()
def status(
    remote: Annotated[str | None, typer.Option("--remote", help="Only this remote.")] = None,
    runs: Annotated[
        int, typer.Option("--runs", min=1, max=200, help="How many of the latest runs to show.")
    ] = 10,
) -> None:
    """Show the remotes, their cursors and open conflicts, and the latest runs."""
    settings = Settings()
    remotes = _remotes_or_exit(settings)
    code = asyncio.run(_status(settings, remotes, remote, runs))
    raise typer.Exit(code)


@sync_app.command("conflicts")
def conflicts_command(
    remote: Annotated[str | None, typer.Option("--remote", help="Only this remote.")] = None,
    resolve: Annotated[
        str | None,
        typer.Option("--resolve", metavar="TYPE/ID", help="Resolve the conflict on this resource."),
    ] = None,
    keep: Annotated[
        Literal["local", "remote"] | None,
        typer.Option("--keep", help="With --resolve: the version that wins, on both sides."),
    ] = None,
) -> None:
    """List the open conflicts, or resolve one: --resolve Type/id --keep local|remote."""
    settings = Settings()
    remotes = _remotes_or_exit(settings)
    if resolve is None:
        if keep is not None:
            _config_error("--keep goes with --resolve Type/id")
        raise typer.Exit(asyncio.run(_list_conflicts(settings, remotes, remote)))
    if keep is None:
        _config_error("--resolve needs --keep local or --keep remote")
    if not re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}", resolve):
        _config_error(f"--resolve: '{resolve}' is not Type/id")
    if remote is not None and remote not in remotes:
        _config_error(_not_configured(settings, remotes, remote))
    raise typer.Exit(asyncio.run(_resolve(settings, remotes, remote, resolve, keep)))


# -- the remote ----------------------------------------------------------------------------


def _overrides(
    types: list[str] | None,
    conflicts: str | None,
    client_ids: str | None,
    page_size: int | None,
    bearer_token_env: str | None,
) -> dict[str, Any]:
    """The remote's fields the command line sets."""
    fields: dict[str, Any] = {}
    if types:
        fields["types"] = [_type_spec(value) for value in types]
    if conflicts is not None:
        fields["conflicts"] = conflicts
    if client_ids is not None:
        fields["client_ids"] = client_ids
    if page_size is not None:
        fields["page_size"] = page_size
    if bearer_token_env is not None:
        if not os.environ.get(bearer_token_env):
            _config_error(f"--bearer-token-env: ${bearer_token_env} is not set")
        fields["auth"] = {"kind": "bearer", "token_env": bearer_token_env}
    return fields


def _type_spec(value: str) -> dict[str, str]:
    """``Task`` or ``Task?patient=Patient/7`` (a type and the search that narrows it)."""
    resource_type, _, search = value.partition("?")
    return {"type": resource_type, "filter": search} if search else {"type": resource_type}


def resolve_remote(
    remotes: dict[str, Remote], name: str | None, url: str | None, overrides: dict[str, Any]
) -> Remote:
    """The remote the options name: ``name`` from the file, or one at ``url`` (named
    ``name``, or after the URL so that its cursors and id map carry over between runs),
    with the fields the options set. A ``RemoteConfigError`` names the field."""
    if name is None and url is None:
        raise RemoteConfigError("--remote NAME (of the remotes file) or --remote-url URL is needed")
    if name is not None and url is None and name not in remotes:
        known = ", ".join(sorted(remotes)) or "none"
        raise RemoteConfigError(f"--remote: no remote '{name}' in the file (configured: {known})")
    name = name or url_name(str(url))
    base = remotes.get(name)
    if base is not None and url is None and not overrides:
        return base
    fields = {} if base is None else base.model_dump(exclude={"name"})
    if url is not None:
        fields["base_url"] = url
    return parse_remote(name, {**fields, **overrides})


def url_name(url: str) -> str:
    """A remote's name from its base URL (``http://127.0.0.1:8090/fhir`` →
    ``127.0.0.1-8090-fhir``): no ``/``, which would mix its records with another's."""
    bare = re.sub(r"^[a-z]+://", "", url.strip(), flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9.]+", "-", bare).strip("-") or "remote"


def parse_every(text: str) -> float:
    """``60``, ``60s``, ``5m``, ``1h`` (also ``1.5m``) as seconds, more than none."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None or float(match.group(1)) <= 0:
        raise typer.BadParameter(
            f"'{text}' is not a duration such as 60, 60s, 5m or 1h", param_hint="'--every'"
        )
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _remotes_or_exit(settings: Settings) -> dict[str, Remote]:
    try:
        return load_remotes(settings.sync_remotes)
    except RemoteConfigError as error:
        _config_error(str(error))


def _not_configured(settings: Settings, remotes: dict[str, Remote], name: str) -> str:
    known = ", ".join(sorted(remotes)) or "none"
    return f"--remote: no remote '{name}' in {settings.sync_remotes} (configured: {known})"


def _config_error(message: str) -> NoReturn:
    err.print(f"[red]error[/red] {escape(message)}")
    raise typer.Exit(EXIT_CONFIG)


# -- runs ----------------------------------------------------------------------------------


def _sync_command(
    direction: Direction,
    name: str | None,
    url: str | None,
    overrides: dict[str, Any],
    dry_run: bool,
    every: float | None = None,
) -> None:
    settings = Settings()
    remotes = _remotes_or_exit(settings)
    try:
        remote = resolve_remote(remotes, name, url, overrides)
    except RemoteConfigError as error:
        _config_error(str(error))
    if every is None:
        code = asyncio.run(run_once(settings, remote, direction, dry_run))
    else:
        code = asyncio.run(run_worker(settings, remote, direction, dry_run, every))
    raise typer.Exit(code)


# -- status and conflicts ------------------------------------------------------------------


async def _status(
    settings: Settings, remotes: dict[str, Remote], name: str | None, count: int
) -> int:
    from fhircare.cli import _opened_context
    from fhircare.sync.operations import remote_status
    from fhircare.sync.state import reports

    async with _opened_context(settings) as context:
        runs = await reports(context.store, name, count)
        if name is not None and name not in remotes and not runs:
            _config_error(_not_configured(settings, remotes, name))
        names = [name] if name is not None else sorted(remotes)
        statuses = [await remote_status(context, n, remotes.get(n)) for n in names]
    out = Console(highlight=False)
    if statuses:
        table = Table(title=f"remotes ({settings.sync_remotes})", title_justify="left")
        for column in ("remote", "base URL", "direction", "policy", "cursors"):
            table.add_column(column, overflow="fold")
        table.add_column("conflicts", justify="right")
        for status in statuses:
            remote = status.remote
            table.add_row(
                escape(status.name),
                escape(remote.base_url) if remote else "(not in the file)",
                remote.direction if remote else "",
                remote.conflicts if remote else "",
                escape(_cursors(status.cursors)) or "(none yet)",
                str(status.conflicts),
            )
        out.print(table)
    else:
        out.print(f"no remotes in {escape(str(settings.sync_remotes))}")
    if not runs:
        out.print("no runs yet")
        return EXIT_OK
    table = Table(title="latest runs", title_justify="left")
    for column in ("started", "remote", "direction", "status", "counts"):
        table.add_column(column)
    table.add_column("seconds", justify="right")
    for run in runs:
        direction = str(run.get("direction", "")) + (" (dry run)" if run.get("dry_run") else "")
        table.add_row(
            str(run.get("started", ""))[:19].replace("T", " "),
            escape(str(run.get("remote", ""))),
            direction,
            escape(str(run.get("status", ""))),
            _counts(run),
            f"{float(run.get('seconds') or 0):.1f}",
        )
    out.print(table)
    return EXIT_OK


def _counts(run: dict[str, Any]) -> str:
    """The counts that are not zero: ``3 pulled, 1 failed``."""
    names = {"skipped": "unchanged", "conflicted": "conflicts"}
    shown = [
        f"{run.get(key)} {names.get(key, key)}"
        for key in ("pulled", "pushed", "deleted", "skipped", "conflicted", "failed", "retries")
        if run.get(key)
    ]
    return ", ".join(shown) or "nothing"


def _cursors(cursors: dict[str, dict[str, Any]]) -> str:
    lines = []
    for key, value in sorted(cursors.items()):
        shown = ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
        lines.append(f"{key}: {shown}")
    return "\n".join(lines)


async def _list_conflicts(settings: Settings, remotes: dict[str, Remote], name: str | None) -> int:
    from fhircare.cli import _opened_context
    from fhircare.sync.conflicts import list_conflicts

    if name is not None and name not in remotes:
        _config_error(_not_configured(settings, remotes, name))
    names = [name] if name is not None else sorted(remotes)
    async with _opened_context(settings) as context:
        found = [(n, c) for n in names for c in await list_conflicts(context, n)]
    out = Console(highlight=False)
    if not found:
        out.print("no open conflicts")
        return EXIT_OK
    plural = "" if len(found) == 1 else "s"
    table = Table(title=f"{len(found)} open conflict{plural}", title_justify="left")
    for column in ("remote", "resource", "found by", "local", "remote version"):
        table.add_column(column)
    for remote_name, conflict in found:
        local = "deleted" if conflict.get("local_deleted") else f"v{conflict.get('local_version')}"
        theirs = f"{conflict.get('remote')} " + (
            "deleted" if conflict.get("remote_deleted") else f"v{conflict.get('remote_version')}"
        )
        table.add_row(
            escape(remote_name),
            escape(str(conflict.get("resource", ""))),
            str(conflict.get("found", "")),
            local,
            escape(theirs),
        )
    out.print(table)
    out.print("resolve one with: fhircare sync conflicts --resolve Type/id --keep local|remote")
    return EXIT_OK


async def _resolve(
    settings: Settings,
    remotes: dict[str, Remote],
    name: str | None,
    key: str,
    keep: Literal["local", "remote"],
) -> int:
    from fhircare.cli import _opened_context
    from fhircare.sync.conflicts import NoSuchConflict, resolve
    from fhircare.sync.state import LeaseHeld, SyncState

    resource_type, _, id = key.partition("/")
    async with _opened_context(settings) as context:
        if name is None:
            having = [
                n
                for n in sorted(remotes)
                if await SyncState(context.store, n).conflict(resource_type, id) is not None
            ]
            if len(having) > 1:
                _config_error(f"--remote is needed: {key} conflicts with {', '.join(having)}")
            if not having:
                err.print(f"[red]error[/red] no open conflict on {escape(key)}")
                return EXIT_ERRORS
            name = having[0]
        try:
            report = await resolve(context, remotes[name], key, keep)
        except NoSuchConflict as error:
            err.print(f"[red]error[/red] {escape(str(error))}")
            return EXIT_ERRORS
        except (RemoteConfigError, LeaseHeld) as error:
            return refused(error)
    print_report(report)
    return EXIT_OK if report.status == "completed" else EXIT_ERRORS
