"""SMART scopes v1 and v2: parsing, decisions, precedence, the missing-scope text and the
interaction table.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
"""

from __future__ import annotations

import ast
import re
from itertools import combinations, permutations
from pathlib import Path

import pytest

from fhircare.security.scopes import (
    ACTIONS_OF,
    SYSTEM_WIDE_OPERATIONS,
    InvalidScope,
    Scope,
    ScopeSet,
    parse_scope,
)

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
LAB_ENCODED = "http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Claboratory"
VITALS = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"


def scope(text: str) -> Scope:
    parsed = parse_scope(text)
    assert parsed is not None
    return parsed


# --- parsing: v1 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "actions"),
    [
        ("patient/Observation.read", "rs"),
        ("user/Observation.write", "cud"),
        ("system/Observation.*", "cruds"),
    ],
)
def test_v1_permissions_map_to_v2_letters(text: str, actions: str) -> None:
    parsed = scope(text)
    assert parsed.actions == frozenset(actions)
    assert parsed.version == 1
    assert parsed.restriction == ()


def test_v1_wildcards_everywhere() -> None:
    parsed = scope("system/*.*")
    assert (parsed.context, parsed.resource_type, parsed.version) == ("system", "*", 1)
    assert parsed.actions == frozenset("cruds")


@pytest.mark.parametrize("context", ["patient", "user", "system"])
def test_each_context_is_kept(context: str) -> None:
    parsed = scope(f"{context}/Patient.read")
    assert parsed.context == context
    assert parsed.resource_type == "Patient"
    assert parsed.text == f"{context}/Patient.read"


# --- parsing: v2 action letters ------------------------------------------------------------

ORDERED = [
    "".join(letters) for n in range(1, 6) for letters in combinations("cruds", n)
]  # every non-empty subset, in c r u d s order: 31 of them


@pytest.mark.parametrize("letters", ORDERED)
def test_every_ordered_letter_combination_is_valid(letters: str) -> None:
    parsed = scope(f"user/Task.{letters}")
    assert parsed.actions == frozenset(letters)
    assert parsed.version == 2


UNORDERED = sorted(
    {
        "".join(p)
        for n in range(2, 4)
        for subset in combinations("cruds", n)
        for p in permutations(subset)
    }
    - set(ORDERED)
)


@pytest.mark.parametrize("letters", UNORDERED)
def test_letters_out_of_order_are_invalid(letters: str) -> None:
    with pytest.raises(InvalidScope, match=re.escape(f"'user/Task.{letters}'")):
        parse_scope(f"user/Task.{letters}")


@pytest.mark.parametrize("letters", ["rr", "crr", "cruds" + "s", "cc", "ruu"])
def test_repeated_letters_are_invalid(letters: str) -> None:
    with pytest.raises(InvalidScope):
        parse_scope(f"patient/Observation.{letters}")


def test_unordered_cases_cover_the_swaps() -> None:
    assert {"sr", "rc", "dc", "su"} <= set(UNORDERED)
    assert "rs" not in UNORDERED


@pytest.mark.parametrize(
    "text",
    [
        "patient/Observation.xyz",
        "patient/Observation.",
        "patient/Observation.R",
        "patient/Observation.Read",
        "patient/Observation.reads",
        "patient/Observation.read.s",
        "patient/Observation.rx",
        "patient/.read",
        "patient/.rs",
        "patient/Observation",
        "patient/",
        "user/observation.read",
        "user/Obs-ervation.read",
        "system/**.read",
        "system/*.**",
    ],
)
def test_malformed_resource_scopes_are_rejected_naming_the_scope(text: str) -> None:
    with pytest.raises(InvalidScope) as raised:
        parse_scope(text)
    assert f"'{text}'" in str(raised.value)
    assert raised.value.scope == text


