"""The tables and indexes of the SQLite store, created idempotently by ``open``.

- ``resources``: the current version of each resource (a tombstone has no ``body``), its
  index entries as JSON (``idx``, for the exact matcher) and sort values (``sk``); ``id``
  is the row number that ``entries`` and ``sorts`` point at.
- ``history``: every version, keyed by its write sequence number ``seq`` (the rowid, so
  ``max(seq)`` is one B-tree step), with its sort values for exact paging.
- ``entries``: one row per index entry of a current, live version, with a partial B-tree
  index per kind of lookup, each led by the parameter code ``p``: token code (and system),
  string/uri value, reference (and its id), range ends, identifier value, composite key.
- ``sorts``: the ``_sort`` value of each parameter a current version has, ascending (``a``,
  the smallest) and descending (``d``, the largest).
- ``claims``: conditional operations' locks.
- ``state``: the small key-value state records (``protocol.StateRecord``), each value JSON.
"""

from __future__ import annotations

TABLES = """
CREATE TABLE IF NOT EXISTS resources (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    rid TEXT NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    method TEXT NOT NULL,
    body BLOB,
    idx BLOB,
    sk BLOB
);
CREATE INDEX IF NOT EXISTS resources_type_key ON resources (type, key);
CREATE INDEX IF NOT EXISTS resources_seq ON resources (seq);
CREATE INDEX IF NOT EXISTS resources_rid ON resources (rid);
CREATE INDEX IF NOT EXISTS resources_type_updated ON resources (type, last_updated);

CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    rid TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    method TEXT NOT NULL,
    body BLOB,
    sk BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS history_version ON history (type, rid, version);
CREATE INDEX IF NOT EXISTS history_type_seq ON history (type, seq);
CREATE INDEX IF NOT EXISTS history_updated ON history (last_updated);

CREATE TABLE IF NOT EXISTS entries (
    res INTEGER NOT NULL,
    p TEXT NOT NULL,
    rt TEXT,
    k TEXT,
    "s", "c", "v", "x", "t", "ot", "r", "is", "iv", "lo", "hi", "u"
);
CREATE INDEX IF NOT EXISTS entries_res_p ON entries (res, p);
CREATE INDEX IF NOT EXISTS entries_p ON entries (p, res);
CREATE INDEX IF NOT EXISTS entries_token ON entries (p, "c", "s") WHERE "c" IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_value ON entries (p, "v") WHERE "v" IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_ref ON entries (p, "r") WHERE "r" IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_ref_id ON entries (p, rt) WHERE rt IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_lo ON entries (p, "lo") WHERE "lo" IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_hi ON entries (p, "hi") WHERE "hi" IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_ident ON entries (p, "iv") WHERE "iv" IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_key ON entries (p, k) WHERE k IS NOT NULL;

CREATE TABLE IF NOT EXISTS sorts (
    res INTEGER NOT NULL,
    name TEXT NOT NULL,
    a,
    d,
    PRIMARY KEY (res, name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS claims (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    taken REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS state (
    space TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    rev INTEGER NOT NULL,
    PRIMARY KEY (space, key)
) WITHOUT ROWID;
"""
