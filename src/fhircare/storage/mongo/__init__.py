"""The MongoDB store (pymongo's native async API); the only pymongo importer."""
