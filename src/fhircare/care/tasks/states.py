"""The R4 Task state machine as data: which ``Task.status`` may follow which.

Drawn from the state machine of https://hl7.org/fhir/R4/task.html#statemachine and the
definitions of https://hl7.org/fhir/R4/valueset-task-status.html:

- *draft* is "not yet ready to be acted upon": it is requested of a performer, or made
  ``ready`` straight away when assignment and acceptance are a given, or abandoned.
- *requested* seeks a performer, who may claim it (``received``) or answer at once
  (``accepted`` or ``rejected``); ``rejected`` is only possible "prior to performing any
  action", so nothing after ``accepted`` leads there.
- *ready* stands "in place of requested/received/accepted/rejected", so it is reached from
  ``draft`` (or by stopping ``in-progress`` work for reassignment, as the page's notes
  say), not from the request/acceptance path.
- *on-hold* is "started but work has been paused": only ``in-progress`` work is paused,
  and it resumes to ``in-progress`` (or ends as failed or cancelled, never completed while
  paused: completing is work, so it is resumed first).
- *failed* is "attempted": only started work (in-progress, on-hold) fails.
- "A task in any non-terminal state may also be Cancelled".
- Final states (completed, cancelled, failed, rejected, entered-in-error) have no way out
  but ``entered-in-error``, which every state may reach; the page allows workflows to
  reopen terminal tasks, this server does not (a new Task is made instead).
"""

from __future__ import annotations

from collections.abc import Mapping

ENTERED_IN_ERROR = "entered-in-error"

NEXT: Mapping[str, frozenset[str]] = {
    "draft": frozenset({"requested", "ready", "cancelled"}),
    "requested": frozenset({"received", "accepted", "rejected", "cancelled"}),
    "received": frozenset({"accepted", "rejected", "cancelled"}),
    "accepted": frozenset({"in-progress", "cancelled"}),
    "rejected": frozenset(),
    "ready": frozenset({"in-progress", "cancelled"}),
    "cancelled": frozenset(),
    "in-progress": frozenset({"on-hold", "ready", "completed", "failed", "cancelled"}),
    "on-hold": frozenset({"in-progress", "failed", "cancelled"}),
    "failed": frozenset(),
    "completed": frozenset(),
    ENTERED_IN_ERROR: frozenset(),
}
"""Each status's successors besides ``entered-in-error`` (always allowed) and itself."""

STATUSES = tuple(NEXT)
"""Every code of the task-status value set, in the value set's order."""

FINAL = frozenset({"completed", "cancelled", "failed", "rejected", ENTERED_IN_ERROR})

NEEDS_REASON = frozenset({"rejected", "cancelled", "failed"})
"""Entering these says why in ``Task.statusReason``."""

NEEDS_OWNER = frozenset({"accepted", "ready", "in-progress", "on-hold", "completed"})
"""From acceptance on someone answers for the task: ``Task.owner`` is present."""

STARTED = frozenset({"in-progress"})
"""Entering these fills ``executionPeriod.start`` when absent."""

ENDED = frozenset({"completed", "failed"})
"""Entering these fills ``executionPeriod.end`` when absent; ``cancelled`` does too once
work had started (``executionPeriod.start`` present), since only then was there an
execution to end."""


def allowed_after(status: str) -> tuple[str, ...]:
    """The statuses a Task in ``status`` may move to, in the value set's order."""
    following = NEXT.get(status, frozenset()) | {ENTERED_IN_ERROR}
    following -= {status}
    return tuple(s for s in STATUSES if s in following)


def may_follow(previous: str, status: str) -> bool:
    """Whether ``status`` may replace ``previous``; an unchanged status always may."""
    return status == previous or status in allowed_after(previous)
