"""Which SMART v2 action letters each FHIR interaction and fhircare operation needs.

SMART App Launch 2.0, "Scopes for requesting FHIR resources", maps the letters onto the
RESTful interactions (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):

- ``c`` create: type-level create;
- ``r`` read: read, vread and *instance-level* history (one resource's versions are reads of
  that resource);
- ``u`` update: update and patch; the spec lets the update scope cover an update that creates
  a new instance, so update-as-create needs ``u`` alone, not ``c`` as well;
- ``d`` delete: instance-level delete;
- ``s`` search: type- and system-level search and type- and system-level history (they list
  resources the client did not name, like a search).

Interaction names are the codes of http://hl7.org/fhir/restful-interaction
(https://hl7.org/fhir/R4/codesystem-restful-interaction.html); the conditional ones
(``create-conditional`` ...) are that code system's later codes. A conditional interaction
needs ``s`` besides its own letter: its criteria run a search and its outcome tells whether
matches exist. Operations are keyed by ``$name``; each needs its letters on every type it
reads or writes, which the caller checks type by type. The decisions beyond the spec:

- ``$everything``: ``r`` and ``s`` on the Patient and on every type it returns;
- ``$validate``: ``r`` on the type it validates and nothing more (it stores nothing and
  reads at most the resource it is asked about);
- ``$worklist``, ``$progress``: ``r`` and ``s`` (read-only reports over searches);
- ``$apply``, ``$extract``: ``r`` on their input resource and ``c`` on each type they create;
- ``transaction``, ``batch``: nothing of their own; each entry is checked as the interaction
  it is;
- ``capabilities`` (``GET /metadata``): nothing; SMART discovery needs it unauthenticated;
- ``$reindex``, ``$sync``, ``$sync-status``: administration, listed in
  ``SYSTEM_WIDE_OPERATIONS``; they need ``ScopeSet.is_system_wide()``, not per-type letters.
"""

from __future__ import annotations

from fhircare.security.scopes_parse import ALL_ACTIONS

_NONE: frozenset[str] = frozenset()

SYSTEM_WIDE_OPERATIONS = frozenset({"$reindex", "$sync", "$sync-status"})
"""Administration: allowed only to a token whose ``ScopeSet.is_system_wide()``."""

ACTIONS_OF: dict[str, frozenset[str]] = {
    "read": frozenset("r"),
    "vread": frozenset("r"),
    "history-instance": frozenset("r"),
    "history-type": frozenset("s"),
    "history-system": frozenset("s"),
    "search-type": frozenset("s"),
    "search-system": frozenset("s"),
    "create": frozenset("c"),
    "create-conditional": frozenset("cs"),
    "update": frozenset("u"),
    "update-conditional": frozenset("us"),
    "patch": frozenset("u"),
    "patch-conditional": frozenset("us"),
    "delete": frozenset("d"),
    "delete-conditional-single": frozenset("ds"),
    "delete-conditional-multiple": frozenset("ds"),
    "transaction": _NONE,
    "batch": _NONE,
    "capabilities": _NONE,
    "$everything": frozenset("rs"),
    "$validate": frozenset("r"),
    "$worklist": frozenset("rs"),
    "$progress": frozenset("rs"),
    "$apply": frozenset("rc"),
    "$extract": frozenset("rc"),
    **{name: ALL_ACTIONS for name in SYSTEM_WIDE_OPERATIONS},
}
"""The action letters an interaction (restful-interaction code) or ``$operation`` needs."""
