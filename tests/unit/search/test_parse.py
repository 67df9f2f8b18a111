"""``parse``: every prefix, modifier, escape, chain, ``_has``, result parameter and error.

https://hl7.org/fhir/R4/search.html. The parameters come from the fake table of
``test_parse_support.py``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_parse_support import LIMITS, lookup

from fhircare.fhir.errors import Category, FhirError
from fhircare.search.limits import SearchLimits
from fhircare.search.parse import parse, split_escaped, unescape
from fhircare.search.request import (
    PREFIXES,
    ChainHop,
    Clause,
    HasHop,
    Include,
    SearchRequest,
    SortKey,
    Value,
)

Query = list[tuple[str, str]]


def run(
    query: Query,
    resource_type: str | None = "Observation",
    *,
    strict: bool = False,
    limits: SearchLimits = LIMITS,
) -> SearchRequest:
    return parse(resource_type, query, lookup, limits, strict)


def one(key: str, value: str, resource_type: str | None = "Observation") -> Clause:
    request = run([(key, value)], resource_type)
    assert len(request.clauses) == 1
    return request.clauses[0]


def fails(
    query: Query,
    resource_type: str | None = "Observation",
    *,
    expression: str | None = None,
    code: str = "invalid",
    category: Category = Category.INVALID,
    strict: bool = False,
    limits: SearchLimits = LIMITS,
) -> FhirError:
    """The error ``query`` is refused with: its category (400), issue code and the
    expression naming the parameter (by default the query's last key)."""
    with pytest.raises(FhirError) as caught:
        run(query, resource_type, strict=strict, limits=limits)
    error = caught.value
    assert error.category == category
    assert [i.code for i in error.issues] == [code]
    wanted = query[-1][0] if expression is None else expression
    assert error.issues[0].expression == (wanted,)
    return error


# -- values, OR and AND: https://hl7.org/fhir/R4/search.html#combining


def test_string_value() -> None:
    assert one("name", "Eve", "Patient") == Clause("name", "string", values=(Value("Eve"),))


def test_comma_is_or_and_repetition_is_and() -> None:
    request = run([("name", "Eve,Ada"), ("name", "Lovelace")], "Patient")
    assert request.clauses == (
        Clause("name", "string", values=(Value("Eve"), Value("Ada"))),
        Clause("name", "string", values=(Value("Lovelace"),)),
    )


def test_unicode_is_data() -> None:
    assert one("name", "Zoë 漢字 😀", "Patient").values == (Value("Zoë 漢字 😀"),)


# -- escaping: https://hl7.org/fhir/R4/search.html#escaping


@pytest.mark.parametrize(
    ("written", "raws"),
    [
        (r"a\,b", ["a,b"]),
        (r"a\\,b", ["a\\", "b"]),
        (r"a\\\,b", ["a\\,b"]),
        (r"a\$b", ["a$b"]),
        (r"a\|b", ["a|b"]),
        ("a|b$c", ["a|b$c"]),
        (r"C:\temp", ["C:\\temp"]),
        ("trailing\\", ["trailing\\"]),
    ],
)
def test_string_escapes(written: str, raws: list[str]) -> None:
    assert one("name", written, "Patient").values == tuple(Value(r) for r in raws)


def test_token_escapes_split_on_the_unescaped_bar_only() -> None:
    value = one("code", r"http://x\|y|a\,b\|c").values[0]
    assert value == Value("http://x|y|a,b|c", system="http://x|y", code="a,b|c")


def test_split_escaped_keeps_escapes_and_honours_maxsplit() -> None:
    assert split_escaped(r"a\,b,c\\,d", ",") == [r"a\,b", "c\\\\", "d"]
    assert split_escaped("a|b|c|d", "|", 2) == ["a", "b", "c|d"]
    assert split_escaped("", ",") == [""]
    assert unescape(r"\,\$\|\\\x") == ",$|\\\\x"


# -- prefixes: https://hl7.org/fhir/R4/search.html#prefix


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_prefix_on_number_date_and_quantity(prefix: str) -> None:
    assert one("value-number", f"{prefix}5.40").values == (Value("5.40", prefix),)
    assert one("date", f"{prefix}2026-03").values == (Value("2026-03", prefix),)
    assert one("value-quantity", f"{prefix}7||mg").values == (Value("7", prefix, "", "mg"),)


def test_no_prefix_is_none_not_eq() -> None:
    assert one("date", "2026").values == (Value("2026"),)
    assert one("value-number", "-1e3").values == (Value("-1e3"),)


@pytest.mark.parametrize(
    ("key", "resource_type"), [("name", "Patient"), ("instantiates", "Observation")]
)
def test_no_prefix_for_string_or_uri(key: str, resource_type: str) -> None:
    assert one(key, "ge2026", resource_type).values == (Value("ge2026"),)


def test_no_prefix_for_token() -> None:
    assert one("code", "ge2026").values == (Value("ge2026", code="ge2026"),)


# -- types: https://hl7.org/fhir/R4/search.html#ptypes


@pytest.mark.parametrize(
    ("written", "value"),
    [
        (
            "http://loinc.org|1234-5",
            Value("http://loinc.org|1234-5", None, "http://loinc.org", "1234-5"),
        ),
        ("|1234-5", Value("|1234-5", None, "", "1234-5")),
        ("http://loinc.org|", Value("http://loinc.org|", None, "http://loinc.org", "")),
        ("1234-5", Value("1234-5", None, None, "1234-5")),
        ("a|b|c", Value("a|b|c", None, "a", "b|c")),
    ],
)
def test_token_forms(written: str, value: Value) -> None:
    assert one("code", written).values == (value,)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("5.4", Value("5.4")),
        ("5.4|http://unitsofmeasure.org|mg", Value("5.4", None, "http://unitsofmeasure.org", "mg")),
        ("5.4||mg", Value("5.4", None, "", "mg")),
        ("lt5.4||mg", Value("5.4", "lt", "", "mg")),
        ("ap5.4||", Value("5.4", "ap", "", "")),
        (r"5|a\|b|m\,g", Value("5", None, "a|b", "m,g")),
        ("5|s|a|b", Value("5", None, "s", "a|b")),
    ],
)
def test_quantity_forms(written: str, value: Value) -> None:
    assert one("value-quantity", written).values == (value,)


