"""The conformance resources a server knows, built into compiled profiles once.

``ProfileSet.build`` reads StructureDefinitions (constraint profiles, extension
definitions), ValueSets and CodeSystems; anything else is ignored. Every profile's snapshot
is generated from its differential over its base (a base R4 type, or another profile of the
set, built first); a profile whose base is not known is read from its own snapshot. Each is
then compiled, and references between profiles (an extension's definition, a target
profile) are resolved, so a bad resource fails here, naming its url and element, never
while a resource is being checked. The set is immutable once built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fhircare.validation.profiles.base import base_type, core_type_of
from fhircare.validation.profiles.compile import Compiler
from fhircare.validation.profiles.definition import Definition, copy_tree, type_tree
from fhircare.validation.profiles.errors import ProfileError
from fhircare.validation.profiles.profile import Profile, ProfileRef
from fhircare.validation.profiles.snapshot import apply_elements, element_list
from fhircare.validation.profiles.terminology import Terminology, canonical


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
    def __init__(self, definitions: dict[str, Mapping[str, Any]]) -> None:
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


class ProfileSet:
    """Conformance resources known to the server: StructureDefinitions (constraint profiles,
    extension definitions), ValueSets, CodeSystems. Immutable once built; cheap to rebuild."""

    __slots__ = ("_profiles", "_terminology")

    def __init__(self, profiles: dict[str, Profile], terminology: Terminology) -> None:
        self._profiles = profiles
        self._terminology = terminology

    @classmethod
    def build(cls, resources: Iterable[Mapping[str, Any]]) -> ProfileSet:
        """Read and compile ``resources``; ``ProfileError`` names a bad one (url, element)."""
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
        terminology = Terminology(value_sets, code_systems)
        terminology.check_all()
        builder = _Builder(definitions)
        refs: dict[str, ProfileRef] = {}

        def ref(url: str) -> ProfileRef:
            key = canonical(url)
            return refs.setdefault(key, ProfileRef(key))

        def type_of(url: str) -> str | None:
            found = definitions.get(canonical(url))
            return str(found["type"]) if found is not None else None

        profiles: dict[str, Profile] = {}
        for url, definition in definitions.items():
            root = Compiler(url, terminology, ref, type_of).compile(builder.tree(url))
            version = definition.get("version")
            profiles[url] = Profile(
                url,
                version if isinstance(version, str) else None,
                str(definition.get("name") or url),
                definition["type"],
                str(definition.get("kind", "")),
                root,
            )
        for key, found in refs.items():
            found.profile = profiles.get(key)
        return cls(profiles, terminology)

    def profile(self, url: str) -> Profile | None:
        """The compiled profile (or extension definition) at ``url``, which may carry
        ``|version``: None when unknown or of another version."""
        base, _, version = url.partition("|")
        found = self._profiles.get(base)
        if found is None or (version and found.version is not None and found.version != version):
            return None
        return found

    def urls(self) -> list[str]:
        """Canonical urls of the constraint profiles, extension definitions left out."""
        return sorted(url for url, p in self._profiles.items() if not p.is_extension)

    def profiles_for(self, resource_type: str) -> list[str]:
        """Urls of the profiles that constrain ``resource_type``."""
        return sorted(url for url, p in self._profiles.items() if p.type == resource_type)
