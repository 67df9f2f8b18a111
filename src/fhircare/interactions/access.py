"""What the caller of one request may do and see: ``Access``.

``Access.FULL`` is every request under ``FHIRCARE_AUTH=none`` and the server's own work
(write followers, audit records). Under ``smart`` each request gets the ``Access`` of its
verified token (``rest/auth.py``): its SMART scopes (``security/scopes.py``) and the
``patient`` in its launch context.

- ``require(type, letters)`` is the gate of an interaction: 403 naming the scope that would
  grant what is missing (``rest/guard.py`` calls it for each routed interaction, including
  every entry of a batch or transaction).
- ``narrowing(registry, type, letter)`` is how the grant narrows what a query may return or
  touch: to the patient's compartment for a grant made through ``patient/`` scopes, and to
  the search parameters of ``?`` scopes. ``interactions/access_store.py`` applies it to every
  query and read the interactions make.

The patient compartment is that of https://hl7.org/fhir/R4/compartmentdefinition-patient.html
over the types fhircare indexes (``SearchParamRegistry.patient_compartment``), with one
difference: a Patient resource is in the compartment of itself only (R4 also puts Patients
whose ``link`` names it there; a patient-scoped app sees its own record). Types outside the
compartment definition (Practitioner, Organization, Questionnaire, ...) are not patient data:
a ``patient/`` scope that names them grants reading them all, and writing none of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fhircare.fhir import errors
from fhircare.security.scopes import Decision, ScopeSet
from fhircare.security.tokens import Claims

PATIENT = "Patient"


@dataclass(frozen=True)
class Access:
    """A caller's grant; ``scopes`` None is unrestricted (``FULL``)."""

    scopes: ScopeSet | None = None
    patient: str | None = None
    """The launch context's patient id (SMART ``patient`` claim)."""
    claims: Claims | None = field(default=None, compare=False)
    _sees: dict[frozenset[str], bool] = field(default_factory=dict, compare=False, repr=False)
    """``sees_everything`` answers, remembered: an ``Access`` lives as long as its token."""

    @property
    def unrestricted(self) -> bool:
        return self.scopes is None

    def allows(self, resource_type: str, letter: str) -> Decision:
        if self.scopes is None:
            return Decision(True)
        return self.scopes.allows(resource_type, letter)

    def require(self, resource_type: str, letters: Iterable[str]) -> None:
        """403 unless every action letter is granted on ``resource_type``."""
        if self.scopes is None:
            return
        wanted = "".join(sorted(set(letters), key="cruds".index))
        if all(self.scopes.allows(resource_type, letter) for letter in wanted):
            return
        scope = self.scopes.missing(resource_type, wanted)
        raise forbidden(f"This token's scopes do not allow it: it needs the scope '{scope}'", scope)

    def require_system(self, operation: str) -> None:
        """403 unless the token's ``system/`` scopes grant everything (administration)."""
        if self.scopes is None or self.scopes.is_system_wide():
            return
        raise forbidden(
            f"{operation} is administration: it needs the scope 'system/*.cruds'", "system/*.cruds"
        )

    def sees_everything(self, resource_types: Iterable[str]) -> bool:
        """True when reads and searches of every type are granted unnarrowed."""
        if self.scopes is None:
            return True
        types = frozenset(resource_types)
        known = self._sees.get(types)
        if known is None:
            known = self._sees[types] = all(
                (decision := self.scopes.allows(resource_type, letter))
                and not decision.narrow_to_patient
                and not decision.restrictions
                for resource_type in types
                for letter in "rs"
            )
        return known


FULL = Access()


def forbidden(message: str, scope: str | None = None) -> errors.FhirError:
    """403 with an OperationOutcome; ``scope``, when known, is the one that would grant it
    (also in the RFC 6750 ``insufficient_scope`` challenge)."""
    challenge = f'Bearer error="insufficient_scope", scope="{scope}"' if scope else None
    return errors.forbidden(message, challenge)
