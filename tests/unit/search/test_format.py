"""``format`` writes the canonical query of a ``SearchRequest``; ``parse`` reads it back.

https://hl7.org/fhir/R4/search.html. Example-based tests of the canonical form, and
hypothesis properties: ``parse(format(r)) == r`` for generated requests within the fake
table of ``test_parse_support.py``, and parse → format → parse is stable for messy queries.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_parse_support import ALL_TYPES, LIMITS, FakeParam, lookup, params_of

from fhircare.fhir.errors import FhirError
from fhircare.search.format import escape, format
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

MODIFIERS = {
    "string": ("exact", "contains"),
    "token": ("text", "not", "above", "below", "of-type"),
    "reference": ("identifier",),
    "uri": ("above", "below"),
}
NUMBER = r"-?(0|[1-9][0-9]{0,5})(\.[0-9]{1,4})?([eE][+-]?[0-9]{1,2})?"
SPECIAL = ",$|\\"


def roundtrip(request: SearchRequest) -> SearchRequest:
    return parse(request.resource_type, format(request), lookup, LIMITS)


# -- examples


def test_empty_request() -> None:
    assert format(SearchRequest("Patient")) == []
    assert format(SearchRequest(None)) == []


def test_canonical_order_and_forms() -> None:
    request = SearchRequest(
        "Observation",
        (
            Clause("code", "token", "not", (Value("s|c", None, "s", "c"), Value("x", code="x"))),
            Clause("name", "string", "exact", (Value("Eve"),), (ChainHop("subject", "Patient"),)),
            Clause("name", "string", None, (Value("Eve"),), (ChainHop("subject"),)),
            Clause(
                "code",
                "token",
                None,
                (Value("y", code="y"),),
                (),
                (HasHop("Observation", "focus"),),
            ),
        ),
        (
            Include("Observation", "subject", "Patient", iterate=True),
            Include("*", "*", reverse=True),
            Include("Observation", "*"),
        ),
        (SortKey("date", True), SortKey("_id")),
        10,
        "accurate",
        "data",
        ("code", "subject"),
        "Observation/9",
    )
    assert format(request) == [
        ("code:not", "s|c,x"),
        ("subject:Patient.name:exact", "Eve"),
        ("subject.name", "Eve"),
        ("_has:Observation:focus:code", "y"),
        ("_include:iterate", "Observation:subject:Patient"),
        ("_revinclude", "*"),
        ("_include", "Observation:*"),
        ("_sort", "-date,_id"),
        ("_count", "10"),
        ("_total", "accurate"),
        ("_summary", "data"),
        ("_elements", "code,subject"),
        ("_cursor", "Observation/9"),
    ]
    assert roundtrip(request) == request


def test_unknown_parameters_are_not_written() -> None:
    request = parse("Observation", [("foo", "1"), ("code", "x")], lookup, LIMITS)
    assert format(request) == [("code", "x")]


@pytest.mark.parametrize(
    ("clause", "written"),
    [
        (Clause("value-string", "string", None, (Value("a,b"), Value("c\\"))), r"a\,b,c\\"),
        (Clause("value-string", "string", None, (Value("a|b$c"),)), "a|b$c"),
        (Clause("code", "token", None, (Value("a|b", code="a|b"),)), r"a\|b"),
        (Clause("code", "token", None, (Value("|c", None, "", "c"),)), "|c"),
        (Clause("code", "token", None, (Value("s|", None, "s", ""),)), "s|"),
        (Clause("code", "token", None, (Value("a|b|c", None, "a|b", "c"),)), r"a\|b|c"),
        (Clause("code", "token", "text", (Value("a|b,c"),)), r"a|b\,c"),
        (
            Clause("identifier", "token", "of-type", (Value("s|MR|4|2", None, "s", "MR"),)),
            r"s|MR|4\|2",
        ),
        (Clause("subject", "reference", "identifier", (Value("s|1", None, "s", "1"),)), "s|1"),
        (Clause("subject", "reference", "Patient", (Value("1"),)), "1"),
        (Clause("value-quantity", "quantity", None, (Value("5", "le"),)), "le5"),
        (
            Clause("value-quantity", "quantity", None, (Value("5", None, "a|b", "m,g"),)),
            r"5|a\|b|m\,g",
        ),
        (Clause("value-quantity", "quantity", None, (Value("5", None, "", ""),)), "5||"),
        (Clause("date", "date", None, (Value("2026", "sa"), Value("2027"))), "sa2026,2027"),
        (Clause("date", "date", "missing", (Value("false"),)), "false"),
        (
            Clause(
                "code-value-quantity",
                "composite",
                None,
                (
                    Value(
                        "s|c$1|u|m$",
                        components=(Value("s|c", None, "s", "c"), Value("1", None, "u", "m$")),
                    ),
                ),
                component_types=("token", "quantity"),
            ),
            r"s|c$1|u|m\$",
        ),
        (
            Clause(
                "code-value-quantity",
                "composite",
                None,
                (
                    Value(
                        "c$lt6.0||m,g",
                        components=(Value("c", code="c"), Value("6.0", "lt", "", "m,g")),
                    ),
                ),
                component_types=("token", "quantity"),
            ),
            r"c$lt6.0||m\,g",
        ),
        (
            Clause(
                "code-value-date",
                "composite",
                None,
                (
                    Value("c$ge2026-01", components=(Value("c", code="c"), Value("2026-01", "ge"))),
                    Value("d$eb2026", components=(Value("d", code="d"), Value("2026", "eb"))),
                ),
                component_types=("token", "date"),
            ),
            "c$ge2026-01,d$eb2026",
        ),
        (
            Clause(
                "combo", "composite", None, (Value("a$b,", components=(Value("a"), Value("b,"))),)
            ),
            r"a$b\,",
        ),
    ],
)
def test_value_escaping(clause: Clause, written: str) -> None:
    request = SearchRequest("Observation", (clause,))
    [(_, text)] = format(request)
    assert text == written
    assert roundtrip(request) == request


def test_escape_and_unescape_are_inverse() -> None:
    assert escape("a\\b,c|d$e") == r"a\\b\,c|d$e"
    assert escape("a\\b,c|d$e", ",|$") == r"a\\b\,c\|d\$e"
    assert unescape(escape("a\\b,c|d$e", ",|$")) == "a\\b,c|d$e"


def test_parse_format_parse_normalises_then_stays() -> None:
    first = parse(
        "Observation",
        [("subject.name", "x"), ("patient.name", "y"), ("_include:recurse", "Patient:link")],
        lookup,
        LIMITS,
    )
    assert format(first) == [
        ("subject.name", "x"),
        ("patient:Patient.name", "y"),
        ("_include:iterate", "Patient:link"),
    ]
    assert roundtrip(first) == first


# -- strategies: requests parse can produce, within the fake table

texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(SPECIAL + ":.- éß漢😀"),
        st.characters(blacklist_categories=("Cc", "Cs")),
    ),
    min_size=1,
    max_size=10,
)
maybe_texts = st.none() | texts
prefixes = st.none() | st.sampled_from(PREFIXES)
numbers = st.from_regex(NUMBER, fullmatch=True)


@st.composite
def dates(draw: st.DrawFn) -> str:
    moment = draw(
        st.datetimes(datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59, 59))
    )
    precision = draw(st.sampled_from(("year", "month", "day", "minute", "second", "fraction")))
    text = {
        "year": "%Y",
        "month": "%Y-%m",
        "day": "%Y-%m-%d",
        "minute": "%Y-%m-%dT%H:%M",
        "second": "%Y-%m-%dT%H:%M:%S",
        "fraction": "%Y-%m-%dT%H:%M:%S.%f",
    }[precision]
    out = f"{moment.year:04d}" + moment.strftime(text)[len(str(moment.year)) :]
    if "T" in text:
        out += draw(st.sampled_from(("", "Z", "+01:00", "-05:30", "+14:00", "-00:00")))
    return out


def plain(value: Value, param_type: str) -> str:
    """A component's text with escapes removed (what a composite's raw joins)."""
    if param_type in ("number", "date"):
        return (value.prefix or "") + value.raw
    if param_type == "quantity":
        text = (value.prefix or "") + value.raw
        if value.system is None:
            return text
        return f"{text}|{value.system}|{value.code}"
    return value.raw


def tokens(draw: st.DrawFn) -> Value:
    system = draw(st.none() | st.text(max_size=0) | texts)
    if system is None:
        code = draw(texts)
        return Value(code, code=code)
    code = draw(st.text(max_size=0) | texts)
    return Value(f"{system}|{code}", system=system, code=code)


@st.composite
def values(
    draw: st.DrawFn, param_type: str, modifier: str | None, component_types: tuple[str, ...]
) -> Value:
    if modifier == "missing":
        return Value(draw(st.sampled_from(("true", "false"))))
    if param_type == "composite":
        types = component_types or ("string",) * draw(st.integers(1, 3))
        parts = tuple(draw(values(t, None, ())) for t in types)
        return Value(
            "$".join(plain(p, t) for p, t in zip(parts, types, strict=True)), components=parts
        )
    if param_type == "number":
        return Value(draw(numbers), draw(prefixes))
    if param_type == "date":
        return Value(draw(dates()), draw(prefixes))
    if param_type == "quantity":
        number, prefix = draw(numbers), draw(prefixes)
        if draw(st.booleans()):
            return Value(number, prefix)
        system = draw(st.text(max_size=0) | texts)
        return Value(number, prefix, system, draw(st.text(max_size=0) | texts))
    if modifier == "of-type":
        system, code, identifier = draw(texts), draw(texts), draw(texts)
        return Value(f"{system}|{code}|{identifier}", system=system, code=code)
    if (param_type == "token" and modifier != "text") or modifier == "identifier":
        return tokens(draw)
    return Value(draw(texts))


def _found(types: Sequence[str | None], code: str) -> list[FakeParam]:
    return [p for t in types if (p := lookup(t, code)) is not None]


def _union(found: list[FakeParam]) -> list[str]:
    return sorted({t for p in found for t in p.targets})


def _component_type(owner: str | None, component: object) -> str:
    if isinstance(component, str):
        return component
    assert isinstance(component, tuple)
    param = lookup(owner, component[0])
    assert param is not None
    return param.type


@st.composite
def clauses(draw: st.DrawFn, resource_type: str | None) -> Clause:
    current = resource_type
    has: list[HasHop] = []
    for _ in range(draw(st.integers(0, 2))):
        options = [
            (t, code)
            for t in ALL_TYPES
            for code, p in params_of(t).items()
            if p.type == "reference" and (current is None or not p.targets or current in p.targets)
        ]
        source, reference = draw(st.sampled_from(options))
        has.append(HasHop(source, reference))
        current = source
    types: list[str | None] = [current]
    chain: list[ChainHop] = []
    for _ in range(draw(st.integers(0, LIMITS.max_chain_depth - len(has)))):
        codes = sorted(
            {c for t in types for c, p in params_of(t).items() if p.type == "reference"}
            - {c for t in types for c, p in params_of(t).items() if p.type != "reference"}
        )
        if not codes:
            break
        code = draw(st.sampled_from(codes))
        found = _found(types, code)
        targets = _union(found)
        if any(not p.targets for p in found) or draw(st.booleans()):
            target = draw(st.sampled_from(targets or list(ALL_TYPES)))
            chain.append(ChainHop(code, target))
            types = [target]
        elif len(targets) == 1:
            chain.append(ChainHop(code, targets[0]))
            types = [targets[0]]
        else:
            chain.append(ChainHop(code))
            types = list(targets)
    finals = sorted(
        code
        for code in {c for t in types for c in params_of(t)}
        if len({p.type for p in _found(types, code)}) == 1
    )
    code = draw(st.sampled_from(finals))
    found = _found(types, code)
    param_type = found[0].type
    modifiers: list[str | None] = [None, "missing", *MODIFIERS.get(param_type, ())]
    if param_type == "reference":
        modifiers += _union(found) or list(ALL_TYPES)
    modifier = draw(st.sampled_from(modifiers))
    component_types: tuple[str, ...] = ()
    if param_type == "composite":
        owner = next(t for t in types if lookup(t, code) is not None)
        component_types = tuple(_component_type(owner, c) for c in found[0].components)
    items = draw(st.lists(values(param_type, modifier, component_types), min_size=1, max_size=3))
    return Clause(
        code, param_type, modifier, tuple(items), tuple(chain), tuple(has), component_types
    )


@st.composite
def includes(draw: st.DrawFn) -> Include:
    iterate, reverse = draw(st.booleans()), draw(st.booleans())
    kind = draw(st.sampled_from(("param", "star", "type-star")))
    if kind == "star":
        return Include("*", "*", None, iterate, reverse)
    source = draw(st.sampled_from(ALL_TYPES))
    if kind == "type-star":
        return Include(source, "*", draw(st.none() | st.sampled_from(ALL_TYPES)), iterate, reverse)
    references = sorted(c for c, p in params_of(source).items() if p.type == "reference")
    if not references:
        return Include(source, "*", None, iterate, reverse)
    code = draw(st.sampled_from(references))
    targets = params_of(source)[code].targets or ALL_TYPES
    return Include(source, code, draw(st.none() | st.sampled_from(targets)), iterate, reverse)


@st.composite
def requests(draw: st.DrawFn) -> SearchRequest:
    resource_type = draw(st.none() | st.sampled_from(ALL_TYPES))
    sortable = ["_id", "_lastUpdated", *sorted(params_of(resource_type))]
    return SearchRequest(
        resource_type,
        tuple(draw(st.lists(clauses(resource_type), max_size=5))),
        tuple(draw(st.lists(includes(), max_size=3))),
        tuple(
            draw(st.lists(st.builds(SortKey, st.sampled_from(sortable), st.booleans()), max_size=3))
        ),
        draw(st.none() | st.integers(0, LIMITS.max_count)),
        draw(st.none() | st.sampled_from(("none", "estimate", "accurate"))),
        draw(st.none() | st.sampled_from(("true", "text", "data", "count", "false"))),
        tuple(draw(st.lists(st.from_regex(r"[a-z][A-Za-z0-9_]{0,8}", fullmatch=True), max_size=3))),
        draw(maybe_texts),
    )


# -- properties


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_parse_inverts_format(request: SearchRequest) -> None:
    assert roundtrip(request) == request


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, min_size=1, max_size=5), st.sampled_from((",", ",|", ",$", ",|$")))
def test_split_escaped_inverts_joining_escaped_pieces(pieces: list[str], separators: str) -> None:
    joined = ",".join(escape(p, separators) for p in pieces)
    assert [unescape(p) for p in split_escaped(joined, ",")] == pieces


KEYS = (
    "code",
    "code:text",
    "code:not",
    "code:of-type",
    "identifier",
    "value-quantity",
    "value-number",
    "value-string:exact",
    "date",
    "subject",
    "subject:Patient",
    "subject:identifier",
    "subject.name",
    "patient.name:contains",
    "subject:Patient.birthdate",
    "performer.organization.name",
    "_has:Observation:subject:code",
    "code-value-quantity",
    "code-value-date",
    "combo",
    "instantiates:below",
    "_id",
    "_lastUpdated",
    "_sort",
    "_count",
    "_include",
    "_revinclude:iterate",
    "_elements",
    "_cursor",
    "nothing",
    "code:missing",
)
messy = st.text(
    alphabet=st.sampled_from(SPECIAL + "ab|1.0-eqgt2026Tl:Z+ é" + "".join(PREFIXES)), max_size=16
)


@settings(max_examples=600, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(KEYS),
            st.one_of(messy, dates(), numbers, st.sampled_from(("true", "Observation:subject"))),
        ),
        max_size=6,
    )
)
def test_parse_format_parse_is_stable(query: list[tuple[str, str]]) -> None:
    try:
        first = parse("Observation", query, lookup, LIMITS)
    except FhirError:
        return
    again = roundtrip(first)
    assert again == first
    assert format(again) == format(first)
