"""Prefixes inside composite values: https://hl7.org/fhir/R4/search.html#composite.

An ordered component (number, quantity, date) of a composite matches exactly as its own
parameter type does standalone, within one fragment; the MongoDB prefilters of the
composite predicate stay necessary (checked with montydb, as the conformance oracle does).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from tests.conformance.prefilter_oracle import engine, naive

from fhircare.search.extract import composite
from fhircare.search.extract.context import ExtractContext
from fhircare.search.format import value_text
from fhircare.search.indexer import EXTRACTORS
from fhircare.search.match import matches
from fhircare.search.predicates import Cond, Entry, Fragment, Not, predicate
from fhircare.search.request import PREFIXES, Clause, Value
from fhircare.storage.mongo.query import prefilter

CTX = ExtractContext("Observation")
UCUM = "http://unitsofmeasure.org"

TARGETS: dict[str, list[Any]] = {
    "number": [5, 5.0, 4.96, 100, 7.25, {"low": {"value": 1}, "high": {"value": 3}}],
    "quantity": [
        {"value": 72, "unit": "beats/min", "system": UCUM, "code": "/min"},
        {"value": 65.0, "unit": "beats/minute"},
        {"value": 58, "system": UCUM, "code": "/min"},
        {"value": 5, "comparator": "<", "unit": "mg", "system": UCUM, "code": "mg"},
        {"value": 100, "unit": "mg", "system": UCUM, "code": "mg"},
        {"low": {"value": 60, "unit": "mg"}, "high": {"value": 70, "unit": "mg"}},
        3,
    ],
    "date": [
        "2026-01-15",
        "2026-02-28T23:30:00-05:00",
        "2026-03-01T00:00:00Z",
        "2026-03",
        "2026",
        {"start": "2026-03-01", "end": "2026-03-10"},
        {"start": "2026-02-15"},
    ],
}
QUERIES: dict[str, list[Value]] = {
    "number": [Value(n) for n in ("5", "5.0", "100", "1e2", "7.25", "2")],
    "quantity": [
        Value("72"),
        Value("65", None, "", "beats/minute"),
        Value("60", None, UCUM, "/min"),
        Value("65.0", None, "", "/min"),
        Value("100", None, UCUM, "mg"),
        Value("4", None, UCUM, "mg"),
        Value("65", None, "", "mg"),
        Value("3"),
    ],
    "date": [
        Value(d)
        for d in (
            "2026-03",
            "2026-03-01",
            "2026-02-28",
            "2026",
            "2026-02-28T23:30:00-05:00",
            "2026-03-01T04:00:00+02:00",
            "2026-01",
        )
    ],
}
PREFIXED = {
    kind: [Value(v.raw, prefix, v.system, v.code) for v in values for prefix in (None, *PREFIXES)]
    for kind, values in QUERIES.items()
}


def _composite_clause(kind: str, code: str, component: Value) -> Clause:
    first = Value(code, code=code)
    text = (component.prefix or "") + component.raw
    if component.system is not None:
        text += f"|{component.system}|{component.code}"
    whole = Value(f"{code}${text}", components=(first, component))
    return Clause("c", "composite", None, (whole,), component_types=("token", kind))


def _oracle(documents: list[dict[str, Any]]) -> Any:
    collection = engine()["unit"]["composite"]
    collection.drop()
    collection.insert_many(naive(documents))
    return collection


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_an_ordered_component_means_what_its_own_parameter_means(kind: str) -> None:
    """Every prefix, on every target: the composite (code ``a`` and the value) matches
    exactly when the standalone parameter does, and never for another code."""
    extractor = EXTRACTORS[kind]
    components = [("code", "token"), ("v", kind)]
    documents = []
    for number, target in enumerate(TARGETS[kind]):
        entries = composite.extract("c", [[["a"], [target]]], CTX, components)
        assert len(entries) == 1, target
        documents.append({"_id": number, "idx": entries})
    collection = _oracle(documents)
    compared = 0
    for query in PREFIXED[kind]:
        standalone = predicate(Clause("v", kind, None, (query,)))
        inside = predicate(_composite_clause(kind, "a", query))
        elsewhere = predicate(_composite_clause(kind, "b", query))
        wanted = set()
        for number, target in enumerate(TARGETS[kind]):
            alone = matches(standalone, extractor("v", [target], CTX), {})
            entries = documents[number]["idx"]
            assert matches(inside, entries, {}) == alone, (query, target)
            assert not matches(elsewhere, entries, {}), (query, target)
            if alone:
                wanted.add(number)
            compared += 1
        for per_entry in (True, False):
            passed = {d["_id"] for d in collection.find(naive(prefilter(inside, per_entry)))}
            assert wanted <= passed, (query, per_entry)
    assert compared == len(PREFIXED[kind]) * len(TARGETS[kind])


def test_the_parts_of_a_match_come_from_one_fragment() -> None:
    components = [("when", "date"), ("code", "token"), ("amount", "number")]
    fragments = [[["2026"], ["x"], [5]], [["2027"], ["y"], [10]]]
    entries = composite.extract("c", fragments, CTX, components)
    collection = _oracle([{"_id": 1, "idx": entries}])

    def found(when: Value, code: str, amount: Value) -> bool:
        value = Value("", components=(when, Value(code, code=code), amount))
        clause = Clause(
            "c", "composite", None, (value,), component_types=("date", "token", "number")
        )
        exact = matches(predicate(clause), entries, {})
        for per_entry in (True, False):
            kept = bool(list(collection.find(naive(prefilter(predicate(clause), per_entry)))))
            assert kept or not exact
        return exact

    assert found(Value("2027", "ge"), "y", Value("6", "gt"))
    assert found(Value("2026", "le"), "x", Value("6", "lt"))
    assert not found(Value("2027", "ge"), "y", Value("6", "lt"))
    assert not found(Value("2027", "ge"), "x", Value("6", "gt"))
    assert not found(Value("2026", "le"), "x", Value("6", "gt"))
    assert found(Value("2026", "ne"), "y", Value("10"))
    assert not found(Value("2027", "ne"), "y", Value("10"))


def test_equality_components_use_k_and_ordered_ones_their_position() -> None:
    clause = _composite_clause("quantity", "http://loinc.org|8867-4", Value("70", "gt"))
    assert predicate(clause) == Fragment(
        "c",
        (Cond("k", "has", "http://loinc.org|8867-4"),),
        (Entry("*", (Cond("i", "eq", 1), Cond("hi", "gt", 70.5))),),
    )
    only_ordered = Clause(
        "c",
        "composite",
        None,
        (Value("", components=(Value("2026", "ne"), Value("1", "lt"))),),
        component_types=("date", "number"),
    )
    built = predicate(only_ordered)
    assert isinstance(built, Fragment) and built.conds == ()
    assert isinstance(built.parts[0], Not)


def test_prefilters_narrow_within_one_entry_and_never_on_a_negation() -> None:
    gt = predicate(_composite_clause("quantity", "a", Value("70", "gt", UCUM, "/min")))
    assert prefilter(gt, per_entry=True) == {
        "idx": {
            "$elemMatch": {
                "p": "c",
                "k": {"$eq": "a"},
                "$and": [
                    {
                        "q": {
                            "$elemMatch": {
                                "i": {"$eq": 1},
                                "hi": {"$gt": 70.5},
                                "s": {"$eq": UCUM},
                                "c": {"$eq": "/min"},
                            }
                        }
                    }
                ],
            }
        }
    }
    assert prefilter(gt) == {"$and": [{"idx.p": "c"}, {"idx.k": {"$eq": "a"}}]}
    ne = predicate(_composite_clause("quantity", "a", Value("70", "ne")))
    assert prefilter(ne, per_entry=True) == {"idx": {"$elemMatch": {"p": "c", "k": {"$eq": "a"}}}}
    ge = predicate(_composite_clause("date", "a", Value("2026", "ge")))
    [part] = prefilter(ge, per_entry=True)["idx"]["$elemMatch"]["$and"]
    assert set(part) == {"$or"}


def test_values_stay_data_in_the_prefilter() -> None:
    nasty = "$where|{'$gt': ''}"
    clause = _composite_clause("quantity", nasty, Value("1", "ge", "$ne", "a.b"))
    for per_entry in (True, False):
        rendered = prefilter(predicate(clause), per_entry)
        keys = set(_keys(rendered))
        assert keys <= {"idx", "idx.p", "idx.k", "p", "k", "q", "i", "lo", "hi", "s", "c", "u"} | {
            "$elemMatch",
            "$and",
            "$or",
            "$eq",
            "$gt",
            "$gte",
            "$lt",
            "$lte",
        }


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *itertools.chain.from_iterable(_keys(v) for v in value.values())]
    if isinstance(value, list):
        return list(itertools.chain.from_iterable(_keys(v) for v in value))
    return []


@pytest.mark.parametrize(
    ("kind", "component", "written"),
    [
        ("quantity", Value("60", "lt", UCUM, "/min"), "a$lt60|http://unitsofmeasure.org|/min"),
        ("quantity", Value("60", "ap", "", "mm$Hg"), r"a$ap60||mm\$Hg"),
        ("date", Value("2026-01", "ge"), "a$ge2026-01"),
        ("number", Value("1e2", "sa"), "a$sa1e2"),
    ],
)
def test_prefixed_components_format_back(kind: str, component: Value, written: str) -> None:
    clause = _composite_clause(kind, "a", component)
    assert value_text(clause, clause.values[0]) == written