@pytest.mark.parametrize(
    "text",
    [
        "openid",
        "fhirUser",
        "profile",
        "launch",
        "launch/patient",
        "launch/encounter",
        "offline_access",
        "online_access",
        "foo/Observation.read",
        "Patient/Observation.read",
        "patientX/Observation.read",
    ],
)
def test_non_resource_scopes_parse_to_none(text: str) -> None:
    assert parse_scope(text) is None


def test_an_unknown_type_of_the_right_shape_is_a_valid_scope() -> None:
    assert scope("patient/Unheardof.rs").resource_type == "Unheardof"


# --- parsing: restrictions -----------------------------------------------------------------


def test_restriction_with_a_plain_token() -> None:
    parsed = scope(f"patient/Observation.rs?category={LAB}")
    assert parsed.restriction == (("category", LAB),)
    assert parsed.actions == frozenset("rs")
    assert parsed.resource_type == "Observation"
    assert parsed.version == 2


def test_restriction_values_are_url_decoded() -> None:
    assert scope(f"patient/Observation.rs?category={LAB_ENCODED}").restriction == (
        ("category", LAB),
    )


def test_restriction_plus_is_a_space_and_encoded_plus_is_a_plus() -> None:
    parsed = scope("user/Observation.s?code:text=blood+pressure&date=ge2020-01-01T00:00:00%2B01:00")
    assert parsed.restriction == (
        ("code:text", "blood pressure"),
        ("date", "ge2020-01-01T00:00:00+01:00"),
    )


def test_several_restriction_pairs_keep_their_order_and_repeats() -> None:
    parsed = scope("user/Observation.rs?status=final&category=vital-signs&status=amended")
    assert parsed.restriction == (
        ("status", "final"),
        ("category", "vital-signs"),
        ("status", "amended"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "patient/Observation.rs?",
        "patient/Observation.rs?category",
        "patient/Observation.rs?category=",
        "patient/Observation.rs?=laboratory",
        "patient/Observation.rs?a=1&",
        "patient/Observation.rs?a=1&&b=2",
        "patient/Observation.read?category=laboratory",
        "patient/Observation.*?category=laboratory",
        "patient/Observation?category=laboratory",
    ],
)
def test_malformed_restrictions_are_rejected(text: str) -> None:
    with pytest.raises(InvalidScope, match="invalid scope"):
        parse_scope(text)


# --- ScopeSet.from_claims --------------------------------------------------------------------


def test_from_claims_takes_the_space_separated_claim() -> None:
    scopes = ScopeSet.from_claims("openid fhirUser launch/patient patient/Observation.rs")
    assert [s.text for s in scopes.scopes] == ["patient/Observation.rs"]
    assert scopes.other == ("openid", "fhirUser", "launch/patient")
    assert scopes.invalid == ()


def test_from_claims_takes_a_list_whose_items_may_hold_several() -> None:
    scopes = ScopeSet.from_claims(["patient/Patient.r  user/Task.cruds", "offline_access"])
    assert [s.text for s in scopes.scopes] == ["patient/Patient.r", "user/Task.cruds"]
    assert scopes.other == ("offline_access",)


def test_malformed_scopes_are_collected_and_grant_nothing() -> None:
    scopes = ScopeSet.from_claims("patient/Observation.xyz patient/Patient.rs")
    assert [error.scope for error in scopes.invalid] == ["patient/Observation.xyz"]
    assert not scopes.allows("Observation", "r")
    assert scopes.allows("Patient", "r")


def test_strict_raises_on_the_first_malformed_scope() -> None:
    with pytest.raises(InvalidScope, match=re.escape("'patient/.read'")):
        ScopeSet.from_claims("openid patient/.read patient/Observation.xyz", strict=True)


def test_strict_accepts_valid_and_non_resource_scopes() -> None:
    scopes = ScopeSet.from_claims("openid patient/*.read", strict=True)
    assert scopes.allows("Condition", "s")


def test_empty_claims_allow_nothing() -> None:
    scopes = ScopeSet.from_claims("")
    for action in "cruds":
        assert not scopes.allows("Patient", action)
    assert not scopes.is_system_wide()


