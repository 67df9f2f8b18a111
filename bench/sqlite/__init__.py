"""The benchmark of fhircare on its embedded SQLite store (``python -m bench.sqlite``).

Every row runs over HTTP against a server on a SQLite file and, in the same run, as raw
sqlite3 doing the store's own work on the same file: the statements the store runs for a
read-only request (recorded from an in-process store on that file, ``recorded.py``) and
the store's own write statements for a write (``raw.py``), without HTTP, parsing,
validation or indexing.
"""
