"""Rendering search predicates as SQL over the ``resources`` and ``entries`` tables.

The same predicate tree that ``search/match.py`` evaluates in memory (one behaviour on
every store) becomes a condition on one row of ``resources r``: an ``Entry`` is
``EXISTS (SELECT 1 FROM entries e WHERE e.res = r.id AND e.p = ? AND …)``, all its
conditions on one row (one index entry), checked through the ``(res, p)`` index (named,
as SQLite would otherwise pick a value index and read every entry with that value).
``Field`` conditions read columns of ``r``. A predicate that index entries narrow also
has a *driver*: ``SELECT e.res FROM entries e WHERE e.p = ? AND …``, the row ids of every
resource it may admit, read from the B-tree index on ``(p, column)`` that its conditions
name (a union for ``AnyOf``). The store starts a query from the most selective driver and
checks the rest row by row (``search.py``).

Most predicates render exactly. What SQL does not see (a composite's ordered components,
kept only in the entry's JSON) renders as a necessary condition, and the result says it is
not exact: the store then applies ``search.match`` to each candidate, as on MongoDB. Range
conditions gain the bound their entry implies (``lo < hi`` for every date and number
entry: ``hi <= x`` means ``lo < x``) so that an index range scan is bounded on both sides.
Values are always parameters; column names come from this module alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhircare.search.entries import COMPOSITE_KEYS
from fhircare.search.normalize import fold
from fhircare.search.predicates import (
    ANY_PARAMETER,
    ID_FIELD,
    LAST_UPDATED_FIELD,
    TYPE_FIELD,
    AllOf,
    AnyOf,
    Cond,
    Entry,
    Field,
    Fragment,
    Not,
    Predicate,
    ReferredBy,
    Refers,
)
from fhircare.storage.sqlite.codec import ENTRY_COLUMNS, sql_value

_ENTRY_COLUMNS = {name: f'"{name}"' for name in ENTRY_COLUMNS} | {COMPOSITE_KEYS: "k"}
_RESOURCE_COLUMNS = {ID_FIELD: "r.rid", LAST_UPDATED_FIELD: "r.last_updated", TYPE_FIELD: "r.type"}
_COMPARE = {"eq": "=", "has": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
PREFIX_END = "\U0010ffff"
"""Appended to a prefix, the least string above every string that starts with it (but
those that continue with this code point, which no text holds in practice)."""


@dataclass
class Sql:
    """A rendered condition: its text, its parameters, whether it is exact (else a
    necessary condition only), and its driver: a query of the row ids of every resource
    it may admit, from the ``entries`` indexes (None when no index narrows it)."""

    text: str
    params: list[Any] = field(default_factory=list)
    exact: bool = True
    driver: Sql | None = None
    covered: bool = False
    """Whether the driver admits exactly the rows this condition admits (then a query
    driven by it need not check the condition again)."""
    ranged: bool = False
    """Of a driver: whether it reads a range of an index rather than equal values."""


TRUE = Sql("1", exact=False)


def where(predicate: Predicate) -> Sql:
    """The condition on ``resources r`` that ``predicate`` renders to."""
    if isinstance(predicate, Entry):
        return _entry(predicate.code, predicate.conds)
    if isinstance(predicate, Fragment):
        found = _entry(predicate.code, predicate.conds)
        if predicate.parts:
            found.exact = found.covered = False
        return found
    if isinstance(predicate, Field):
        return _field(predicate.cond)
    if isinstance(predicate, AnyOf):
        return _joined([where(p) for p in predicate.parts], " OR ", "0")
    if isinstance(predicate, AllOf):
        return _joined([where(p) for p in predicate.parts], " AND ", "1")
    if isinstance(predicate, Not):
        inner = where(predicate.part)
        if not inner.exact:
            return TRUE  # nothing narrows it; the matcher decides
        return Sql(f"NOT ({inner.text})", inner.params)
    if isinstance(predicate, Refers):
        return _refers(predicate)
    if isinstance(predicate, ReferredBy):
        return _referred_by(predicate)
    raise TypeError(f"not a predicate: {predicate!r}")


def live_rows(types: tuple[str, ...], driver: Sql | None, condition: Sql) -> Sql:
    """The condition on ``resources r`` of a current resource of ``types`` (of any type
    when there are none) for which ``condition`` holds, its rows taken from ``driver``'s
    row ids when there is one: then the unary + keeps SQLite from walking the types' rows
    by another index instead of looking those few ids up."""
    terms: list[str] = []
    params: list[Any] = []
    if driver is not None:
        terms.append(f"r.id IN ({driver.text})")
        params += driver.params
    terms.append("r.body IS NOT NULL")
    if types:
        on_type = "+r.type" if driver is not None else "r.type"
        marks = "= ?" if len(types) == 1 else f"IN ({', '.join('?' * len(types))})"
        terms.append(f"{on_type} {marks}")
        params += types
    terms.append(f"({condition.text})")
    params += condition.params
    return Sql(" AND ".join(terms), params, condition.exact)


def _nested(types: tuple[str, ...], inner: Predicate, column: str) -> Sql:
    """``SELECT r.column`` of the current resources of ``types`` for which ``inner`` holds:
    a nested query over ``resources r`` (its ``r`` hides the outer one within it), driven
    by ``inner``'s driver when it has one."""
    found = where(inner)
    rest = Sql("1") if found.covered else found  # a covering driver admits just its rows
    rows = live_rows(types, found.driver, rest)
    return Sql(f"SELECT r.{column} FROM resources r WHERE {rows.text}", rows.params, found.exact)


