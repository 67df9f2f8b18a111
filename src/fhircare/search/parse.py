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

An empty value (``name=``) is ignored, as if the parameter were absent; an empty value in a
list (``name=a,,b``) is a 400. Control characters (and NUL) are refused in names and values.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from fhircare.fhir import errors
from fhircare.fhir.errors import FhirError
from fhircare.search.limits import SearchLimits
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

__all__ = ["ParamInfo", "ParamLookup", "parse", "split_escaped", "unescape"]


class ParamInfo(Protocol):
    """What parsing needs of a search parameter (``search/registry.py`` provides it).

    ``type`` is one of number, date, string, token, reference, composite, quantity, uri,
    special; ``targets`` the resource types a reference parameter may point at (empty:
    any). A composite may also have ``components``: in order, each either a parameter
    type or a tuple whose first item is the code of the component's own parameter on the
    same resource type (as ``SearchParam.components`` holds them).
    """

    @property
    def code(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def targets(self) -> Collection[str]: ...


ParamLookup = Callable[[str | None, str], ParamInfo | None]
"""``(resource_type, code)``: the parameter, or None when there is none. ``resource_type``
None is a system-level search: only the parameters common to every type."""

PARAM_TYPES = frozenset(
    ("number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special")
)
_MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset(("exact", "contains")),
    "token": frozenset(("text", "not", "above", "below", "of-type")),
    "reference": frozenset(("identifier",)),
    "uri": frozenset(("above", "below")),
}
_TERMINOLOGY = frozenset(("in", "not-in"))
_IGNORED = frozenset(("_format", "_pretty"))
_SINGLE = ("_sort", "_count", "_total", "_summary", "_elements", "_cursor")
_TOTALS = ("none", "estimate", "accurate")
_SUMMARIES = ("true", "text", "data", "count", "false")
_ALWAYS_SORTABLE = ("_id", "_lastUpdated")

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_ELEMENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(
    r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    r"(?:T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.[0-9]+)?)?"
    r"(?:Z|[+-](?P<tzh>[0-9]{2}):(?P<tzm>[0-9]{2}))?)?)?)?"
)
_MAX_COUNT_DIGITS = 12
_ESCAPABLE = frozenset("\\,$|")


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


def split_escaped(text: str, separator: str, maxsplit: int = -1) -> list[str]:
    """``text`` split on every ``separator`` not escaped by a backslash, the pieces still
    escaped (https://hl7.org/fhir/R4/search.html#escaping)."""
    pieces: list[str] = []
    start = index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == separator and maxsplit != len(pieces):
            pieces.append(text[start:index])
            start = index + 1
        index += 1
    pieces.append(text[start:])
    return pieces


def unescape(text: str) -> str:
    """``text`` with ``\\,`` ``\\$`` ``\\|`` ``\\\\`` replaced by the character; any other
    backslash is kept as it is."""
    if "\\" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPABLE:
            out.append(text[index + 1])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


class _Unknown(Exception):
    """A parameter code the lookup does not know, somewhere in a key."""


@dataclass(frozen=True)
class _Target:
    """The parameter a key ends at: its type and what its modifier and values need."""

    code: str
    param_type: str
    modifier: str | None
    chain: tuple[ChainHop, ...]
    has: tuple[HasHop, ...]
    component_types: tuple[str, ...]


