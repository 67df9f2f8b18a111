"""Search on ``SqliteStore``: one SQL query per page, sorted and paged in SQL.

The predicates render to a ``WHERE`` clause (``compile.py``); ``_sort`` keys join the
``sorts`` table (missing values last in both directions, then the resource key), and pages
are keyset pages: strictly after the position of the previous page's last resource. With a
watermark (``SearchQuery.as_of``) paging is exact across concurrent writes, as the protocol
says: a resource written after the watermark stands where its version current at the
watermark stood (``history`` keeps each version's sort values). When the SQL is only a
necessary condition, candidates are read in growing batches and kept where
``search.match`` holds, the store-independent reference.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Any

from fhircare.search.match import matches
from fhircare.search.predicates import Predicate
from fhircare.search.request import SortKey
from fhircare.search.sort_values import RESOURCE_FIELDS, compare, field_name, sort_key, values_of
from fhircare.storage.protocol import (
    Position,
    SearchPage,
    SearchQuery,
    StoredVersion,
    resource_key,
)
from fhircare.storage.sqlite.codec import (
    decode_entries,
    decode_sort_values,
    parse_instant,
    sql_value,
)
from fhircare.storage.sqlite.compile import Sql, join_all, live_rows, where
from fhircare.storage.sqlite.database import Database
from fhircare.storage.sqlite.rows import VERSION_COLUMNS, to_stored

_SELECT = ", ".join(f"r.{c.strip()}" for c in VERSION_COLUMNS.split(",")) + ", r.sk, r.idx"
_RESOURCE_SORT_COLUMNS = {"_id": "r.rid", "_lastUpdated": "r.last_updated"}
Found = tuple[StoredVersion, Position]


@dataclass(frozen=True)
class Statement:
    """The parts of one search's SQL: joins for the sort keys, the condition, the order."""

    joins: str
    join_params: list[Any]
    condition: Sql
    undriven: Sql
    """``condition`` without a driver, every predicate checked per row: for a query that
    an index of ``resources`` serves better (what changed since a watermark)."""
    order: str
    columns: list[str]
    driven: bool
    """Whether the rows come from a driver's index lookups (by row id)."""
    unchecked: tuple[Predicate, ...]
    """The predicates the SQL renders only as a necessary condition: the matcher checks
    these on each candidate (and only these: a join has no in-memory form)."""


PROBE_LIMITS = (1_000, 20_000)
"""How many row ids of a driver each round of probing counts at most: the drivers still
tied at a round's limit are counted again up to the next one, so a condition admitting
three thousand rows is told from one admitting thirty thousand, and a selective one
costs only the first, cheap round. Past the last, an equality (a code, a reference) is
preferred to a range, which on dates is usually the broader."""


def choose_driver(connection: sqlite3.Connection, parts: list[Sql]) -> int | None:
    """The position of the part whose driver admits the fewest rows, None when no part
    has one: SQLite cannot know that ``patient=`` admits ten rows and ``status=`` a
    hundred thousand, so it is asked, counting each driver's index entries up to a limit
    (``PROBE_LIMITS``)."""
    driven = [i for i, part in enumerate(parts) if part.driver is not None]
    if len(driven) < 2:
        return driven[0] if driven else None

    def admitted(i: int, limit: int) -> int:
        driver = parts[i].driver
        assert driver is not None
        probe = f"SELECT count(*) FROM ({driver.text} LIMIT {limit})"
        return int(connection.execute(probe, driver.params).fetchone()[0])

    # equalities first: once one is counted, the others are counted only up to its count
    order = sorted(driven, key=lambda i: getattr(parts[i].driver, "ranged", False))
    for limit in PROBE_LIMITS:
        best, fewest = None, limit
        for i in order:
            found = admitted(i, fewest)
            if found < fewest:
                best, fewest = i, found
        if best is not None:
            return best
    return order[0]


