"""A sync run: hold the remote's lease, pull, push, leave a report.

``run`` is what the CLI, the worker mode and the ``$sync`` operation call. The lease
(``state.SyncState.acquire``) keeps two workers, in any processes, off one remote; it is
renewed while the run goes on and simply expires if the worker dies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Literal

import httpx

from fhircare.interactions.request import Context
from fhircare.sync.client import RemoteClient, RemoteError
from fhircare.sync.job import Job, Progress, no_progress
from fhircare.sync.pull import pull
from fhircare.sync.push import push
from fhircare.sync.remotes import Remote
from fhircare.sync.report import RunReport
from fhircare.sync.state import SyncState, instance_id

log = logging.getLogger(__name__)

Direction = Literal["pull", "push", "both"]
LEASE_SECONDS = 120.0


@asynccontextmanager
async def session(
    context: Context,
    remote: Remote,
    direction: Direction,
    *,
    dry_run: bool = False,
    progress: Progress = no_progress,
    transport: httpx.AsyncBaseTransport | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> AsyncIterator[Job]:
    """A ``Job`` holding the remote's lease (``LeaseHeld`` when another worker has it) and
    a client; its report is finished and saved when the block ends, however it ends."""
    state = SyncState(context.store, remote.name)
    report = RunReport(remote.name, direction, dry_run)
    client = RemoteClient(remote, transport=transport)  # a configuration error stops here
    try:
        await state.acquire(lease_seconds)
    except BaseException:
        await client.aclose()
        raise
    renewal = asyncio.create_task(_renew(state, lease_seconds))
    try:
        instance = await instance_id(context.store)
        yield Job(context, remote, client, state, report, instance, dry_run, progress)
        report.finish("completed" if not report.failed else "completed with errors")
    except RemoteError as error:
        report.error("run", str(error), "remote")
        report.finish("failed")
    except BaseException:
        report.finish("interrupted")
        raise
    finally:
        report.retries = client.stats.retries
        renewal.cancel()
        with suppress(asyncio.CancelledError):
            await renewal
        await client.aclose()
        await asyncio.shield(_close(state, report))


async def run(
    context: Context,
    remote: Remote,
    direction: Direction | None = None,
    *,
    dry_run: bool = False,
    progress: Progress = no_progress,
    transport: httpx.AsyncBaseTransport | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> RunReport:
    """One run in ``direction`` (the remote's own by default): pull, then push. Raises
    ``LeaseHeld`` when another worker is running this remote; otherwise returns the saved
    report, a remote that stays unavailable included (status ``failed``)."""
    direction = direction or remote.direction
    async with session(
        context,
        remote,
        direction,
        dry_run=dry_run,
        progress=progress,
        transport=transport,
        lease_seconds=lease_seconds,
    ) as job:
        if direction in ("pull", "both"):
            await pull(job)
        if direction in ("push", "both"):
            await push(job)
    log.info("sync %s", job.report.summary())
    return job.report


async def _close(state: SyncState, report: RunReport) -> None:
    await state.save_report(report.id, report.as_dict())
    await state.release()


async def _renew(state: SyncState, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds / 3)
        await state.acquire(seconds)
