"""After the load: does each server hold what the bundles hold?

``GET [type]?_summary=count`` (https://hl7.org/fhir/R4/search.html#summary) for a few
types, compared with ``data.expected_counts`` and across servers. Cheap on any server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import httpx


async def total(http: httpx.AsyncClient, path: str, params: Sequence[tuple[str, str]]) -> int:
    """``Bundle.total`` of a search; raises when the answer is not a Bundle with one."""
    response = await http.get(path, params=list(params))
    response.raise_for_status()
    found = response.json().get("total")
    if not isinstance(found, int):
        raise ValueError(f"GET {path} answered a Bundle without total")
    return found


async def counts(http: httpx.AsyncClient, types: Iterable[str]) -> dict[str, int | None]:
    """How many of each type the server holds (None when it could not say)."""
    found: dict[str, int | None] = {}
    for kind in types:
        try:
            found[kind] = await total(http, kind, [("_summary", "count")])
        except (httpx.HTTPError, ValueError):
            found[kind] = None
    return found


def problems(
    expected: Mapping[str, int],
    before: Mapping[str, Mapping[str, int | None]],
    after: Mapping[str, Mapping[str, int | None]],
) -> list[str]:
    """What differs: a server whose count is not the bundles' (or that held some before)."""
    found: list[str] = []
    for label, held in before.items():
        nonempty = {kind: n for kind, n in held.items() if n}
        if nonempty:
            listed = ", ".join(f"{n:,} {kind}" for kind, n in nonempty.items())
            found.append(f"{label} was not empty before the load ({listed}): counts include those")
    for label, held in after.items():
        for kind, want in expected.items():
            if held.get(kind) != want:
                got = held.get(kind)
                found.append(
                    f"{label}: {kind} count {'unknown' if got is None else f'{got:,}'}, "
                    f"the bundles hold {want:,}"
                )
    return found
