"""The conformance resources a server knows, built into compiled profiles once.

``ProfileSet.build`` reads StructureDefinitions (constraint profiles, extension
definitions), ValueSets and CodeSystems; anything else is ignored. Every profile's snapshot
is generated from its differential over its base (a base R4 type, or another profile of the
set, built first); a profile whose base is not known is read from its own snapshot. Each is
then compiled, and references between profiles (an extension's definition, a target
profile) are resolved, so a bad resource fails here, naming its url and element, never
while a resource is being checked.

Beneath the given resources lies the core layer (``core.py``): the R4 extension definitions,
ValueSets and CodeSystems, each overridden by a given resource with its canonical url. A core
extension definition is compiled only when a profile of the set names it, or when a
resource carrying that extension is first checked, so a build costs what the server's own
profiles need. The set is otherwise immutable once built.
"""

from __future__ import annotations

import logging
from collections import ChainMap
from collections.abc import Iterable, Mapping
from typing import Any

from fhircare.validation.profiles.base import base_type, core_type_of
from fhircare.validation.profiles.compile import Compiler
from fhircare.validation.profiles.core import EMPTY, core_layer
from fhircare.validation.profiles.definition import Definition, copy_tree, type_tree
from fhircare.validation.profiles.errors import ProfileError
from fhircare.validation.profiles.profile import Profile, ProfileRef
from fhircare.validation.profiles.snapshot import apply_elements, element_list
from fhircare.validation.profiles.terminology import Terminology, canonical

log = logging.getLogger(__name__)


def _url(resource: Mapping[str, Any]) -> str:
    url = resource.get("url")
    if not isinstance(url, str) or not url:
        name = resource.get("id") or resource.get("name") or "?"
        raise ProfileError(f"{resource.get('resourceType')}/{name}", "has no url")
    return canonical(url)


def _check_definition(url: str, definition: Mapping[str, Any]) -> None:
    if definition.get("derivation") != "constraint":
        raise ProfileError(url, "is not a constraint profile (derivation must be 'constraint')")
    type_name = definition.get("type")
    if not isinstance(type_name, str) or base_type(type_name) is None:
        raise ProfileError(url, f"constrains {type_name!r}, which is not a type served here")
    base_url = definition.get("baseDefinition")
    if not isinstance(base_url, str):
        raise ProfileError(url, "has no baseDefinition")
    base_core = core_type_of(base_url)
    if base_core is not None and base_core != type_name:
        raise ProfileError(url, f"constrains {type_name} but its base is {base_core}")


class _Builder:
    def __init__(self, definitions: Mapping[str, Mapping[str, Any]]) -> None:
        self.definitions = definitions
        self.trees: dict[str, Definition] = {}
        self.building: set[str] = set()

    def tree(self, url: str) -> Definition:
        """The snapshot of ``url``, its base profile's first."""
        found = self.trees.get(url)
        if found is not None:
            return found
        if url in self.building:
            raise ProfileError(url, "its baseDefinition chain comes back to it")
        self.building.add(url)
        definition = self.definitions[url]
        type_name = definition["type"]
        base_url = canonical(definition["baseDefinition"])
        start: Definition | None = None
        if base_url in self.definitions:
            start = copy_tree(self.tree(base_url))
        elif core_type_of(base_url) is not None:
            start = type_tree(type_name)
        differential = element_list(definition, "differential", url)
        snapshot = element_list(definition, "snapshot", url)
        if start is not None and differential is not None:
            tree = apply_elements(start, differential, url)
        elif snapshot is not None:
            tree = apply_elements(start or type_tree(type_name), snapshot, url)
        elif start is not None:
            tree = start
        else:
            raise ProfileError(url, f"its base {base_url} is not known and it has no snapshot")
        self.building.discard(url)
        self.trees[url] = tree
        return tree


