"""ProfileSet: what the server knows, and how it is asked; mustSupport reporting; the
issue collector's severities."""

from __future__ import annotations

import pytest
from tests.unit.validation.profiles.builders import (
    care_plan,
    code_system,
    element,
    extension,
    found,
    profile,
    url,
    value_set,
)

from fhircare.validation.issues import IssueCollector
from fhircare.validation.profiles import ProfileError, ProfileSet


def _set() -> ProfileSet:
    return ProfileSet.build(
        [
            profile("CarePlan", name="plan", version="1.0.0"),
            profile("CarePlan", element("CarePlan.title", min=1), name="titled", base=url("plan")),
            profile("Patient", name="patient"),
            extension("mood"),
            value_set("kinds", {"include": [{"system": "urn:kinds"}]}),
            code_system("kinds", "a"),
            {"resourceType": "Patient", "id": "ignored"},
            {"resourceType": "SearchParameter", "url": "http://example.org/ignored"},
        ]
    )


def test_urls_lists_constraint_profiles_but_not_extensions() -> None:
    assert _set().urls() == [url("patient"), url("plan"), url("titled")]


def test_profiles_for_a_resource_type() -> None:
    profiles = _set()
    assert profiles.profiles_for("CarePlan") == [url("plan"), url("titled")]
    assert profiles.profiles_for("Goal") == []
    assert profiles.profiles_for("Extension") == [url("mood")]


def test_profile_by_url_with_or_without_version() -> None:
    profiles = _set()
    plan = profiles.profile(url("plan"))
    assert plan is not None and plan.type == "CarePlan" and plan.version == "1.0.0"
    assert profiles.profile(url("plan") + "|1.0.0") is plan
    assert profiles.profile(url("plan") + "|2.0.0") is None
    assert profiles.profile("http://example.org/nothing") is None
    mood = profiles.profile(url("mood"))
    assert mood is not None and mood.is_extension


def test_a_profile_is_compiled_once() -> None:
    profiles = _set()
    assert profiles.profile(url("titled")) is profiles.profile(url("titled"))


def test_profile_error_names_url_and_element() -> None:
    with pytest.raises(ProfileError) as raised:
        ProfileSet.build([profile("CarePlan", element("CarePlan.bogus"), name="bad")])
    assert raised.value.url == url("bad")
    assert raised.value.element == "CarePlan.bogus"
    assert isinstance(raised.value, ValueError)


def test_must_support_is_information_only_when_asked() -> None:
    rules = profile(
        "CarePlan",
        element("CarePlan.title", mustSupport=True),
        element("CarePlan.activity.detail.code", mustSupport=True),
    )
    plan = care_plan(activity=[{"detail": {"status": "scheduled"}}])
    assert found(plan, rules) == []
    assert found(plan, rules, must_support=True) == [
        ("information", "informational", "CarePlan.title"),
        ("information", "informational", "CarePlan.activity[0].detail.code"),
    ]
    full = care_plan(
        title="t", activity=[{"detail": {"status": "scheduled", "code": {"text": "c"}}}]
    )
    assert found(full, rules, must_support=True) == []


def test_must_support_slices_are_reported_when_absent() -> None:
    rules = profile(
        "CarePlan",
        element(
            "CarePlan.identifier",
            slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
        ),
        element("CarePlan.identifier:mrn", slice_name="mrn", mustSupport=True),
        element("CarePlan.identifier:mrn.system", fixedUri="urn:mrn"),
    )
    assert found(care_plan(identifier=[{"system": "urn:x"}]), rules, must_support=True) == [
        ("information", "informational", "CarePlan.identifier")
    ]
    assert found(care_plan(identifier=[{"system": "urn:mrn"}]), rules, must_support=True) == []


def test_the_collector_keeps_severity_and_tells_problems_apart_by_key() -> None:
    issues = IssueCollector()
    issues.add("required", "missing", "CarePlan.title")
    issues.add("required", "missing again", "CarePlan.title")  # the same problem, once
    issues.add("invariant", "a-1 failed", "CarePlan", key="a-1")
    issues.add("invariant", "a-2 failed", "CarePlan", key="a-2")
    issues.add("informational", "not checked", "CarePlan", severity="information")
    assert [(i.severity, i.code, i.diagnostics) for i in issues.issues] == [
        ("error", "required", "missing"),
        ("error", "invariant", "a-1 failed"),
        ("error", "invariant", "a-2 failed"),
        ("information", "informational", "not checked"),
    ]
