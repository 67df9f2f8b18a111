"""The ``fhircare`` command: serve, load, reindex, sync (``sync_cli.py``), and run the dev
store."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from fhircare.rest.auth import token_settings
from fhircare.security.tokens import TokenConfigError
from fhircare.settings import Settings
from fhircare.sync_cli import sync_app
from fhircare.token_cli import token_app

if TYPE_CHECKING:
    from fhircare.interactions.request import Context
    from fhircare.loader import LoadJournal, LoadReport

app = typer.Typer(
    help="fhircare: a FHIR R4 care-coordination server on SQLite or MongoDB.",
    no_args_is_help=True,
)
db_app = typer.Typer(
    help="FerretDB, the MongoDB wire-protocol server the MongoDB store's tests run on.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
app.add_typer(sync_app, name="sync")
app.add_typer(token_app, name="token")
err = Console(stderr=True)
EXAMPLES = Path("examples")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (FHIRCARE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (FHIRCARE_PORT or PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    examples: Annotated[
        bool, typer.Option("--examples/--no-examples", help="Load examples/ before serving.")
    ] = False,
) -> None:
    """Run the FHIR server: on MongoDB with MONGODB_URI, else on the embedded SQLite file."""
    import uvicorn

    settings = Settings()
    if settings.auth == "smart":
        try:
            token_settings(settings)
        except TokenConfigError as error:
            err.print(f"FHIRCARE_AUTH=smart: {error} (FHIRCARE_JWKS, FHIRCARE_TOKEN_ISSUER)")
            raise typer.Exit(2) from None
    else:
        err.print("[yellow]FHIRCARE_AUTH=none: no token is needed (development only)[/yellow]")
    # uvicorn re-raises SIGTERM after its graceful shutdown; as an exception it ends the
    # process cleanly instead of killing it on the spot.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    if settings.profiles_dir is not None and settings.profiles_dir.is_dir():
        _load(settings, [settings.profiles_dir])
    if examples and EXAMPLES.is_dir():
        _load(settings, [EXAMPLES])
    where = f"{host or settings.host}:{port or settings.port}{settings.base_path}"
    store = f"SQLite at {settings.effective_sqlite_path()}" if settings.uses_sqlite else "MongoDB"
    err.print(f"fhircare on http://{where} ({store})")
    uvicorn.run(
        "fhircare.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
    )


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


@app.command()
def load(
    paths: Annotated[list[Path], typer.Argument(help="Bundle files or folders.")],
    restart: Annotated[
        bool, typer.Option("--restart", help="Load every file again, even those loaded before.")
    ] = False,
) -> None:
    """Load FHIR bundles into the configured store, one file at a time, resumably: a file
    loaded before into this store is skipped (transaction bundles of POSTs, as Synthea
    writes, would otherwise be created twice)."""
    settings = Settings()
    report = _load(settings, paths, resume=not restart)
    if report.skipped_files:
        err.print(
            f"skipped: {report.skipped_files} files loaded into this store before "
            "(--restart loads them again)"
        )
    if report.errors:
        raise typer.Exit(1)


def _journal(settings: Settings) -> LoadJournal:
    """The record of the files loaded into the configured store, in the var folder: one per
    store (the SQLite file, by path and inode, or the MongoDB URI and database)."""
    import hashlib

    from fhircare.loader import LoadJournal

    if settings.uses_sqlite:
        path = settings.effective_sqlite_path().resolve()
        inode = path.stat().st_ino if path.exists() else 0
        identity = f"sqlite:{path}:{inode}"
    else:
        identity = f"{settings.effective_mongodb_uri()}|{settings.database}"
    name = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return LoadJournal(settings.var_dir / "load" / f"{name}.loaded")


@app.command()
def reindex(
    resource_type: Annotated[
        str | None, typer.Option("--type", help="Only this resource type (default: all).")
    ] = None,
) -> None:
    """Recompute the search index of stored resources with the current search parameters
    (after a SearchParameter became active or changed)."""
    from fhircare.fhir.models import RESOURCE_TYPES

    if resource_type is not None and resource_type not in RESOURCE_TYPES:
        err.print(f"[red]error[/red] '{resource_type}' is not a resource type this server serves")
        raise typer.Exit(2)
    settings = Settings()
    reindexed, skipped = asyncio.run(_reindex(settings, resource_type))
    scope = resource_type or "all types"
    err.print(f"reindexed: {reindexed} resources of {scope}, {skipped} skipped (changed meanwhile)")


async def _reindex(settings: Settings, resource_type: str | None) -> tuple[int, int]:
    from fhircare.interactions.reindex import reindex_resources

    async with _opened_context(settings) as context:
        with _progress("reindexing") as progress:
            report = await reindex_resources(
                context, resource_type, settings.public_base_url, progress
            )
    return report.reindexed, report.skipped


@asynccontextmanager
async def _opened_context(settings: Settings) -> AsyncIterator[Context]:
    """The interactions' context over the configured store, closed afterwards."""
    from fhircare.app import context_for, open_store

    store = open_store(settings)
    await store.open()
    try:
        context = context_for(settings, store)
        await context.search_parameters.load()
        await context.profiles.load()
        yield context
    finally:
        await store.close()


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, fed as ``progress(done, total)``."""
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@db_app.command("run")
def db_run() -> None:
    """Run FerretDB in the foreground (serve with MONGODB_URI=mongodb://127.0.0.1:PORT/)."""
    from fhircare.storage.mongo.ferretdb import main

    settings = Settings()
    main(["run", "--var-dir", str(settings.var_dir), "--port", str(settings.dev_store_port)])


@db_app.command("build")
def db_build() -> None:
    """Build the FerretDB binary into the var folder if it is missing."""
    from fhircare.storage.mongo.ferretdb import build

    print(build(Settings().var_dir))


def _load(settings: Settings, paths: list[Path], resume: bool = False) -> LoadReport:
    from fhircare.loader import load as load_bundles

    async def run() -> LoadReport:
        async with _opened_context(settings) as context:
            journal = _journal(settings) if resume else None  # the store exists now
            with _progress("loading files") as progress:
                return await load_bundles(context, paths, progress, journal)

    report = asyncio.run(run())
    summary = ", ".join(f"{n} {what}" for what, n in sorted(report.counts.items())) or "nothing"
    rate = f"{report.entries} entries in {report.seconds:.1f}s, {report.per_second:,.0f}/s"
    err.print(f"loaded: {summary} ({rate})")
    for line in report.errors:
        err.print(f"[red]error[/red] {line}")
    return report


def main() -> None:
    app(prog_name="fhircare")


if __name__ == "__main__":
    main()