# --- allows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "allowed", "refused"),
    [
        ("patient/Observation.read", "rs", "cud"),
        ("patient/Observation.write", "cud", "rs"),
        ("patient/Observation.*", "cruds", ""),
        ("patient/Observation.rs", "rs", "cud"),
        ("patient/Observation.s", "s", "crud"),
        ("patient/Observation.cud", "cud", "rs"),
        ("patient/Observation.d", "d", "crus"),
    ],
)
def test_each_action_is_allowed_exactly_by_its_letters(
    claim: str, allowed: str, refused: str
) -> None:
    scopes = ScopeSet.from_claims(claim)
    assert all(scopes.allows("Observation", a).allowed for a in allowed)
    assert not any(scopes.allows("Observation", a).allowed for a in refused)


def test_a_type_scope_grants_that_type_only() -> None:
    scopes = ScopeSet.from_claims("user/Observation.rs")
    assert scopes.allows("Observation", "r")
    assert not scopes.allows("Condition", "r")
    assert not scopes.allows("ObservationDefinition", "r")


def test_a_wildcard_scope_grants_every_type() -> None:
    scopes = ScopeSet.from_claims("user/*.rs")
    for resource_type in ("Patient", "Observation", "Task", "CarePlan"):
        assert scopes.allows(resource_type, "s")
    assert not scopes.allows("Patient", "c")


@pytest.mark.parametrize("action", ["", "rs", "x", "R", "read"])
def test_allows_takes_one_action_letter(action: str) -> None:
    with pytest.raises(ValueError, match="action"):
        ScopeSet.from_claims("user/*.*").allows("Patient", action)


@pytest.mark.parametrize(
    ("claim", "context", "narrow"),
    [
        ("patient/Observation.rs", "patient", True),
        ("user/Observation.rs", "user", False),
        ("system/Observation.rs", "system", False),
    ],
)
def test_the_context_decides_compartment_narrowing(claim: str, context: str, narrow: bool) -> None:
    decision = ScopeSet.from_claims(claim).allows("Observation", "r")
    assert decision.allowed
    assert decision.contexts == {context}
    assert decision.narrow_to_patient is narrow
    assert decision.restrictions == ()
    assert [s.text for s in decision.granted_by] == [claim]


def test_a_refusal_narrows_nothing_and_names_no_scope() -> None:
    decision = ScopeSet.from_claims("patient/Patient.r").allows("Observation", "r")
    assert not decision
    assert decision.granted_by == ()
    assert decision.contexts == frozenset()
    assert decision.narrow_to_patient is False
    assert decision.restrictions == ()


def test_a_restricted_scope_hands_back_its_pairs() -> None:
    decision = ScopeSet.from_claims(f"user/Observation.rs?category={LAB_ENCODED}").allows(
        "Observation", "s"
    )
    assert decision.allowed
    assert decision.restrictions == ((("category", LAB),),)
    assert decision.narrow_to_patient is False


# --- precedence ------------------------------------------------------------------------------


def test_user_wins_over_patient_but_both_contexts_are_reported() -> None:
    decision = ScopeSet.from_claims("patient/Observation.rs user/Observation.rs").allows(
        "Observation", "r"
    )
    assert decision.narrow_to_patient is False
    assert decision.contexts == {"patient", "user"}
    assert [s.context for s in decision.granted_by] == ["user"]


def test_system_wins_over_patient() -> None:
    decision = ScopeSet.from_claims("system/*.rs patient/Observation.rs").allows("Observation", "s")
    assert decision.narrow_to_patient is False
    assert [s.text for s in decision.granted_by] == ["system/*.rs"]


def test_unrestricted_wins_over_restricted_in_the_same_context() -> None:
    decision = ScopeSet.from_claims(
        f"user/Observation.rs?category={LAB} user/Observation.rs"
    ).allows("Observation", "r")
    assert decision.restrictions == ()
    assert [s.text for s in decision.granted_by] == ["user/Observation.rs"]


