"""One SMART resource scope, read from its text: v1 (``patient/Observation.read``) and v2
(``patient/Observation.rs?category=...``).

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-fhir-resources

The grammar accepted is ``context "/" type "." actions ["?" restriction]`` where

- ``context`` is ``patient``, ``user`` or ``system``;
- ``type`` is a resource type name (``[A-Z][A-Za-z]*``) or ``*``; the name is checked for its
  shape only, so a type the server does not know is a valid scope that never matches;
- ``actions`` is v1 ``read`` (r+s), ``write`` (c+u+d) or ``*`` (all five), or v2 letters out
  of ``cruds``, at least one, each at most once and in that order (``rs``, not ``sr``);
- ``restriction`` (v2 only) is ``name=value`` pairs joined by ``&``, each name and value
  non-empty; they are URL-decoded the way a query string is (``%XX`` and ``+`` for space).

Scopes without a ``/``-separated resource part of those three contexts (``openid``,
``fhirUser``, ``launch``, ``launch/patient``, ``offline_access``, ``online_access``, or any
other an authorization server may add) are not resource scopes: ``parse_scope`` answers None.
A text that names one of the three contexts and a ``.`` but breaks the grammar raises
``InvalidScope``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_plus

ScopeContext = Literal["patient", "user", "system"]
CONTEXTS: tuple[ScopeContext, ...] = ("patient", "user", "system")
ACTION_ORDER = "cruds"
"""The v2 action letters in the order a scope must write them."""
ALL_ACTIONS = frozenset(ACTION_ORDER)
V1_ACTIONS: dict[str, frozenset[str]] = {
    "read": frozenset("rs"),
    "write": frozenset("cud"),
    "*": ALL_ACTIONS,
}
"""SMART v1 permissions as v2 letters (the spec's v1-to-v2 correspondence)."""

Restriction = tuple[tuple[str, str], ...]
"""Search parameter pairs a ``?`` scope narrows its grant by (all of them hold at once)."""

_CONTEXT_PREFIX = re.compile(r"^(patient|user|system)/")
_TYPE = re.compile(r"^(\*|[A-Z][A-Za-z]*)$")
_V2_ACTIONS = re.compile(r"^c?r?u?d?s?$")


class InvalidScope(ValueError):
    """A resource scope that breaks the SMART grammar; the message names the scope."""

    def __init__(self, scope: str, reason: str) -> None:
        super().__init__(f"invalid scope '{scope}': {reason}")
        self.scope = scope
        self.reason = reason


@dataclass(frozen=True)
class Scope:
    """A parsed resource scope; ``text`` is what the token said."""

    context: ScopeContext
    resource_type: str
    """A resource type name, or ``*`` for every type."""
    actions: frozenset[str]
    """Letters out of ``cruds``."""
    restriction: Restriction
    version: Literal[1, 2]
    text: str

    def covers(self, resource_type: str) -> bool:
        return self.resource_type in ("*", resource_type)

    @property
    def restricted(self) -> bool:
        return bool(self.restriction)


def parse_scope(text: str) -> Scope | None:
    """The resource scope ``text`` stands for, None for a non-resource scope.

    Raises ``InvalidScope`` for a resource scope that breaks the grammar (see the module).
    """
    match = _CONTEXT_PREFIX.match(text)
    if match is None:
        return None
    context = CONTEXTS[CONTEXTS.index(match.group(1))]
    rest = text[match.end() :]
    body, question, query = rest.partition("?")
    resource_type, dot, permission = body.partition(".")
    if not dot:
        raise InvalidScope(text, "expected '<type>.<actions>' after the context")
    if not _TYPE.match(resource_type):
        raise InvalidScope(text, f"'{resource_type}' is not a resource type or '*'")
    actions, version = _actions(text, permission)
    if question and version == 1:
        raise InvalidScope(text, "only SMART v2 scopes ('.cruds' letters) take a '?' restriction")
    restriction = _restriction(text, query) if question else ()
    return Scope(context, resource_type, actions, restriction, version, text)


def _actions(text: str, permission: str) -> tuple[frozenset[str], Literal[1, 2]]:
    if permission in V1_ACTIONS:
        return V1_ACTIONS[permission], 1
    if permission and _V2_ACTIONS.match(permission):
        return frozenset(permission), 2
    raise InvalidScope(
        text,
        f"'{permission}' is neither 'read', 'write', '*' nor letters of 'cruds' "
        "(each once, in that order)",
    )


def _restriction(text: str, query: str) -> Restriction:
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        if not equals or not name or not value:
            raise InvalidScope(text, f"restriction '{part}' is not 'name=value'")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return tuple(pairs)


def render(context: str, resource_type: str, actions: frozenset[str] | str) -> str:
    """The v2 scope text granting ``actions`` on ``resource_type`` in ``context``."""
    letters = "".join(letter for letter in ACTION_ORDER if letter in actions)
    return f"{context}/{resource_type}.{letters}"