def statement(connection: sqlite3.Connection, query: SearchQuery) -> Statement:
    """The SQL of ``query``: driven by its most selective indexed predicate, which is
    then checked no further where its driver is exact; every other predicate is checked
    on each row the driver gives."""
    joins: list[str] = []
    join_params: list[Any] = []
    order: list[str] = []
    columns: list[str] = []
    for i, key in enumerate(query.sort):
        column = _sort_column(i, key)
        columns.append(column)
        if key.code in RESOURCE_FIELDS:
            order.append(f"{column} DESC" if key.descending else column)
            continue
        joins.append(f"LEFT JOIN sorts s{i} ON s{i}.res = r.id AND s{i}.name = ?")
        join_params.append(field_name(key.code))
        order += [f"{column} IS NULL", f"{column} DESC" if key.descending else column]
    order.append("r.key")
    parts = [where(p) for p in query.predicates]
    unchecked = tuple(p for p, part in zip(query.predicates, parts, strict=True) if not part.exact)
    chosen = choose_driver(connection, parts)
    types = () if query.resource_type is None else (query.resource_type,)
    driver = None if chosen is None else parts[chosen].driver
    rest = parts
    if chosen is not None and parts[chosen].covered:  # its driver admits just its rows
        rest = parts[:chosen] + parts[chosen + 1 :]
    full = live_rows(types, driver, join_all(rest))
    # every predicate checked per row, no driver: for the few rows the seq index gives
    kept = live_rows(types, None, join_all(parts))
    return Statement(
        joins=" ".join(joins),
        join_params=join_params,
        condition=full,
        undriven=kept,
        order=", ".join(order),
        columns=columns,
        driven=driver is not None,
        unchecked=unchecked,
    )


def _sort_column(i: int, key: SortKey) -> str:
    if key.code in RESOURCE_FIELDS:
        return _RESOURCE_SORT_COLUMNS[key.code]
    return f"s{i}.{'d' if key.descending else 'a'}"


def keyset(query: SearchQuery, columns: list[str], after: Position) -> Sql:
    """Rows strictly after ``after`` in the statement's order: over each sort key, every
    earlier key equal and this one beyond (a missing value is beyond every value), and
    finally every key equal and a greater resource key."""
    terms: list[str] = []
    params: list[Any] = []
    equal: list[str] = []
    equal_params: list[Any] = []
    for key, column, value in zip(query.sort, columns, after.values, strict=True):
        if value is None:
            equal.append(f"{column} IS NULL")
            continue
        beyond = f"{column} {'<' if key.descending else '>'} ?"
        if key.code not in RESOURCE_FIELDS:
            beyond = f"({beyond} OR {column} IS NULL)"
        terms.append(" AND ".join([*equal, beyond]))
        params += [*equal_params, sql_value(value)]
        equal.append(f"{column} = ?")
        equal_params.append(sql_value(value))
    terms.append(" AND ".join([*equal, "r.key > ?"]))
    params += [*equal_params, after.key]
    return Sql(" OR ".join(f"({t})" for t in terms), params)


class SqliteSearch:
    """``SqliteStore``'s searches, over the database ``SqliteStore`` opens."""

    _db: Database

    async def search(self, query: SearchQuery) -> list[StoredVersion]:
        if query.as_of is not None:
            return (await self.search_page(query)).versions
        found = await self._db.read(
            lambda c: _matching(c, query, statement(c, query), None, query.count)
        )
        return [version for version, _ in found]

    async def search_page(self, query: SearchQuery) -> SearchPage:
        def work(connection: sqlite3.Connection) -> SearchPage:
            as_of = watermark(connection) if query.as_of is None else query.as_of
            sql = statement(connection, query)
            found = _matching(connection, query, sql, as_of, query.count)
            found += _moved(connection, query, sql, as_of)
            found.sort(key=lambda f: sort_key(query.sort)((f[1].values, f[1].key)))
            found = found[: query.count]
            return SearchPage([v for v, _ in found], [p for _, p in found], as_of)

        return await self._db.read(work)

    async def count(self, query: SearchQuery) -> int:
        def work(connection: sqlite3.Connection) -> int:
            unpaged = replace(query, after=None, sort=())
            found = statement(connection, unpaged)
            if found.condition.exact:
                sql = f"SELECT count(*) FROM resources r WHERE {found.condition.text}"
                return int(connection.execute(sql, found.condition.params).fetchone()[0])
            return len(_matching(connection, unpaged, found, None, None))

        return await self._db.read(work)


def watermark(connection: sqlite3.Connection) -> int:
    """The highest write sequence number committed (every version is at or below it)."""
    return int(connection.execute("SELECT max(seq) FROM history").fetchone()[0] or 0)