def test_unrestricted_patient_wins_over_restricted_user() -> None:
    decision = ScopeSet.from_claims(
        f"user/Observation.rs?category={LAB} patient/Observation.rs"
    ).allows("Observation", "r")
    assert decision.narrow_to_patient is True
    assert decision.restrictions == ()
    assert decision.contexts == {"patient", "user"}


def test_restricted_user_wins_over_restricted_patient() -> None:
    decision = ScopeSet.from_claims(
        f"patient/Observation.rs?category={VITALS} user/Observation.rs?category={LAB}"
    ).allows("Observation", "r")
    assert decision.narrow_to_patient is False
    assert decision.restrictions == ((("category", LAB),),)


def test_restricted_patient_narrows_by_both() -> None:
    decision = ScopeSet.from_claims(f"patient/Observation.rs?category={LAB}").allows(
        "Observation", "r"
    )
    assert decision.narrow_to_patient is True
    assert decision.restrictions == ((("category", LAB),),)


def test_restrictions_of_the_winning_rank_are_alternatives_without_repeats() -> None:
    decision = ScopeSet.from_claims(
        f"user/Observation.rs?category={LAB} user/Observation.s?category={VITALS} "
        f"system/Observation.rs?category={LAB}"
    ).allows("Observation", "s")
    assert decision.restrictions == ((("category", LAB),), (("category", VITALS),))
    assert len(decision.granted_by) == 3


def test_a_restricted_scope_for_another_action_does_not_restrict_this_one() -> None:
    scopes = ScopeSet.from_claims(f"user/Observation.r user/Observation.s?category={LAB}")
    assert scopes.allows("Observation", "r").restrictions == ()
    assert scopes.allows("Observation", "s").restrictions == ((("category", LAB),),)


def test_wildcard_and_named_scopes_rank_alike() -> None:
    decision = ScopeSet.from_claims("patient/*.rs user/Observation.r").allows("Observation", "r")
    assert [s.text for s in decision.granted_by] == ["user/Observation.r"]
    decision = ScopeSet.from_claims("patient/*.rs user/Observation.r").allows("Observation", "s")
    assert decision.narrow_to_patient is True


def test_v1_and_v2_scopes_combine() -> None:
    scopes = ScopeSet.from_claims("patient/Observation.read user/Observation.cu")
    assert scopes.allows("Observation", "s").narrow_to_patient is True
    assert scopes.allows("Observation", "c").narrow_to_patient is False
    assert not scopes.allows("Observation", "d")


# --- missing ---------------------------------------------------------------------------------


def test_missing_names_a_v2_scope_in_the_tokens_context() -> None:
    scopes = ScopeSet.from_claims("openid patient/Patient.rs")
    assert scopes.missing("Observation", "rs") == "patient/Observation.rs"
    assert scopes.missing("Observation", "c") == "patient/Observation.c"


def test_missing_writes_letters_in_cruds_order() -> None:
    assert ScopeSet.from_claims("").missing("Task", "sdc") == "user/Task.cds"


def test_missing_names_only_the_letters_still_lacking() -> None:
    scopes = ScopeSet.from_claims("user/Patient.r")
    assert scopes.missing("Patient", "rs") == "user/Patient.s"


def test_missing_names_all_letters_when_none_is_lacking() -> None:
    assert ScopeSet.from_claims("system/*.*").missing("Patient", "rs") == "system/Patient.rs"


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("", "user/Observation.r"),
        ("openid launch/patient", "user/Observation.r"),
        ("system/Patient.rs", "system/Observation.r"),
        ("patient/Patient.rs user/Task.rs", "user/Observation.r"),
    ],
)
def test_missing_falls_back_to_user_unless_one_context_is_used(claim: str, expected: str) -> None:
    assert ScopeSet.from_claims(claim).missing("Observation", "r") == expected


