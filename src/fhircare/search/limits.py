"""How much one search may ask for; past a limit parsing answers 400 ``too-costly``.

https://hl7.org/fhir/R4/search.html#errors: a server may refuse a search it considers
too costly. ``parse`` (``search/parse.py``) enforces these; ``default_count`` and
``max_count`` also size pages (https://hl7.org/fhir/R4/search.html#count).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SearchLimits:
    """The limits of one search request.

    ``max_chain_depth`` bounds the hops of one parameter (chain and ``_has`` together),
    ``max_or_values`` the comma-separated values of one parameter, ``max_clauses`` the
    search parameters of one request, ``max_includes`` its ``_include``/``_revinclude``.
    ``_count`` above ``max_count`` is lowered to it; no ``_count`` means ``default_count``.
    """

    max_chain_depth: int = 3
    max_or_values: int = 100
    max_clauses: int = 50
    max_includes: int = 20
    max_count: int = 1000
    default_count: int = 20

    def page_size(self, count: int | None) -> int:
        """The page size for a request's ``count`` (None when it gave no ``_count``)."""
        return self.default_count if count is None else min(count, self.max_count)
