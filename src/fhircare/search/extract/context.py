"""What every extractor needs besides the values: where the resource lives, and how to skip.

https://hl7.org/fhir/R4/search.html#ptypes. A value that cannot be indexed is logged and
skipped, never raised: a write must not fail because one of its values is not searchable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fhircare.fhir.errors import FhirError
from fhircare.search.entries import Entry

LOG = logging.getLogger("fhircare.search")


@dataclass(frozen=True)
class ExtractContext:
    """The resource being indexed.

    ``base_url`` is this server's FHIR base (absolute references on it are made relative);
    ``contained`` maps a contained resource's id to its type, so ``#id`` references get a
    ``ty`` (``index_resource`` fills it in from the resource).
    """

    resource_type: str
    base_url: str | None = None
    contained: Mapping[str, str] = field(default_factory=dict)


def skip(code: str, value: Any, reason: str) -> None:
    """Log that ``value`` of parameter ``code`` is not indexed, and why."""
    LOG.warning("search parameter %s: not indexing %s: %s", code, _shown(value), reason)


def nothing(code: str, value: Any, reason: str) -> None:
    """Note (at debug level) a well-formed value with nothing to index, such as a Timing
    with only a frequency or a Reference with only a display: no warning for valid data."""
    LOG.debug("search parameter %s: nothing to index in %s: %s", code, _shown(value), reason)


def collect(
    code: str,
    values: list[Any],
    entries_of: Callable[[Any], list[Entry] | None],
    not_a: str,
    empty: str,
) -> list[Entry]:
    """The entries ``entries_of`` gives for each value: skipped (``not_a``, or the error)
    when it gives None or raises ``FhirError``, noted (``empty``) when it gives none."""
    entries: list[Entry] = []
    for value in values:
        try:
            found = entries_of(value)
        except FhirError as exc:
            skip(code, value, str(exc))
            continue
        if found is None:
            skip(code, value, not_a)
            continue
        if not found:
            nothing(code, value, empty)
        entries += found
    return entries


def fields(value: dict[str, Any]) -> set[str]:
    """The element names of a JSON object, without ``_x`` primitive-extension siblings."""
    return {key for key in value if not key.startswith("_")}


def text(value: Any) -> str | None:
    """``value`` when it is a non-empty string without NUL (storable as is), else None."""
    if isinstance(value, str) and value and "\x00" not in value:
        return value
    return None


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown[:200] + "…" if len(shown) > 200 else shown
