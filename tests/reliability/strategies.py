"""Hypothesis strategies for ``test_fuzz.py``: search query strings and mutated resources.

``search_requests`` builds ``[type]?query`` from the parameters the registry knows for
the type (and unknown ones), with modifiers, prefixes, chains, ``_has``, escapes (``\\,``
``\\$`` ``\\|``), garbage, huge values and many repeats, percent-encoded or not; and now
and then a history query (``_count``, ``_since``, ``_cursor``).

``resource_bodies`` starts from the example resources (valid FHIR) and mutates them:
drops, duplicates and retypes fields, sets wrong types, nests deeply, writes unicode
(lone surrogates too), huge numbers as raw JSON literals, nulls and extra keys, and
sometimes breaks the JSON text itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import simplejson
from hypothesis import strategies as st

from fhircare.fhir.jsonio import JsonNumber
from fhircare.fhir.models import RESOURCE_TYPES
from fhircare.search.registry import COMMON_CODES, default_registry
from fhircare.search.request import PREFIXES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REGISTRY = default_registry()
SEARCH_TYPES = sorted(REGISTRY.resource_types & RESOURCE_TYPES)
RESULT_PARAMS = (
    "_count",
    "_sort",
    "_include",
    "_revinclude",
    "_include:iterate",
    "_revinclude:iterate",
    "_total",
    "_summary",
    "_elements",
    "_cursor",
    "_type",
    "_pretty",
    "_contained",
    "_text",
    "_content",
    "_list",
    "_query",
)
MODIFIERS = (
    "exact",
    "contains",
    "missing",
    "not",
    "text",
    "above",
    "below",
    "of-type",
    "identifier",
    "in",
    "not-in",
    "iterate",
    "Patient",
    "Practitioner",
    "Observation",
    "type",
    "",
    "EXACT",
)

# -- search queries ------------------------------------------------------------------------

_GARBAGE = st.sampled_from(
    [
        "",
        "%",
        "%zz",
        "%ff%fe",
        "%00",
        "%C0%80",
        "&",
        "=",
        "==",
        ",",
        ",,",
        "|",
        "||",
        "$",
        "\\",
        "\\\\",
        ":",
        "::",
        ".",
        "..",
        "*",
        "null",
        "undefined",
        "NaN",
        "-0",
        "1e999999",
        "{'$gt': ''}",
        '{"$ne": null}',
        "$where",
        "a.b.c",
        "../../etc/passwd",
        "%2e%2e%2f",
        "\x00",
        "\u2028",
        "\ud7ff",
        "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",  # Fraktur
        "٣",
        "²",
        "Ⅻ",
        "9" * 30,
        "9" * 5000,
        "x" * 20_000,
    ]
)
_ESCAPES = st.sampled_from(["\\,", "\\$", "\\|", "\\\\", "\\"])
_DATES = st.sampled_from(
    [
        "2026",
        "2026-03",
        "2026-03-14",
        "2026-03-14T10:00",
        "2026-03-14T10:00:00Z",
        "2026-03-14T10:00:00.123+05:30",
        "2026-13-40",
        "2026-02-30",
        "0000-01-01",
        "9999-12-31T23:59:59.999999999Z",
        "-2026",
        "2026-03-14T25:61:61Z",
        "20260314",
        "T10:00",
    ]
)
# digits that are not ASCII ('²', '٣', 'Ⅻ'): str.isdigit() says yes to some, int() no
_DIGITISH = st.text(st.characters(categories=("Nd", "No", "Nl")), min_size=1, max_size=4)
_NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    _DIGITISH,
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e400", "-1e-400", "0.000", "1.", ".5", "1e", "5.4e-3", "00012"]),
)
_TOKENS = st.sampled_from(
    [
        "http://loinc.org|4548-4",
        "|active",
        "http://snomed.info/sct|",
        "active",
        "http://unitsofmeasure.org|kg",
        "urn:oid:1.2.3|x",
        "a|b|c",
    ]
)
_QUANTITIES = st.sampled_from(
    ["5.4|http://unitsofmeasure.org|mg", "5.4||mg", "5.4", "5.4|", "||", "1e5|x|y"]
)
_REFERENCES = st.sampled_from(
    [
        "Patient/pat-diabetes-hf",
        "pat-copd",
        "http://test/fhir/Patient/pat-copd",
        "http://elsewhere.example/Patient/1",
        "Patient/",
        "/Patient/x",
        "Patient/pat-copd/_history/1",
        "urn:uuid:5e3d2f2a-9f0e-4c39-8b8e-5a6d8e1d2f3a",
    ]
)
_TEXT = st.text(max_size=40)


@cache
def _value() -> st.SearchStrategy[str]:
    """One value: of any search parameter type, or garbage, escaped, joined by commas."""
    single = st.one_of(
        _TEXT,
        _GARBAGE,
        _DATES,
        _NUMBERS,
        _TOKENS,
        _QUANTITIES,
        _REFERENCES,
        st.tuples(st.sampled_from(PREFIXES), st.one_of(_DATES, _NUMBERS, _QUANTITIES)).map("".join),
        st.lists(st.one_of(_TEXT, _ESCAPES), min_size=1, max_size=6).map("".join),
        st.lists(st.one_of(_TOKENS, _TEXT, _DATES), min_size=2, max_size=3).map("$".join),
    )
    return st.lists(single, min_size=1, max_size=4).map(",".join)


@cache
def _key(resource_type: str | None) -> st.SearchStrategy[str]:
    codes = sorted(REGISTRY.params_for(resource_type)) if resource_type else list(COMMON_CODES)
    known = st.sampled_from(codes or list(COMMON_CODES))
    chained = st.tuples(known, st.sampled_from(["", ":Patient", ":Nope"]), known).map(
        lambda parts: f"{parts[0]}{parts[1]}.{parts[2]}"
    )
    has = st.tuples(st.sampled_from(SEARCH_TYPES), known, known).map(
        lambda parts: f"_has:{parts[0]}:{parts[1]}:{parts[2]}"
    )
    base = st.one_of(
        known,
        known,
        st.sampled_from(RESULT_PARAMS),
        chained,
        has,
        _TEXT,
        _GARBAGE,
    )
    modified = st.tuples(base, st.sampled_from(MODIFIERS)).map(lambda kv: f"{kv[0]}:{kv[1]}")
    return st.one_of(base, base, modified)


def _encode(text: str, how: str) -> str:
    if how == "raw":
        return text
    if how == "quoted":
        return quote(text, safe="")
    return quote(text, safe=",|$:\\")


# no _format: a wrong one is 406 before anything else is read (schemathesis covers it)
_HISTORY_KEYS = st.sampled_from(["_count", "_since", "_cursor", "_pretty", "_at"])
_HISTORY_VALUES = st.one_of(_NUMBERS, _GARBAGE, _DATES, _TEXT)


@st.composite
def search_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    """(path below the base, raw query string, headers): a search at type or system
    level, or now and then a history with its paging parameters."""
    resource_type = draw(
        st.one_of(
            st.sampled_from(SEARCH_TYPES),
            st.sampled_from(sorted(RESOURCE_TYPES)),
            st.none(),
        )
    )
    if draw(st.integers(0, 3)) == 0:
        path = f"/{resource_type}/_history" if resource_type else "/_history"
        if resource_type == "Patient" and draw(st.booleans()):
            path = "/Patient/pat-copd/_history"
        pairs = draw(st.lists(st.tuples(_HISTORY_KEYS, _HISTORY_VALUES), max_size=4))
    else:
        path = f"/{resource_type}" if resource_type else ""
        pairs = draw(st.lists(st.tuples(_key(resource_type), _value()), max_size=8))
    if draw(st.integers(0, 9)) == 0:  # many repeats of one parameter
        pairs += [pairs[0] if pairs else ("_id", "x")] * draw(st.integers(50, 300))
    how = draw(st.sampled_from(["raw", "quoted", "lenient"]))
    parts = [f"{_encode(k, how)}={_encode(v, how)}" for k, v in pairs]
    if draw(st.booleans()):
        parts += draw(st.lists(_GARBAGE, max_size=3))  # keys without '=', stray '&' ...
    query = "&".join(draw(st.permutations(parts)))
    headers = {"Prefer": "handling=strict"} if draw(st.booleans()) else {}
    return path, query, headers


# -- resource bodies -----------------------------------------------------------------------


def example_resources() -> list[dict[str, Any]]:
    resources = []
    for path in sorted(EXAMPLES.glob("*.json")):
        bundle = simplejson.loads(path.read_text(), use_decimal=True)
        resources += [entry["resource"] for entry in bundle["entry"]]
    return resources


EXAMPLE_RESOURCES = example_resources()


_HUGE_NUMBERS = st.sampled_from(
    [
        "1e400",
        "-1e400",
        "1E-400",
        "123456789012345678901234567890",
        "-0",
        "0.0000000000000000000000000001",
        "9007199254740993",
        "2147483648",
        "-2147483649",
        "7.00",
        "1e2",
        "9" * 4000,
        "9" * 5000,
        "1." + "0" * 3000,
    ]
).map(JsonNumber)  # prints exactly as written, as a stored decimal does
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    _HUGE_NUMBERS,
    st.text(max_size=30),
    st.sampled_from(["", " ", "\ud800", "a\udfffb", "\x00", "\u202e", "😀" * 50, "x" * 70_000]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=6,
)


@dataclass(frozen=True)
class Body:
    """A request body: ``text`` as sent, made from the example ``base`` (whose ``id`` was
    set to ``id`` before the ``mutations``)."""

    base: dict[str, Any]
    id: str
    text: bytes
    mutations: tuple[str, ...]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (object keys and array indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(root: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    _get(root, path[:-1])[path[-1]] = new
    return root


def _retype(value: Any) -> st.SearchStrategy[Any]:
    """A value of another JSON type."""
    if isinstance(value, str):
        return st.one_of(st.integers(), st.booleans(), st.none(), st.just([value]))
    if isinstance(value, bool):
        return st.sampled_from(["true", 1, None, [value]])
    if isinstance(value, int | float | Decimal):
        return st.sampled_from([str(value), True, None, [value], {"value": value}])
    if isinstance(value, list):
        return st.one_of(st.just(value[0] if value else None), st.just({"0": value}))
    if isinstance(value, dict):
        return st.one_of(st.just([value]), st.just(json.dumps(list(value))), st.none())
    return _SCALARS


def _nest(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"extension": value}
    return value


@st.composite
def _mutate(draw: st.DrawFn, resource: dict[str, Any]) -> tuple[Any, str]:
    """One mutation of ``resource`` (changed in place when it can be)."""
    paths = _paths(resource)[1:]
    numbers = [p for p in paths if type(_get(resource, p)) in (int, Decimal)]
    if numbers and draw(st.integers(0, 3)) == 0:  # where numbers are valid, odd ones
        path = draw(st.sampled_from(numbers))
        _set(resource, path, draw(_HUGE_NUMBERS))
        return resource, "number"
    path = draw(st.sampled_from(paths))
    parent = _get(resource, path[:-1])
    kind = draw(
        st.sampled_from(
            [
                "drop",
                "duplicate",
                "retype",
                "wrong-value",
                "nest",
                "unicode",
                "number",
                "null",
                "extra-key",
                "id",
                "resourceType",
                "meta",
            ]
        )
    )
    value = _get(resource, path)
    if kind == "drop":
        del parent[path[-1]]
    elif kind == "duplicate":
        if isinstance(parent, list):
            parent.append(_copy(value))
        else:
            parent[draw(st.sampled_from(sorted(parent)))] = value  # the same value twice
    elif kind == "retype":
        _set(resource, path, draw(_retype(value)))
    elif kind == "wrong-value":
        _set(resource, path, draw(_VALUES))
    elif kind == "nest":
        _set(resource, path, _nest(value, draw(st.integers(1, 100)), draw(st.booleans())))
    elif kind == "unicode":
        _set(resource, path, draw(st.text(min_size=1, max_size=30)))
    elif kind == "number":
        _set(resource, path, draw(_HUGE_NUMBERS))
    elif kind == "null":
        _set(resource, path, None if draw(st.booleans()) else [None])
    elif kind == "extra-key":
        target = parent if isinstance(parent, dict) else resource
        key = draw(
            st.one_of(
                st.text(max_size=12),
                st.sampled_from(["_id", "$where", "a.b", "__proto__", "_gender", "contained"]),
            )
        )
        target[key] = draw(_VALUES)
    elif kind == "id":
        resource["id"] = draw(st.one_of(_SCALARS, st.sampled_from(["a/b", "x" * 65, "ü"])))
    elif kind == "resourceType":
        resource["resourceType"] = draw(
            st.one_of(st.sampled_from(sorted(RESOURCE_TYPES)), st.sampled_from(["", "patient"]))
        )
    else:
        resource["meta"] = draw(
            st.one_of(
                _VALUES,
                st.fixed_dictionaries(
                    {"versionId": st.sampled_from(["1", "999", "x"]), "lastUpdated": _TEXT}
                ),
            )
        )
    return resource, kind


def _copy(value: Any) -> Any:
    return simplejson.loads(simplejson.dumps(value, use_decimal=True), use_decimal=True)


def _dumps(value: Any) -> bytes:
    text = simplejson.dumps(value, use_decimal=True, ensure_ascii=True)
    return text.encode("ascii")


_TEXT_DAMAGE = (
    "truncate",
    "trailing",
    "bom",
    "nan",
    "latin-1",
    "duplicate-key",
    "comment",
    "single-quotes",
)


def _damage(text: bytes, kind: str) -> bytes:
    """``text`` broken at the JSON level (a duplicate key is still JSON)."""
    if kind == "truncate":
        return text[: len(text) // 2]
    if kind == "trailing":
        return text + b" ]"
    if kind == "bom":
        return b"\xef\xbb\xbf" + text
    if kind == "nan":
        return text[:-1] + b',"valueDecimal":NaN}'
    if kind == "latin-1":
        return text[:-1] + b',"text":"caf\xe9"}'
    if kind == "duplicate-key":
        return text[:-1] + b',"resourceType":"Patient"}'
    if kind == "comment":
        return text[:-1] + b"/* x */}"
    return text.replace(b'"', b"'")


@st.composite
def resource_bodies(draw: st.DrawFn) -> Body:
    """An example resource with 0 to 4 mutations, as JSON text (sometimes damaged)."""
    base = draw(st.sampled_from(EXAMPLE_RESOURCES))
    resource: Any = _copy(base)
    id = draw(st.one_of(st.just(base["id"]), st.uuids().map(lambda u: f"fuzz-{u.hex[:16]}")))
    resource["id"] = id
    applied = []
    for _ in range(draw(st.integers(0, 4))):
        if not isinstance(resource, dict) or len(_paths(resource)) < 2:
            break
        resource, kind = draw(_mutate(resource))
        applied.append(kind)
    text = _dumps(resource)
    if draw(st.integers(0, 7)) == 0:
        kind = draw(st.sampled_from(_TEXT_DAMAGE))
        text = _damage(text, kind)
        applied.append(kind)
    return Body(base, id, text, tuple(applied))
