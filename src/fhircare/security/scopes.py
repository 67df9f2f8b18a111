"""What a token's SMART scopes allow: a pure decision over resource type and action.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html

``ScopeSet.from_claims`` reads a token's scopes (v1 and v2 alike, see ``scopes_parse``);
``allows`` answers one resource type and one action letter of ``cruds`` (``ACTIONS_OF`` in
``scopes_actions`` says which letters an interaction needs) with a ``Decision`` that also
says how the caller must narrow what it returns or touches:

- through a ``patient/`` scope, to the launch patient's compartment;
- through a ``?`` scope, by that scope's search parameter pairs.

When several scopes grant the same type and action, they are ranked and the best rank wins
(the least narrowing, so the client gets what its broadest grant allows):

1. an unrestricted ``user/`` or ``system/`` scope: no narrowing;
2. an unrestricted ``patient/`` scope: the patient's compartment;
3. a restricted ``user/`` or ``system/`` scope: its restriction;
4. a restricted ``patient/`` scope: the compartment and its restriction.

Unrestricted beats restricted first, then user/system beat patient. Scopes of the winning
rank that carry different restrictions are alternatives: a resource passes when it matches
any one of them. The winner may grant less than the union of all granting scopes (a
compartment-narrowed grant and a restriction-narrowed one cannot be told apart by one
narrowing); choosing one errs towards refusing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fhircare.security.scopes_actions import ACTIONS_OF, SYSTEM_WIDE_OPERATIONS
from fhircare.security.scopes_parse import (
    ACTION_ORDER,
    ALL_ACTIONS,
    InvalidScope,
    Restriction,
    Scope,
    ScopeContext,
    parse_scope,
    render,
)

__all__ = [
    "ACTIONS_OF",
    "SYSTEM_WIDE_OPERATIONS",
    "Decision",
    "InvalidScope",
    "Restriction",
    "Scope",
    "ScopeContext",
    "ScopeSet",
    "parse_scope",
]


@dataclass(frozen=True)
class Decision:
    """Whether one resource type and action are allowed, and through which scopes."""

    allowed: bool
    granted_by: tuple[Scope, ...] = ()
    """The scopes of the winning rank (see the module); empty when refused."""
    contexts: frozenset[ScopeContext] = frozenset()
    """The contexts of every scope that grants it, whatever its rank."""

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def narrow_to_patient(self) -> bool:
        """Allowed only through ``patient/`` scopes: narrow to the patient's compartment."""
        return self.allowed and all(scope.context == "patient" for scope in self.granted_by)

    @property
    def restrictions(self) -> tuple[Restriction, ...]:
        """Alternative search pair sets to narrow by (any one suffices); empty: none."""
        found: list[Restriction] = []
        for scope in self.granted_by:
            if scope.restriction and scope.restriction not in found:
                found.append(scope.restriction)
        return tuple(found)


def _rank(scope: Scope) -> tuple[bool, bool]:
    return scope.restricted, scope.context == "patient"


@dataclass(frozen=True)
class ScopeSet:
    """A token's resource scopes and what they allow."""

    scopes: tuple[Scope, ...]
    invalid: tuple[InvalidScope, ...] = ()
    """Malformed resource scopes, kept for a log line; they grant nothing."""
    other: tuple[str, ...] = ()
    """Non-resource scopes (``openid``, ``launch/patient``, ...), as the token said them."""

    @classmethod
    def from_claims(cls, scopes: str | Iterable[str], *, strict: bool = False) -> ScopeSet:
        """Parse a token's scopes: one space-separated string (the ``scope`` claim) or an
        iterable of strings, each of which may itself hold several separated by spaces.

        A malformed resource scope grants nothing and is kept in ``invalid``, so one bad
        scope does not lock a client out of what its good ones allow; ``strict`` raises the
        first ``InvalidScope`` instead (for checking configuration, or a stricter policy).
        """
        texts = (
            scopes.split() if isinstance(scopes, str) else [t for s in scopes for t in s.split()]
        )
        parsed: list[Scope] = []
        invalid: list[InvalidScope] = []
        other: list[str] = []
        for text in texts:
            try:
                scope = parse_scope(text)
            except InvalidScope as error:
                if strict:
                    raise
                invalid.append(error)
                continue
            if scope is None:
                other.append(text)
            else:
                parsed.append(scope)
        return cls(tuple(parsed), tuple(invalid), tuple(other))

    def allows(self, resource_type: str, action: str) -> Decision:
        """Whether ``action`` (one letter of ``cruds``) on ``resource_type`` is granted."""
        if len(action) != 1 or action not in ACTION_ORDER:
            raise ValueError(f"action must be one of {', '.join(ACTION_ORDER)}, not '{action}'")
        granting = [s for s in self.scopes if s.covers(resource_type) and action in s.actions]
        if not granting:
            return Decision(False)
        best = min(_rank(scope) for scope in granting)
        return Decision(
            True,
            tuple(scope for scope in granting if _rank(scope) == best),
            frozenset(scope.context for scope in granting),
        )

    def missing(self, resource_type: str, actions: str, context: ScopeContext | None = None) -> str:
        """The v2 scope that would grant ``actions`` on ``resource_type``, for a 403 message.

        Names only the letters not yet granted (all of them if none is missing), in
        ``context``, else the one context the token's resource scopes use, else ``user``.
        """
        wanted = frozenset(actions)
        if not wanted or not wanted <= ALL_ACTIONS:
            raise ValueError(f"actions must be letters of {ACTION_ORDER}, not '{actions}'")
        lacking = frozenset(a for a in wanted if not self.allows(resource_type, a))
        return render(context or self._context(), resource_type, lacking or wanted)

    def _context(self) -> ScopeContext:
        used = {scope.context for scope in self.scopes}
        return used.pop() if len(used) == 1 else "user"

    def is_system_wide(self) -> bool:
        """Every action on every type, unnarrowed: what administration
        (``SYSTEM_WIDE_OPERATIONS``) needs.

        True when the token's unrestricted ``system/*`` scopes together grant all of
        ``cruds``: v2 ``system/*.cruds``, v1 ``system/*.*``, or their equivalents such as
        ``system/*.read system/*.write``. ``user/`` and ``patient/`` scopes never count,
        nor does any scope with a ``?`` restriction.
        """
        granted: set[str] = set()
        for scope in self.scopes:
            if scope.context == "system" and scope.resource_type == "*" and not scope.restricted:
                granted |= scope.actions
        return granted >= ALL_ACTIONS
