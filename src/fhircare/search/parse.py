"""A FHIR search query, already URL-decoded, into the ``SearchRequest`` IR.

https://hl7.org/fhir/R4/search.html. ``parse`` only reads text and the parameter
definitions it is given: it produces data (``search/request.py``) and never evaluates
anything. ``search/format.py`` is its inverse. The rules, by section of the spec:

- #ptypes, #prefix, #escaping: values are OR-ed by unescaped ``,`` and AND-ed by repeating
  the parameter; ``\\,`` ``\\$`` ``\\|`` ``\\\\`` stand for the character itself (any other
  backslash is kept as written). Prefixes (``eq ne gt lt ge le sa eb ap``) only for
  number, date and quantity; values are checked against their type.
- #modifiers: ``:missing`` for every type; string ``:exact :contains``; token ``:text
  :not :above :below :of-type``; uri ``:above :below``; reference ``:identifier`` and
  ``:[Type]``. ``:in``/``:not-in`` need terminology, which fhircare has not: 400.
- #chaining and #has: ``subject:Patient.name``, ``subject.name`` and
  ``_has:Observation:patient:code``, to ``SearchLimits.max_chain_depth`` hops in all.
- #sort, #count, #total, #summary, #elements, #include, #revinclude: the result
  parameters; ``_cursor`` is fhircare's opaque paging cursor; ``_format`` and ``_pretty``
  are left to the HTTP layer.
- #errors: an unknown parameter is ignored and listed in ``SearchRequest.unknown`` unless
  ``strict`` (``Prefer: handling=strict``), when it is a 400. Every other mistake is a 400
  whose issue expression names the parameter as written; a request past a limit of
  ``SearchLimits`` is a 400 with issue code ``too-costly``.

The pieces live beside this module: ``parse_keys`` (names, chains, modifiers),
``parse_values`` (values by type, escaping), ``parse_results`` (the result parameters).

An empty value (``name=``) is ignored, as if the parameter were absent; an empty value in a
list (``name=a,,b``) is a 400. Control characters (and NUL) are refused in names and values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from fhircare.fhir import errors
from fhircare.search.limits import SearchLimits
from fhircare.search.param_info import PARAM_TYPES, ParamInfo, ParamLookup
from fhircare.search.parse_errors import shown, too_costly
from fhircare.search.parse_keys import UnknownParameter, resolve_key
from fhircare.search.parse_results import (
    SUMMARIES,
    TOTALS,
    parse_choice,
    parse_count,
    parse_elements,
    parse_include,
    parse_include_modifier,
    parse_sort,
)
from fhircare.search.parse_values import parse_values, split_escaped, unescape
from fhircare.search.request import Clause, Include, SearchRequest

__all__ = ["PARAM_TYPES", "ParamInfo", "ParamLookup", "parse", "split_escaped", "unescape"]

_IGNORED = frozenset(("_format", "_pretty"))
_SINGLE = ("_sort", "_count", "_total", "_summary", "_elements", "_cursor")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def parse(
    resource_type: str | None,
    query: Sequence[tuple[str, str]],
    lookup: ParamLookup,
    limits: SearchLimits,
    strict: bool = False,
) -> SearchRequest:
    """The ``SearchRequest`` of ``query``: URL-decoded (key, value) pairs, in order.

    ``resource_type`` None is a system-level search. Raises ``FhirError`` (400) for
    anything malformed, past ``limits``, or unknown when ``strict``
    (https://hl7.org/fhir/R4/search.html#errors).
    """
    return _Parser(resource_type, lookup, limits, strict).parse(query)


class _Parser:
    def __init__(
        self, resource_type: str | None, lookup: ParamLookup, limits: SearchLimits, strict: bool
    ) -> None:
        self.resource_type = resource_type
        self.lookup = lookup
        self.limits = limits
        self.strict = strict

    def parse(self, query: Iterable[tuple[str, str]]) -> SearchRequest:
        clauses: list[Clause] = []
        includes: list[Include] = []
        unknown: list[str] = []
        single: dict[str, str] = {}
        for key, value in query:
            for text in (key, value):
                if _CONTROL.search(text):
                    raise errors.invalid(
                        f"Search parameter {shown(key)} holds a control character",
                        _CONTROL.sub("\ufffd", key),
                    )
            if key in _IGNORED:
                continue
            base, colon, modifier = key.partition(":")
            if base in ("_include", "_revinclude"):
                iterate = parse_include_modifier(key, modifier if colon else None)
                if value:
                    includes.append(
                        parse_include(key, value, base == "_revinclude", iterate, self.lookup)
                    )
                    if len(includes) > self.limits.max_includes:
                        raise too_costly(
                            f"More than {self.limits.max_includes} _include/_revinclude", key
                        )
                continue
            if base in _SINGLE:
                if colon:
                    raise errors.invalid(f"{base} takes no modifier ({shown(key)})", key)
                if value:
                    if base in single:
                        raise errors.invalid(f"{base} may be given only once", key)
                    single[base] = value
                continue
            try:
                target = resolve_key(key, self.resource_type, self.lookup, self.limits)
            except UnknownParameter:
                if self.strict:
                    raise errors.unsupported(
                        f"Unknown search parameter {shown(key)}", key
                    ) from None
                if key not in unknown:
                    unknown.append(key)
                continue
            if not value:
                continue
            clauses.append(
                Clause(
                    target.code,
                    target.param_type,
                    target.modifier,
                    parse_values(
                        key,
                        value,
                        target.param_type,
                        target.modifier,
                        target.component_types,
                        self.limits,
                    ),
                    target.chain,
                    target.has,
                    target.component_types,
                )
            )
            if len(clauses) > self.limits.max_clauses:
                raise too_costly(f"More than {self.limits.max_clauses} search parameters", key)
        return SearchRequest(
            self.resource_type,
            tuple(clauses),
            tuple(includes),
            parse_sort(single["_sort"], self.resource_type, self.lookup, self.limits)
            if "_sort" in single
            else (),
            parse_count(single["_count"], self.limits) if "_count" in single else None,
            parse_choice("_total", single.get("_total"), TOTALS),
            parse_choice("_summary", single.get("_summary"), SUMMARIES),
            parse_elements(single["_elements"]) if "_elements" in single else (),
            single.get("_cursor"),
            tuple(unknown),
        )