@pytest.mark.parametrize(
    "written", ["Patient/123", "123", "http://other.org/fhir/Patient/9", "urn:uuid:1-2", "#c1"]
)
def test_reference_forms_are_kept_as_written(written: str) -> None:
    assert one("subject", written).values == (Value(written),)


def test_reference_identifier_is_a_token() -> None:
    clause = one("subject:identifier", "http://mrn|42,7")
    assert clause.modifier == "identifier"
    assert clause.values == (Value("http://mrn|42", None, "http://mrn", "42"), Value("7", code="7"))


def test_reference_type_modifier() -> None:
    clause = one("subject:Patient", "123")
    assert clause == Clause("subject", "reference", "Patient", (Value("123"),))


def test_special_is_raw() -> None:
    assert one("near", "42.25|-83.69|10|km", "Location").values == (Value("42.25|-83.69|10|km"),)


def test_common_parameters_are_clauses_also_system_wide() -> None:
    request = run(
        [
            ("_id", "a,b"),
            ("_lastUpdated", "gt2026-01-01T00:00:00Z"),
            ("_tag", "http://t|x"),
            ("_profile", "http://p"),
            ("_security", "R"),
            ("_source", "http://s"),
        ],
        None,
    )
    assert [(c.code, c.param_type) for c in request.clauses] == [
        ("_id", "token"),
        ("_lastUpdated", "date"),
        ("_tag", "token"),
        ("_profile", "uri"),
        ("_security", "token"),
        ("_source", "uri"),
    ]
    assert request.resource_type is None
    assert request.clauses[1].values == (Value("2026-01-01T00:00:00Z", "gt"),)


def test_composite_with_component_parameters() -> None:
    clause = one("code-value-quantity", r"http://loinc.org|8480-6$lt60|u|mm\$Hg")
    assert clause.component_types == ("token", "quantity")
    assert clause.values == (
        Value(
            "http://loinc.org|8480-6$lt60|u|mm$Hg",
            components=(
                Value("http://loinc.org|8480-6", None, "http://loinc.org", "8480-6"),
                Value("60", "lt", "u", "mm$Hg"),
            ),
        ),
    )


