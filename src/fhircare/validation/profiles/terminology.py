"""ValueSet expansion from the ValueSets and CodeSystems the server knows, with no I/O.

https://hl7.org/fhir/R4/valueset.html#compose: each ``compose.include`` adds its listed
``concept``s, or all of a local CodeSystem's concepts when it names only a ``system``,
intersected with the value sets it imports (``valueSet``); ``compose.exclude`` takes codes
away the same way. A ValueSet that already carries an ``expansion`` is read from it. What
cannot be worked out here (a filter, a code system we do not hold in full, an unknown
import) makes the value set unexpandable, and its codes are then not checked. The server's
own ValueSets and CodeSystems come first; the core ones (``core.py``) fill in the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fhircare.validation.profiles.core import EMPTY, CoreLayer
from fhircare.validation.profiles.errors import ProfileError


@dataclass(frozen=True, slots=True)
class Expansion:
    """The codes of a value set: (system, code) pairs, and the codes alone."""

    codes: frozenset[tuple[str, str]]
    bare: frozenset[str]


@dataclass(frozen=True, slots=True)
class Unexpandable:
    reason: str


class _NotHere(Exception):
    pass


def canonical(url: str) -> str:
    """A canonical url without its ``|version``."""
    return url.partition("|")[0]


def _concepts(concepts: Any, url: str) -> Iterable[str]:
    """Every code of a CodeSystem's (possibly nested) concepts."""
    for concept in concepts or ():
        code = concept.get("code") if isinstance(concept, Mapping) else None
        if not isinstance(code, str):
            raise ProfileError(url, "a concept has no code")
        yield code
        yield from _concepts(concept.get("concept"), url)


class Terminology:
    """The ValueSets and CodeSystems of one ProfileSet over the ``core`` ones; each
    expansion worked out once, when first asked for."""

    def __init__(
        self,
        value_sets: Mapping[str, Mapping[str, Any]],
        code_systems: Mapping[str, Mapping[str, Any]],
        core: CoreLayer = EMPTY,
    ) -> None:
        self._value_sets = dict(value_sets)
        self._systems: dict[str, frozenset[str] | None] = {}
        for url, system in code_systems.items():
            complete = system.get("content", "complete") == "complete"
            codes = frozenset(_concepts(system.get("concept"), url))
            self._systems[url] = codes if complete else None
        self._core = core
        self._done: dict[str, Expansion | Unexpandable] = {}

    def system_codes(self, url: str) -> frozenset[str] | None:
        """Every code of the code system at ``url``, or None unless it is held in full."""
        key = canonical(url)
        if key in self._systems:
            return self._systems[key]
        return self._core.code_systems.get(key)

    def expansion(self, url: str) -> Expansion | Unexpandable:
        key = canonical(url)
        found = self._done.get(key)
        if found is None:
            try:
                codes = self._expand(key, ())
                found = Expansion(frozenset(codes), frozenset(code for _, code in codes))
            except _NotHere as exc:
                found = Unexpandable(str(exc))
            self._done[key] = found
        return found

    def check_all(self) -> None:
        """Expand every value set of the server's once, so a malformed one fails when the
        set is built."""
        for url in self._value_sets:
            self.expansion(url)

    def _expand(self, url: str, seen: tuple[str, ...]) -> set[tuple[str, str]]:
        if url in seen:
            raise ProfileError(url, "the value set imports itself")
        value_set = self._value_sets.get(url) or self._core.value_sets.get(url)
        if value_set is None:
            raise _NotHere(f"value set {url} is not known here")
        expansion = value_set.get("expansion")
        if isinstance(expansion, Mapping) and "contains" in expansion:
            return set(self._contains(expansion["contains"], url))
        compose = value_set.get("compose")
        if not isinstance(compose, Mapping) or not compose.get("include"):
            raise _NotHere(f"value set {url} has no compose.include")
        codes: set[tuple[str, str]] = set()
        for include in compose["include"]:
            codes |= self._part(include, url, (*seen, url))
        for exclude in compose.get("exclude") or ():
            codes -= self._part(exclude, url, (*seen, url))
        return codes

    def _contains(self, contains: Any, url: str) -> Iterable[tuple[str, str]]:
        for item in contains or ():
            if not isinstance(item, Mapping):
                raise ProfileError(url, "expansion.contains holds a non-object")
            if isinstance(item.get("code"), str):
                yield str(item.get("system", "")), item["code"]
            yield from self._contains(item.get("contains"), url)

    def _part(self, part: Any, url: str, seen: tuple[str, ...]) -> set[tuple[str, str]]:
        """The codes one compose.include (or exclude) names."""
        if not isinstance(part, Mapping):
            raise ProfileError(url, "compose.include/exclude holds a non-object")
        if part.get("filter"):
            raise _NotHere(f"value set {url} uses a filter")
        system = part.get("system")
        codes: set[tuple[str, str]] | None = None
        if system is not None:
            if not isinstance(system, str):
                raise ProfileError(url, "compose include.system must be a uri")
            if part.get("concept"):
                codes = {(system, code) for code in _concepts(part["concept"], url)}
            else:
                known = self.system_codes(system)
                if known is None:
                    raise _NotHere(f"code system {system} is not known here in full")
                codes = {(system, code) for code in known}
        imports = part.get("valueSet") or ()
        if system is None and not imports:
            raise ProfileError(url, "a compose.include names neither a system nor a value set")
        for imported in imports:
            other = self._expand(canonical(imported), seen)
            codes = other if codes is None else codes & other
        return codes or set()
