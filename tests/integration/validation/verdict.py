"""A validator's verdict on one case: valid unless it reports an error or a fatal issue.

Warnings and information are not counted: HAPI warns about code systems it cannot resolve
offline (LOINC, SNOMED CT, the examples' own), missing narrative (dom-6) and UCUM
annotations, none of which makes a resource invalid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FAILING = frozenset({"error", "fatal"})


@dataclass(frozen=True)
class Verdict:
    """``errors`` are ``expression: message`` lines, one per error or fatal issue."""

    errors: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def label(self) -> str:
        return "valid" if self.valid else "invalid"


def from_outcome(outcome: dict[str, Any]) -> Verdict:
    """The verdict an OperationOutcome gives."""
    errors = []
    for issue in outcome.get("issue") or ():
        if issue.get("severity") in FAILING:
            where = ", ".join(issue.get("expression") or issue.get("location") or ())
            errors.append(f"{where}: {issue.get('diagnostics', issue.get('code'))}")
    return Verdict(tuple(errors))