def _refers(hop: Refers) -> Sql:
    """A chain hop as a semi-join: an entry of ``code`` whose reference is the key of a
    matching target (references are indexed as ``Type/id``, the target's key)."""
    keys = _nested(hop.types, hop.inner, "key")
    clause = f'e.p = ? AND e."r" IN ({keys.text})'
    params = [hop.code, *keys.params]
    driver = Sql(f"SELECT e.res FROM entries e WHERE {clause}", params)
    check = (
        f"EXISTS (SELECT 1 FROM entries e INDEXED BY entries_res_p WHERE e.res = r.id AND {clause})"
    )
    return Sql(check, list(params), keys.exact, driver, covered=keys.exact)


def _referred_by(hop: ReferredBy) -> Sql:
    """A ``_has`` hop as a semi-join: this resource's key among the references of ``code``
    that matching referrers hold."""
    referrers = _nested((hop.resource_type,), hop.inner, "id")
    references = f'SELECT e."r" FROM entries e WHERE e.p = ? AND e.res IN ({referrers.text})'
    params = [hop.code, *referrers.params]
    driver = Sql(f"SELECT id FROM resources WHERE key IN ({references})", params)
    return Sql(f"r.key IN ({references})", list(params), referrers.exact, driver, referrers.exact)


def join_all(parts: list[Sql]) -> Sql:
    """Rendered conditions that must all hold."""
    return _joined(parts, " AND ", "1")


def _joined(parts: list[Sql], operator: str, empty: str) -> Sql:
    """``parts`` joined by ``operator`` (" AND " or " OR "); ``empty`` when there are none.
    A part that narrows nothing (``TRUE``) makes an OR narrow nothing and drops out of an
    AND, which is then a necessary condition only. An AND is driven by any part's driver,
    an OR by the union of all of theirs."""
    exact = all(p.exact for p in parts)
    if operator == " OR " and any(p is TRUE for p in parts):
        return TRUE
    parts = [p for p in parts if p is not TRUE]
    if not parts:
        return Sql(empty, exact=exact)
    if len(parts) == 1:
        only = parts[0]
        return Sql(only.text, only.params, exact, only.driver, only.covered and exact)
    drivers = [p.driver for p in parts if p.driver is not None]
    driver: Sql | None = None
    covered = False
    if operator == " AND " and drivers:
        driver = drivers[0]
    elif operator == " OR " and len(drivers) == len(parts):
        union = " UNION ALL ".join(d.text for d in drivers)
        union_params = [value for d in drivers for value in d.params]
        driver = Sql(union, union_params, ranged=any(d.ranged for d in drivers))
        covered = all(p.covered for p in parts)
    params = [value for p in parts for value in p.params]
    return Sql(operator.join(f"({p.text})" for p in parts), params, exact, driver, covered)


