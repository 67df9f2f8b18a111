"""Slice discriminators, compiled into matchers: https://hl7.org/fhir/R4/profiling.html#discriminator

A discriminator's path (``discriminator_paths``) is followed twice: through the slice's
definition when compiling, to find what the slice says there (a fixed or pattern value, a
required binding, a cardinality, types, profiles), and through each occurrence's JSON when
checking, to find the values to compare.

- value, pattern: some value there equals the fixed value, or contains the pattern, or is
  in the value set of a required binding; on an extension's ``url``, the extension's
  profile url stands in for a fixed value.
- exists: the element is present (the slice says min 1) or absent (max 0).
- type: some value there is of one of the slice's types; after ``resolve()``, a reference
  whose target type is one of the target profiles' types.
- profile: some value conforms to one of the profiles; after ``resolve()``, only the
  target's type can be compared, as nothing is fetched.

With no discriminator at all, an occurrence belongs to a slice it conforms to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fhircare.validation.profiles.base import core_type_of
from fhircare.validation.profiles.definition import Definition
from fhircare.validation.profiles.discriminator_paths import DiscriminatorPath
from fhircare.validation.profiles.errors import ProfileError
from fhircare.validation.profiles.facts import Discriminator
from fhircare.validation.profiles.nodes import Matcher, Node, Run
from fhircare.validation.profiles.profile import ProfileRef
from fhircare.validation.profiles.terminology import Expansion, Terminology
from fhircare.validation.profiles.values import contains, same_value


class _ValueMatcher:
    __slots__ = ("exact", "expected", "path")

    def __init__(self, path: DiscriminatorPath, expected: list[Any], exact: bool) -> None:
        self.path, self.expected, self.exact = path, expected, exact

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        test = same_value if self.exact else contains
        return any(test(v, e) for v, _ in self.path.values(value, run) for e in self.expected)


class _CodeMatcher:
    __slots__ = ("expansion", "path")

    def __init__(self, path: DiscriminatorPath, expansion: Expansion) -> None:
        self.path, self.expansion = path, expansion

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        codes = self.expansion.codes
        for found, _ in self.path.values(value, run):
            if isinstance(found, str) and found in self.expansion.bare:
                return True
            if isinstance(found, Mapping):
                codings = found.get("coding") if "coding" in found else [found]
                for c in codings if isinstance(codings, list) else ():
                    if isinstance(c, Mapping) and (c.get("system"), c.get("code")) in codes:
                        return True
        return False


class _ExistsMatcher:
    __slots__ = ("path", "present")

    def __init__(self, path: DiscriminatorPath, present: bool) -> None:
        self.path, self.present = path, present

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        return bool(self.path.values(value, run)) == self.present


class _TypeMatcher:
    __slots__ = ("codes", "path")

    def __init__(self, path: DiscriminatorPath, codes: frozenset[str]) -> None:
        self.path, self.codes = path, codes

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        return any(t in self.codes for _, t in self.path.values(value, run))


class _ProfileMatcher:
    __slots__ = ("path", "refs")

    def __init__(self, path: DiscriminatorPath, refs: tuple[ProfileRef, ...]) -> None:
        self.path, self.refs = path, refs

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        for found, found_type in self.path.values(value, run):
            for ref in self.refs:
                profile = ref.profile
                if self.path.resolved:
                    if found_type == (profile.type if profile else core_type_of(ref.url)):
                        return True
                elif profile is not None and run.conforms(profile.root, found, None, ""):
                    return True
        return False


class _ConformsMatcher:
    """No discriminator: the occurrence belongs to the slice it conforms to."""

    __slots__ = ("slice",)

    def __init__(self, node: Node) -> None:
        self.slice = node

    def __call__(self, value: Any, ext: Any, run: Run) -> bool:
        return run.conforms(self.slice, value, ext, "")


def _target_types(
    node: Definition, url: str, where: str, type_of: Callable[[str], str | None]
) -> frozenset[str]:
    out = set()
    for ref in node.types:
        for target in ref.target_profiles:
            found = core_type_of(target) or type_of(target)
            if found is None:
                raise ProfileError(url, f"target profile {target} is not known", where)
            out.add(found)
    return frozenset(out)


def compile_matchers(
    discriminators: tuple[Discriminator, ...],
    slice_def: Definition,
    slice_node: Node,
    url: str,
    terminology: Terminology,
    ref: Callable[[str], ProfileRef],
    type_of: Callable[[str], str | None],
) -> tuple[Matcher, ...]:
    """The matchers that decide whether an occurrence belongs to ``slice_def``."""
    if not discriminators:
        return (_ConformsMatcher(slice_node),)
    out: list[Matcher] = []
    where = slice_def.id
    for discriminator in discriminators:
        path = DiscriminatorPath(slice_def, discriminator.path, url)
        node = path.node
        kind = discriminator.kind
        if kind in ("value", "pattern"):
            fixed = [n.fixed[1] for n in path.nodes if n.fixed is not None]
            patterns = [n.pattern[1] for n in path.nodes if n.pattern is not None]
            binding = node.binding
            if fixed:
                out.append(_ValueMatcher(path, fixed, exact=True))
            elif patterns:
                out.append(_ValueMatcher(path, patterns, exact=False))
            elif binding is not None and binding.strength == "required" and binding.value_set:
                expansion = terminology.expansion(binding.value_set)
                if not isinstance(expansion, Expansion):
                    raise ProfileError(url, f"discriminator: {expansion.reason}", where)
                out.append(_CodeMatcher(path, expansion))
            elif node.name == "url" and path.parent is not None and _extension_url(path.parent):
                out.append(_ValueMatcher(path, [_extension_url(path.parent)], exact=True))
            else:
                message = f"no fixed value, pattern or required binding at {discriminator.path!r}"
                raise ProfileError(url, message, where)
        elif kind == "exists":
            if node.min >= 1:
                out.append(_ExistsMatcher(path, True))
            elif node.max == "0":
                out.append(_ExistsMatcher(path, False))
            else:
                raise ProfileError(
                    url, f"{discriminator.path!r} is neither required nor forbidden", where
                )
        elif kind == "type":
            codes = (
                _target_types(node, url, where, type_of)
                if path.resolved
                else frozenset(t.code for t in node.types)
            )
            out.append(_TypeMatcher(path, codes))
        else:  # profile
            urls = [
                u for t in node.types for u in (t.target_profiles if path.resolved else t.profiles)
            ]
            if not urls:
                raise ProfileError(url, f"no profile at {discriminator.path!r}", where)
            out.append(_ProfileMatcher(path, tuple(ref(u) for u in urls)))
    return tuple(out)


def _extension_url(node: Definition) -> str | None:
    """The url of the extension definition an extension slice is typed with."""
    for ref in node.types:
        if ref.code == "Extension" and ref.profiles:
            return ref.profiles[0].partition("|")[0]
    return None
