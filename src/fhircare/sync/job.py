"""One sync run's working set: the remote, its client, the local context and the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fhircare.interactions.request import Context
from fhircare.sync.client import RemoteClient
from fhircare.sync.remotes import Remote
from fhircare.sync.report import RunReport
from fhircare.sync.state import SyncState

Progress = Callable[[str, int, int | None], None]
"""``progress(what, done, total)``: what a run reports as it goes (``total`` None when
the remote does not say)."""


def no_progress(what: str, done: int, total: int | None) -> None:
    return None


@dataclass
class Job:
    """What pull and push share during one run."""

    context: Context
    remote: Remote
    client: RemoteClient
    state: SyncState
    report: RunReport
    instance: str
    """This store's id (``state.instance_id``), which names our resources on remotes."""
    dry_run: bool = False
    progress: Progress = no_progress
