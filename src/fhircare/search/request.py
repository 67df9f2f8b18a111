"""The one search format, from parsing to formatting: immutable and store-independent.

https://hl7.org/fhir/R4/search.html. ``parse`` turns a query string into a
``SearchRequest`` and ``format`` turns it back (they are inverses); the MongoDB compiler,
the in-memory matcher, paging links and the sync client all read this IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


@dataclass(frozen=True)
class Value:
    """One value of a parameter, escapes removed: ``prefix`` for ordered types, else None.

    For a token, ``system`` is None when no ``|`` was given and "" for ``|code``; for a
    quantity, ``system`` and ``code`` come from ``number|system|code``. By kind
    (https://hl7.org/fhir/R4/search.html#ptypes; ``search/parse.py`` is the one producer):

    - number, date: ``prefix`` (None when none was written) and ``raw`` the number/date.
    - quantity: ``prefix``, ``raw`` the number; ``system``/``code`` both None for a bare
      number, else both str exactly as written ("" for an empty part: ``5||mg``).
    - token (no modifier, ``:not``, ``:above``, ``:below``) and reference
      ``:identifier``: ``raw`` the whole value, ``system`` the part before the first
      unescaped ``|`` (None when there is none), ``code`` the rest ("" for ``system|``).
    - token ``:of-type``: ``raw`` the whole ``system|code|value``, ``system``/``code``
      the identifier type's coding; the identifier value is what follows them in ``raw``.
    - token ``:text``, string, uri, reference, special: ``raw`` only.
    - ``:missing``: ``raw`` "true" or "false".
    - composite: ``components`` one typed Value per component (types in
      ``Clause.component_types``), ``raw`` the whole value (components joined by ``$``).
    """

    raw: str
    prefix: str | None = None
    system: str | None = None
    code: str | None = None
    components: tuple[Value, ...] = ()


@dataclass(frozen=True)
class ChainHop:
    """One link of a chain: ``subject:Patient.name`` is hop (subject, Patient)."""

    code: str
    target_type: str | None = None


@dataclass(frozen=True)
class Clause:
    """One query parameter: its values are OR-ed; several clauses are AND-ed.

    ``chain`` holds the reference hops before the final parameter ``code``;
    ``has`` is the reverse chain of ``_has:Type:reference:...`` (outermost first).
    ``modifier`` is the text after ``:`` (a resource type for ``subject:Patient``);
    ``component_types`` are a composite's component parameter types, in order.
    """

    code: str
    param_type: str
    modifier: str | None = None
    values: tuple[Value, ...] = ()
    chain: tuple[ChainHop, ...] = ()
    has: tuple[HasHop, ...] = ()
    component_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class HasHop:
    """``_has:Observation:patient:...``: resources of ``resource_type`` whose ``reference``
    parameter points at the candidate."""

    resource_type: str
    reference: str


@dataclass(frozen=True)
class SortKey:
    code: str
    descending: bool = False


@dataclass(frozen=True)
class Include:
    """``_include=source_type:code[:target_type]`` (``iterate`` for ``:iterate``); ``code``
    "*" means every reference parameter of the source type."""

    source_type: str
    code: str
    target_type: str | None = None
    iterate: bool = False
    reverse: bool = False


@dataclass(frozen=True)
class SearchRequest:
    """A whole search: ``resource_type`` None for a system-level search."""

    resource_type: str | None
    clauses: tuple[Clause, ...] = ()
    includes: tuple[Include, ...] = ()
    sort: tuple[SortKey, ...] = ()
    count: int | None = None
    total: str | None = None
    summary: str | None = None
    elements: tuple[str, ...] = ()
    cursor: str | None = None
    unknown: tuple[str, ...] = field(default=(), compare=False)