class _Linker:
    """Compiles definitions (the given ones, and core ones when first needed) and fills in
    each ``ProfileRef`` between them."""

    def __init__(
        self,
        definitions: Mapping[str, Mapping[str, Any]],
        core: Mapping[str, Mapping[str, Any]],
        terminology: Terminology,
    ) -> None:
        self.definitions = ChainMap(dict(definitions), dict(core))
        self.core = core
        self.terminology = terminology
        self.builder = _Builder(self.definitions)
        self.profiles: dict[str, Profile] = {}
        self.refs: dict[str, ProfileRef] = {}
        self.unresolved: list[ProfileRef] = []
        self.unusable: set[str] = set()

    def ref(self, url: str) -> ProfileRef:
        key = canonical(url)
        found = self.refs.get(key)
        if found is None:
            found = self.refs[key] = ProfileRef(key)
            self.unresolved.append(found)
        return found

    def type_of(self, url: str) -> str | None:
        found = self.definitions.get(canonical(url))
        return str(found["type"]) if found is not None else None

    def compile(self, url: str) -> Profile:
        definition = self.definitions[url]
        root = Compiler(url, self.terminology, self.ref, self.type_of).compile(
            self.builder.tree(url)
        )
        version = definition.get("version")
        profile = Profile(
            url,
            version if isinstance(version, str) else None,
            str(definition.get("name") or url),
            definition["type"],
            str(definition.get("kind", "")),
            root,
        )
        self.profiles[url] = profile
        return profile

    def link(self) -> None:
        """Fill in every reference made so far, compiling the core definitions named."""
        while self.unresolved:
            ref = self.unresolved.pop()
            ref.profile = self.profiles.get(ref.url) or self._from_core(ref.url)

    def _from_core(self, url: str) -> Profile | None:
        if url not in self.core or url in self.unusable:
            return None
        return self.compile(url)

    def on_demand(self, url: str) -> Profile | None:
        """A core definition first asked for while checking: compiled now, or None when it
        cannot be (logged once; the packaged ones are all tested to build)."""
        try:
            found = self._from_core(url)
            self.link()
        except ProfileError as error:
            log.warning("core definition not usable: %s", error)
            self.unusable.add(url)
            self.profiles.pop(url, None)
            return None
        return found


class ProfileSet:
    """Conformance resources known to the server: StructureDefinitions (constraint profiles,
    extension definitions), ValueSets, CodeSystems, over the core R4 ones. Cheap to rebuild."""

    __slots__ = ("_linker", "_own")

    def __init__(self, linker: _Linker, own: frozenset[str]) -> None:
        self._linker = linker
        self._own = own

    @classmethod
    def build(cls, resources: Iterable[Mapping[str, Any]], *, core: bool = True) -> ProfileSet:
        """Read and compile ``resources`` (over the core layer unless ``core`` is False);
        ``ProfileError`` names a bad one (url, element)."""
        layer = core_layer() if core else EMPTY
        definitions: dict[str, Mapping[str, Any]] = {}
        value_sets: dict[str, Mapping[str, Any]] = {}
        code_systems: dict[str, Mapping[str, Any]] = {}
        for resource in resources:
            kind = resource.get("resourceType")
            if kind == "StructureDefinition":
                url = _url(resource)
                _check_definition(url, resource)
                definitions[url] = resource
            elif kind == "ValueSet":
                value_sets[_url(resource)] = resource
            elif kind == "CodeSystem":
                code_systems[_url(resource)] = resource
        terminology = Terminology(value_sets, code_systems, layer)
        terminology.check_all()
        linker = _Linker(definitions, layer.extensions, terminology)
        for url in definitions:
            linker.compile(url)
        linker.link()
        return cls(linker, frozenset(definitions))

    def profile(self, url: str) -> Profile | None:
        """The compiled profile (or extension definition) at ``url``, which may carry
        ``|version``: None when unknown or of another version."""
        base, _, version = url.partition("|")
        found = self._linker.profiles.get(base) or self._linker.on_demand(base)
        if found is None or (version and found.version is not None and found.version != version):
            return None
        return found

    def urls(self) -> list[str]:
        """Canonical urls of the server's constraint profiles, extension definitions left out."""
        return sorted(url for url in self._own if not self._linker.profiles[url].is_extension)

    def profiles_for(self, resource_type: str) -> list[str]:
        """Urls of the server's profiles that constrain ``resource_type``."""
        return sorted(url for url in self._own if self._linker.profiles[url].type == resource_type)