def test_composite_with_component_types() -> None:
    clause = one("code-value-date", "x$ge2026")
    assert clause.component_types == ("token", "date")
    assert clause.values[0].components == (Value("x", code="x"), Value("2026", "ge"))


def test_composite_with_unknown_components_reads_strings() -> None:
    clause = one("combo", r"a|b$c\$d")
    assert clause.component_types == ()
    assert clause.values == (Value("a|b$c$d", components=(Value("a|b"), Value("c$d"))),)


@pytest.mark.parametrize("written", ["x", "x$2026$y", "x$", "$2026", "x$20261"])
def test_composite_errors(written: str) -> None:
    fails([("code-value-date", written)])


# -- validation of values


@pytest.mark.parametrize(
    "written",
    [
        "2026",
        "2026-03",
        "2026-02-28",
        "2024-02-29",
        "2026-03-01T10:15",
        "2026-03-01T10:15:30",
        "2026-03-01T10:15:30.123",
        "2026-03-01T10:15:30Z",
        "2026-03-01T10:15:30.5+14:00",
        "2026-03-01T23:59:60-05:30",
        "0001-01-01",
    ],
)
def test_valid_dates(written: str) -> None:
    assert one("date", written).values == (Value(written),)


@pytest.mark.parametrize(
    "written",
    [
        "26",
        "2026-3",
        "2026-13",
        "2026-02-29",
        "2026-04-31",
        "0000",
        "2026-03-01T25:00",
        "2026-03-01T10",
        "2026-03-01T10:15:30+15:00",
        "2026-03-01T10:15:30 01:00",
        "2026-03-01 10:15",
        "today",
        "gt",
        "GT2026",
        "2026-03-01T10:15:30+01",
    ],
)
def test_invalid_dates(written: str) -> None:
    fails([("date", written)])


def test_a_decoded_plus_in_a_zone_gets_a_hint() -> None:
    error = fails([("date", "2026-03-01T10:15:30 01:00")])
    assert "%2B" in str(error)


@pytest.mark.parametrize(
    "written", ["abc", "1,5x", "01", ".5", "5.", "1e", "+1", "ge", "eq-", "0x10", "1 000", "NaN"]
)
def test_invalid_numbers(written: str) -> None:
    fails([("value-number", written)])


@pytest.mark.parametrize("written", ["x", "5|mg", "abc||mg", "5e|s|c"])
def test_invalid_quantities(written: str) -> None:
    fails([("value-quantity", written)])


@pytest.mark.parametrize("character", ["\x00", "\x1f", "\x7f", "\x85", "\n", "\t", "\ud800"])
def test_control_characters_are_refused_in_values(character: str) -> None:
    fails([("name", f"a{character}b")], "Patient")


def test_control_characters_are_refused_in_keys_even_unknown_ones() -> None:
    error = fails([("na\x00me", "x")], "Patient", expression="na\ufffdme")
    assert "'na\\x00me'" in str(error)
    fails([("_count", "1\x00")])


def test_an_empty_value_is_ignored() -> None:
    request = run([("name", ""), ("gender", ""), ("_count", ""), ("_include", "")], "Patient")
    assert request == SearchRequest("Patient")
    assert request.unknown == ()


@pytest.mark.parametrize("written", ["a,,b", ",a", "a,"])
def test_an_empty_value_in_a_list_is_refused(written: str) -> None:
    fails([("code", written)])


# -- modifiers: https://hl7.org/fhir/R4/search.html#modifiers


@pytest.mark.parametrize(
    ("key", "param_type"),
    [
        ("value-string", "string"),
        ("code", "token"),
        ("date", "date"),
        ("value-number", "number"),
        ("value-quantity", "quantity"),
        ("subject", "reference"),
        ("instantiates", "uri"),
        ("code-value-quantity", "composite"),
    ],
)
def test_missing_on_every_type(key: str, param_type: str) -> None:
    clause = replace(one(f"{key}:missing", "true,false"), component_types=())
    assert clause == Clause(key, param_type, "missing", (Value("true"), Value("false")))


