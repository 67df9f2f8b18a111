"""Required terminology bindings on ``code`` elements.

A code bound with strength *required* must come from its value set:
https://hl7.org/fhir/R4/terminologies.html#required. The R4B models store each value set as
``enum_values`` but never enforce it; ``fhircare.fhir.rule_tree`` turns them into CODE rules.
"""

from __future__ import annotations

from fhircare.fhir.rule_tree import ElementRule
from fhircare.validation.issues import IssueCollector


def check_code(rule: ElementRule, value: str, expression: str, issues: IssueCollector) -> None:
    """Report ``value`` unless it is one of the codes the rule allows."""
    if value not in rule.allowed:
        issues.add(
            "code-invalid",
            f"{expression}: {value!r} is not in the required value set ({' | '.join(rule.values)})",
            expression,
        )
