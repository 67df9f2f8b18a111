"""fhircare's side: the base R4 validator and the profile engine, as one verdict.

``fhircare_verdict`` is the one place the harness asks fhircare, so that it can ask the
server's ``$validate`` instead once there is one: today it runs in process what a write
would, ``find_issues`` (structure, required bindings of the base types, references) and
``check_profile`` against the case's profile, over a ``ProfileSet`` built once from
``profiles/``.
"""

from __future__ import annotations

from functools import cache

from fhircare.fhir.errors import Issue
from fhircare.validation import find_issues
from fhircare.validation.issues import IssueCollector
from fhircare.validation.profiles import ProfileSet, check_profile
from tests.integration.validation.corpus import Case, definitions
from tests.integration.validation.verdict import FAILING, Verdict


@cache
def profile_set() -> ProfileSet:
    """fhircare's profiles, ValueSets and CodeSystems, compiled once."""
    return ProfileSet.build(definitions())


def fhircare_verdict(case: Case) -> Verdict:
    """What fhircare says of ``case.resource`` against ``case.profile``."""
    profiles = profile_set()
    profile = profiles.profile(case.profile)
    if profile is None:
        raise LookupError(f"fhircare has no profile {case.profile}")
    collected = IssueCollector()
    check_profile(case.resource, profile, profiles, collected)
    issues = [*find_issues(case.resource), *collected.issues]
    return Verdict(tuple(_line(issue) for issue in issues if issue.severity in FAILING))


def _line(issue: Issue) -> str:
    return f"{', '.join(issue.expression)}: {issue.diagnostics}"