@pytest.mark.parametrize("written", ["yes", "TRUE", "1", "true|x"])
def test_missing_takes_true_or_false(written: str) -> None:
    fails([("code:missing", written)])


def test_string_modifiers() -> None:
    assert one("name:exact", "Eve", "Patient").modifier == "exact"
    assert one("name:contains", "v|e", "Patient").values == (Value("v|e"),)


def test_token_text_is_not_split() -> None:
    clause = one("code:text", r"blood|pressure\,high")
    assert clause.values == (Value("blood|pressure,high"),)


@pytest.mark.parametrize("modifier", ["not", "above", "below"])
def test_token_modifiers_keep_the_token_form(modifier: str) -> None:
    clause = one(f"code:{modifier}", "http://s|c")
    assert clause == Clause(
        "code", "token", modifier, (Value("http://s|c", None, "http://s", "c"),)
    )


def test_uri_above_and_below() -> None:
    assert one("instantiates:below", "http://x|y").values == (Value("http://x|y"),)
    assert one("instantiates:above", "http://x/y").modifier == "above"


def test_of_type() -> None:
    clause = one("identifier:of-type", r"http://terminology.hl7.org/CodeSystem/v2-0203|MR|44\|6")
    value = Value(
        "http://terminology.hl7.org/CodeSystem/v2-0203|MR|44|6",
        system="http://terminology.hl7.org/CodeSystem/v2-0203",
        code="MR",
    )
    assert clause.values == (value,)


@pytest.mark.parametrize("written", ["MR|446053", "|MR|446053", "s||446053", "s|MR|", "446053"])
def test_of_type_needs_three_parts(written: str) -> None:
    fails([("identifier:of-type", written)])


@pytest.mark.parametrize("modifier", ["in", "not-in"])
def test_terminology_modifiers_are_not_supported(modifier: str) -> None:
    error = fails(
        [(f"code:{modifier}", "http://vs")], code="not-supported", category=Category.UNSUPPORTED
    )
    assert "terminology" in str(error)


@pytest.mark.parametrize(
    ("key", "resource_type"),
    [
        ("birthdate:exact", "Patient"),
        ("name:not", "Patient"),
        ("name:text", "Patient"),
        ("name:in", "Patient"),
        ("code:exact", "Observation"),
        ("code:contains", "Observation"),
        ("code:Patient", "Observation"),
        ("subject:not", "Observation"),
        ("subject:text", "Observation"),
        ("subject:patient", "Observation"),
        ("subject:Practitioner", "Observation"),
        ("subject:Patient-x", "Observation"),
        ("instantiates:exact", "Observation"),
        ("date:above", "Observation"),
        ("value-number:not", "Observation"),
        ("value-quantity:text", "Observation"),
        ("code-value-date:exact", "Observation"),
        ("near:contains", "Location"),
        ("name:", "Patient"),
        ("name:exact:x", "Patient"),
        ("name:iterate", "Patient"),
    ],
)
def test_a_modifier_not_valid_for_the_type_is_refused(key: str, resource_type: str) -> None:
    fails([(key, "x")], resource_type)


def test_an_open_reference_takes_any_type_modifier() -> None:
    assert one("focus:Practitioner", "1").modifier == "Practitioner"


# -- chaining: https://hl7.org/fhir/R4/search.html#chaining


def test_chain_with_an_explicit_type() -> None:
    clause = one("subject:Patient.name", "Eve")
    assert clause == Clause(
        "name", "string", values=(Value("Eve"),), chain=(ChainHop("subject", "Patient"),)
    )


def test_chain_through_a_single_target_names_it() -> None:
    assert one("patient.name", "Eve").chain == (ChainHop("patient", "Patient"),)


def test_chain_through_several_targets_leaves_the_type_open() -> None:
    clause = one("subject.name:exact", "Eve")
    assert clause == Clause(
        "name", "string", "exact", (Value("Eve"),), chain=(ChainHop("subject", None),)
    )


