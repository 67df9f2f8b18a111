"""Rules that workflows add to every write, whatever interaction makes it.

A **check** runs before a new version is made, on create, update, patch and every write
entry of a batch or transaction: it sees the resource and its previous live content (None
on a create, or over a deleted one), may fill in elements, and refuses a write by raising a
``FhirError`` (422 with the element's ``expression``). The Task state machine
(``care/tasks/lifecycle.py``) is one.

A **follower** runs after a version is committed, with the committed version: it may write
other resources through the interactions (``care/progress/sync.py`` keeps CarePlan
activities and Goals up to date). A transaction's followers run once the whole transaction
is committed, on the real store, never on its staging. A follower's failure is logged and
does not undo or fail the write that triggered it.

The composition root (``app.context_for``) chooses the rules; ``NO_RULES`` is the default,
so interactions under test behave as the FHIR specification alone says.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fhircare.fhir import jsonio
from fhircare.fhir.errors import FhirError

if TYPE_CHECKING:
    from fhircare.interactions.request import Context
    from fhircare.storage.protocol import StoredVersion

log = logging.getLogger(__name__)

Resource = dict[str, Any]
Check = Callable[[Resource, Resource | None], None]
"""``check(resource, previous)``: raise a ``FhirError`` to refuse; may change ``resource``."""
Follower = Callable[["Context", "StoredVersion"], Awaitable[None]]


@dataclass(frozen=True)
class WriteRules:
    """The checks by resource type and the followers of every committed version."""

    checks: Mapping[str, Sequence[Check]] = field(default_factory=dict)
    followers: Sequence[Follower] = ()

    def check(self, resource_type: str, resource: Resource, previous: bytes | None) -> None:
        """Run the checks of ``resource_type``; ``previous`` (the live version's stored JSON)
        is parsed only when the type has any, so other writes pay nothing."""
        checks = self.checks.get(resource_type, ())
        if not checks:
            return
        before = None if previous is None else jsonio.loads(previous)
        for check in checks:
            check(resource, before)

    async def follow(self, context: Context, written: Sequence[StoredVersion]) -> None:
        """Run every follower on each committed version, in order."""
        if not context.follow_writes:
            return
        for version in written:
            for follower in self.followers:
                try:
                    await follower(context, version)
                except FhirError as error:
                    log.warning(
                        "a follower of %s/%s failed: %s", version.resource_type, version.id, error
                    )
                except Exception:  # the write is committed; its followers must not undo it
                    log.exception("a follower of %s/%s failed", version.resource_type, version.id)


NO_RULES = WriteRules()
