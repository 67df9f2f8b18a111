"""Terminology bindings a profile sets: https://hl7.org/fhir/R4/terminologies.html#strength

*required*: a code outside the value set is an error; *extensible*: a warning (a concept
with only text is allowed), but an error when the code claims a code system held here in
full that has no such code; *preferred* and *example* check nothing. Codes come from a
``code`` (or string, uri), a Coding or Quantity (system and code), or a CodeableConcept,
where any coding may match. A value set that cannot be expanded here is said so once per
value, as information.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fhircare.validation.profiles.nodes import Run
from fhircare.validation.profiles.terminology import Expansion, Unexpandable


def _codings(value: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    out = []
    for coding in value.get("coding") or ():
        if isinstance(coding, Mapping) and isinstance(coding.get("code"), str):
            system = coding.get("system")
            out.append((system if isinstance(system, str) else None, coding["code"]))
    return out


class BindingCheck:
    """A required or extensible binding of one element to a value set."""

    __slots__ = ("expansion", "severity", "strength", "system_codes", "value_set")

    def __init__(
        self,
        strength: str,
        value_set: str,
        expansion: Expansion | Unexpandable,
        system_codes: Callable[[str], frozenset[str] | None] = lambda _: None,
    ) -> None:
        self.strength = strength
        self.value_set = value_set
        self.expansion = expansion
        self.system_codes = system_codes
        self.severity = "error" if strength == "required" else "warning"

    def __call__(self, value: Any, ext: Any, expression: str, run: Run) -> None:
        expansion = self.expansion
        if isinstance(expansion, Unexpandable):
            message = (
                f"{expression}: codes not checked against {self.value_set}: {expansion.reason}"
            )
            run.issue("informational", message, expression, "information", key="binding")
            return
        if isinstance(value, str):
            if value not in expansion.bare:
                self._report(f"The value provided ({value!r}) is not", expression, run)
            return
        if not isinstance(value, Mapping):
            return
        if "coding" in value or "text" in value:
            codings = _codings(value)
            if not codings:
                if self.strength == "required":
                    message = (
                        f"{expression}: No code provided, and a code is required from "
                        f"{self.value_set}"
                    )
                    run.issue("code-invalid", message, expression, key="binding")
                return
        elif isinstance(value.get("code"), str):
            system = value.get("system")
            codings = [(system if isinstance(system, str) else None, value["code"])]
        else:
            return
        if any((system, code) in expansion.codes for system, code in codings):
            return
        if self.strength == "extensible" and self._unknown_code(codings, expression, run):
            return
        shown = ", ".join(f"{system or ''}#{code}" for system, code in codings)
        self._report(f"None of the codes provided ({shown}) are", expression, run)

    def _unknown_code(
        self, codings: list[tuple[str | None, str]], expression: str, run: Run
    ) -> bool:
        """Report each code its code system, held here in full, does not define."""
        unknown = False
        for system, code in codings:
            known = self.system_codes(system) if system else None
            if known is not None and code not in known:
                message = f"{expression}: Unknown code '{code}' in the code system {system}"
                run.issue("code-invalid", message, expression, key=f"code:{system}#{code}")
                unknown = True
        return unknown

    def _report(self, what: str, expression: str, run: Run) -> None:
        if self.strength == "required":
            rule = "a code is required from this value set"
        else:
            rule = "a code should come from this value set unless it has no suitable code"
        message = f"{expression}: {what} in the value set {self.value_set}, and {rule}"
        run.issue("code-invalid", message, expression, self.severity, key="binding")