def _matching(
    connection: sqlite3.Connection,
    query: SearchQuery,
    found_statement: Statement,
    as_of: int | None,
    limit: int | None,
) -> list[Found]:
    """Matches at or below ``as_of`` in ``query`` order after ``query.after``; SQL alone
    when it is exact, else growing batches of candidates checked by the matcher."""
    exact = found_statement.condition.exact
    batch = limit if exact else (None if limit is None else max(100, 2 * limit))
    after = query.after
    found: list[Found] = []
    while True:
        rows = _rows(connection, query, found_statement, as_of, after, batch)
        for row in rows:
            if exact or _holds(found_statement, row):
                found.append(_found(query, row))
        if batch is None or len(rows) < batch or exact or len(found) >= (limit or 0):
            break
        after = _found(query, rows[-1])[1]
        batch *= 2
    return found if limit is None else found[:limit]


def _rows(
    connection: sqlite3.Connection,
    query: SearchQuery,
    found: Statement,
    as_of: int | None,
    after: Position | None,
    limit: int | None,
) -> list[Any]:
    sql, params = page_sql(query, found, as_of, after, limit)
    return connection.execute(sql, params).fetchall()


def page_sql(
    query: SearchQuery,
    found: Statement,
    as_of: int | None,
    after: Position | None,
    limit: int | None,
) -> tuple[str, list[Any]]:
    """The statement and parameters of one page of candidates (the benchmark runs it raw).
    The page's row ids are sorted first and only then are their bodies read, so a sort
    over many matches never carries their bodies; the index entries (``idx``) are read
    only for the matcher, when the SQL is not exact."""
    condition = found.condition
    text, params = condition.text, list(condition.params)
    if as_of is not None:
        text += f" AND {'+' if found.driven else ''}r.seq <= ?"
        params.append(as_of)
    if after is not None:
        beyond = keyset(query, found.columns, after)
        text += f" AND ({beyond.text})"
        params += beyond.params
    columns = _SELECT if not condition.exact else _SELECT.replace("r.idx", "NULL")
    where = f"WHERE {text} ORDER BY {found.order}"
    if limit is None:
        sql = f"SELECT {columns} FROM resources r {found.joins} {where}"
        return sql, [*found.join_params, *params]
    ids = f"SELECT r.id FROM resources r {found.joins} {where} LIMIT ?"
    sql = (
        f"SELECT {columns} FROM resources r {found.joins} WHERE r.id IN ({ids}) "
        f"ORDER BY {found.order}"
    )
    return sql, [*found.join_params, *found.join_params, *params, limit]


def _holds(found: Statement, row: Any) -> bool:
    fields = {"rid": row[1], "lastUpdated": parse_instant(row[3]), "type": row[0]}
    entries = decode_entries(row[8])
    return all(matches(p, entries, fields) for p in found.unchecked)


def _found(query: SearchQuery, row: Any) -> Found:
    version = to_stored(row)
    fields = {"rid": version.id, "lastUpdated": version.last_updated}
    values = values_of(query.sort, decode_sort_values(row[7]), fields)
    return version, Position(values, resource_key(version.resource_type, version.id))


def _moved(
    connection: sqlite3.Connection, query: SearchQuery, found: Statement, as_of: int
) -> list[Found]:
    """Matches written after ``as_of``, each placed where its version current at ``as_of``
    stood; those created (or recreated) after ``as_of`` are left out."""
    changed = found.undriven  # few rows changed since: the seq index finds them
    source = "resources r INDEXED BY resources_seq"
    sql = f"SELECT {_SELECT} FROM {source} WHERE {changed.text} AND r.seq > ?"
    rows = connection.execute(sql, [*changed.params, as_of]).fetchall()
    placed: list[Found] = []
    for row in rows:
        if not found.condition.exact and not _holds(found, row):
            continue
        then = connection.execute(
            # the resource's own versions: else SQLite walks the type's by (type, seq)
            "SELECT rid, last_updated, body, sk FROM history INDEXED BY history_version "
            "WHERE type = ? AND rid = ? AND seq <= ? ORDER BY version DESC LIMIT 1",
            (row[0], row[1], as_of),
        ).fetchone()
        if then is None or then[2] is None:
            continue
        fields = {"rid": then[0], "lastUpdated": parse_instant(then[1])}
        values = values_of(query.sort, decode_sort_values(then[3]), fields)
        position = Position(values, resource_key(row[0], row[1]))
        if (
            query.after is None
            or compare(
                query.sort, (position.values, position.key), (query.after.values, query.after.key)
            )
            > 0
        ):
            placed.append((to_stored(row), position))
    return placed
