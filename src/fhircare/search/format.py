"""A ``SearchRequest`` back to its canonical query: the inverse of ``search/parse.py``.

https://hl7.org/fhir/R4/search.html. For every request ``parse`` can produce,
``parse(r.resource_type, format(r), ...) == r``: parameters come out in a fixed order
(clauses, includes, then ``_sort _count _total _summary _elements _cursor``), values are
escaped as https://hl7.org/fhir/R4/search.html#escaping says, with only the separators
that mean something where the text stands escaped (``,`` always; ``|`` inside tokens and
quantities; ``$`` inside composites) and every backslash doubled. The pairs are not
URL-encoded: that is the caller's (``urllib.parse.urlencode``).
"""

from __future__ import annotations

from fhircare.search.request import Clause, Include, SearchRequest, Value

__all__ = ["clause_key", "escape", "format", "include_pair", "value_text"]


def escape(text: str, separators: str = ",") -> str:
    """``text`` with ``\\`` and each of ``separators`` escaped by a backslash
    (https://hl7.org/fhir/R4/search.html#escaping)."""
    out = text.replace("\\", "\\\\")
    for separator in separators:
        out = out.replace(separator, "\\" + separator)
    return out


def format(request: SearchRequest) -> list[tuple[str, str]]:
    """The canonical (key, value) pairs of ``request``, not URL-encoded.

    ``request.unknown`` is not written: unknown parameters were ignored, so the canonical
    query (the Bundle's self link) leaves them out.
    """
    pairs = [(clause_key(c), ",".join(value_text(c, v) for v in c.values)) for c in request.clauses]
    pairs += [include_pair(i) for i in request.includes]
    if request.sort:
        pairs.append(
            ("_sort", ",".join(("-" if k.descending else "") + k.code for k in request.sort))
        )
    if request.count is not None:
        pairs.append(("_count", str(request.count)))
    if request.total is not None:
        pairs.append(("_total", request.total))
    if request.summary is not None:
        pairs.append(("_summary", request.summary))
    if request.elements:
        pairs.append(("_elements", ",".join(request.elements)))
    if request.cursor is not None:
        pairs.append(("_cursor", request.cursor))
    return pairs


def clause_key(clause: Clause) -> str:
    """``_has:T:ref:`` hops, then ``code[:Type].`` chain hops, the code and ``:modifier``
    (https://hl7.org/fhir/R4/search.html#chaining, #has, #modifiers)."""
    key = "".join(f"_has:{h.resource_type}:{h.reference}:" for h in clause.has)
    for hop in clause.chain:
        key += f"{hop.code}:{hop.target_type}." if hop.target_type else f"{hop.code}."
    key += clause.code
    return f"{key}:{clause.modifier}" if clause.modifier else key


def include_pair(include: Include) -> tuple[str, str]:
    """``_include[:iterate]=Source:code[:Target]`` (or ``*``), likewise ``_revinclude``
    (https://hl7.org/fhir/R4/search.html#include)."""
    key = "_revinclude" if include.reverse else "_include"
    if include.iterate:
        key += ":iterate"
    if include.source_type == "*" and include.code == "*":
        return key, "*"
    value = f"{include.source_type}:{include.code}"
    return key, f"{value}:{include.target_type}" if include.target_type else value


def value_text(clause: Clause, value: Value) -> str:
    """One value of ``clause`` as it is written in a query, escaped."""
    return _text(value, clause.param_type, clause.modifier, clause.component_types, ",")


def _text(
    value: Value,
    param_type: str,
    modifier: str | None,
    component_types: tuple[str, ...],
    separators: str,
) -> str:
    if modifier == "missing":
        return value.raw
    if param_type == "composite":
        types = component_types or ("string",) * len(value.components)
        inner = separators + "$"
        return "$".join(
            _text(c, t, None, (), inner) for c, t in zip(value.components, types, strict=True)
        )
    if param_type in ("number", "date"):
        return (value.prefix or "") + escape(value.raw, separators)
    parts = separators + "|"
    if param_type == "quantity":
        number = (value.prefix or "") + escape(value.raw, separators)
        if value.system is None and value.code is None:
            return number
        return f"{number}|{escape(value.system or '', parts)}|{escape(value.code or '', parts)}"
    if param_type == "token" and modifier == "of-type":
        system, code = value.system or "", value.code or ""
        identifier = value.raw[len(system) + len(code) + 2 :]
        return "|".join(escape(p, parts) for p in (system, code, identifier))
    if (param_type == "token" and modifier != "text") or (
        param_type == "reference" and modifier == "identifier"
    ):
        if value.system is None:
            return escape(value.code if value.code is not None else value.raw, parts)
        return f"{escape(value.system, parts)}|{escape(value.code or '', parts)}"
    return escape(value.raw, separators)