def test_missing_takes_an_explicit_context() -> None:
    assert ScopeSet.from_claims("user/*.rs").missing("Task", "u", "patient") == "patient/Task.u"


@pytest.mark.parametrize("actions", ["", "x", "rx", "read"])
def test_missing_rejects_letters_outside_cruds(actions: str) -> None:
    with pytest.raises(ValueError, match="actions"):
        ScopeSet.from_claims("").missing("Task", actions)


# --- is_system_wide --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("system/*.*", True),
        ("system/*.cruds", True),
        ("system/*.read system/*.write", True),
        ("system/*.cru system/*.ds", True),
        ("system/*.crud", False),
        ("system/*.rs", False),
        ("system/Patient.cruds", False),
        ("user/*.*", False),
        ("user/*.cruds patient/*.cruds", False),
        ("system/*.cruds?_security=restricted", False),
        ("system/*.read user/*.write", False),
        ("system/*.cruds?_tag=x system/*.rs", False),
        ("", False),
    ],
)
def test_system_wide_needs_every_action_on_every_type_in_system_context(
    claim: str, expected: bool
) -> None:
    assert ScopeSet.from_claims(claim).is_system_wide() is expected


# --- the interaction table -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interaction", "letters"),
    [
        ("read", "r"),
        ("vread", "r"),
        ("history-instance", "r"),
        ("history-type", "s"),
        ("history-system", "s"),
        ("search-type", "s"),
        ("search-system", "s"),
        ("create", "c"),
        ("create-conditional", "cs"),
        ("update", "u"),
        ("update-conditional", "us"),
        ("patch", "u"),
        ("patch-conditional", "us"),
        ("delete", "d"),
        ("delete-conditional-single", "ds"),
        ("delete-conditional-multiple", "ds"),
        ("transaction", ""),
        ("batch", ""),
        ("capabilities", ""),
        ("$everything", "rs"),
        ("$validate", "r"),
        ("$worklist", "rs"),
        ("$progress", "rs"),
        ("$apply", "rc"),
        ("$extract", "rc"),
    ],
)
def test_interaction_table(interaction: str, letters: str) -> None:
    assert ACTIONS_OF[interaction] == frozenset(letters)


def test_admin_operations_need_everything_and_a_system_wide_token() -> None:
    assert {"$reindex", "$sync", "$sync-status"} == SYSTEM_WIDE_OPERATIONS
    for name in SYSTEM_WIDE_OPERATIONS:
        assert ACTIONS_OF[name] == frozenset("cruds")


def test_every_interaction_the_server_announces_is_in_the_table() -> None:
    from fhircare.interactions.capabilities import SYSTEM_INTERACTIONS, TYPE_INTERACTIONS

    assert set(TYPE_INTERACTIONS) | set(SYSTEM_INTERACTIONS) <= set(ACTIONS_OF)


def test_every_care_operation_is_in_the_table() -> None:
    from fhircare.care.registry import CARE_OPERATIONS

    assert {f"${operation.name}" for operation in CARE_OPERATIONS} <= set(ACTIONS_OF)


def test_table_letters_are_all_cruds() -> None:
    for letters in ACTIONS_OF.values():
        assert letters <= frozenset("cruds")


def test_a_patient_launch_token_reads_a_patients_everything_narrowed() -> None:
    scopes = ScopeSet.from_claims("launch/patient openid patient/*.rs")
    for action in ACTIONS_OF["$everything"]:
        decision = scopes.allows("Observation", action)
        assert decision.allowed and decision.narrow_to_patient
    assert not any(scopes.allows("Observation", a) for a in ACTIONS_OF["update"])
    assert scopes.missing("Observation", "".join(ACTIONS_OF["update"])) == "patient/Observation.u"


# --- purity ----------------------------------------------------------------------------------


def test_the_security_package_does_not_import_the_web_framework() -> None:
    package = Path(__file__).resolve().parents[3] / "src" / "fhircare" / "security"
    for path in package.glob("scopes*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] in ("fastapi", "starlette") for n in names), path