def test_chain_to_a_parameter_of_only_one_of_the_targets() -> None:
    clause = one("subject.birthdate", "ge2000")
    assert clause.param_type == "date"
    assert clause.chain == (ChainHop("subject", None),)
    assert clause.values == (Value("2000", "ge"),)


def test_chain_to_the_depth_limit() -> None:
    clause = one("encounter.subject:Patient.organization.name", "Acme")
    assert clause.chain == (
        ChainHop("encounter", "Encounter"),
        ChainHop("subject", "Patient"),
        ChainHop("organization", "Organization"),
    )
    assert (clause.code, clause.param_type) == ("name", "string")


def test_chain_past_the_depth_limit_is_too_costly() -> None:
    fails(
        [("encounter.subject:Patient.organization.partof.name", "Acme")],
        code="too-costly",
    )


def test_the_depth_limit_is_configurable() -> None:
    fails([("patient.name", "x")], code="too-costly", limits=SearchLimits(max_chain_depth=0))


def test_chain_through_an_ambiguous_hop_then_a_single_target() -> None:
    clause = one("performer.organization.name", "Acme")
    assert clause.chain == (ChainHop("performer", None), ChainHop("organization", "Organization"))


def test_chain_to_the_reference_type_modifier_and_missing() -> None:
    clause = one("patient.general-practitioner:Practitioner", "1")
    assert clause.modifier == "Practitioner"
    assert one("patient.link:missing", "true").modifier == "missing"


def test_chain_to_a_parameter_of_ambiguous_type() -> None:
    fails([("subject.alias", "x")])
    assert one("subject:Group.alias", "x").param_type == "token"


@pytest.mark.parametrize(
    "key",
    [
        "code.name",
        "subject.name.x",
        "subject:Practitioner.name",
        "subject:identifier.name",
        "subject:.name",
        "focus.name",
        "subject:patient.name",
    ],
)
def test_chain_errors(key: str) -> None:
    fails([(key, "x")])


def test_an_open_reference_chains_with_a_type() -> None:
    assert one("focus:Patient.name", "x").chain == (ChainHop("focus", "Patient"),)


@pytest.mark.parametrize(
    "key", ["subject.nothing", "nothing.name", "subject.", "subject:Patient.link.x"]
)
def test_chain_to_an_unknown_parameter_is_unknown(key: str) -> None:
    request = run([(key, "x")])
    assert request.clauses == ()
    assert request.unknown == (key,)
    fails([(key, "x")], strict=True, code="not-supported", category=Category.UNSUPPORTED)


# -- reverse chaining: https://hl7.org/fhir/R4/search.html#has


def test_has() -> None:
    clause = one("_has:Observation:patient:code", "1234-5", "Patient")
    assert clause == Clause(
        "code",
        "token",
        values=(Value("1234-5", code="1234-5"),),
        has=(HasHop("Observation", "patient"),),
    )


def test_nested_has_with_a_modifier() -> None:
    clause = one("_has:Encounter:patient:_has:Observation:encounter:code:text", "bp", "Patient")
    assert clause.has == (HasHop("Encounter", "patient"), HasHop("Observation", "encounter"))
    assert (clause.code, clause.modifier, clause.values) == ("code", "text", (Value("bp"),))


def test_has_then_a_chain() -> None:
    clause = one("_has:Observation:subject:performer:Practitioner.name", "Ada", "Group")
    assert clause.has == (HasHop("Observation", "subject"),)
    assert clause.chain == (ChainHop("performer", "Practitioner"),)


def test_has_in_a_system_search() -> None:
    assert one("_has:Observation:subject:code", "x", None).has == (
        HasHop("Observation", "subject"),
    )


def test_has_past_the_depth_limit_is_too_costly() -> None:
    key = "_has:Encounter:patient:_has:Observation:encounter:subject:Patient.link.name"
    fails([(key, "x")], "Patient", code="too-costly")


@pytest.mark.parametrize(
    "key",
    [
        "_has",
        "_has:Observation",
        "_has:Observation:patient",
        "_has:Observation:patient:",
        "_has::patient:code",
        "_has:observation:patient:code",
        "_has:Observation:code:code",
        "_has:Observation:encounter:code",
        "_has:Observation:patient:code:exact",
    ],
)
def test_has_errors(key: str) -> None:
    fails([(key, "x")], "Patient")


