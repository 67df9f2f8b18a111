"""The embedded store on SQLite (the standard library's sqlite3); the only sqlite3 importer."""
