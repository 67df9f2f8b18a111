"""Running syncs from the command line: one run, or a worker running one every so often.

Each run shows a progress bar per thing it reports (on a terminal) and ends with the
report's line and its errors on stdout. SIGINT and SIGTERM end a run under way through the
engine (its report is saved as interrupted and the remote's lease released; the next run
resumes from the cursors) rather than killing the process, which would leave the lease held
until it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from fhircare.settings import Settings
from fhircare.sync.remotes import Remote, RemoteConfigError

if TYPE_CHECKING:
    from fhircare.interactions.request import Context
    from fhircare.sync.job import Progress as ProgressCallback
    from fhircare.sync.report import RunReport

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERRORS, EXIT_CONFIG, EXIT_BUSY = 0, 1, 2, 3
"""Completed; with errors, failed or interrupted; a configuration error; another worker
holds the remote's lease."""
SIGNALS = (signal.SIGINT, signal.SIGTERM)
err = Console(stderr=True, highlight=False)
Direction = Literal["pull", "push"] | None
"""A command's direction; None: the remote's own."""


def refused(error: Exception) -> int:
    """Print why a run could not start (a configuration error, or another worker holds the
    lease) and give its exit status."""
    from fhircare.sync.state import LeaseHeld

    if isinstance(error, LeaseHeld):
        err.print(f"[yellow]busy[/yellow] {escape(str(error))}")
        return EXIT_BUSY
    err.print(f"[red]error[/red] {escape(str(error))}")
    return EXIT_CONFIG


async def run_once(settings: Settings, remote: Remote, direction: Direction, dry_run: bool) -> int:
    """One run; SIGINT or SIGTERM ends it (its report saved as interrupted, status 1)."""
    from fhircare.cli import _opened_context

    async with _opened_context(settings) as context:
        task = asyncio.create_task(_run(context, remote, direction, dry_run))
        with _on_signals(task.cancel):
            try:
                return await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
        err.print("interrupted: its report says so, and the next run resumes from its cursors")
        return EXIT_ERRORS


async def _run(
    context: Context,
    remote: Remote,
    direction: Direction,
    dry_run: bool,
    stamped: bool = False,
) -> int:
    """One run, its report printed; the exit status it calls for."""
    from fhircare.sync import engine
    from fhircare.sync.state import LeaseHeld

    try:
        with _progress_bars() as progress:
            report = await engine.run(
                context, remote, direction, dry_run=dry_run, progress=progress
            )
    except (RemoteConfigError, LeaseHeld) as error:
        return refused(error)
    print_report(report, stamped)
    return EXIT_OK if report.status == "completed" else EXIT_ERRORS


async def run_worker(
    settings: Settings,
    remote: Remote,
    direction: Direction,
    dry_run: bool,
    every: float,
) -> int:
    """Run, sleep ``every`` seconds, run again, until SIGINT or SIGTERM, which also ends a
    run under way (its report is saved as interrupted; the next run resumes from the
    cursors). A run that fails, or finds the remote busy, is reported; the next retries."""
    from fhircare.cli import _opened_context

    stop = asyncio.Event()
    running: set[asyncio.Task[int]] = set()

    def on_signal() -> None:
        stop.set()
        for task in running:
            task.cancel()

    async with _opened_context(settings) as context:
        with _on_signals(on_signal):
            while not stop.is_set():
                task = asyncio.create_task(_run(context, remote, direction, dry_run, True))
                running.add(task)
                try:
                    code = await task
                except asyncio.CancelledError:
                    if not task.cancelled():
                        raise
                    break
                except Exception as error:  # a store outage must not end the worker
                    log.exception("sync run failed")
                    err.print(f"[red]error[/red] the run failed: {escape(repr(error))}")
                    code = EXIT_ERRORS
                finally:
                    running.discard(task)
                if code == EXIT_CONFIG:
                    return code
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every)
    err.print("stopped")
    return EXIT_OK


@contextmanager
def _on_signals(handler: Callable[[], object]) -> Iterator[None]:
    """``handler()`` on SIGINT and SIGTERM while the block runs (instead of dying at once,
    which would leave the remote's lease held until it expires and the run unreported)."""
    loop = asyncio.get_running_loop()
    for signum in SIGNALS:
        loop.add_signal_handler(signum, handler)
    try:
        yield
    finally:
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)


@contextmanager
def _progress_bars() -> Iterator[ProgressCallback]:
    """Progress bars on stderr, one per thing a run reports (``pull Patient``, ``push``),
    fed as the engine's ``progress(what, done, total)``."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def update(what: str, done: int, total: int | None) -> None:
            if what not in tasks:
                tasks[what] = bars.add_task(what, total=total)
            bars.update(tasks[what], completed=done, total=total)

        yield update


def summary(report: RunReport) -> str:
    """The report's one line; a dry run's says what would have happened."""
    if not report.dry_run:
        return report.summary()
    return (
        f"{report.remote} {report.direction} (dry run): would pull {report.pulled}, "
        f"would push {report.pushed}, would delete {report.deleted}; {report.skipped} "
        f"unchanged, {report.conflicted} conflicts, {report.failed} failed in "
        f"{report.seconds:.1f} s ({report.status})"
    )


def print_report(report: RunReport, stamped: bool = False) -> None:
    """The summary line (``stamped``: after the run's start time, for a worker's log) and
    each error: the resource, the field where known, the side and the diagnostics."""
    out = Console(highlight=False, soft_wrap=True)
    stamp = f"{report.started[:19].replace('T', ' ')} " if stamped else ""
    out.print(stamp + summary(report), markup=False)
    for error in report.errors:
        where = error.get("resource", "?")
        if error.get("field"):
            where += f" {error['field']}"
        side = error.get("side", "?")
        out.print(f"error {where} ({side}): {error.get('diagnostics', '')}", markup=False)