@pytest.mark.parametrize(
    "key", ["_has:Observation:nothing:code", "_has:Observation:patient:nothing", "_has:Nope:x:y"]
)
def test_has_with_an_unknown_parameter_is_unknown(key: str) -> None:
    assert run([(key, "x")], "Patient").unknown == (key,)


# -- result parameters: https://hl7.org/fhir/R4/search.html#return


def test_sort() -> None:
    request = run([("_sort", "-date,_id,code,-_lastUpdated")])
    assert request.sort == (
        SortKey("date", True),
        SortKey("_id"),
        SortKey("code"),
        SortKey("_lastUpdated", True),
    )


@pytest.mark.parametrize("written", ["nothing", "-", "date,,code", "date:missing", "subject.name"])
def test_sort_errors(written: str) -> None:
    fails([("_sort", written)])


def test_sort_key_limit() -> None:
    fails([("_sort", "date,code")], code="too-costly", limits=SearchLimits(max_clauses=1))


@pytest.mark.parametrize(
    ("written", "count"), [("0", 0), ("10", 10), ("0010", 10), ("1000", 1000), ("5000", 1000)]
)
def test_count(written: str, count: int) -> None:
    assert run([("_count", written)]).count == count


def test_a_huge_count_is_capped() -> None:
    assert run([("_count", "9" * 5000)]).count == LIMITS.max_count


@pytest.mark.parametrize("written", ["-1", "abc", "1.5", "1e3", "²", "١٢"])
def test_count_errors(written: str) -> None:
    fails([("_count", written)])


@pytest.mark.parametrize("written", ["none", "estimate", "accurate"])
def test_total(written: str) -> None:
    assert run([("_total", written)]).total == written


@pytest.mark.parametrize("written", ["true", "text", "data", "count", "false"])
def test_summary(written: str) -> None:
    assert run([("_summary", written)]).summary == written


@pytest.mark.parametrize(("key", "written"), [("_total", "all"), ("_summary", "yes")])
def test_total_and_summary_errors(key: str, written: str) -> None:
    fails([(key, written)])


def test_elements() -> None:
    assert run([("_elements", "code,valueQuantity,meta.tag")]).elements == (
        "code",
        "valueQuantity",
        "meta.tag",
    )


@pytest.mark.parametrize("written", ["code,", "co de", "1code", "code|x", "a..b"])
def test_elements_errors(written: str) -> None:
    fails([("_elements", written)])


def test_cursor_is_opaque() -> None:
    assert run([("_cursor", "Observation/a,b|c$d\\")]).cursor == "Observation/a,b|c$d\\"


def test_format_and_pretty_are_ignored() -> None:
    assert run([("_format", "json"), ("_pretty", "true")], strict=True) == SearchRequest(
        "Observation"
    )


@pytest.mark.parametrize("key", ["_sort", "_count", "_total", "_summary", "_elements", "_cursor"])
def test_a_result_parameter_may_appear_once(key: str) -> None:
    value = {"_sort": "date", "_count": "1", "_total": "none", "_summary": "true"}.get(key, "x")
    fails([(key, value), (key, value)])


@pytest.mark.parametrize("key", ["_count:exact", "_sort:desc", "_summary:x"])
def test_result_parameters_take_no_modifier(key: str) -> None:
    fails([(key, "1")])


# -- includes: https://hl7.org/fhir/R4/search.html#include


@pytest.mark.parametrize(
    ("key", "written", "include"),
    [
        ("_include", "Observation:subject", Include("Observation", "subject")),
        ("_include", "Observation:subject:Patient", Include("Observation", "subject", "Patient")),
        ("_include", "*", Include("*", "*")),
        ("_include", "Observation:*", Include("Observation", "*")),
        ("_include", "Observation:*:Patient", Include("Observation", "*", "Patient")),
        ("_include:iterate", "Patient:link", Include("Patient", "link", iterate=True)),
        ("_include:recurse", "Patient:link", Include("Patient", "link", iterate=True)),
        ("_revinclude", "Encounter:patient", Include("Encounter", "patient", reverse=True)),
        (
            "_revinclude:iterate",
            "Observation:focus:Group",
            Include("Observation", "focus", "Group", True, True),
        ),
        ("_revinclude", "*", Include("*", "*", reverse=True)),
    ],
)
def test_include_forms(key: str, written: str, include: Include) -> None:
    assert run([(key, written)]).includes == (include,)