def _shown(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _too_costly(message: str, expression: str) -> FhirError:
    return errors.invalid(message, expression, code="too-costly")


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
                        f"Search parameter {_shown(key)} holds a control character",
                        _CONTROL.sub("\ufffd", key),
                    )
            if key in _IGNORED:
                continue
            base, colon, modifier = key.partition(":")
            if base in ("_include", "_revinclude"):
                iterate = self._include_modifier(key, modifier if colon else None)
                if value:
                    includes.append(self._include(key, value, base == "_revinclude", iterate))
                    if len(includes) > self.limits.max_includes:
                        raise _too_costly(
                            f"More than {self.limits.max_includes} _include/_revinclude", key
                        )
                continue
            if base in _SINGLE:
                if colon:
                    raise errors.invalid(f"{base} takes no modifier ({_shown(key)})", key)
                if value:
                    if base in single:
                        raise errors.invalid(f"{base} may be given only once", key)
                    single[base] = value
                continue
            try:
                target = self._resolve(key)
            except _Unknown:
                if self.strict:
                    raise errors.unsupported(
                        f"Unknown search parameter {_shown(key)}", key
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
                    self._values(key, value, target),
                    target.chain,
                    target.has,
                    target.component_types,
                )
            )
            if len(clauses) > self.limits.max_clauses:
                raise _too_costly(f"More than {self.limits.max_clauses} search parameters", key)
        return SearchRequest(
            self.resource_type,
            tuple(clauses),
            tuple(includes),
            self._sort(single["_sort"]) if "_sort" in single else (),
            self._count(single["_count"]) if "_count" in single else None,
            self._choice("_total", single.get("_total"), _TOTALS),
            self._choice("_summary", single.get("_summary"), _SUMMARIES),
            self._elements(single["_elements"]) if "_elements" in single else (),
            single.get("_cursor"),
            tuple(unknown),
        )

    # -- parameter names: https://hl7.org/fhir/R4/search.html#chaining, #has, #modifiers

    def _find(self, types: Sequence[str | None], code: str) -> list[tuple[str | None, ParamInfo]]:
        found = []
        for owner in types:
            info = self.lookup(owner, code)
            if info is not None:
                found.append((owner, info))
        return found

    def _resolve(self, key: str) -> _Target:
        """What ``key`` names: the hops to the final parameter, its type and modifier."""
        current = self.resource_type
        has: list[HasHop] = []
        rest = key
        while rest == "_has" or rest.startswith("_has:"):
            parts = rest.split(":", 3)
            if len(parts) < 4 or not all(parts):
                raise errors.invalid(f"{_shown(key)}: _has is _has:Type:reference:parameter", key)
            _, source, reference, rest = parts
            if not _TYPE_NAME.fullmatch(source):
                raise errors.invalid(f"{_shown(key)}: {_shown(source)} is not a type", key)
            info = self.lookup(source, reference)
            if info is None:
                raise _Unknown
            if info.type != "reference":
                raise errors.invalid(
                    f"{_shown(key)}: {source}.{reference} is not a reference parameter", key
                )
            if current is not None and info.targets and current not in info.targets:
                raise errors.invalid(
                    f"{_shown(key)}: {source}.{reference} does not refer to {current}", key
                )
            has.append(HasHop(source, reference))
            current = source
        segments = rest.split(".")
        types: list[str | None] = [current]
        if not self._find(types, segments[0].partition(":")[0]):
            raise _Unknown
        if len(has) + len(segments) - 1 > self.limits.max_chain_depth:
            raise _too_costly(
                f"{_shown(key)} chains deeper than {self.limits.max_chain_depth}", key
            )
        chain: list[ChainHop] = []
        for segment in segments[:-1]:
            code, colon, type_name = segment.partition(":")
            found = self._find(types, code)
            if not found:
                raise _Unknown
            if any(info.type != "reference" for _, info in found):
                raise errors.invalid(
                    f"{_shown(key)}: {_shown(code)} is not a reference parameter to chain", key
                )
            targets = _targets(found)
            open_ended = any(not info.targets for _, info in found)
            hop_type: str | None
            if colon:
                if not _TYPE_NAME.fullmatch(type_name):
                    raise errors.invalid(
                        f"{_shown(key)}: only a resource type may qualify a chained "
                        f"parameter ({_shown(type_name)})",
                        key,
                    )
                if not open_ended and type_name not in targets:
                    raise errors.invalid(
                        f"{_shown(key)}: {code} does not refer to {type_name}", key
                    )
                hop_type, types = type_name, [type_name]
            elif open_ended:
                raise errors.invalid(
                    f"{_shown(key)}: {code} may refer to any type; name one as {code}:[type]",
                    key,
                )
            elif len(targets) == 1:
                hop_type, types = targets[0], [targets[0]]
            else:
                hop_type, types = None, list(targets)
            chain.append(ChainHop(code, hop_type))
        code, colon, modifier = segments[-1].partition(":")
        found = self._find(types, code)
        if not found:
            raise _Unknown
        param_types = sorted({info.type for _, info in found})
        if len(param_types) > 1:
            raise errors.invalid(
                f"{_shown(key)}: {code} is a {' or '.join(param_types)} parameter depending "
                "on the target; name the type as reference:[type]",
                key,
            )
        param_type = param_types[0]
        if colon:
            self._check_modifier(key, modifier, param_type, found)
        owner, info = found[0]
        components = self._components(owner, info) if param_type == "composite" else ()
        return _Target(
            code,
            param_type,
            modifier if colon else None,
            tuple(chain),
            tuple(has),
            components,
        )

    def _check_modifier(
        self,
        key: str,
        modifier: str,
        param_type: str,
        found: Sequence[tuple[str | None, ParamInfo]],
    ) -> None:
        if modifier == "missing":
            return
        if modifier in _TERMINOLOGY and param_type == "token":
            raise errors.unsupported(
                f"{_shown(key)}: :{modifier} is not supported until terminology exists", key
            )
        if modifier[:1].isupper() and param_type == "reference":
            if not _TYPE_NAME.fullmatch(modifier):
                raise errors.invalid(f"{_shown(key)}: {_shown(modifier)} is not a type", key)
            open_ended = any(not info.targets for _, info in found)
            if not open_ended and modifier not in _targets(found):
                raise errors.invalid(
                    f"{_shown(key)}: {found[0][1].code} does not refer to {modifier}", key
                )
            return
        if modifier not in _MODIFIERS.get(param_type, ()):
            raise errors.invalid(
                f"{_shown(key)}: the modifier {_shown(modifier)} is not valid for a "
                f"{param_type} parameter",
                key,
            )

    def _components(self, owner: str | None, info: ParamInfo) -> tuple[str, ...]:
        """The types of a composite's components; () when they cannot all be known (each
        component is then read as a string)."""
        types: list[str] = []
        for component in getattr(info, "components", None) or ():
            if isinstance(component, str):
                name = component
            elif isinstance(component, tuple | list) and component:
                name = component[0]
            else:
                return ()
            if isinstance(name, str) and name in PARAM_TYPES:
                types.append(name)
                continue
            part = self.lookup(owner, name) if isinstance(name, str) else None
            if part is None or part.type not in PARAM_TYPES:
                return ()
            types.append(part.type)
        return tuple("string" if t in ("composite", "special") else t for t in types)

    # -- values: https://hl7.org/fhir/R4/search.html#ptypes, #prefix, #escaping

    def _values(self, key: str, text: str, target: _Target) -> tuple[Value, ...]:
        items = split_escaped(text, ",")
        if len(items) > self.limits.max_or_values:
            raise _too_costly(
                f"{_shown(key)} has more than {self.limits.max_or_values} values", key
            )
        return tuple(
            self._value(key, item, target.param_type, target.modifier, target.component_types)
            for item in items
        )

    def _value(
        self,
        key: str,
        item: str,
        param_type: str,
        modifier: str | None,
        component_types: tuple[str, ...],
    ) -> Value:
        if not item:
            raise errors.invalid(f"{_shown(key)} has an empty value in its list", key)
        if modifier == "missing":
            raw = unescape(item)
            if raw not in ("true", "false"):
                raise errors.invalid(f"{_shown(key)}: :missing takes true or false", key)
            return Value(raw)
        if param_type == "composite":
            parts = split_escaped(item, "$")
            types = component_types or ("string",) * len(parts)
            if len(parts) != len(types):
                raise errors.invalid(
                    f"{_shown(key)}: {_shown(unescape(item))} needs {len(types)} "
                    "components separated by $",
                    key,
                )
            components = tuple(
                self._value(key, p, t, None, ()) for p, t in zip(parts, types, strict=True)
            )
            return Value(unescape(item), components=components)
        if param_type in ("number", "date"):
            prefix, raw = _prefixed(unescape(item))
            _check_ordered(key, param_type, raw)
            return Value(raw, prefix)
        if param_type == "quantity":
            parts = split_escaped(item, "|", 2)
            if len(parts) == 2:
                raise errors.invalid(
                    f"{_shown(key)}: a quantity is number, or number|system|code", key
                )
            prefix, raw = _prefixed(unescape(parts[0]))
            _check_ordered(key, "number", raw)
            if len(parts) == 1:
                return Value(raw, prefix)
            return Value(raw, prefix, unescape(parts[1]), unescape(parts[2]))
        if param_type == "token" and modifier == "of-type":
            parts = split_escaped(item, "|", 2)
            if len(parts) != 3 or not all(parts):
                raise errors.invalid(f"{_shown(key)}: :of-type takes system|code|value", key)
            return Value(unescape(item), system=unescape(parts[0]), code=unescape(parts[1]))
        if (param_type == "token" and modifier != "text") or (
            param_type == "reference" and modifier == "identifier"
        ):
            parts = split_escaped(item, "|", 1)
            whole = unescape(item)
            if len(parts) == 1:
                return Value(whole, code=whole)
            return Value(whole, system=unescape(parts[0]), code=unescape(parts[1]))
        return Value(unescape(item))

    # -- result parameters: https://hl7.org/fhir/R4/search.html#return

    def _include_modifier(self, key: str, modifier: str | None) -> bool:
        if modifier is None:
            return False
        if modifier in ("iterate", "recurse"):
            return True
        raise errors.invalid(f"{_shown(key)}: the modifier may be :iterate only", key)

    def _include(self, key: str, value: str, reverse: bool, iterate: bool) -> Include:
        """``Source:code[:Target]``, ``Source:*[:Target]`` or ``*``
        (https://hl7.org/fhir/R4/search.html#include)."""
        if value == "*":
            return Include("*", "*", None, iterate, reverse)
        parts = value.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise errors.invalid(
                f"{key}={_shown(value)}: expected Type:parameter[:targetType] or *", key
            )
        source, code = parts[0], parts[1]
        target = parts[2] if len(parts) == 3 else None
        for name in (source, target):
            if name is not None and not _TYPE_NAME.fullmatch(name):
                raise errors.invalid(f"{key}={_shown(value)}: {_shown(name)} is not a type", key)
        if code != "*":
            info = self.lookup(source, code)
            if info is None or info.type != "reference":
                raise errors.invalid(
                    f"{key}={_shown(value)}: {source} has no reference parameter {_shown(code)}",
                    key,
                )
            if target is not None and info.targets and target not in info.targets:
                raise errors.invalid(
                    f"{key}={_shown(value)}: {source}.{code} does not refer to {target}", key
                )
        return Include(source, code, target, iterate, reverse)

    def _sort(self, value: str) -> tuple[SortKey, ...]:
        """``_sort=a,-b`` (https://hl7.org/fhir/R4/search.html#sort)."""
        keys = []
        for item in value.split(","):
            descending = item.startswith("-")
            code = item[1:] if descending else item
            if not code:
                raise errors.invalid(f"_sort={_shown(value)} has an empty item", "_sort")
            if code not in _ALWAYS_SORTABLE and self.lookup(self.resource_type, code) is None:
                raise errors.invalid(f"_sort: unknown search parameter {_shown(code)}", "_sort")
            keys.append(SortKey(code, descending))
        if len(keys) > self.limits.max_clauses:
            raise _too_costly(f"_sort has more than {self.limits.max_clauses} keys", "_sort")
        return tuple(keys)

    def _count(self, value: str) -> int:
        """``_count``: a non-negative integer, lowered to ``max_count``
        (https://hl7.org/fhir/R4/search.html#count)."""
        if not value.isascii() or not value.isdigit():
            raise errors.invalid(
                f"_count must be a non-negative integer, not {_shown(value)}", "_count"
            )
        digits = value.lstrip("0") or "0"
        if len(digits) > _MAX_COUNT_DIGITS:
            return self.limits.max_count
        return min(int(digits), self.limits.max_count)

    def _choice(self, name: str, value: str | None, allowed: Sequence[str]) -> str | None:
        if value is None or value in allowed:
            return value
        raise errors.invalid(f"{name} must be one of {', '.join(allowed)}", name)

    def _elements(self, value: str) -> tuple[str, ...]:
        """``_elements=a,b`` (https://hl7.org/fhir/R4/search.html#elements)."""
        names = tuple(value.split(","))
        for name in names:
            if not _ELEMENT.fullmatch(name):
                raise errors.invalid(
                    f"_elements: {_shown(name)} is not an element name", "_elements"
                )
        return names