def _entry(code: str, conds: tuple[Cond, ...]) -> Sql:
    terms: list[str] = []
    params: list[Any] = []
    exact = True
    if code != ANY_PARAMETER:
        terms.append("e.p = ?")
        params.append(code)
    for cond in (*conds, *_implied(conds)):
        rendered = _entry_cond(cond)
        if rendered is None:
            exact = False
            continue
        terms.append(rendered.text)
        params += rendered.params
        exact = exact and rendered.exact
    clause = " AND ".join(terms) or "1"
    ranged = any(c.op not in ("eq", "in", "has", "null") for c in conds)
    driver = Sql(f"SELECT e.res FROM entries e WHERE {clause}", params, ranged=ranged)
    check = (
        f"EXISTS (SELECT 1 FROM entries e INDEXED BY entries_res_p WHERE e.res = r.id AND {clause})"
    )
    return Sql(check, list(params), exact, driver, covered=exact)


def _implied(conds: tuple[Cond, ...]) -> list[Cond]:
    """Conditions that follow from ``conds`` and bound an index scan: ``lo < hi`` holds in
    every entry (``search/extract``), and a string's ``v`` is its folded ``x``."""
    implied: list[Cond] = []
    for cond in conds:
        if cond.field == "hi" and cond.op in ("lte", "lt"):
            implied.append(Cond("lo", "lt", cond.value))
        elif cond.field == "lo" and cond.op in ("gte", "gt"):
            implied.append(Cond("hi", "gt", cond.value))
        elif cond.field == "x" and cond.op == "eq" and isinstance(cond.value, str):
            implied.append(Cond("v", "eq", fold(cond.value)))
    return implied


def _entry_cond(cond: Cond) -> Sql | None:
    if cond.field == "r" and cond.op == "suffix" and _is_id_suffix(cond.value):
        return Sql("e.rt = ?", [cond.value[1:]])
    column = _ENTRY_COLUMNS.get(cond.field)
    return None if column is None else _compare(f"e.{column}", cond)


def _is_id_suffix(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/") and "/" not in value[1:]


def _field(cond: Cond) -> Sql:
    column = _RESOURCE_COLUMNS.get(cond.field)
    rendered = None if column is None else _compare(column, cond)
    if rendered is None:
        return TRUE
    if cond.field == ID_FIELD and cond.op in ("eq", "in"):
        # ``_id``: the resources of those ids, from the index on ``rid``
        ids = _compare("rid", cond)
        assert ids is not None
        rendered.driver = Sql(f"SELECT id FROM resources WHERE {ids.text}", ids.params)
        rendered.covered = True
    return rendered


def _compare(column: str, cond: Cond) -> Sql | None:
    op, value = cond.op, cond.value
    if op == "null":
        return Sql(f"{column} IS NULL")
    if op in _COMPARE:
        return Sql(f"{column} {_COMPARE[op]} ?", [sql_value(value)])
    if op == "in":
        values = [sql_value(v) for v in value]
        if not values:
            return Sql("0")
        return Sql(f"{column} IN ({', '.join('?' * len(values))})", values)
    if not isinstance(value, str):
        return None
    if op == "prefix":
        if not value:
            return Sql(f"{column} >= ''")  # every string
        return Sql(f"{column} >= ? AND {column} < ?", [value, value + PREFIX_END])
    if op == "suffix":
        if not value:
            return Sql(f"typeof({column}) = 'text'")
        return Sql(f"substr({column}, -?) = ?", [len(value), value])
    if op == "contains":
        return Sql(f"instr({column}, ?) > 0", [value])
    return None
