"""The HTTP adapter: FastAPI routes, headers and media types; nothing below imports it."""