def test_includes_keep_their_order() -> None:
    request = run(
        [("_revinclude", "Encounter:patient"), ("_include", "Observation:subject")], "Patient"
    )
    assert [i.reverse for i in request.includes] == [True, False]


@pytest.mark.parametrize(
    ("key", "written"),
    [
        ("_include:deep", "Observation:subject"),
        ("_include", "Observation"),
        ("_include", "Observation:"),
        ("_include", "Observation:subject:Patient:x"),
        ("_include", "observation:subject"),
        ("_include", "Observation:subject:patient"),
        ("_include", "Observation:nothing"),
        ("_include", "Observation:code"),
        ("_include", "Observation:subject:Practitioner"),
        ("_include", "Observation:subject,Observation:performer"),
        ("_revinclude", "**"),
    ],
)
def test_include_errors(key: str, written: str) -> None:
    fails([(key, written)])


def test_too_many_includes_are_too_costly() -> None:
    limits = SearchLimits(max_includes=2)
    fails([("_include", "*")] * 2 + [("_revinclude", "*")], code="too-costly", limits=limits)


# -- unknown parameters and limits: https://hl7.org/fhir/R4/search.html#errors


def test_unknown_parameters_are_recorded_once_and_skipped() -> None:
    request = run([("foo", "1"), ("nope:exact", "x"), ("foo", "2"), ("bar:exact", "")])
    assert request.clauses == ()
    assert request.unknown == ("foo", "nope:exact", "bar:exact")


def test_a_known_parameter_of_another_type_is_unknown() -> None:
    assert run([("birthdate", "2000")]).unknown == ("birthdate",)


def test_unknown_parameters_compare_equal() -> None:
    assert run([("foo", "1")]) == run([])


def test_strict_refuses_unknown_parameters() -> None:
    error = fails(
        [("code", "x"), ("foo:exact", "1")],
        strict=True,
        code="not-supported",
        category=Category.UNSUPPORTED,
    )
    assert "foo:exact" in str(error)


def test_too_many_clauses_are_too_costly() -> None:
    limits = SearchLimits(max_clauses=2)
    assert len(run([("code", "a")] * 2, limits=limits).clauses) == 2
    fails([("code", "a")] * 3, code="too-costly", limits=limits)


def test_too_many_or_values_are_too_costly() -> None:
    limits = SearchLimits(max_or_values=3)
    assert len(run([("code", "a,b,c")], limits=limits).clauses[0].values) == 3
    fails([("code", "a,b,c,d")], code="too-costly", limits=limits)
    fails([("code", r"a,b,c\,d,e")], code="too-costly", limits=limits)


def test_a_whole_request() -> None:
    request = run(
        [
            ("subject:Patient.name", "Eve"),
            ("date", "ge2026-01-01,lt2026-02"),
            ("_has:Observation:focus:code", "x"),
            ("_include", "Observation:subject"),
            ("_sort", "-date"),
            ("_count", "5"),
            ("_total", "accurate"),
            ("_summary", "data"),
            ("_elements", "code"),
            ("_cursor", "Observation/1"),
            ("_format", "json"),
            ("nothing", "1"),
        ]
    )
    assert request == SearchRequest(
        "Observation",
        (
            Clause("name", "string", None, (Value("Eve"),), (ChainHop("subject", "Patient"),)),
            Clause("date", "date", None, (Value("2026-01-01", "ge"), Value("2026-02", "lt"))),
            Clause(
                "code",
                "token",
                None,
                (Value("x", code="x"),),
                (),
                (HasHop("Observation", "focus"),),
            ),
        ),
        (Include("Observation", "subject"),),
        (SortKey("date", True),),
        5,
        "accurate",
        "data",
        ("code",),
        "Observation/1",
    )
    assert request.unknown == ("nothing",)
