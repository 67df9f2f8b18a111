"""How one caller's grant narrows queries and reads: predicates and a membership test.

``Narrowing`` turns an ``Access`` (``access.py``) and the search registry into

- ``predicate(type, letter)``: what a query of that type must also match (the patient's
  compartment for ``patient/`` grants, any one of the ``?`` scopes' search parameter sets),
  ``None`` for no narrowing, ``NOTHING`` when the letter is not granted on the type at all;
- ``system_predicate(letter)``: the same over every type, for queries without a type;
- ``sees(type, resource, letter)``: whether one resource passes, read from the same index
  entries a query uses (``search/indexer.py``), so reads and searches agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fhircare.interactions.access import PATIENT, Access
from fhircare.search.indexer import Indexer
from fhircare.search.limits import SearchLimits
from fhircare.search.match import matches
from fhircare.search.parse import parse
from fhircare.search.predicates import (
    ID_FIELD,
    TYPE_FIELD,
    AllOf,
    AnyOf,
    Cond,
    Entry,
    Field,
    Predicate,
    predicate,
)
from fhircare.search.registry import SearchParamRegistry
from fhircare.security.scopes import Decision, Restriction


class Nothing:
    """The letter is not granted on the type: a query returns nothing."""

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Final = Nothing()
Narrowed = Predicate | Nothing | None


class Narrowing:
    """The narrowing of ``access`` over ``registry`` (references relative to ``base_url``)."""

    def __init__(
        self, access: Access, registry: SearchParamRegistry, base_url: str | None = None
    ) -> None:
        self.access = access
        self.registry = registry
        self._indexer = Indexer(registry, base_url)
        self._limits = SearchLimits()
        self._codes: dict[str, tuple[str, ...]] = {}
        self._restrictions: dict[tuple[str, Restriction], Predicate | None] = {}

    def in_compartment(self, resource_type: str) -> bool:
        """Whether resources of the type belong to patient compartments."""
        return resource_type == PATIENT or bool(self._reference_codes(resource_type))

    def predicate(self, resource_type: str, letter: str) -> Narrowed:
        decision = self.access.allows(resource_type, letter)
        if not decision:
            return NOTHING
        parts: list[Predicate] = []
        if decision.narrow_to_patient and self.in_compartment(resource_type):
            compartment = self._compartment(resource_type)
            if compartment is None:
                return NOTHING
            parts.append(compartment)
        if decision.restrictions:
            alternatives = [self._restriction(resource_type, r) for r in decision.restrictions]
            usable = [a for a in alternatives if a is not None]
            if not usable:
                return NOTHING
            parts.append(usable[0] if len(usable) == 1 else AnyOf(tuple(usable)))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def system_predicate(self, letter: str) -> Narrowed:
        """One branch per type the letter is granted on; None when no type is narrowed."""
        branches: list[Predicate] = []
        narrowed = False
        for resource_type in sorted(self.registry.resource_types):
            found = self.predicate(resource_type, letter)
            if isinstance(found, Nothing):
                narrowed = True
                continue
            is_type = Field(Cond(TYPE_FIELD, "eq", resource_type))
            if found is None:
                branches.append(is_type)
            else:
                narrowed = True
                branches.append(AllOf((is_type, found)))
        if not narrowed:
            return None
        if not branches:
            return NOTHING
        return AnyOf(tuple(branches))

    def sees(self, resource_type: str, resource: Mapping[str, Any], letter: str) -> bool:
        """Whether the grant of ``letter`` covers this resource (its content, parsed)."""
        decision = self.access.allows(resource_type, letter)
        if not decision:
            return False
        if decision.narrow_to_patient and not self._in_own_compartment(resource_type, resource):
            return False
        return not decision.restrictions or self._matches_restriction(
            resource_type, resource, decision
        )

    def may_write(self, resource_type: str, resource: Mapping[str, Any], letter: str) -> bool:
        """Whether the grant of ``letter`` (``c`` or ``u``) covers writing this content: a
        ``patient/`` grant writes only resources of the patient's compartment."""
        decision = self.access.allows(resource_type, letter)
        if decision.narrow_to_patient and not self.in_compartment(resource_type):
            return False
        return self.sees(resource_type, resource, letter)

    # --- the patient's compartment ---------------------------------------------------

    def _reference_codes(self, resource_type: str) -> tuple[str, ...]:
        """The reference parameters that put a resource of the type in a compartment."""
        codes = self._codes.get(resource_type)
        if codes is None:
            registry = self.registry
            codes = tuple(
                code
                for code in registry.patient_compartment(resource_type)
                if (param := registry.get(resource_type, code)) is not None
                and param.type == "reference"
            )
            self._codes[resource_type] = codes
        return codes

    def _compartment(self, resource_type: str) -> Predicate | None:
        patient = self.access.patient
        if patient is None:
            return None
        if resource_type == PATIENT:
            return Field(Cond(ID_FIELD, "eq", patient))
        target = Cond("r", "eq", f"{PATIENT}/{patient}")
        entries = [Entry(code, (target,)) for code in self._reference_codes(resource_type)]
        return entries[0] if len(entries) == 1 else AnyOf(tuple(entries))

    def _in_own_compartment(self, resource_type: str, resource: Mapping[str, Any]) -> bool:
        if not self.in_compartment(resource_type):
            return True  # not patient data (Practitioner, Organization, ...)
        patient = self.access.patient
        if patient is None:
            return False
        if resource_type == PATIENT:
            return resource.get("id") == patient
        wanted = f"{PATIENT}/{patient}"
        document = dict(resource)
        return any(
            entry.get("r") == wanted
            for code in self._reference_codes(resource_type)
            for entry in self._indexer.entries_of(document, code)
        )

    # --- ``?`` scopes ----------------------------------------------------------------

    def _restriction(self, resource_type: str, restriction: Restriction) -> Predicate | None:
        """The restriction's pairs as one predicate, parsed once per request; None when it
        cannot be one (an unknown parameter, a chain): such a scope then grants nothing."""
        key = (resource_type, restriction)
        if key not in self._restrictions:
            self._restrictions[key] = self._parse_restriction(resource_type, restriction)
        return self._restrictions[key]

    def _parse_restriction(self, resource_type: str, restriction: Restriction) -> Predicate | None:
        try:
            parsed = parse(resource_type, list(restriction), self.registry.lookup, self._limits)
        except Exception:  # a bad restriction grants nothing rather than failing the request
            return None
        if parsed.unknown or any(c.chain or c.has for c in parsed.clauses):
            return None
        parts = tuple(predicate(clause) for clause in parsed.clauses)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(parts)

    def _matches_restriction(
        self, resource_type: str, resource: Mapping[str, Any], decision: Decision
    ) -> bool:
        entries = self._indexer.entries(dict(resource))
        fields = {ID_FIELD: resource.get("id"), TYPE_FIELD: resource_type}
        for restriction in decision.restrictions:
            found = self._restriction(resource_type, restriction)
            if found is not None and matches(found, entries, fields):
                return True
        return False
