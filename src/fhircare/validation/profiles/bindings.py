"""Terminology bindings a profile sets: https://hl7.org/fhir/R4/terminologies.html#strength

*required*: a code outside the value set is an error; *extensible*: a warning (a concept
with only text is allowed); *preferred* and *example* check nothing. Codes come from a
``code`` (or string, uri), a Coding or Quantity (system and code), or a CodeableConcept,
where any coding may match. A value set that cannot be expanded here is said so once per
value, as information.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    __slots__ = ("expansion", "severity", "strength", "value_set")

    def __init__(self, strength: str, value_set: str, expansion: Expansion | Unexpandable) -> None:
        self.strength = strength
        self.value_set = value_set
        self.expansion = expansion
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
        if not any((system, code) in expansion.codes for system, code in codings):
            shown = ", ".join(f"{system or ''}#{code}" for system, code in codings)
            self._report(f"None of the codes provided ({shown}) are", expression, run)

    def _report(self, what: str, expression: str, run: Run) -> None:
        if self.strength == "required":
            rule = "a code is required from this value set"
        else:
            rule = "a code should come from this value set unless it has no suitable code"
        message = f"{expression}: {what} in the value set {self.value_set}, and {rule}"
        run.issue("code-invalid", message, expression, self.severity, key="binding")