def _targets(found: Sequence[tuple[str | None, ParamInfo]]) -> list[str]:
    """The target types of ``found``'s reference parameters, each once, sorted."""
    return sorted({t for _, info in found for t in info.targets})


def _prefixed(text: str) -> tuple[str | None, str]:
    """``ge2026`` → (ge, 2026) (https://hl7.org/fhir/R4/search.html#prefix)."""
    if text[:2] in PREFIXES:
        return text[:2], text[2:]
    return None, text


def _check_ordered(key: str, param_type: str, raw: str) -> None:
    if param_type == "number":
        if not _NUMBER.fullmatch(raw):
            raise errors.invalid(f"{_shown(key)}: {_shown(raw)} is not a number", key)
        return
    if not _valid_date(raw):
        hint = " (a + in a time zone must be sent as %2B)" if " " in raw else ""
        raise errors.invalid(f"{_shown(key)}: {_shown(raw)} is not a FHIR date{hint}", key)


def _valid_date(text: str) -> bool:
    """A FHIR date or dateTime: ``YYYY[-MM[-DD[Thh:mm[:ss[.f]][Z|±hh:mm]]]]``; seconds and
    the zone may be left out in a search (https://hl7.org/fhir/R4/search.html#date)."""
    match = _DATE.fullmatch(text)
    if not match:
        return False
    fields = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    try:
        datetime.date(fields["year"], fields.get("month", 1), fields.get("day", 1))
    except ValueError:
        return False
    return (
        fields.get("hour", 0) <= 23
        and fields.get("minute", 0) <= 59
        and fields.get("second", 0) <= 60
        and fields.get("tzh", 0) * 60 + fields.get("tzm", 0) <= 14 * 60
        and fields.get("tzm", 0) <= 59
    )
